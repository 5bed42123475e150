"""Client-id ownership, decided exactly: which ids a glob claims, and whose they are.

The policy's client-id regex has a named group `team`; an id *conforms* when the regex
fully matches it, and *belongs* to the team its `team` group captures. A glob of team T
(`*` any run, `?` one character) must match some conforming id, and no conforming id of
another team. Both are questions about regular languages, answered with automata rather
than by trying sample ids:

    conforming(glob)   = L(glob) ∩ L(policy)                 must be non-empty
    foreign(glob, T)   = L(glob) ∩ { x in L(policy) : team(x) != T }   must be empty

`interegular` turns the policy's regex into finite automata. To read the `team` group, the
regex is cut at that group into three regexes, `prefix (?P<team>body) suffix`, which is why
the group must stand at the top level (not inside another group, an alternative or a
repetition): then every conforming id splits as prefix·team·suffix, and an automaton that
runs the three parts in turn knows when it is inside the team and can compare what it reads
with T. Where the regex lets one id split in several ways, the id counts as another team's
if *any* split gives another team (stricter than `re`, which picks one split: a policy with
an ambiguous team boundary should not hand ids to whichever team backtracking favours).

Per run the three parts are compiled once (`ClientIdPolicy.compile`), over an alphabet in
which every character of a team name is its own symbol; the deterministic automaton that
runs them is built on demand and shared by every team past the team part. Per glob the
literal prefix is walked, and the rest is a search over (glob position, automaton state)
pairs, breadth first, so its witness is a shortest id (ties go to the most readable
symbols). A glob's final `*` is not searched: from a state, the shortest continuation to
acceptance is a property of the state, found once.

Regex constructs the automata cannot honour exactly are refused with a reason
(`PolicyUnsupported`): lookarounds, backreferences, atomic groups and possessive
quantifiers, anchors other than a leading `^` and a trailing `$`, and `\\w` `\\d` `\\s` (and
their negations) or case-insensitivity without the ASCII flag `(?a)`, since Python then
matches Unicode letters and digits, which the automata would not.
"""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from interegular import InvalidSyntax, REFlags, Unsupported, parse_pattern
from interegular.fsm import FSM, Alphabet, TransitionKey, anything_else

from .errors import CompilerError

TEAM_GROUP = "(?P<team>"
# Characters shown for a wildcard when any of several would do: the most readable first.
_PREFERRED = string.ascii_lowercase + string.digits + "-_" + string.ascii_uppercase + string.punctuation

_LEADING_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")
_QUANTIFIER_RANGE = re.compile(r"\{\d*(?:,\d*)?\}")
# Inline flags the automata honour once `a` (ASCII) is set; `u` is the default, `m` only moves
# `^` and `$`, which are gone by then.
_FLAGS_KEPT = "is"
_FLAGS_DROPPED = "aum"


class PolicyUnsupported(CompilerError):
    """The client-id regex uses a construct the ownership decision cannot handle exactly.

    Pass `naming` turns it into the diagnostic `policy-unsupported-regex`."""


class PolicyTooLarge(PolicyUnsupported):
    """The client-id regex spells out more than MAX_POLICY_POSITIONS characters.

    Pass `naming` turns it into the diagnostic `policy-regex-too-large`."""


MAX_POLICY_POSITIONS = 500
"""The most character positions the client-id regex may spell out, counting each counted
repetition written out (`[a-z]{1,63}` is 63 positions, `(a{30}){30}` is 900) and every branch
of an alternative. The automata get a state per position and `interegular` builds a counted
repetition copy by copy, so the compile grows faster than the count: 500 positions take
~1-2 s on the benchmark machine; `(a{255}){255}` (65,025) would take hours and gigabytes.
Real policies spell out a few dozen (the benchmark's: 8); `+` and `*` cost one position."""


def _positions(pattern: str) -> int:
    """The character positions of `pattern` with counted repetitions written out (see
    MAX_POLICY_POSITIONS); stops counting past the bound. No recursion: a hostile nesting
    depth costs a loop, not the stack."""
    total = 0
    todo: list[tuple[Any, int]] = [(re._parser.parse(pattern), 1)]  # type: ignore[attr-defined]
    p = re._constants  # type: ignore[attr-defined]
    while todo and total <= MAX_POLICY_POSITIONS:
        items, times = todo.pop()
        for op, arg in items:
            if op in (p.LITERAL, p.NOT_LITERAL, p.ANY, p.IN):
                total += times
            elif op in (p.MAX_REPEAT, p.MIN_REPEAT, p.POSSESSIVE_REPEAT):
                low, high, body = arg
                todo.append((body, times * (low + 1 if high == p.MAXREPEAT else high)))
            elif op is p.SUBPATTERN:
                todo.append((arg[-1], times))
            elif op is p.ATOMIC_GROUP:
                todo.append((arg, times))
            elif op is p.BRANCH:
                todo.extend((branch, times) for branch in arg[1])
    return total


@dataclass(frozen=True)
class _Parts:
    prefix: str
    body: str
    suffix: str
    flags: str  # inline flag letters to repeat in front of each part


def _unescaped_at_end(text: str, char: str) -> bool:
    if not text.endswith(char):
        return False
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _split(pattern: str) -> _Parts:
    """Cut the regex at its `team` group, after the checks the module docstring lists."""
    flags = ""
    m = _LEADING_FLAGS.match(pattern)
    if m:
        flags, pattern = m.group(1), pattern[m.end() :]
        if "x" in flags:
            raise PolicyUnsupported("verbose mode `(?x)` is not supported; remove it")
    ascii_only = "a" in flags
    kept = "".join(f for f in flags if f not in _FLAGS_DROPPED)
    if set(kept) - set(_FLAGS_KEPT):
        raise PolicyUnsupported(f"the inline flags `(?{flags})` are not supported; use only `a`, `i` and `s`")
    if "i" in kept and not ascii_only:
        raise PolicyUnsupported(
            "case-insensitive matching `(?i)` also folds Unicode letters; add the ASCII flag: `(?ai)`"
        )
    if pattern.startswith("^"):
        pattern = pattern[1:]
    elif pattern.startswith("\\A"):
        pattern = pattern[2:]
    if _unescaped_at_end(pattern, "$"):
        pattern = pattern[:-1]
    elif pattern.endswith("\\Z") and _unescaped_at_end(pattern[:-1], "\\"):
        pattern = pattern[:-2]

    depth = 0
    team_open = team_close = -1
    opens: list[int] = []
    i, n = 0, len(pattern)

    def check_escape(at: int, in_class: bool) -> None:
        esc = pattern[at + 1 : at + 2]
        if esc in ("w", "W", "d", "D", "s", "S") and not ascii_only:
            what = {"w": "letters and digits", "d": "digits", "s": "spaces"}[esc.lower()]
            raise PolicyUnsupported(
                f"`\\{esc}` also matches Unicode {what}, which the check cannot follow; use a class "
                "(e.g. `[0-9]` for `\\d`) or add the ASCII flag `(?a)` at the start"
            )
        if not in_class and esc in ("b", "B", "A", "Z"):
            raise PolicyUnsupported(
                f"the anchor `\\{esc}` is not supported; remove it (only a leading `^` and a trailing `$` are allowed)"
            )
        if not in_class and esc.isdigit() and esc != "0":
            raise PolicyUnsupported("backreferences (`\\1`) are not supported; remove them")

    while i < n:
        c = pattern[i]
        if c == "\\":
            check_escape(i, in_class=False)
            i += 2
            continue
        if c == "[":
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1  # a `]` first in a class is literal
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\":
                    check_escape(j, in_class=True)
                    j += 1
                j += 1
            i = j + 1
            continue
        if c == "(":
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                raise PolicyUnsupported(
                    "lookarounds (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`) are not supported; remove them and say the "
                    "same with character classes and alternatives"
                )
            if pattern.startswith("(?P=", i):
                raise PolicyUnsupported("backreferences (`(?P=name)`) are not supported; remove them")
            if pattern.startswith("(?>", i):
                raise PolicyUnsupported("atomic groups (`(?>…)`) are not supported; use a plain group `(?:…)`")
            if pattern.startswith("(?(", i):
                raise PolicyUnsupported("conditional groups (`(?(…)…)`) are not supported; use alternatives")
            if pattern.startswith("(?#", i):
                end = pattern.find(")", i)
                i = n if end < 0 else end + 1
                continue
            if pattern.startswith(TEAM_GROUP, i):
                if depth:
                    raise PolicyUnsupported(
                        "the `team` group must stand at the top level of the pattern, not inside another group; "
                        "move it out, e.g. `^(?P<team>[a-z]+)\\.(?:…)$`"
                    )
                team_open = i
            opens.append(i)
            depth += 1
            i += 2 if pattern.startswith("(?", i) else 1  # `?` after `(` is not a quantifier
            continue
        if c == ")":
            depth -= 1
            if opens and opens.pop() == team_open:
                team_close = i
                rest = pattern[i + 1 :]
                if rest[:1] in ("*", "+", "?") or _QUANTIFIER_RANGE.match(rest):
                    raise PolicyUnsupported("the `team` group must not be repeated or optional; make it required, once")
        elif c == "|" and depth == 0:
            raise PolicyUnsupported(
                "the pattern has alternatives (`|`) at its top level; use a group for them that does not "
                "contain the `team` group, so that every id has one team"
            )
        elif c in "^$":
            raise PolicyUnsupported(f"the anchor `{c}` is only allowed at the very start (`^`) or end (`$`); remove it")
        elif c in "*+?}":
            if c == "}" and not re.search(r"\{\d*(?:,\d*)?$", pattern[:i]):
                i += 1
                continue  # a literal `}`
            if pattern[i + 1 : i + 2] == "+":
                raise PolicyUnsupported("possessive quantifiers (`*+`, `++`, `?+`) are not supported; drop the `+`")
        i += 1
    if team_open < 0 or team_close < 0:
        raise PolicyUnsupported("the `team` group must stand at the top level of the pattern; move it there")
    return _Parts(
        pattern[:team_open], pattern[team_open + len(TEAM_GROUP) : team_close], pattern[team_close + 1 :], kept
    )


@dataclass(frozen=True)
class _Part:
    """One part's automaton with its transitions keyed by the policy's alphabet.

    interegular's FSM operations may number an alphabet's symbols afresh (a union of equal
    alphabets can come back permuted), so each FSM is read through its own alphabet."""

    initial: int
    finals: frozenset[int]
    map: dict[int, dict[int, int]]

    @classmethod
    def of(cls, fsm: FSM, alphabet: Alphabet) -> _Part:
        own_key = {int(key): int(fsm.alphabet[symbols[0]]) for key, symbols in alphabet.by_transition.items()}
        table: dict[int, dict[int, int]] = {}
        for state in fsm.states:
            row = fsm.map.get(state, {})
            table[int(state)] = {
                key: int(row[TransitionKey(theirs)]) for key, theirs in own_key.items() if TransitionKey(theirs) in row
            }
        return cls(int(fsm.initial), frozenset(int(f) for f in fsm.finals), table)


NfaState = tuple[int, int, int]  # part (0 prefix, 1 team, 2 suffix), state of that part, team tracker
_DIFFERS = -1  # tracker: a character read in the team part differs from the team name
_UNKNOWN = -2  # a move not built yet (states are numbered from 0; None is "no move")


@dataclass
class ClientIdPolicy:
    """The client-id regex as automata; `compile` once per run, then ask per glob.

    One deterministic automaton serves every question, built lazily (subset construction
    on demand): a state is a set of NFA states plus the team it compares with (None for
    "conforming", and for every set past the team part, where the tracker no longer
    matters). So what follows the team — the service and instance parts, which every
    glob of every team goes through — is built, and its shortest completions found, once."""

    regex: re.Pattern[str]
    alphabet: Alphabet
    parts: tuple[_Part, _Part, _Part]
    keys: list[int]  # every symbol key, most readable spelling first
    spell: dict[int, str]  # key -> the character shown for it in an example id
    _key_of: dict[str, int] = field(default_factory=dict)
    _ids: dict[tuple[str | None, frozenset[NfaState]], int] = field(default_factory=dict)
    _states: list[tuple[str | None, frozenset[NfaState]]] = field(default_factory=list)
    _rows: list[dict[int, int] | None] = field(default_factory=list)
    _steps: list[dict[int, int | None]] = field(default_factory=list)
    _finals: list[bool] = field(default_factory=list)
    _tails: dict[int, tuple[int, ...] | None] = field(default_factory=dict)
    _starts: dict[str | None, int] = field(default_factory=dict)
    # (what follows a glob's literal prefix, the state it leaves) -> the shortest way on: globs
    # that differ only in their literal text (`team1.api-canary.?`, `team2.web-canary.?`) come
    # to one state past the team part and ask the same question.
    _rests: dict[tuple[str, int], str | None] = field(default_factory=dict)

    @classmethod
    def compile(cls, pattern: str, chars: Iterable[str] = ()) -> ClientIdPolicy:
        """`chars`: every character of the team names to be asked about.

        Raises re.error for an invalid regex, PolicyUnsupported for one we cannot decide."""
        regex = re.compile(pattern)
        if "team" not in regex.groupindex:
            raise PolicyUnsupported("the pattern has no named group `team`")
        parts = _split(pattern)
        positions = _positions(pattern)
        if positions > MAX_POLICY_POSITIONS:
            raise PolicyTooLarge(
                f"with its counted repetitions (`{{m,n}}`) written out it spells more than "
                f"{MAX_POLICY_POSITIONS:,} characters (nested counts multiply), and the check builds a state "
                "for each; use `+` or `*` instead of large counts, or smaller counts"
            )
        flag = f"(?{parts.flags})" if parts.flags else ""
        try:
            parsed = [parse_pattern(flag + text) for text in (parts.prefix, parts.body, parts.suffix)]
            # Team names' characters are symbols of their own, so that the automata can compare
            # what they read with a team name; glob characters need not be (a glob's literal
            # character behaves like the rest of its symbol's class in every part).
            own = Alphabet.from_groups(*({c} for c in sorted(set(chars))), {anything_else})
            alphabet = Alphabet.union(*(p.get_alphabet(REFlags(0)) for p in parsed), own)[0]
            prefix, body, suffix = (_Part.of(p.to_fsm(alphabet), alphabet) for p in parsed)
        except (Unsupported, InvalidSyntax, ValueError) as exc:
            raise PolicyUnsupported(
                f"it uses a construct the check cannot read ({exc}); use only groups, character classes, "
                "alternatives and repetitions"
            ) from exc
        except RecursionError as exc:
            raise PolicyUnsupported("the pattern nests too deeply; remove some of its groups") from exc
        spell = _spellings(alphabet)
        # Symbols in the order their spellings read best, so that breadth-first search finds the
        # most readable of the shortest examples (`bill.a.a` rather than `bill.Q.~`).
        keys = sorted(spell, key=lambda k: (_rank(spell[k]), spell[k]))
        return cls(regex, alphabet, (prefix, body, suffix), keys, spell)

    # --- the automaton, built on demand --------------------------------------------------------

    def _key(self, char: str) -> int:
        key = self._key_of.get(char)
        if key is None:
            key = self._key_of[char] = int(self.alphabet[char])
        return key

    def _closure(self, team: str | None, states: Iterable[NfaState]) -> frozenset[NfaState]:
        """Add the moves between parts. Leaving the team part with the whole of `team` read is
        a dead end: that split's team is `team` (team None: no comparison)."""
        parts = self.parts
        out = set(states)
        todo = list(out)
        while todo:
            part, q, k = todo.pop()
            if part < 2 and q in parts[part].finals:
                if part == 0:
                    nxt = (1, parts[1].initial, 0)
                elif team is not None and k == len(team):
                    continue
                else:
                    nxt = (2, parts[2].initial, 0)
                if nxt not in out:
                    out.add(nxt)
                    todo.append(nxt)
        return frozenset(out)

    def _state(self, team: str | None, nfa: frozenset[NfaState]) -> int:
        if team is not None and all(part == 2 for part, _, _ in nfa):
            team = None  # past the team part: shared by every team
        ident = (team, nfa)
        found = self._ids.get(ident)
        if found is None:
            found = self._ids[ident] = len(self._states)
            self._states.append(ident)
            self._rows.append(None)
            self._steps.append({})
            self._finals.append(any(part == 2 and q in self.parts[2].finals for part, q, _ in nfa))
        return found

    def _start(self, team: str | None) -> int:
        if team not in self._starts:
            self._starts[team] = self._state(team, self._closure(team, [(0, self.parts[0].initial, 0)]))
        return self._starts[team]

    def _step(self, state: int, key: int) -> int | None:
        """The state after reading `key` (None: the automaton refuses it), built once."""
        steps = self._steps[state]
        if key in steps:
            return steps[key]
        team, nfa = self._states[state]
        moved = []
        for part, q, k in nfa:
            nq = self.parts[part].map[q].get(key)
            if nq is None:
                continue
            nk = k
            if part == 1 and team is not None:
                nk = k + 1 if 0 <= k < len(team) and self._key(team[k]) == key else _DIFFERS
            moved.append((part, nq, nk))
        nxt = self._state(team, self._closure(team, moved)) if moved else None
        steps[key] = nxt
        return nxt

    def _row(self, state: int) -> dict[int, int]:
        """Every move out of `state`, in the order of `keys` (readable spellings first). A
        glob's literal prefix asks for one move per state (`_step`); only a wildcard needs the
        row, so most of a team's own states never have one built."""
        row = self._rows[state]
        if row is None:
            row = {}
            for key in self.keys:
                nxt = self._step(state, key)
                if nxt is not None:
                    row[key] = nxt
            self._rows[state] = row
        return row

    def _tail(self, state: int) -> tuple[int, ...] | None:
        """A shortest run of symbol keys from `state` to acceptance (None: there is none)."""
        if state not in self._tails:
            parent: dict[int, tuple[int, int] | None] = {state: None}
            queue = deque([state])
            found = None
            while queue:
                s = queue.popleft()
                if self._finals[s]:
                    found = s
                    break
                for key, t in self._row(s).items():
                    if t not in parent:
                        parent[t] = (s, key)
                        queue.append(t)
            if found is None:
                self._tails[state] = None
            else:
                keys: list[int] = []
                step = parent[found]
                while step is not None:
                    keys.append(step[1])
                    step = parent[step[0]]
                self._tails[state] = tuple(reversed(keys))
        return self._tails[state]

    # --- questions ---------------------------------------------------------------------------

    def conforming_example(self, glob: str) -> str | None:
        """A shortest id the glob matches and the policy allows, or None when there is none."""
        return self._search(glob, None)

    def foreign_example(self, glob: str, team: str) -> str | None:
        """A shortest conforming id the glob matches whose team is not `team`, or None."""
        if team not in self._starts and any(len(self.alphabet.by_transition[self.alphabet[c]]) != 1 for c in team):
            raise ValueError(f"team {team!r} has characters not passed to ClientIdPolicy.compile")
        return self._search(glob, team)

    def team_of(self, client_id: str) -> str | None:
        m = self.regex.fullmatch(client_id)
        return m.group("team") if m else None

    def _search(self, glob: str, team: str | None) -> str | None:
        """Breadth first over (glob position, state): a shortest id in L(glob) ∩ L(automaton)."""
        state = self._start(team)
        # The literal prefix leaves no choice: walk it (the hot loop of a run: kept tight).
        steps, key_of = self._steps, self._key_of
        i = 0
        for char in glob:
            if char in "*?":
                break
            key = key_of.get(char)
            if key is None:
                key = self._key(char)
            nxt = steps[state].get(key, _UNKNOWN)
            if nxt is _UNKNOWN:
                nxt = self._step(state, key)
            if nxt is None:
                return None
            state, i = nxt, i + 1
        head, rest = glob[:i], glob[i:]
        if rest == "" and self._finals[state]:
            return head
        if rest == "*":
            tail = self._tail(state)
            return None if tail is None else head + "".join(self.spell[k] for k in tail)
        question = (rest, state)
        if question not in self._rests:
            self._rests[question] = self._bfs(rest, state)
        found = self._rests[question]
        return None if found is None else head + found

    def _bfs(self, glob: str, start: int) -> str | None:
        n = len(glob)
        parent: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {}
        best: tuple[int, tuple[int, int], tuple[int, ...]] | None = None  # length, node, tail
        frontier: list[tuple[int, int]] = []

        def visit(node: tuple[int, int], step: tuple[tuple[int, int], str] | None) -> None:
            # Closed under a `*` that matches nothing.
            while node not in parent and self._tail(node[1]) is not None:
                parent[node] = step
                frontier.append(node)
                i, state = node
                if i < n and glob[i] == "*":
                    node, step = (i + 1, state), (node, "")
                else:
                    return

        visit((0, start), None)
        depth = 0
        while frontier and (best is None or depth < best[0]):
            layer, frontier = frontier, []
            for node in layer:
                i, state = node
                if i == n or (i == n - 1 and glob[i] == "*"):
                    # The rest is nothing, or one `*`: the state's shortest completion, if any.
                    tail = self._tail(state) if i < n else (() if self._finals[state] else None)
                    if tail is not None and (best is None or depth + len(tail) < best[0]):
                        best = (depth + len(tail), node, tail)
                    continue
                atom = glob[i]
                row = self._row(state)
                if atom == "*":
                    for key, nxt in row.items():
                        visit((i, nxt), (node, self.spell[key]))
                elif atom == "?":
                    for key, nxt in row.items():
                        visit((i + 1, nxt), (node, self.spell[key]))
                else:
                    key = self._key(atom)
                    if key in row:
                        visit((i + 1, row[key]), (node, atom))
            depth += 1
        if best is None:
            return None
        _, node, tail = best
        chars: list[str] = []
        back = parent[node]
        while back is not None:
            node, char = back
            chars.append(char)
            back = parent[node]
        return "".join(reversed(chars)) + "".join(self.spell[k] for k in tail)


def _rank(char: str) -> int:
    found = _PREFERRED.find(char)
    return found if found >= 0 else len(_PREFERRED)


def _spellings(alphabet: Alphabet) -> dict[int, str]:
    spell: dict[int, str] = {}
    for key in alphabet.by_transition:
        symbols = [s for s in alphabet.by_transition[key] if s is not anything_else]
        if anything_else in alphabet.by_transition[key]:
            # Characters the alphabet does not list: a readable one if one is free.
            free = [c for c in _PREFERRED if c not in alphabet]
            symbols.append(free[0] if free else next(chr(c) for c in range(0xA1, 0x10FFFF) if chr(c) not in alphabet))
        spell[key] = min(symbols, key=lambda s: (_rank(s), s))
    return spell
