"""Diagnostics are data: one sortable record per problem, rendered by formatters.

Positions are 1-based (line and column), converted once from ruamel's 0-based marks in
the loader. A diagnostic may carry related positions ("first defined here") that the
formatters print after the main message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from .credentials import redact


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Position:
    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@functools.lru_cache(maxsize=4096)  # a tree names few files; each diagnostic would scan its name again
def _masked_file(file: str) -> str:
    return redact(file)


def _masked(pos: Position) -> Position:
    file = _masked_file(pos.file)
    return pos if file == pos.file else Position(file, pos.line, pos.col)


@dataclass(frozen=True, order=True)
class Diagnostic:
    position: Position
    code: str
    message: str
    severity: Severity = Severity.ERROR
    related: tuple[tuple[Position, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # The one choke point: whatever a pass quotes, no format can print a credential - not
        # even in a file name (`specs/migrations/ci/ghp_….yaml`).
        object.__setattr__(self, "position", _masked(self.position))
        object.__setattr__(self, "message", redact(self.message))
        object.__setattr__(self, "related", tuple((_masked(pos), redact(note)) for pos, note in self.related))

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def full_message(self) -> str:
        notes = "".join(f" [{note} at {pos}]" for pos, note in self.related)
        return self.message + notes


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics))


def format_text(diagnostics: list[Diagnostic]) -> str:
    return "".join(
        f"{d.position}: [{d.severity.value}] {d.full_message()} ({d.code})\n" for d in diagnostics
    )


def _github_escape(text: str) -> str:
    # GitHub workflow commands: %, CR and LF must be percent-encoded in the message,
    # and additionally ':' and ',' in properties.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_prop(text: str) -> str:
    return _github_escape(text).replace(":", "%3A").replace(",", "%2C")


def format_github(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        p = d.position
        lines.append(
            f"::{d.severity.value} file={_github_prop(p.file)},line={p.line},col={p.col},"
            f"title={_github_prop(d.code)}::{_github_escape(d.full_message())}\n"
        )
    return "".join(lines)


def format_json(diagnostics: list[Diagnostic]) -> str:
    payload = [
        {
            "file": d.position.file,
            "line": d.position.line,
            "col": d.position.col,
            "severity": d.severity.value,
            "code": d.code,
            "message": d.message,
            "related": [
                {"file": p.file, "line": p.line, "col": p.col, "note": note} for p, note in d.related
            ],
        }
        for d in diagnostics
    ]
    return json.dumps({"diagnostics": payload, "errors": sum(d.is_error for d in diagnostics)}, indent=2) + "\n"


FORMATTERS = {"text": format_text, "github": format_github, "json": format_json}
