"""The overlap decision is exact: it agrees with brute force on random globs."""

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.glob import OverlapIndex, glob_matches, globs_overlap, literal_prefix, literal_suffix

ALPHABET = "ab*?"
patterns = st.text(alphabet=ALPHABET, min_size=0, max_size=5)


def brute_force_overlap(p: str, q: str) -> bool:
    # A shortest common string has every character produced by a non-star atom of p or of
    # q (characters both stars absorb can be dropped), so its length is at most the number
    # of non-star atoms; its characters are literals used or one other ('z').
    chars = sorted(set((p + q).replace("*", "").replace("?", "")) | {"z"})
    bound = len(p.replace("*", "")) + len(q.replace("*", ""))
    for n in range(bound + 1):
        for combo in itertools.product(chars, repeat=n):
            s = "".join(combo)
            if glob_matches(p, s) and glob_matches(q, s):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(patterns, patterns)
def test_overlap_agrees_with_brute_force(p, q):
    assert globs_overlap(p, q) == brute_force_overlap(p, q)


@settings(max_examples=200, deadline=None)
@given(patterns, st.text(alphabet="ab.z", max_size=8))
def test_match_agrees_with_regex_semantics(p, s):
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p)
    assert glob_matches(p, s) == (re.fullmatch(regex, s, re.DOTALL) is not None)


def all_pairs(items):
    uniq = sorted(set(items))
    return {
        frozenset([a, b])
        for a, b in itertools.combinations(uniq, 2)
        if a[1] != b[1] and globs_overlap(a[0], b[0])
    }


def index_pairs(items):
    found = [frozenset([o.first, o.second]) for o in OverlapIndex(items).overlaps()]
    assert len(found) == len(set(found)), "a pair reported twice"
    return set(found)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(patterns, st.integers(0, 3)), max_size=12))
def test_index_finds_exactly_the_overlapping_pairs(items):
    assert index_pairs(items) == all_pairs(items)


# The adversarial shape: many globs share one long literal prefix (and often a tail), so
# that neither end alone tells them apart.
shared = st.tuples(st.sampled_from(["", "team.svc.", "team.svc.a", "t?am.svc.", "\U0010ffff"]), patterns,
                   st.sampled_from(["", "-x", "?b", "*", "?", "\U0010ffff", "a\U0010ffff"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(shared.map("".join), st.integers(0, 3)), max_size=16))
def test_index_finds_exactly_the_overlapping_pairs_under_a_shared_prefix(items):
    assert index_pairs(items) == all_pairs(items)


def test_index_on_globs_with_one_long_prefix():
    prefix = "ads.realtime-bidding-auction-worker."
    items = [(f"{prefix}*-shard{i:02d}", f"s{i}") for i in range(30)]
    items += [(f"{prefix}?-replica{i:02d}", f"r{i}") for i in range(30)]
    items += [(f"{prefix}?{i:02d}?", f"q{i}") for i in range(30)]  # both literal ends shared
    items += [(f"{prefix}*-shard07", "rival"), (f"{prefix}x-replica12", "rival"), (f"{prefix}*", "greedy")]
    found = index_pairs(items)
    assert found == all_pairs(items)
    # each rival overlaps its namesake; `*` overlaps all 92 others
    assert len(found) == 1 + 1 + 92


def test_literal_parts():
    assert literal_prefix("billing.mailer.*") == "billing.mailer."
    assert literal_suffix("billing.*.x") == ".x"
    assert literal_prefix("abc") == "abc" == literal_suffix("abc")


def test_examples():
    assert globs_overlap("billing.mail*", "billing.mailer-api.*")
    assert not globs_overlap("billing.mailer.*", "billing.api.*")
    assert globs_overlap("*.x", "a.*")
    assert not globs_overlap("a?", "a")
