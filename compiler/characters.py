"""Characters a person cannot see or cannot tell apart, in names that Kafka matches byte for byte.

A consumer group id or client id is compared exactly: `billing-ledger` with a zero-width space
inside, or with a Cyrillic i (U+0456) for the Latin `i`, is another group — one that a reviewer reads
as the right one. Three kinds of character are refused, each named (`U+200B ZERO WIDTH SPACE`):

* **invisible**: control characters (Cc), format characters (Cf: zero-width spaces and joiners,
  bidi controls such as U+202E, soft hyphen, byte-order mark), separators other than the
  plain space (Zs, Zl, Zp: no-break space, ideographic space, line separator), private-use,
  unassigned and surrogate code points, and Unicode's other default-ignorable code points
  (Hangul fillers, variation selectors, …) that a font draws as nothing;
* **compatibility look-alikes**: a character that NFKC normalization replaces (fullwidth
  a U+FF41, script l U+2113, ligatures): it looks like the character it stands for;
* **mixed-script confusables** (Unicode TR39): in a name that mixes scripts, a character of a
  minority script that has a homoglyph in the name's main script (`billing` with a
  Cyrillic i U+0456 among Latin letters). A name in one script (`결제-mailer` mixes Hangul and Latin, but no
  Hangul letter looks like a Latin one) passes. The homoglyph data is Unicode's
  confusables.txt as packaged by `confusable_homoglyphs`;
* **whole-script confusables** (TR39): a name written wholly in another script whose every
  letter looks like an ASCII one (`caches` spelt with the Cyrillic U+0441, U+0430, U+04BB,
  U+0435 and U+0455);
* **decomposed forms**: a letter written as a base and a combining mark (`e` + U+0301) where
  Unicode has it as one character (`é`, U+00E9): the two spellings look the same and are two
  different ids (the name is not in Unicode's NFC form).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

from .errors import CompilerError

# Controls have no Unicode name; these are the ones people meet.
_CONTROL_NAMES = {
    0x00: "NULL", 0x09: "CHARACTER TABULATION (tab)", 0x0A: "LINE FEED", 0x0B: "LINE TABULATION",
    0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE", 0x85: "NEXT LINE",
}

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt) that are not Cf, Cn or Zs
# already: drawn as nothing by fonts, so as invisible as a zero-width space.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),  # HANGUL CHOSEONG / JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ / AA
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTORS
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM … END PHRASE
    (0xE0100, 0xE01EF),  # VARIATION SELECTORS SUPPLEMENT
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})  # digits, punctuation, combining marks


def describe(ch: str) -> str:
    """`U+200B ZERO WIDTH SPACE`: the code point and its Unicode name."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "")
    if not name:
        category = unicodedata.category(ch)
        name = {"Cc": "(a control character)", "Co": "(a private-use character)",
                "Cs": "(half of a surrogate pair)"}.get(category, "(an unassigned code point)")
    return f"U+{code:04X} {name}"


def is_invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in _INVISIBLE_CATEGORIES or (category == "Zs" and ch != " "):
        return True
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _IGNORABLE_RANGES)


class TextProblem(CompilerError, ValueError):
    """A string breaks the rule named by `code`. `index` is the offending character's index in
    it (None when the whole string is wrong); the message says "at column N" once the caller
    knows N (`{where}` in `problem` marks the place). A ValueError, so that pydantic reports it
    as the field's error (the schema stage finds it in the error's context)."""

    def __init__(self, code: str, subject: str, problem: str, index: int | None = None):
        self.code = code  # the diagnostic's code
        self.subject = subject
        self.problem = problem
        self.index = index
        super().__init__(self.message(None))

    def message(self, column: int | None) -> str:
        where = "" if self.index is None else (
            f" at column {column}" if column is not None else f" (character {self.index + 1})"
        )
        return f"{self.subject}{self.problem.replace('{where}', where)}"


@dataclass(frozen=True)
class Suspect:
    """A character of a name that must not be there, and why."""

    index: int  # in the name
    char: str
    reason: str  # completes "U+200B ZERO WIDTH SPACE at column N <reason>"
    fix: str
    code: str  # the diagnostic's code


def first_invisible(text: str) -> Suspect | None:
    if text.isascii() and text.isprintable():
        return None  # the common case, decided in C: no control character, nothing else invisible
    for i, ch in enumerate(text):
        if is_invisible(ch):
            what = "a control character" if unicodedata.category(ch) == "Cc" else "an invisible character"
            return Suspect(i, ch, f"is {what}", "remove it", "invisible-character")
    return None


def _script(ch: str) -> str:
    """The script of a character as Unicode's Scripts.txt names it (`LATIN`, `CYRILLIC`, `COMMON`)."""
    from confusable_homoglyphs import categories  # type: ignore[import-untyped]  # ships no types

    return str(categories.alias(ch))


def _homoglyphs(ch: str, script: str) -> list[dict[str, str]]:
    """The characters of `script` that `ch` can be confused with (Unicode's confusables.txt)."""
    # Imported on first use: it loads ~1 MB of JSON, which an all-ASCII org never needs.
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, preferred_aliases=[script])
    return list(found[0]["homoglyphs"]) if found else []


def first_look_alike(text: str) -> Suspect | None:
    """A compatibility look-alike or a mixed-script confusable, the first in the name."""
    if text.isascii():
        return None
    for i, ch in enumerate(text):
        plain = unicodedata.normalize("NFKC", ch)
        if plain != ch and not ch.isascii():
            return Suspect(i, ch, f"is a compatibility form of {plain!r} and looks like it",
                           f"use {plain!r} instead", "look-alike-character")
    decomposed = _first_decomposed(text)
    if decomposed:
        return decomposed
    scripts = Counter(_script(ch) for ch in text)
    for neutral in _NEUTRAL_SCRIPTS:
        scripts.pop(neutral, None)
    if len(scripts) == 1 and "LATIN" not in scripts:
        return _whole_script_look_alike(text, next(iter(scripts)))
    if len(scripts) < 2:
        return None
    # The main script is the one with most letters (Latin on a tie: names are mostly Latin).
    main = max(scripts, key=lambda s: (scripts[s], s == "LATIN"))
    for i, ch in enumerate(text):
        if ch.isascii() or _script(ch) in (main, *_NEUTRAL_SCRIPTS):
            continue
        glyphs = _homoglyphs(ch, main)
        if glyphs:
            twin = next((g for g in glyphs if all(_script(c) == main for c in g["c"])), glyphs[0])
            return Suspect(
                i, ch,
                f"is {_script(ch).title()} among {main.title()} letters and looks like "
                f"{twin['c']!r} ({twin['n']})",
                f"use {twin['c']!r} instead",
                "look-alike-character",
            )
    return None


def _first_decomposed(text: str) -> Suspect | None:
    """The first character where the name leaves Unicode's composed form (NFC): a combining
    mark (or a Hangul jamo) that joins what comes before it into one character."""
    if unicodedata.is_normalized("NFC", text):
        return None
    for i in range(1, len(text)):
        if unicodedata.is_normalized("NFC", text[: i + 1]):
            continue
        start = next((j for j in range(i - 1, 0, -1) if not unicodedata.combining(text[j])), 0)
        base, composed = text[start:i], unicodedata.normalize("NFC", text[start : i + 1])
        return Suspect(
            i, text[i],
            f"joins the {base!r} before it into {composed!r}, which Unicode writes as "
            f"{', '.join(describe(c) for c in composed)}: the two spellings look the same and are different ids",
            f"use the composed {composed!r}, one character (Unicode's NFC form; most editors write it so)",
            "look-alike-character",
        )
    return None  # pragma: no cover - a name not in NFC has a prefix that is not


def _whole_script_look_alike(text: str, script: str) -> Suspect | None:
    """A name wholly in one non-Latin script whose every letter looks like an ASCII letter."""
    twin = []
    for ch in text:
        if _script(ch) in _NEUTRAL_SCRIPTS:
            twin.append(ch)
            continue
        ascii_glyphs = [g["c"] for g in _homoglyphs(ch, "LATIN") if g["c"].isascii()]
        if not ascii_glyphs:
            return None
        twin.append(ascii_glyphs[0])
    first = next(i for i, ch in enumerate(text) if _script(ch) not in _NEUTRAL_SCRIPTS)
    reads = "".join(twin)
    return Suspect(
        first, text[first],
        f"begins a name written wholly in {script.title()} letters that each look like a Latin one: "
        f"it reads as {reads!r} and is another id",
        f"use Latin letters ({reads!r}) if that is the id meant",
        "look-alike-character",
    )
