""""Did you mean …?": the known name closest to a misspelt one.

The pick is difflib's, exactly: `difflib.get_close_matches(name, known, n=1)`, i.e. the
highest Ratcliff/Obershelp ratio of at least 0.6, ties to the greater string. People know
its picks, and they are good for typos. Scoring every known name with it in Python is what
made 2,000 misspelt topics against 2,000 known ones take minutes, so we find the same pick
by branch and bound over a fast upper bound:

    ratio(a, b) = 2*M / (|a| + |b|), M = total size of difflib's matching blocks
    indel(a, b) = 2*L / (|a| + |b|), L = length of a longest common subsequence

The matching blocks are disjoint and in order in both strings, so they form a common
subsequence: M <= L, hence ratio <= indel. rapidfuzz computes `indel` in C (`fuzz.ratio`
is 100 * indel), so two passes over the known names find the pick:

1. the name with the best `indel` (extractOne raises its cutoff as it goes, so it is
   cheap); its difflib ratio r is a floor for the answer's ratio;
2. every name whose `indel` is at least max(r, 0.6): the only ones whose ratio can reach
   the floor. Few for a typo, because its best match is far ahead of the rest. difflib
   decides among them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

CUTOFF = 0.6  # difflib.get_close_matches' default
# Slack on rapidfuzz's cutoffs (0-100 scale). It turns a normalized cutoff into an integer
# distance with some rounding of its own: a cutoff 1e-6 below a score dropped that score. One
# point is several edits even for names of Kafka's maximum length; a little too many
# candidates only costs a difflib call each, since difflib decides.
_SLACK = 1.0


def closest(name: str, known: Sequence[str]) -> str | None:
    """The name difflib.get_close_matches(name, known, n=1) would suggest, or None."""
    from rapidfuzz import fuzz, process  # only a spec with a mistake asks (the import is ~15 ms)

    top = process.extractOne(name, known, scorer=fuzz.ratio, score_cutoff=100 * CUTOFF - _SLACK)
    if top is None:
        return None  # every ratio is below its bound, which is below the cutoff
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name)

    def ratio(candidate: str) -> float:
        matcher.set_seq1(candidate)
        return matcher.ratio()

    floor = max(ratio(top[0]), CUTOFF)
    rivals = process.extract(name, known, scorer=fuzz.ratio, score_cutoff=100 * floor - _SLACK, limit=None)
    scored = [(ratio(candidate), candidate) for candidate, _, _ in rivals]
    best = max((sc for sc in scored if sc[0] >= CUTOFF), default=None)
    return best[1] if best else None


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`did you mean 'x'? ` for the closest known name, or '' when none is close."""
    close = closest(name, known)
    return f"did you mean {close!r}? " if close is not None else ""
