"""Load -> secrets + schema -> semantic passes; every diagnostic collected, sorted.

Semantic passes run only on a schema-valid tree (a broken file would make cross-file
checks report phantoms), and each is skipped when a pass it `requires` reported errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cycles import no_cycle_collection
from .diagnostics import Diagnostic, sort_diagnostics
from .loader import load_specs
from .passes import semantic_passes
from .schema import build_specs
from .spec import Specs


@dataclass(frozen=True)
class Validation:
    specs: Specs | None
    diagnostics: list[Diagnostic]
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.specs is not None and not any(d.is_error for d in self.diagnostics)


def validate_specs(root: Path) -> Validation:
    with no_cycle_collection():
        return _validate_specs(root)


def _validate_specs(root: Path) -> Validation:
    tree = load_specs(root)
    specs, diagnostics = build_specs(tree)
    diagnostics = list(tree.diagnostics) + diagnostics
    if specs is None:
        return Validation(None, sort_diagnostics(diagnostics))
    failed: set[str] = set()
    skipped = []
    for p in semantic_passes():
        if failed.intersection(p.requires):
            skipped.append(p.id)
            continue
        found = list(p.run(specs))
        if any(d.is_error for d in found):
            failed.add(p.id)
        diagnostics.extend(found)
    return Validation(specs, sort_diagnostics(diagnostics), tuple(skipped))
