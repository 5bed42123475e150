"""Client-id globs: `*` matches any run of characters (also none), `?` exactly one, every
other character itself. No escapes, no classes: small enough to decide overlap exactly.

Two globs *overlap* when some client id matches both. For patterns of length n and m this
is decided exactly by a dynamic programme over (i, j) positions in O(n*m): we look for a
common string, one character at a time:

* both at the end                 -> found (the empty rest is common)
* p[i] == '*'                     -> it may match nothing: (i+1, j); or absorb the next
                                     character q emits, when q[j] emits one: (i, j+1)
* q[j] == '*'                     -> symmetric
* two single-character atoms      -> compatible ('?' or equal literals): (i+1, j+1)

`OverlapIndex` avoids comparing all pairs: a common string starts with both patterns'
literal prefixes (the text before the first wildcard), so one prefix must be a prefix of
the other; and likewise for literal suffixes. Patterns are bucketed by prefix; each
pattern is compared only with patterns whose prefix is one of its own prefixes, then
filtered by suffix, then decided exactly. With policy-conforming ids (team and service are
literal) the candidate sets stay tiny and the whole check is near-linear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

# The glob language and its matcher are the route-file contract's; this module adds only what
# the compiler needs on top (overlap).
from proxy.routetable import WILDCARDS, compile_glob, glob_matches, literal_prefix

__all__ = [
    "Overlap", "OverlapIndex", "compile_glob", "glob_matches", "globs_overlap", "literal_prefix", "literal_suffix",
]


def literal_suffix(pattern: str) -> str:
    for i in range(len(pattern) - 1, -1, -1):
        if pattern[i] in WILDCARDS:
            return pattern[i + 1 :]
    return pattern


def globs_overlap(p: str, q: str) -> bool:
    """True when at least one string matches both globs (exact, O(len(p)*len(q)))."""
    n, m = len(p), len(q)
    # below[j] is row i+1 of reach(i, j) = "p[i:] and q[j:] match a common string".
    below = [False] * (m + 1)
    below[m] = True
    for j in range(m - 1, -1, -1):
        below[j] = q[j] == "*" and below[j + 1]
    for i in range(n - 1, -1, -1):
        row = [False] * (m + 1)
        row[m] = p[i] == "*" and below[m]
        for j in range(m - 1, -1, -1):
            if p[i] == "*":
                row[j] = below[j] or row[j + 1]
            elif q[j] == "*":
                row[j] = row[j + 1] or below[j]
            else:
                row[j] = (p[i] == q[j] or p[i] == "?" or q[j] == "?") and below[j + 1]
        below = row
    return below[0]


K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Overlap(Generic[K]):
    first: tuple[str, K]
    second: tuple[str, K]


class OverlapIndex(Generic[K]):
    """Find every pair of overlapping globs that belong to different owners."""

    def __init__(self, items: Iterable[tuple[str, K]]):
        self.items = sorted(set(items), key=lambda it: (it[0], repr(it[1])))

    def overlaps(self) -> list[Overlap[K]]:
        by_prefix: dict[str, list[tuple[str, K]]] = defaultdict(list)
        for item in self.items:
            by_prefix[literal_prefix(item[0])].append(item)
        found: list[Overlap[K]] = []
        for prefix, members in by_prefix.items():
            # Candidates: same prefix (each pair once) and strictly shorter prefixes of
            # this prefix (the other side is visited from the longer prefix only).
            for a_idx, a in enumerate(members):
                for b in members[a_idx + 1 :]:
                    self._check(a, b, found)
            for cut in range(len(prefix)):
                shorter = by_prefix.get(prefix[:cut])
                if not shorter:
                    continue
                for a in members:
                    for b in shorter:
                        self._check(b, a, found)
        return found

    @staticmethod
    def _check(a: tuple[str, K], b: tuple[str, K], found: list[Overlap[K]]) -> None:
        if a[1] == b[1]:
            return
        sa, sb = literal_suffix(a[0]), literal_suffix(b[0])
        if not (sa.endswith(sb) or sb.endswith(sa)):
            return
        if globs_overlap(a[0], b[0]):
            found.append(Overlap(a, b))
