"""compiler/characters.py: decomposed spellings and whole-script look-alikes in group ids, the two
kinds of "looks the same, is another id" that mixed-script checks alone do not see."""

from __future__ import annotations

import unicodedata

import pytest

from compiler.characters import first_look_alike


@pytest.mark.parametrize(("name", "index", "composed"), [
    ("cafe\u0301-readers", 4, "\u00e9"),  # e + COMBINING ACUTE ACCENT
    ("ledger-\u1100\u1161", 8, "\uac00"),  # Hangul jamo that compose into one syllable
    ("xa\u0323\u0301", 2, "\u1ea1\u0301"),  # two marks: the first one that composes is named
])
def test_a_decomposed_spelling_is_named_at_its_combining_character(name: str, index: int, composed: str) -> None:
    found = first_look_alike(name)
    assert found is not None and found.code == "look-alike-character"
    assert found.index == index and found.char == name[index]
    assert repr(unicodedata.normalize("NFC", composed)[:1]) in found.reason
    assert first_look_alike(unicodedata.normalize("NFC", name)) is None  # the composed spelling passes


@pytest.mark.parametrize(("name", "reads"), [
    ("\u0441\u0430\u0441\u04bb\u0435\u0455", "caches"),  # Cyrillic
    ("\u0441\u0430\u0441\u04bb\u0435\u0455-2", "caches-2"),  # digits and punctuation are neutral
    ("\u03bf\u03c1", "op"),  # Greek
])
def test_a_name_wholly_in_another_script_that_reads_as_ascii_is_refused(name: str, reads: str) -> None:
    found = first_look_alike(name)
    assert found is not None and found.index == 0 and f"reads as {reads!r}" in found.reason


@pytest.mark.parametrize("name", [
    "\u0441\u043e\u0440\u0442",  # Russian 'сорт': т has no ASCII twin
    "\uacb0\uc81c-mailer",  # Hangul and Latin, no Hangul letter looks Latin
    "\uacb0\uc81c",
    "caf\u00e9-readers",  # composed
    "billing",
])
def test_names_that_look_like_nothing_else_pass(name: str) -> None:
    assert first_look_alike(name) is None
