"""The edits a team's pull request makes to a migration spec, as pure text-to-text functions.

`ferry sandbox demo` walks a migration by editing a copy of the specs the way a team would:
flip `cutover: true` for one consumer group (with both attestations, which the compiler
requires for a group), then for a producer. The edit is a YAML round trip (ruamel), so
comments, key order and flow style of everything else stay as they were, and the diff a
reviewer would see is the few lines that changed.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from sandbox.errors import SandboxError


@dataclass(frozen=True)
class Attestation:
    """Who vouches for a group's consumers (idempotent and tolerant of reordering), and where."""

    by: str
    ref: str


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the author wrote on one
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(text: str) -> CommentedMap:
    doc = _yaml().load(text)
    if not isinstance(doc, CommentedMap):
        raise SandboxError("the migration spec is not a YAML mapping")
    return doc


def _dump(doc: CommentedMap) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def _entry(doc: CommentedMap, section: str, name: str) -> CommentedMap:
    entries = doc.get(section)
    if not isinstance(entries, CommentedMap) or not isinstance(entries.get(name), CommentedMap):
        known = ", ".join(sorted(entries)) if isinstance(entries, CommentedMap) else "none"
        raise SandboxError(f"the migration spec has no {section} entry {name!r} (it has: {known})")
    entry: CommentedMap = entries[name]
    return entry


def _flow_map(**items: str) -> CommentedMap:
    out = CommentedMap(items)
    out.fa.set_flow_style()
    return out


def cut_over_group(text: str, group: str, attestation: Attestation) -> str:
    """``cutover: true`` for consumer group ``group``: a fence is replaced, missing attestations
    are added (existing ones are kept as written)."""
    doc = _load(text)
    entry = _entry(doc, "consumer_groups", group)
    if "fence" in entry:
        del entry["fence"]
    entry["cutover"] = True
    attestations = entry.get("attestations")
    if not isinstance(attestations, CommentedMap):
        attestations = CommentedMap()
        entry["attestations"] = attestations
    for kind in ("idempotent", "unordered_ok"):
        if kind not in attestations:
            attestations[kind] = _flow_map(by=attestation.by, ref=attestation.ref)
    return _dump(doc)


def cut_over_producer(text: str, producer: str) -> str:
    """``cutover: true`` for producer ``producer``."""
    doc = _load(text)
    _entry(doc, "producers", producer)["cutover"] = True
    return _dump(doc)


def keep_only(text: str, *, clusters: Collection[str], gateways: Collection[str]) -> str:
    """``clusters.yaml`` with only the named clusters and gateways; everything kept stays as written."""
    doc = _load(text)
    for section, wanted in (("clusters", clusters), ("gateways", gateways)):
        entries = doc.get(section)
        if not isinstance(entries, CommentedMap):
            continue
        missing = sorted(set(wanted) - set(entries))
        if missing:
            raise SandboxError(f"clusters.yaml has no {section} entry {', '.join(map(repr, missing))}")
        for name in [n for n in entries if n not in wanted]:
            del entries[name]
    return _dump(doc)
