"""Where in the file a character of a scalar is: the file:line:col of its `index`-th character.

The loader records where each scalar starts; a diagnostic about one character of it (an
invisible one, a look-alike) should point at that character. From the scalar's start the
source is read unit by unit — a character, or in a double-quoted scalar an escape such as
`\\u200b` — until the unit that produced the character; in a plain, single-quoted or block
scalar every character of the value is written literally, in order. None when the value
does not come from there (an alias) or the character cannot be found.
"""

from __future__ import annotations

from collections.abc import Iterator

from .diagnostics import Position

_SIMPLE_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _offset(text: str, line: int, col: int) -> int | None:
    index = 0
    for _ in range(line - 1):
        index = text.find("\n", index) + 1
        if index == 0:
            return None
    return index + col - 1


def _double_quoted(text: str, start: int) -> Iterator[tuple[int, str]]:
    """(offset, produced character) for each unit after the opening quote."""
    i = start + 1
    while i < len(text) and text[i] != '"':
        if text[i] != "\\":
            yield i, text[i]
            i += 1
            continue
        kind = text[i + 1 : i + 2]
        if kind in _HEX_ESCAPES:
            digits = text[i + 2 : i + 2 + _HEX_ESCAPES[kind]]
            try:
                yield i, chr(int(digits, 16))
            except ValueError:
                return
            i += 2 + len(digits)
        else:
            if kind in _SIMPLE_ESCAPES:
                yield i, _SIMPLE_ESCAPES[kind]
            i += 2


def char_position(text: str, start: Position, value: str, index: int) -> Position | None:
    offset = _offset(text, start.line, start.col)
    if offset is None or offset >= len(text) or not 0 <= index < len(value):
        return None
    target = value[index]
    nth = value.count(target, 0, index)  # earlier occurrences to skip
    lead = text[offset]
    if lead == "*":
        return None  # an alias: the value is written at its anchor
    units: Iterator[tuple[int, str]]
    if lead == '"':
        units = _double_quoted(text, offset)
    else:
        if lead in "|>":  # a block scalar's text starts on the line after its header
            offset = text.find("\n", offset) + 1 or len(text)
        elif lead == "'":
            offset += 1
        units = ((i, text[i]) for i in range(offset, len(text)))
    for at, produced in units:
        if produced == target:
            if nth == 0:
                line_start = text.rfind("\n", 0, at) + 1
                return Position(start.file, text.count("\n", 0, at) + 1, at - line_start + 1)
            nth -= 1
    return None
