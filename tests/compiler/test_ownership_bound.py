"""A hostile client-id policy cannot make the compile slow: counted repetitions are counted
before any automaton is built (compiler/ownership.py, MAX_POLICY_POSITIONS)."""

from __future__ import annotations

import pytest

from compiler.ownership import MAX_POLICY_POSITIONS, ClientIdPolicy, PolicyTooLarge, _positions

HEAD = r"^(?P<team>[a-z]+)\."


@pytest.mark.parametrize(
    ("pattern", "positions"),
    [
        (r"^(?P<team>[a-z][a-z0-9]*)\.(?P<service>[a-z][a-z0-9-]*)\.(?P<instance>[a-z0-9-]+)$", 8),
        (r"[a-z]{1,63}", 63),
        (r"(a{30}){30}", 900),  # nested counts multiply
        (r"(ab|cd){10}", 40),  # every branch counts
        (r"a{3,}", 4),  # an open count: its minimum and the rest as one more
        (r"(?:x{0})y", 1),
        ("(" * 200 + "a" + ")" * 200, 1),  # deep nesting is a loop, not recursion
    ],
)
def test_positions_count_repetitions_written_out(pattern: str, positions: int) -> None:
    assert _positions(pattern) == positions


@pytest.mark.parametrize("body", [r"(a{255}){255}", r"((ab){100}){100}", f"[a-z0-9]{{{MAX_POLICY_POSITIONS}}}"])
def test_a_huge_policy_is_refused_before_any_automaton(body: str) -> None:
    # Built, `(a{255}){255}` would take hours: this test finishing is the proof.
    with pytest.raises(PolicyTooLarge, match=f"more than {MAX_POLICY_POSITIONS:,} characters"):
        ClientIdPolicy.compile(HEAD + body + "$", chars="abc")


def test_a_policy_at_the_bound_compiles() -> None:
    policy = ClientIdPolicy.compile(HEAD + r"[a-z]{1,100}$", chars="abc")
    assert policy.conforming_example("abc.*") == "abc.a"
