"""Validated spec documents: a model next to the source map it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path, PurePath
from typing import Any, Generic, TypeVar

from .diagnostics import Position
from .loader import RawDocument
from .models import ClustersSpec, MigrationSpec, PolicySpec

M = TypeVar("M")


@dataclass(frozen=True)
class Located(Generic[M]):
    model: M
    doc: RawDocument

    @property
    def file(self) -> str:
        return self.doc.file

    def at(self, *path: str | int) -> Position:
        return self.doc.source.at(tuple(path))

    def key_at(self, *path: str | int) -> Position:
        return self.doc.source.key_at(tuple(path))


@dataclass(frozen=True)
class Migration(Located[MigrationSpec]):
    # Worked out once per migration: every pass and renderer asks, per entry and per pattern.
    @cached_property
    def name(self) -> str:
        """`<team-folder>/<file stem>`, the migration's stable id."""
        p = PurePath(self.doc.file)
        return f"{p.parent.name}/{p.stem}"

    @cached_property
    def folder_team(self) -> str:
        return PurePath(self.doc.file).parent.name


@dataclass(frozen=True)
class Specs:
    """Every spec file, schema-valid. The input of the semantic passes and renderers."""

    root: Path
    clusters: Located[ClustersSpec]
    policy: Located[PolicySpec]
    migrations: tuple[Migration, ...]
    _source_names: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Lookups derived from the specs that every pass and renderer asks for, built once
    #: (`compiler.index.entries`).
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def source_name(self, located: Located[Any]) -> str:
        """A spec file's name as rendered output cites it: `<specs dir>/<relative path>`,
        independent of the working directory so output is byte-stable. Worked out once per
        file (rendering asks for every client-id pattern's file)."""
        doc = located.doc
        name = self._source_names.get(doc.file)
        if name is None:
            name = self._source_names[doc.file] = _source_name(self.root, Path(doc.path), doc.file)
        return name


@cache
def _source_name(root: Path, path: Path, fallback: str) -> str:
    resolved_root = _resolved(root)
    try:
        rel = path.resolve().relative_to(resolved_root)
    except ValueError:
        return fallback
    return f"{resolved_root.name}/{rel.as_posix()}"


@cache
def _resolved(root: Path) -> Path:
    return root.resolve()
