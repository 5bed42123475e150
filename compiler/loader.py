"""Load spec files with ruamel.yaml so every value keeps its line and column.

ruamel's parser (libyaml, through ruamel.yaml.clib, when available) turns the text into a
stream of events; `_Builder` folds the events into plain Python data (dict/list/str/int/
float/bool/None) and a `SourceMap` from value paths to 1-based positions. It builds from
events rather than from a composed node tree so that it can stop at a bound: nothing is
recursive, and a hostile file meets a diagnostic at file:line:col, never a RecursionError,
a C stack overflow or a runner out of memory. Deliberate choices:

* Duplicate keys are collected (all of them, not just the first) and reported with both
  places; the first value wins so later passes still see a usable document.
* YAML timestamps stay strings (`2026-11-24` is a date to YAML 1.1, a string to us).
* Mapping keys become strings (a topic named `123` is a name, not a number).
* An alias shares its anchor's value (nothing is copied); positions inside an aliased value
  are the alias's position.
* Specs are plain data: tags (`!!python/object`, `!custom`), merge keys (`<<`) and complex
  keys (a list or mapping used as a key) are refused, each with its own code.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.reader import ReaderError

from .cycles import no_cycle_collection
from .diagnostics import Diagnostic, Position
from .errors import CompilerError
from .layout import CLUSTERS_FILE, MIGRATIONS_DIR, POLICY_FILE, Layout, classify

_CParser: type[CParserType] | None
try:  # ruamel.yaml.clib: libyaml's parser, an order of magnitude faster than the pure one
    from ruamel.yaml.cyaml import CParser as CParserType

    _CParser = CParserType
except ImportError:  # pragma: no cover - pure Python fallback
    _CParser = None

PathKey = tuple[str | int, ...]

__all__ = ["CLUSTERS_FILE", "MIGRATIONS_DIR", "POLICY_FILE", "PathKey", "RawDocument", "SourceMap", "SpecTree"]

# --- bounds -----------------------------------------------------------------------------------
# Each bound is far above what a real spec needs and far below what hurts the CI runner that
# validates a pull request; crossing one is a diagnostic with its own code (docs/specs.md).

MAX_FILE_BYTES = 1024 * 1024
"""The largest spec file read (1 MiB). The benchmark org's migration files are ~4 KB and its
clusters.yaml ~2 KB; one migration moving 5,000 topics with a group each is ~600 KB. A larger
file costs seconds in the pure-Python parser (the fallback for YAML 1.2 that libyaml refuses)
and in every pass, for no spec anyone writes by hand."""

MAX_DEPTH = 64
"""Nesting of mappings and lists. The deepest real path is 6 levels
(`consumer_groups.<group>.attestations.idempotent.by` in a document). Deep nesting is costly
well before it is large: libyaml spends time proportional to the depth on every token (200 KB
of nested `[` takes minutes), composing it recursively overflows the C stack (a segfault at
~100,000 levels), and Python's recursion limit (1,000) is shared by every pass that walks the
data (1,200 nested mappings were a RecursionError traceback)."""

MAX_ALIAS_NODES = 100_000
"""Nodes that aliases may add to one document, counted as if each alias were copied out.
Specs alias small blocks (an attestation is 5 nodes: 1,000 groups sharing one add 5,000).
A "billion laughs" file of nine anchors, each a list of ten aliases of the one before, is
~300 bytes and expands to 10^9 nodes: before this bound the loader grew ~95 MiB/s until
MemoryError. 100,000 nodes cost the later passes well under a second."""

# --- positions ------------------------------------------------------------------------------


def display_path(path: Path) -> str:
    """A path as shown in diagnostics: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclass
class SourceMap:
    """Positions of every key and value of one document, by path.

    The tables hold each place as one int, `line << 32 | column` (0-based, as the parser
    counts), made into a `Position` only when one is asked for: a 10x org has ~400,000 places
    and asks for a few, and an int is nothing the cyclic collector has to walk (the parser's
    mark objects were half of all it walked after a compile)."""

    file: str
    keys: dict[PathKey, int] = field(default_factory=dict)
    values: dict[PathKey, int] = field(default_factory=dict)

    def at(self, path: PathKey, key: bool = False) -> Position:
        """The position of the value at `path` (or of its key), else of the nearest
        enclosing element that has one, else the top of the file."""
        table = self.keys if key else self.values
        for cut in range(len(path), -1, -1):
            probe = tuple(path[:cut])
            place = table.get(probe)
            if place is None:
                place = self.values.get(probe)
            if place is not None:
                return self.position(place)
        return Position(self.file, 1, 1)

    def key_at(self, path: PathKey) -> Position:
        return self.at(path, key=True)

    def line(self, path: PathKey) -> int:
        """`at(path).line`, without making a Position when the value has a place of its own."""
        place = self.values.get(path)
        return self.at(path).line if place is None else (place >> 32) + 1

    def position(self, place: int) -> Position:
        return Position(self.file, (place >> 32) + 1, (place & 0xFFFFFFFF) + 1)


def _place(event: Any) -> int:  # ruamel's events are untyped
    """Where an event starts, as SourceMap keeps it."""
    mark = event.start_mark
    line: int = mark.line
    column: int = mark.column
    return line << 32 | column


@dataclass
class RawDocument:
    path: Path
    file: str  # display path
    data: Any
    source: SourceMap
    text: str = ""  # the file as read: the secrets pass also scans what is not data (comments)


# YAML 1.2 core schema for plain scalars. Everything else is a string: timestamps, `yes`,
# `on`, version-looking numbers with two dots, and so on.
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT = {f"{sign}.{word}": float(f"{sign}inf") for sign in ("", "+", "-") for word in ("inf", "Inf", "INF")}
_SPECIAL_FLOAT.update({f".{word}": float("nan") for word in ("nan", "NaN", "NAN")})
_SURROGATE = re.compile("[\ud800-\udfff]")


# Plain words that are not strings; every other plain scalar that does not start like a
# number is a string, decided by one dict lookup (most scalars in a spec are names).
_PLAIN_WORDS: dict[str, Any] = {**dict.fromkeys(_NULL), **_BOOL, **_SPECIAL_FLOAT}
_NUMBER_START = frozenset("+-.0123456789")


def _scalar(value: str, style: str | None) -> Any:
    if style:  # quoted or block scalars are strings (plain: None or '')
        return value
    if value[:1] in _NUMBER_START:
        if _INT.fullmatch(value):
            try:
                return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
            except ValueError:  # more digits than Python converts (4,300): a name, not a count
                return value
        if _FLOAT.fullmatch(value):
            return float(value)
    return _PLAIN_WORDS.get(value, value)  # `.inf`, `.nan`: YAML's spelling, not Python's


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


_NO_KEY = object()


class _Frame:
    """An open mapping or list while its events arrive. Places are SourceMap's ints."""

    __slots__ = ("anchor", "key", "key_pos", "path", "record", "seen", "size", "skip", "start", "value")

    def __init__(self, value: dict[str, Any] | list[Any], path: PathKey, record: bool, anchor: str | None, start: int):
        self.value = value
        self.start = start
        self.path = path
        self.record = record  # positions are recorded (not inside a dropped value or a key)
        self.anchor = anchor
        self.size = 1  # nodes in this collection, aliases counted expanded
        self.key: Any = _NO_KEY  # mappings: the key whose value comes next
        self.key_pos: int | None = None
        self.skip = False  # mappings: the coming value is dropped (duplicate, merge or complex key)
        self.seen: dict[str, int] = {}


class _Stop(CompilerError):
    """A bound was crossed or the stream is unusable; the diagnostic is already recorded.
    Never leaves the loader."""


class _Builder:
    """Folds one stream of YAML events into plain data and a source map."""

    def __init__(self, source: SourceMap, check_text: bool):
        self.source = source
        self.file = source.file
        self.check_text = check_text  # the pure parser lets `"\ud800"` through; libyaml refuses it
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Any, int, str | None]] = {}  # value, expanded size, key text
        self.open_anchors: dict[str, _Frame] = {}
        self.alias_nodes = 0

    def error(self, place: int, code: str, message: str, related: tuple[tuple[int, str], ...] = ()) -> None:
        position = self.source.position
        self.diagnostics.append(
            Diagnostic(position(place), code, message, related=tuple((position(p), note) for p, note in related))
        )

    def build(self, next_event: Callable[[], Any]) -> Any:
        """The document's data (None for an empty stream); raises _Stop after a fatal diagnostic.

        Scalars (three events in four) are folded inline; everything else goes through
        `_start` and `_attach`, which a scalar's inline path mirrors exactly."""
        stack: list[_Frame] = []
        root: Any = None
        documents = 0
        keys, values = self.source.keys, self.source.values
        check_text = self.check_text
        while True:
            event = next_event()
            kind = type(event)
            if kind is ScalarEvent:
                value = event.value
                if check_text and _SURROGATE.search(value):
                    self.error(_place(event), "yaml-syntax",
                               "a `\\u` escape here is half of a surrogate pair, not a character; "
                               "fix the escape (write the character itself)")
                    value = _SURROGATE.sub("\ufffd", value)
                if event.ctag is not None or event.anchor or not stack:
                    self._start(stack, event)
                    data = _scalar(value, event.style)
                    if event.anchor:
                        self.anchors[event.anchor] = (data, 1, value)
                    root = self._attach(stack, event, data, 1, value, root)
                    continue
                parent = stack[-1]
                container = parent.value
                parent.size += 1
                mark = event.start_mark
                place = mark.line << 32 | mark.column
                if type(container) is list:
                    if parent.record:
                        path = (*parent.path, len(container))
                        keys[path] = values[path] = place
                    container.append(_scalar(value, event.style))
                elif parent.key is _NO_KEY:  # a key
                    if value == "<<" or value in parent.seen:
                        self._key(parent, event, value, place)
                    else:  # a new key: what `_key` does for one
                        parent.key = value
                        parent.key_pos = parent.seen[value] = place
                        parent.skip = False
                else:  # the value of the pending key
                    if not parent.skip:
                        if parent.record:
                            path = (*parent.path, parent.key)
                            keys[path] = parent.key_pos  # type: ignore[assignment]  # set with the key
                            values[path] = place
                        container[parent.key] = _scalar(value, event.style)
                    parent.key, parent.skip = _NO_KEY, False
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    self.error(_place(event), "nesting-too-deep",
                               f"mappings and lists nest more than {MAX_DEPTH} levels deep here; specs need "
                               "at most 6: flatten the structure")
                    raise _Stop
                place = _place(event)
                if event.ctag is not None or event.anchor or not stack:
                    path, record = self._start(stack, event)
                else:  # a plain collection inside another: what `_start` does for one
                    parent = stack[-1]
                    container = parent.value
                    if type(container) is list:
                        path, record = (*parent.path, len(container)), parent.record
                        if record:
                            keys[path] = values[path] = place
                    elif parent.key is _NO_KEY:  # a complex key
                        path, record = parent.path, False
                    else:
                        path, record = (*parent.path, parent.key), parent.record and not parent.skip
                        if record:
                            keys[path] = parent.key_pos  # type: ignore[assignment]  # set with the key
                            values[path] = place
                frame = _Frame({} if kind is MappingStartEvent else [], path, record, event.anchor, place)
                if event.anchor:
                    self.anchors.pop(event.anchor, None)
                    self.open_anchors[event.anchor] = frame
                stack.append(frame)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                if frame.anchor:
                    self.anchors[frame.anchor] = (frame.value, frame.size, None)
                    if self.open_anchors.get(frame.anchor) is frame:
                        del self.open_anchors[frame.anchor]
                if stack and (type(stack[-1].value) is list or stack[-1].key is not _NO_KEY):
                    # A value in a list or mapping: what `_attach` does for one.
                    parent = stack[-1]
                    parent.size += frame.size
                    container = parent.value
                    if type(container) is list:
                        container.append(frame.value)
                    else:
                        if not parent.skip:
                            container[parent.key] = frame.value
                        parent.key, parent.skip = _NO_KEY, False
                else:
                    root = self._attach(stack, event, frame.value, frame.size, None, root, start=frame.start)
            elif kind is AliasEvent:
                root = self._alias(stack, event, root)
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.error(_place(event), "yaml-syntax",
                               "a second YAML document starts here; a spec file holds one document: "
                               "remove the `---` line or move the document into a file of its own")
                    raise _Stop
            elif kind is StreamEndEvent:
                return root

    def _start(self, stack: list[_Frame], event: Any) -> tuple[PathKey, bool]:
        """A node starts: check its tag, record its position; return its path and whether
        positions inside it are recorded."""
        tag = getattr(event, "ctag", None)  # aliases have none
        if tag is not None and str(tag) != "!":
            self.error(_place(event), "yaml-tag",
                       f"YAML tag `{_tag_name(str(tag))}` is not supported: specs are plain data; remove the tag "
                       "(quote the value if it must be a string)")
        if not stack:
            self.source.values[()] = _place(event)
            return (), True
        parent = stack[-1]
        if isinstance(parent.value, list):
            path = (*parent.path, len(parent.value))
            if parent.record:
                self.source.keys[path] = self.source.values[path] = _place(event)
            return path, parent.record
        if parent.key is _NO_KEY:  # this node is a key
            return parent.path, False
        path = (*parent.path, parent.key)
        record = parent.record and not parent.skip
        if record:
            assert parent.key_pos is not None
            self.source.keys[path] = parent.key_pos
            self.source.values[path] = _place(event)
        return path, record

    def _attach(self, stack: list[_Frame], event: Any, data: Any, size: int, text: str | None,
                root: Any, start: int | None = None) -> Any:
        """A node is complete: add it to its parent (as a key or a value); return the root."""
        if not stack:
            return data
        parent = stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            parent.value.append(data)
            return root
        if parent.key is not _NO_KEY:  # the value of the pending key
            if not parent.skip:
                parent.value[parent.key] = data
            parent.key, parent.skip = _NO_KEY, False
            return root
        # This node is a key.
        key_pos = start if start is not None else _place(event)
        if text is None:
            if parent.record:
                self.error(key_pos, "complex-key",
                           "a list or mapping used as a key (`? [a, b]: …`) is not supported: keys are "
                           "names; use a plain name as the key")
            parent.key, parent.skip = "<complex key>", True
            return root
        self._key(parent, event, text, key_pos)
        return root

    def _key(self, parent: _Frame, event: Any, text: str, key_pos: int) -> None:
        """A scalar (or an alias of one) is the next key of `parent`."""
        parent.key, parent.key_pos, parent.skip = text, key_pos, False
        if text == "<<" and type(event) is ScalarEvent and not event.style:
            if parent.record:
                self.error(key_pos, "merge-key",
                           "merge keys (`<<: *anchor`) are not supported: write the keys out in this mapping "
                           "(an alias may still stand for a whole value: `key: *anchor`)")
            parent.skip = True
        elif text in parent.seen:
            if parent.record:
                self.error(key_pos, "duplicate-key",
                           f"duplicate key {text!r}: the first value is kept and this one ignored; "
                           "remove or merge one of them",
                           related=((parent.seen[text], "first defined"),))
            parent.skip = True
        else:
            parent.seen[text] = key_pos

    def _alias(self, stack: list[_Frame], event: Any, root: Any) -> Any:
        name = event.anchor
        pos = _place(event)
        if name in self.open_anchors:
            self.error(pos, "yaml-alias",
                       f"alias `*{name}` stands for a mapping or list that contains it (a recursive "
                       "structure): specs are trees; replace the alias with the value written out")
            raise _Stop
        if name not in self.anchors:
            self.error(pos, "yaml-alias", f"alias `*{name}` has no anchor `&{name}` before it; define the "
                                          "anchor first or replace the alias with the value")
            raise _Stop
        data, size, text = self.anchors[name]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            self.error(pos, "alias-limit",
                       f"aliases in this file expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?); "
                       "specs alias small blocks: replace aliases with the values written out, or use fewer, "
                       "smaller anchors")
            raise _Stop
        self._start(stack, event)
        return self._attach(stack, event, data, size, text, root, start=pos)


def _c_parser_events(text: str) -> Iterator[Callable[[], Any]]:
    assert _CParser is not None
    parser = _CParser(text)
    try:
        yield parser.get_event
    finally:
        parser.dispose()


def _build(text: str, file: str, fast: bool) -> tuple[RawDocument | None, list[Diagnostic]]:
    source = SourceMap(file)
    builder = _Builder(source, check_text=not fast)
    try:
        if fast:
            for next_event in _c_parser_events(text):
                data = builder.build(next_event)
        else:
            data = builder.build(iter(YAML(typ="rt").parse(text)).__next__)
    except _Stop:
        return None, builder.diagnostics
    return RawDocument(Path(file), file, data, source, text), builder.diagnostics


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_yaml(text: str, file: str) -> tuple[RawDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns the document (None when unusable) and the loader's
    diagnostics (syntax errors, duplicate keys, crossed bounds, unsupported YAML)."""
    if _CParser is not None:
        try:
            return _build(text, file, fast=True)
        except YAMLError:
            pass  # libyaml refuses some YAML 1.2 (`[host:9092]`): the pure parser decides
    try:
        return _build(text, file, fast=False)
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
    except ReaderError as exc:  # a character YAML forbids: NUL, other control characters, U+FFFE
        line, col = _line_col(text, exc.position)
        char = text[exc.position] if exc.position < len(text) else ""
        name = unicodedata.name(char, "a control character") if char else "a control character"
        return None, [
            Diagnostic(
                Position(file, line, col), "yaml-syntax",
                f"character U+{ord(char or chr(0)):04X} ({name}) is not allowed in YAML; remove it",
            )
        ]
    except YAMLError as exc:  # pragma: no cover - ruamel marks its errors for text input
        return None, [Diagnostic(Position(file), "yaml-syntax", f"invalid YAML: {exc}; fix the syntax")]


def load_file(path: Path) -> tuple[RawDocument | None, list[Diagnostic]]:
    """Read (at most MAX_FILE_BYTES), decode and parse one spec file."""
    file = display_path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [
            Diagnostic(Position(file), "file-unreadable",
                       f"cannot read the file ({exc.strerror or exc}); make it a readable regular file")
        ]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Diagnostic(Position(file), "file-too-large",
                       f"the file is larger than {MAX_FILE_BYTES // 1024:,} KiB, the most a spec file may be; "
                       "split it (one migration per file) or remove what is not spec")
        ]
    try:
        text = raw.decode("utf-8-sig")  # a leading byte-order mark is dropped, as editors do
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw[:start].count(b"\n") + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        return None, [
            Diagnostic(
                Position(file, line, col), "yaml-syntax",
                f"file is not UTF-8 text (byte 0x{raw[start]:02x}); re-save the file as UTF-8 (fix the encoding)",
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
    #: (display path, text) of files that were read but did not parse: the secrets pass still
    #: scans their text (a credential in a broken file is in the pull request all the same).
    unparsed: list[tuple[str, str]] = field(default_factory=list)


def list_tree(root: Path) -> list[tuple[str, bool]]:
    """Every entry under `root` that is not a directory (symlinks to directories included,
    never followed), as (POSIX path relative to root, is a regular file), sorted."""
    entries = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in [*files, *(d for d in dirs if (base / d).is_symlink())]:
            path = base / name
            entries.append((path.relative_to(root).as_posix(), path.is_file()))
    return sorted(entries)


def spec_layout(root: Path) -> Layout:
    return classify(list_tree(root), lambda rel: display_path(root / rel))


def migration_files(root: Path, layout: Layout | None = None) -> list[Path]:
    """The migration files to load, in load order (sorted); `layout`: `spec_layout(root)` if known."""
    return [root / rel for rel in (layout or spec_layout(root)).migrations]


def load_specs(root: Path) -> SpecTree:
    """Parse clusters.yaml, policy.yaml and migrations/<team>/<name>.yaml under `root`, and
    report every other file under it (docs/specs.md, "Files under specs/")."""
    with no_cycle_collection():
        return _load_specs(root)


def _unparsed_text(path: Path) -> str | None:
    """The text of a file that did not parse, as far as the size bound allows (None: unreadable)."""
    try:
        with path.open("rb") as f:
            return f.read(MAX_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def _load_specs(root: Path) -> SpecTree:
    diagnostics: list[Diagnostic] = []
    unparsed: list[tuple[str, str]] = []

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
        if doc is None:
            text = _unparsed_text(path)
            if text is not None:
                unparsed.append((display_path(path), text))
        elif doc.data is None:
            doc.data = {}
        return doc

    layout = spec_layout(root)
    diagnostics.extend(layout.diagnostics)
    clusters = one(root / CLUSTERS_FILE, required=True)
    policy = one(root / POLICY_FILE, required=True)
    migrations = []
    for path in migration_files(root, layout):
        doc = one(path, required=True)
        if doc is not None:
            migrations.append(doc)
    return SpecTree(root, clusters, policy, migrations, diagnostics, unparsed)
