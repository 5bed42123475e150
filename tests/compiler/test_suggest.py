""""Did you mean": the pick is difflib's, exactly, only found faster."""

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.suggest import closest, did_you_mean


def difflib_pick(name, known):
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def test_typical_typos_keep_their_suggestion():
    clusters = ["governed", "legacy-ads", "legacy-billing", "legacy-service"]
    assert closest("legacy-servce", clusters) == "legacy-service"
    assert closest("legcy-ads", clusters) == "legacy-ads"
    topics = ["ad-budget-events", "ad-clicks", "invoices", "orders", "orders-dlq"]
    assert closest("ordrs", topics) == "orders"
    assert closest("ad-budget-evnets", topics) == "ad-budget-events"
    assert closest("payments", topics) is None
    assert did_you_mean("invoces", topics) == "did you mean 'invoices'? "
    assert did_you_mean("zzz", topics) == ""


def test_among_thousands_of_similar_names():
    known = [f"team{t}-clicks-{i}" for t in range(200) for i in range(10)]
    for wrong, right in (("team17-clcks-3", "team17-clicks-3"), ("team170-clicks-33", "team170-clicks-3")):
        assert closest(wrong, known) == difflib_pick(wrong, known) == right


names = st.text(alphabet="ab-.1", max_size=12)


@settings(max_examples=500, deadline=None)
@given(names, st.lists(names, max_size=15))
def test_same_pick_as_difflib(name, known):
    assert closest(name, known) == difflib_pick(name, known)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab", max_size=4), st.lists(st.integers(150, 249), max_size=4), st.text("ab", max_size=4))
def test_same_pick_as_difflib_for_long_names(stem, lengths, tail):
    # Long names, where one edit moves rapidfuzz's 0-100 score by a fraction of a point.
    name = "x" * 200 + stem
    known = ["x" * n + tail for n in lengths]
    assert closest(name, known) == difflib_pick(name, known)
