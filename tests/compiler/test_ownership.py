"""Client-id ownership (compiler/ownership.py): exact, against brute force, and never a crash."""

from __future__ import annotations

import importlib
import itertools
import re
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.glob import glob_matches
from compiler.ownership import ClientIdPolicy, PolicyUnsupported
from compiler.validate import validate_specs

# The acceptance cases' tree builder, imported by name (see test_secrets_redaction.py).
_acceptance = importlib.import_module("tests.compiler.test_cases")
build_tree: Callable[[Path, Path], Path] = _acceptance.build_tree
CASES: Path = _acceptance.CASES

POLICY = r"^(?P<team>[a-z][a-z0-9]*)\.(?P<service>[a-z][a-z0-9-]*)\.(?P<instance>[a-z0-9-]+)$"
TEAMS = "billing ads chat marketplace"


@pytest.fixture(scope="module")
def policy() -> ClientIdPolicy:
    return ClientIdPolicy.compile(POLICY, chars=TEAMS)


@pytest.mark.parametrize(
    ("glob", "team", "conforming", "foreign"),
    [
        ("billing.mailer.*", "billing", "billing.mailer.a", None),
        ("billing.*", "billing", "billing.a.a", None),
        # Two stars that must be filled differently (the sampling this replaces used one fill).
        ("billing.mailer*-*", "billing", "billing.mailer.-", None),
        ("billing.*-*", "billing", "billing.a.-", None),
        # `?` where the separator was meant: the team part can grow into another team's name.
        ("billing?mailer.*", "billing", "billing.mailer.a", "billingamailer.a.a"),
        ("ads?*", "ads", "ads.a.a", "adsa.a.a"),
        ("bill*", "billing", "bill.a.a", "bill.a.a"),
        ("marketplac?.listing-api.*", "marketplace", "marketplaca.listing-api.a", "marketplaca.listing-api.a"),
        ("chat.listing-api.*", "marketplace", "chat.listing-api.a", "chat.listing-api.a"),
        ("chat_server-*", "chat", None, None),
        ("*", "ads", "a.a.a", "a.a.a"),
    ],
)
def test_decisions_and_shortest_examples(
    policy: ClientIdPolicy, glob: str, team: str, conforming: str | None, foreign: str | None
) -> None:
    assert policy.conforming_example(glob) == conforming
    if conforming is not None:
        assert policy.foreign_example(glob, team) == foreign
    for example in (conforming, foreign):
        if example is not None:
            assert glob_matches(glob, example) and re.fullmatch(POLICY, example)
    if foreign is not None:
        assert policy.team_of(foreign) != team


# --- the property: exact decision == brute force over every short id ------------------------

SMALL = r"^(?P<team>[ab]+)\.(?P<rest>[ab.]*)$"
SMALL_TEAMS = ("a", "ab", "ba")
ID_CHARS = "ab.c"  # `c`: a character the policy never allows
MAX_LEN = 7


@cache
def _small() -> ClientIdPolicy:
    return ClientIdPolicy.compile(SMALL, chars="ab")


@cache
def _all_ids() -> tuple[str, ...]:
    return tuple("".join(t) for n in range(MAX_LEN + 1) for t in itertools.product(ID_CHARS, repeat=n))


def _brute(glob: str, team: str | None) -> str | None:
    """A shortest id up to MAX_LEN the glob and policy match (with a team other than `team`)."""
    regex = re.compile(SMALL)
    for client_id in _all_ids():
        m = regex.fullmatch(client_id)
        if m and glob_matches(glob, client_id) and (team is None or m.group("team") != team):
            return client_id
    return None


def _agrees(found: str | None, brute: str | None) -> None:
    if found is None or len(found) > MAX_LEN:
        assert brute is None
    else:
        assert brute is not None and len(brute) == len(found)


@settings(max_examples=300, deadline=None)
@given(glob=st.text(alphabet="ab.?*c", min_size=1, max_size=5), team=st.sampled_from(SMALL_TEAMS))
def test_exact_decision_agrees_with_brute_force(glob: str, team: str) -> None:
    policy = _small()
    conforming = policy.conforming_example(glob)
    _agrees(conforming, _brute(glob, None))
    foreign = policy.foreign_example(glob, team)
    _agrees(foreign, _brute(glob, team))
    if foreign is not None:
        assert glob_matches(glob, foreign) and policy.team_of(foreign) != team


# --- policies the automata cannot decide: a reason, never a crash ----------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        r"^(?!test)(?P<team>[a-z]+)\.[a-z]+$",
        r"^(?P<team>[a-z]+)\.(?<=x)[a-z]+$",
        r"^(?P<team>[a-z]+)\.(?P=team)$",
        r"^(?P<team>[a-z]+)\.([a-z])\1$",
        r"^(?:(?P<team>[a-z]+)\.)?[a-z]+$",
        r"^(?P<team>[a-z]+)+\.[a-z]+$",
        r"^(?P<team>[a-z]+)\.[a-z]+$|^legacy-.*$",
        r"^(?P<team>[a-z]+)\.\d+$",
        r"^(?P<team>\w+)\.x$",
        r"(?i)^(?P<team>[a-z]+)\.x$",
        r"^(?P<team>[a-z]+)\b\.x$",
        r"^(?P<team>[a-z]+)\.x*+$",
        r"^(?P<team>[a-z]+)\.(?>x)$",
        r"^(?P<team>[a-z]+)\.x$\n?",
        r"(?x) ^(?P<team>[a-z]+) \. x $",
    ],
)
def test_unsupported_constructs_are_refused_with_a_reason(pattern: str) -> None:
    re.compile(pattern)
    with pytest.raises(PolicyUnsupported) as info:
        ClientIdPolicy.compile(pattern)
    assert str(info.value)


@pytest.mark.parametrize(
    "pattern",
    [
        POLICY,
        r"(?a)^(?P<team>\w+)\.\d+$",
        r"(?ai)^(?P<team>[a-z]+)\.[a-z]+$",
        r"\A(?P<team>[a-z]+)[.](?:[a-z]+|[0-9]{2,4})\Z",
        r"(?P<team>ads|billing)-[^.]+",
    ],
)
def test_supported_policies_compile(pattern: str) -> None:
    assert ClientIdPolicy.compile(pattern, chars="adsbilling").conforming_example("*") is not None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="()?P<team>[]a-z.|*+{}2,\\dw^$=!:", max_size=30))
def test_any_regex_compiles_or_is_refused(text: str) -> None:
    pattern = text if "(?P<team>" in text else "(?P<team>" + text + ")"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": irrelevant here
            re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return
    try:
        ClientIdPolicy.compile(pattern, chars="team")
    except PolicyUnsupported:
        return


# --- messages quote no regex -------------------------------------------------------------------


def test_no_message_quotes_the_policy_regex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = sorted(p for p in (CASES / "invalid").iterdir() if p.name.startswith("naming-"))
    assert cases
    for i, case in enumerate(cases):
        monkeypatch.chdir(build_tree(case, tmp_path / str(i)))
        # Messages to the policy's authors may show regex syntax; the rest must not quote the regex.
        for d in validate_specs(Path(".")).diagnostics:
            if d.code.startswith("policy-"):
                continue
            assert "(?P<" not in d.full_message() and "[a-z]" not in d.full_message(), d.full_message()


def test_parts_are_read_through_their_own_alphabet() -> None:
    """interegular may hand back an FSM whose alphabet numbers the symbols differently (a union
    of equal alphabets can come back permuted, depending on set order in that process)."""
    from interegular.fsm import FSM, Alphabet, State, TransitionKey, anything_else

    from compiler.ownership import _Part

    ours = Alphabet.from_groups({"a"}, {"b"}, {anything_else})
    theirs = Alphabet({"a": TransitionKey(2), "b": TransitionKey(0), anything_else: TransitionKey(1)})
    only_a = FSM(theirs, {State(0), State(1)}, State(0), {State(1)}, {State(0): {TransitionKey(2): State(1)}})
    part = _Part.of(only_a, ours)
    assert part.map[0] == {int(ours["a"]): 1} and part.finals == {1}
