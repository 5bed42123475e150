"""The credential scan's prefilter never hides a credential.

`compiler.credentials` skips a detector pattern when its needle (a literal every match
contains) is absent from the text. Here: the needles are read as documented, and for every
detector pattern, on texts built around its own needle, case-swapped and non-ASCII
look-alikes, skipping never drops a match (`_could_match` is True whenever the regex
matches).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.credentials import _could_match, _detectors, _needle, find

PATTERNS = [p for plugin in _detectors() for p in plugin.denylist]


def test_needles_are_the_literal_runs_every_match_holds() -> None:
    assert _needle(re.compile(r"[0-9a-z]{32}-us[0-9]{1,2}")) == ("-us", False)
    assert _needle(re.compile(r"(?:r|s)k_live_[0-9a-zA-Z]{24}")) == ("k_live_", False)
    assert _needle(re.compile(r"xox(?:a|b)-\d+", re.IGNORECASE)) == ("xox", True)
    assert _needle(re.compile(r"(?i)AWS.{0,20}?key")) == ("aws", True)
    assert _needle(re.compile(r"a|bcd")) == ("", False)  # an alternation at the top: nothing is certain
    assert _needle(re.compile(r"ab?c")) == ("a", False)
    assert _needle(re.compile(r"(?i:xox)-\d")) == ("-", False)  # a scoped flag ends a run
    assert sum(bool(_needle(p)[0]) for p in PATTERNS) >= len(PATTERNS) - 2


def _texts(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    """Texts that match `pattern` (hypothesis writes them from the regex) or hold pieces of its
    needle, each also case-changed: a pattern that ignores case must still be tried."""
    needle = _needle(pattern)[0]
    noise = st.text(alphabet="aA0zZ9_-:./=+@ \n\"'sSkKiI\u017f\u212a\u0131\u0130\u00e9", max_size=30)
    pieces = st.lists(st.one_of(noise, st.sampled_from([needle, needle.upper(), needle[:-1]])), max_size=6)
    base = st.one_of(st.from_regex(pattern), st.tuples(noise, st.from_regex(pattern), noise).map("".join),
                     pieces.map("".join))
    cases: list[Callable[[str], str]] = [str, str.upper, str.lower, str.swapcase]
    return st.tuples(base, st.sampled_from(cases)).map(lambda t: t[1](t[0]))


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_skipping_a_pattern_never_drops_a_match(data: st.DataObject) -> None:
    for pattern in PATTERNS:
        text = data.draw(_texts(pattern))
        lowered = text.lower() if text.isascii() else None
        if pattern.search(text):
            assert _could_match(pattern, text, lowered), (pattern.pattern, text)


def test_credentials_are_still_found_through_the_prefilter() -> None:
    text = "key: xoxb-1234-abcdef\n# AWS_SECRET key = 'abcdefghijABCDEFGHIJabcdefghijABCDEFGHIJ'\n"
    assert {f.kind for f in find(text)} >= {"Slack Token"}
    assert find("XOXB-1234-ABCDEF")  # the Slack pattern ignores case: the needle is matched lowercased
