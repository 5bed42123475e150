"""`route_file_text` writes rules itself (json.dumps' indenting encoder is pure Python): the
bytes must be exactly what `json.dumps(indent=2, ensure_ascii=False)` writes for the table,
for any names (quotes, backslashes, control and non-ASCII characters), with and without a
comment, with and without rules. And a table read from a file has every glob compiled before
the proxy sees it, while a table built in process compiles a glob only when a decision
reaches it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.routetable import (
    COMMENT_KEY,
    Endpoint,
    RouteRule,
    RouteTable,
    build_table,
    parse_route_file,
    route_file_text,
)

_text = st.text(max_size=12)
_names = st.text(min_size=1, max_size=8)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[RouteTable, str]:
    clusters = draw(st.dictionaries(_names, st.lists(_names, min_size=1, max_size=2), min_size=1, max_size=3))
    endpoints = {c: Endpoint(tuple(b), draw(st.booleans())) for c, b in clusters.items()}
    names = sorted(endpoints)
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        fence = draw(st.booleans())
        rules.append(RouteRule(draw(_names), "fence" if fence else "route",
                               None if fence else draw(st.sampled_from(names)), draw(_text), draw(_text), draw(_text)))
    table = build_table(draw(_names), draw(_names), draw(st.sampled_from(names)), endpoints, rules)
    return table, draw(st.one_of(st.just(""), _text))


@settings(max_examples=200, deadline=None)
@given(_tables())
def test_the_file_is_what_json_dumps_writes(drawn: tuple[RouteTable, str]) -> None:
    table, comment = drawn
    data = table.to_dict()
    if comment:
        data = {COMMENT_KEY: comment, **data}
    text = route_file_text(table, comment)
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert parse_route_file(text) == table


def test_globs_are_compiled_when_read_and_on_first_use_when_built() -> None:
    rules = [RouteRule(f"team{i}.*", "route", "new", "m", "e", "s") for i in range(3)]
    clusters = {"old": Endpoint(("h:1",)), "new": Endpoint(("h:2",))}
    built = build_table("gw", "l:1", "old", clusters, rules)
    assert built._index.patterns == [None, None, None]
    assert built.decide("team1.x").index == 1
    assert [p is not None for p in built._index.patterns] == [False, True, False]
    read = parse_route_file(route_file_text(built))
    assert all(p is not None for p in read._index.patterns)
    assert read.decide("team2.y").index == 2 and read.decide("other").index is None
