"""Load spec files with ruamel.yaml so every value keeps its line and column.

ruamel composes the node tree (each node carries its start mark); `_Builder` constructs
plain data from it. The loader's output is plain Python data (dict/list/str/int/float/bool/None) plus a
`SourceMap` from value paths to 1-based positions. Deliberate choices:

* Duplicate keys are collected (all of them, not just the first) and reported with both
  places; the first value wins so later passes still see a usable document.
* YAML timestamps stay strings (`2026-11-24` is a date to YAML 1.1, a string to us).
* Mapping keys become strings (a topic named `123` is a name, not a number).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostic, Position

_CLoader: type[CBaseLoader] | None
try:  # ruamel.yaml.clib: ruamel's libyaml-based composer
    from ruamel.yaml.cyaml import CBaseLoader

    _CLoader = CBaseLoader
except ImportError:  # pragma: no cover - pure Python fallback
    _CLoader = None

PathKey = tuple[str | int, ...]

CLUSTERS_FILE = "clusters.yaml"
POLICY_FILE = "policy.yaml"
MIGRATIONS_DIR = "migrations"


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


# YAML 1.2 core schema for plain scalars. Everything else is a string: timestamps, `yes`,
# `on`, version-looking numbers with two dots, and so on.
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


def _scalar(node: ScalarNode) -> Any:
    value = node.value
    if node.style:  # quoted or block scalars are strings (plain: None or '')
        return value
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value


class _Builder:
    """Turns composed YAML nodes into plain data, recording positions and duplicate keys."""

    def __init__(self, source: SourceMap):
        self.source = source
        self.duplicates: list[Diagnostic] = []

    def pos(self, node: Node) -> Position:
        return Position(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: PathKey) -> Any:
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            first_seen: dict[str, Position] = {}
            for key_node, value_node in node.value:
                # A key is a name: keep the text as written (`007:` is "007", not 7).
                key = key_node.value if isinstance(key_node, ScalarNode) else "<complex key>"
                key_pos = self.pos(key_node)
                if key in out:
                    self.duplicates.append(
                        Diagnostic(
                            key_pos,
                            "duplicate-key",
                            f"duplicate key {key!r}: the first value is kept and this one ignored; "
                            "remove or merge one of them",
                            related=((first_seen[key], "first defined"),),
                        )
                    )
                    continue
                child = (*path, key)
                first_seen[key] = key_pos
                self.source.keys[child] = key_pos
                self.source.values[child] = self.pos(value_node)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                child = (*path, i)
                self.source.keys[child] = self.source.values[child] = self.pos(item)
                items.append(self.build(item, child))
            return items
        return _scalar(cast(ScalarNode, node))  # a composed node is a mapping, a sequence or a scalar


def _compose(text: str) -> Node | None:
    """Compose with ruamel's C parser when available (an order of magnitude faster), else
    (or when it refuses YAML 1.2 the C parser does not know, e.g. `[host:9092]`) with
    ruamel's pure round-trip parser, whose error we report."""
    if _CLoader is not None:
        try:
            loader = _CLoader(text)
            try:
                node: Node | None = loader.get_single_node()
                return node
            finally:
                loader.dispose()
        except YAMLError:
            pass
    composed: Node | None = YAML(typ="rt").compose(text)
    return composed


def parse_yaml(text: str, file: str) -> tuple[RawDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns the document (None when unparseable) and the
    loader's diagnostics (syntax errors, duplicate keys)."""
    try:
        node = _compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        related: tuple[tuple[Position, str], ...] = ()
        if exc.context_mark is not None and exc.problem_mark is not None and exc.context:
            ctx = exc.context_mark
            related = ((Position(file, ctx.line + 1, ctx.column + 1), str(exc.context)),)
        return None, [
            Diagnostic(
                pos, "yaml-syntax",
                f"invalid YAML: {problem}; fix the syntax at this position (an unclosed bracket or "
                "quote often starts earlier: see the related position)",
                related=related,
            )
        ]
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for text input
        return None, [Diagnostic(Position(file), "yaml-syntax", f"invalid YAML: {exc}")]
    source = SourceMap(file)
    builder = _Builder(source)
    if node is not None:
        source.values[()] = builder.pos(node)
    data = builder.build(node, ()) if node is not None else None
    return RawDocument(Path(file), file, data, source), builder.duplicates


def load_file(path: Path) -> tuple[RawDocument | None, list[Diagnostic]]:
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raw = path.read_bytes()
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            Diagnostic(
                Position(file, line, col), "yaml-syntax",
                f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); re-save the file as UTF-8 (fix the encoding)",
            )
        ]
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
