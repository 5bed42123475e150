"""Load spec files with ruamel.yaml round-trip so every value keeps its line and column.

The loader's output is plain Python data (dict/list/str/int/float/bool/None) plus a
`SourceMap` from value paths to 1-based positions. Deliberate choices:

* Duplicate keys are collected (all of them, not just the first) and reported with both
  places; the first value wins so later passes still see a usable document.
* YAML timestamps stay strings (`2026-11-24` is a date to YAML 1.1, a string to us).
* Mapping keys become strings (a topic named `123` is a name, not a number).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .diagnostics import Diagnostic, Position

PathKey = tuple[str | int, ...]

CLUSTERS_FILE = "clusters.yaml"
POLICY_FILE = "policy.yaml"
MIGRATIONS_DIR = "migrations"


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that records duplicate keys instead of raising, and keeps
    timestamps as the strings the user wrote."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[tuple[Any, Any, Any]] = []

    def check_mapping_key(self, node, key_node, mapping, key, value) -> bool:  # noqa: ANN001
        if key in mapping:
            first = mapping.lc.key(key) if hasattr(mapping, "lc") else None
            self.duplicates.append((key, key_node.start_mark, first))
            return False
        return True

    def construct_yaml_timestamp(self, node, values=None):  # noqa: ANN001
        return self.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def display_path(path: Path) -> str:
    """A path as shown in diagnostics: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclass
class SourceMap:
    """Positions of every key and value of one document, by path."""

    file: str
    keys: dict[PathKey, Position] = field(default_factory=dict)
    values: dict[PathKey, Position] = field(default_factory=dict)

    def at(self, path: PathKey, key: bool = False) -> Position:
        """The position of the value at `path` (or of its key), else of the nearest
        enclosing element that has one, else the top of the file."""
        table = self.keys if key else self.values
        for cut in range(len(path), -1, -1):
            probe = tuple(path[:cut])
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
        return Position(self.file, 1, 1)

    def key_at(self, path: PathKey) -> Position:
        return self.at(path, key=True)


@dataclass
class RawDocument:
    path: Path
    file: str  # display path
    data: Any
    source: SourceMap


def _plain(node: Any, path: PathKey, source: SourceMap) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for k, v in node.items():
            key = str(k)
            child = path + (key,)
            kl, kc = node.lc.key(k)
            vl, vc = node.lc.value(k)
            source.keys[child] = Position(source.file, kl + 1, kc + 1)
            source.values[child] = Position(source.file, vl + 1, vc + 1)
            out[key] = _plain(v, child, source)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, v in enumerate(node):
            child = path + (i,)
            il, ic = node.lc.item(i)
            source.values[child] = Position(source.file, il + 1, ic + 1)
            source.keys[child] = source.values[child]
            items.append(_plain(v, child, source))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def parse_yaml(text: str, file: str) -> tuple[RawDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns the document (None when unparseable) and the
    loader's diagnostics (syntax errors, duplicate keys)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = True
    try:
        loader_tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [
            Diagnostic(pos, "yaml-syntax", f"invalid YAML: {problem}; fix the syntax at this position")
        ]
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for text input
        return None, [Diagnostic(Position(file), "yaml-syntax", f"invalid YAML: {exc}")]
    diagnostics = []
    constructor = yaml.constructor
    for key, second, first in getattr(constructor, "duplicates", []):
        related = ()
        if first is not None:
            related = ((Position(file, first[0] + 1, first[1] + 1), "first defined"),)
        diagnostics.append(
            Diagnostic(
                Position(file, second.line + 1, second.column + 1),
                "duplicate-key",
                f"duplicate key {key!r}: the first value is kept and this one ignored; "
                "remove or merge one of them",
                related=related,
            )
        )
    source = SourceMap(file)
    data = _plain(loader_tree, (), source)
    return RawDocument(Path(file), file, data, source), diagnostics


def load_file(path: Path) -> tuple[RawDocument | None, list[Diagnostic]]:
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Diagnostic(Position(file), "yaml-syntax", f"file is not UTF-8 text: {exc}")]
    doc, diags = parse_yaml(text, file)
    if doc is not None:
        doc.path = path
    return doc, diags


@dataclass
class SpecTree:
    """Every spec document of a specs directory, parsed but not yet validated."""

    root: Path
    clusters: RawDocument | None
    policy: RawDocument | None
    migrations: list[RawDocument]
    diagnostics: list[Diagnostic]


def migration_files(root: Path) -> list[Path]:
    base = root / MIGRATIONS_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_specs(root: Path) -> SpecTree:
    """Parse clusters.yaml, policy.yaml and migrations/<team>/<name>.yaml under `root`."""
    diagnostics: list[Diagnostic] = []

    def one(path: Path, required: bool) -> RawDocument | None:
        if not path.is_file():
            if required:
                diagnostics.append(
                    Diagnostic(
                        Position(display_path(path)),
                        "missing-file",
                        f"required spec file {path.name} is missing; create it (see docs/specs.md)",
                    )
                )
            return None
        doc, diags = load_file(path)
        diagnostics.extend(diags)
        if doc is not None and doc.data is None:
            doc.data = {}
        return doc

    clusters = one(root / CLUSTERS_FILE, required=True)
    policy = one(root / POLICY_FILE, required=True)
    migrations = []
    for path in migration_files(root):
        rel = path.relative_to(root / MIGRATIONS_DIR)
        if len(rel.parts) != 2:
            diagnostics.append(
                Diagnostic(
                    Position(display_path(path)),
                    "file-layout",
                    "migration specs live at specs/migrations/<team>/<name>.yaml; "
                    f"move {rel} into its team's folder",
                )
            )
            continue
        doc = one(path, required=True)
        if doc is not None:
            migrations.append(doc)
    return SpecTree(root, clusters, policy, migrations, diagnostics)
