"""compiler/mm2_topics.py without Java: a few decisions worth reading (the jar test proves the rest)."""

from __future__ import annotations

import pytest

from compiler.mm2_topics import Effect, is_cycle, mm2_view, topic_source

S, T = "legacy-service", "governed"


def codes(legacy: str, new: str | None) -> list[tuple[str, str, str]]:
    return [(v.side, v.code, v.effect.value) for v in mm2_view(legacy, new, source=S, target=T)]


@pytest.mark.parametrize(
    ("name", "source"),
    # Java's Pattern.split keeps a leading empty part and drops trailing ones.
    [("a.b", "a"), (".a", ""), ("a.", None), ("a..", None), ("...", None), ("a..b", "a"), ("ab", None)],
)
def test_topic_source_splits_like_java(name: str, source: str | None) -> None:
    assert topic_source(name) == source


def test_ferry_policy_refuses_mm2_names_on_either_side() -> None:
    assert codes("x.checkpoints.internal", "shop.x.v1") == [("legacy", "topic-internal-to-mm2", "refused")]
    assert codes("orders", "mm2-orders.internal") == [("new", "topic-internal-to-mm2", "refused")]
    assert codes("__a", "b.heartbeats") == [
        ("legacy", "topic-internal-to-mm2", "refused"),
        ("new", "topic-is-mm2-heartbeats", "refused"),
    ]
    assert codes("x.replica", "shop.x.v1") == [("legacy", "topic-excluded-by-mm2", "not-mirrored")]


def test_look_alikes_are_mirrored() -> None:
    for legacy in ("orders.internal", "orders-internal", "MM2-x.internal", "app-heartbeats", "governed.orders"):
        assert codes(legacy, "shop.x.v1") == [], legacy


def test_default_policy_differs_where_kafka_does() -> None:
    assert codes("heartbeats", None) == []  # Kafka mirrors heartbeats; Ferry's policy refuses the name
    assert codes("governed.orders", None) == [("legacy", "topic-mm2-cycle", "not-mirrored")]
    assert is_cycle("legacy-service.governed.orders", T)
    assert all(v.effect is Effect.NOT_MIRRORED for v in mm2_view("__x", None, source=S, target=T))
