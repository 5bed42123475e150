"""Compiling without the cyclic garbage collector.

A compile builds a large graph of acyclic containers that all stay alive until it ends: the
loaded documents and their source maps (~400,000 nodes at 10x the seed org), then the
pydantic models, the indexes of the passes and the rendered rules. CPython's cyclic
collector runs a full pass over every tracked object each time the tracked population has
grown by a quarter, so a compile pays for the whole graph again and again while finding
almost nothing to free (a few hundred cycles at 10x). Measured at 10x: ~35% of `validate`
(about 4 s) went to the collector. Reference counting still frees everything the moment it is
unused; the few cycles a compile makes (exceptions, automata) wait for the collector to come
back on at the end (peak memory unchanged at 10x: 248 MiB either way).

Turning the collector back on is not free either: everything the block allocated sits in the
youngest generation, so the first allocation after it made the collector walk the whole graph
(0.31 s at 10x, 8% of `validate`), and a full collection (~0.4 s) soon followed. So the block
ends by moving every tracked object to the oldest generation without walking it
(`gc.freeze()` then `gc.unfreeze()`: two constant-time list splices). The young generations
start empty; the oldest is walked when CPython's own rule says so (its pending survivors
exceed a quarter of it), and that walk frees a compile's cycles as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic collector for the block; nested uses leave it to the outermost."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()  # every tracked object to the permanent generation,
            gc.unfreeze()  # and from there to the oldest: the young ones are empty
            gc.enable()
