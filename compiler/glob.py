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

`OverlapIndex` finds every overlapping pair without comparing all pairs, also when
thousands of patterns share one long literal prefix. Split a glob at its stars into a *head*
(before the first `*`), middle parts and a *tail* (after the last `*`); a star-free glob is
all head and all tail. Two atoms are compatible when equal or one is `?`, two runs when
compatible atom by atom where both have one. Then, exactly:

* two starred globs overlap iff their heads are compatible from the start and their tails
  from the end. (If so, take H = the heads merged, T = the tails merged, and the string
  H + P's middle parts + Q's middle parts + T: P's first star absorbs the rest of H, its
  last star Q's middle parts and the front of T, and Q likewise.)
* two star-free globs overlap iff they have one length and are compatible;
* a star-free glob against a starred one: the head and tail conditions are necessary (the
  star-free glob long enough for the other's head, and for its tail), the DP above decides.

The index needs globs compatible at both ends, and bounds them by literal parts. Call a
glob's *head literal* the text of its head before the first `?`, its *tail literal* the
text of its tail after the last `?`. Compatible heads have head literals of which one starts
the other (both are literal up to the shorter one), and likewise tails, at the end. So for
two globs P and Q that may overlap, at each end Q's literal is either a prefix of P's
(including equal: Q is an *ancestor* of P there) or strictly extends it. For each P the
index lists the Qs that are

* ancestors at both ends: one dict lookup per pair of P's literal prefixes that occur
  (heads x tails, usually a handful);
* an ancestor at the head and strictly longer at the tail: for each head-ancestor literal,
  a range of the globs sorted by (head literal, tail literal), found by bisection;
* strictly longer at the head and an ancestor at the tail: the mirror image.

A Q strictly longer at both ends is not listed from P: P is an ancestor of Q at both ends,
so Q's own query lists P. Every candidate is literal-compatible at both ends, which globs
sharing a long prefix are not when their tails differ (or the reverse), so the work is
near-linear in the globs plus the overlaps found, whatever the shared prefix. What the
literal parts cannot see are globs told apart only between wildcards (`svc.?0001?` against
`svc.?0002?`): those are compared pairwise, exactly, at the cost of the pairs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
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


def _compatible(a: str, b: str) -> bool:
    """The two atom runs are compatible position by position (over the shorter one)."""
    return a.startswith(b) or b.startswith(a) or all(x == y or "?" in (x, y) for x, y in zip(a, b, strict=False))


def _literal(key: str) -> str:
    """The text before the first `?` (keys hold no `*`)."""
    cut = key.find("?")
    return key if cut < 0 else key[:cut]


@dataclass(frozen=True)
class _Glob:
    pattern: str
    head: str  # before the first `*`: the whole pattern when star-free
    rtail: str  # after the last `*`, reversed: the whole pattern reversed when star-free
    starred: bool

    @classmethod
    def of(cls, pattern: str) -> _Glob:
        parts = pattern.split("*")
        return cls(pattern, parts[0], parts[-1][::-1], len(parts) > 1)

    @property
    def ends(self) -> tuple[str, str]:
        """Head literal and reversed tail literal."""
        return _literal(self.head), _literal(self.rtail)


_LAST_CHAR = chr(0x10FFFF)


class _Sorted:
    """Glob ids sorted by (literal at one end, literal at the other)."""

    def __init__(self, keys: list[tuple[str, str]]):
        self.ids = sorted(range(len(keys)), key=keys.__getitem__)
        self.keys = [keys[i] for i in self.ids]

    def extending(self, first: str, second: str) -> list[int]:
        """Ids whose first literal is `first` and whose second strictly extends `second`."""
        # The keys wanted are a range: past those equal to (first, second), and below the first
        # key whose second literal is past every string starting with `second`.
        lo = bisect_right(self.keys, (first, second))
        if not second:
            hi = bisect_left(self.keys, (first + "\0",), lo)
        elif second[-1] < _LAST_CHAR:
            hi = bisect_left(self.keys, (first, second[:-1] + chr(ord(second[-1]) + 1)), lo)
        else:  # no next character: cut every second literal to len(second) (keeps them sorted)
            hi = bisect_right(self.keys, (first, second), lo=lo, key=lambda k: (k[0], k[1][: len(second)]))
        return self.ids[lo:hi]


def _prefix_chains(literals: Iterable[str]) -> dict[str, list[str]]:
    """Each literal -> the literals among them that are prefixes of it (itself included).

    In sorted order a literal's prefixes come before it, and a stack of the open chain
    holds them all: pop what the literal does not start with, then it is the stack."""
    chains: dict[str, list[str]] = {}
    stack: list[str] = []
    for lit in sorted(set(literals)):
        while stack and not lit.startswith(stack[-1]):
            stack.pop()
        stack.append(lit)
        chains[lit] = list(stack)
    return chains


class OverlapIndex(Generic[K]):
    """Find every pair of overlapping globs that belong to different owners."""

    def __init__(self, items: Iterable[tuple[str, K]]):
        self.items = sorted(set(items), key=lambda it: (it[0], repr(it[1])))
        self.globs = [_Glob.of(pattern) for pattern, _ in self.items]

    def overlaps(self) -> list[Overlap[K]]:
        ends = [g.ends for g in self.globs]
        both: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, key in enumerate(ends):
            both[key].append(i)
        head_chain, tail_chain = _prefix_chains(h for h, _ in ends), _prefix_chains(t for _, t in ends)
        by_head, by_tail = _Sorted(ends), _Sorted([(t, h) for h, t in ends])
        # A literal that only this glob has at its end cannot lead to another glob: its
        # range lookups are skipped (most globs of an org, each with its own literal prefix).
        heads, tails = Counter(h for h, _ in ends), Counter(t for _, t in ends)

        found: list[Overlap[K]] = []
        for i, (h, t) in enumerate(ends):
            head_anc, tail_anc = head_chain[h], tail_chain[t]
            for a in head_anc:
                for b in tail_anc:
                    # Strictly shorter at both ends: listed from here only.
                    only_here = len(a) < len(h) and len(b) < len(t)
                    for j in both.get((a, b), ()):
                        if only_here or j > i:
                            self._check(i, j, found)
                if heads[a] > (a == h):
                    for j in by_head.extending(a, t):
                        if j > i:
                            self._check(i, j, found)
            for b in tail_anc:
                if tails[b] > (b == t):
                    for j in by_tail.extending(b, h):
                        if j > i:
                            self._check(i, j, found)
        return found

    def _check(self, i: int, j: int, found: list[Overlap[K]]) -> None:
        a, b = self.items[i], self.items[j]
        if a[1] != b[1] and self._overlap(self.globs[i], self.globs[j]):
            found.append(Overlap(a, b) if i < j else Overlap(b, a))

    @staticmethod
    def _overlap(p: _Glob, q: _Glob) -> bool:
        if not (_compatible(p.head, q.head) and _compatible(p.rtail, q.rtail)):
            return False
        if p.starred and q.starred:
            return True
        if not (p.starred or q.starred):
            return len(p.pattern) == len(q.pattern)
        return globs_overlap(p.pattern, q.pattern)
