"""Validation passes, one module each, run in this order.

Every pass has an ID, a docstring with passing and failing examples, and `requires`: the
IDs of passes whose errors would make its own findings follow-on noise. A pass is skipped
when a pass it requires reported an error, so a user fixes causes, not echoes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ..spec import Specs


@dataclass(frozen=True)
class Pass:
    id: str
    run: Callable[[Specs], Iterable[Diagnostic]]
    requires: tuple[str, ...] = ()


def semantic_passes() -> list[Pass]:
    from . import (
        addresses,
        collisions,
        cutover,
        delivery,
        mirrorability,
        naming,
        overlap,
        parity,
        references,
        uniqueness,
    )

    return [
        m.PASS
        for m in (references, naming, uniqueness, collisions, mirrorability, overlap, cutover, parity, addresses,
                  delivery)
    ]
