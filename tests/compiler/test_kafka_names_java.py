"""The compiler's topic-name rules (compiler/kafka_names.py) against Kafka 4.3.1's own class.

One JVM (tests/compiler/java/KafkaTopicNames.java, run with the source launcher on the cached
Kafka jars) answers `Topic.isValid` for every name of a corpus and `Topic.hasCollision` for each
name and the one before it; the compiler must answer the same. No broker is started, but the
Kafka jars are needed, so it carries the `kafka` mark.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from compiler.characters import TextProblem
from compiler.kafka_names import check_topic_name, collision_key

pytestmark = pytest.mark.kafka

PROGRAM = Path(__file__).resolve().parent / "java" / "KafkaTopicNames.java"

CORPUS = [
    "orders", "a", "A", "0", "-", "_", ".a", "a.", "...", "a..b", "._", "_.", "x_y", "x.y", "x.y_z", "x_y.z",
    ".", "..", "", " ", "a b", "a/b", "a\\b", "a:b", "a,b", "a@b", "a+b", "a=b", "a~b", "a#b", "a*b", "a?b",
    "a" * 248, "a" * 249, "a" * 250, "." * 249, "_" * 250, "caf\u00e9", "\u00e9", "chat\u200bmessages",
    "\u0430", "a\u00a0b", "a\tb", "\uff41", "\u2113", "1" * 249, "a-b-c.d_e", "__consumer_offsets", "\U0001f600",
    "chat.messages", "chat_messages", "chat-messages", "chat_messages", "a.b.c", "a_b_c", "a_b.c", "A_B.C",
]


def _compiler_valid(name: str) -> bool:
    try:
        check_topic_name(name)
    except TextProblem:
        return False
    return True


def test_topic_names_as_kafka_decides() -> None:
    from sandbox.jars import ensure_kafka_lib, require_tool

    java = require_tool("java")
    names = list(CORPUS)
    assert all("\n" not in n and "\r" not in n for n in names)
    done = subprocess.run(
        [java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", f"{ensure_kafka_lib()}/*",
         str(PROGRAM)],
        input="".join(f"{n}\n" for n in names).encode(), capture_output=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    answers = done.stdout.decode().splitlines()
    assert len(answers) == len(names), done.stdout.decode()
    disagree = []
    for i, (name, answer) in enumerate(zip(names, answers, strict=True)):
        valid, collides = answer.split("\t")
        ours_collides = i > 0 and collision_key(name) == collision_key(names[i - 1])
        if (valid == "valid") != _compiler_valid(name) or (collides == "collides") != ours_collides:
            disagree.append((name, answer, _compiler_valid(name), ours_collides))
    assert not disagree, disagree
    kinds = {a.split("\t")[0] for a in answers} | {a.split("\t")[1] for a in answers}
    assert kinds == {"valid", "invalid", "collides", "-"}, kinds  # the corpus has every kind of answer
