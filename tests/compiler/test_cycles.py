"""compiler/cycles.py: a compile runs without the cyclic collector and ends with what it built in
the collector's oldest generation (nothing left for the young collections to walk), where a
collection still frees the cycles it made."""

from __future__ import annotations

import gc
import weakref

from compiler.cycles import no_cycle_collection


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_block_runs_without_the_collector_and_leaves_the_young_generations_empty() -> None:
    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
        with no_cycle_collection():  # nested: the outermost decides
            pass
        assert not gc.isenabled()
        built = [[i] for i in range(10_000)]
        young = sum(len(gc.get_objects(generation)) for generation in (0, 1))
        assert young >= len(built)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert sum(len(gc.get_objects(generation)) for generation in (0, 1)) < 100
    assert built[-1] in gc.get_objects(2)


def test_a_cycle_made_in_the_block_is_freed_by_a_collection_after_it() -> None:
    with no_cycle_collection():
        ref = weakref.ref(Node())
    assert ref() is not None  # no collection has run since
    gc.collect()
    assert ref() is None
