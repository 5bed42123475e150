"""Kafka's own rules for the names a spec writes: topics, consumer group ids, client-id patterns.

Topic names follow Kafka 4.3.1's `org.apache.kafka.common.internals.Topic.validate` exactly
(tests/compiler/test_kafka_names_java.py asks that class about a corpus of names): not empty,
not `.` or `..`, at most 249 characters, each one of `[a-zA-Z0-9._-]`. Two names that differ
only by `.` versus `_` collide (`Topic.hasCollision`: their metric names are the same), and a
broker refuses to create the second.

Kafka itself accepts any string as a group id or client id; Ferry refuses what would make
one id look like another (compiler/characters.py) and what MirrorMaker 2's comma-separated
group list cannot carry.

Each rule raises `TextProblem` (a ValueError, so pydantic reports it as the field's error)
with the index of the offending character; the schema stage turns it into the file's line
and column.
"""

from __future__ import annotations

import re
import string

from .characters import Suspect, TextProblem, describe, first_invisible, first_look_alike

MAX_TOPIC_NAME_LENGTH = 249  # Topic.MAX_NAME_LENGTH
TOPIC_CHARS = frozenset(string.ascii_letters + string.digits + "._-")  # Topic.LEGAL_CHARS
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")  # the common case, decided by one match
MAX_ID_LENGTH = 255
"""Group ids and client-id patterns: far above any real one; a bound on what diagnostics and
the proxy's route table carry."""


def collision_key(topic: str) -> str:
    """`Topic.unifyCollisionChars`: names with the same key collide."""
    return topic.replace(".", "_")


def _suspect(subject: str, suspect: Suspect) -> TextProblem:
    return TextProblem(
        suspect.code, subject, f": {describe(suspect.char)}{{where}} {suspect.reason}; {suspect.fix}", suspect.index
    )


def _bad_topic(subject: str, problem: str, index: int | None = None) -> TextProblem:
    return TextProblem("kafka-topic-name", subject, problem, index)


def check_topic_name(name: str) -> str:
    subject = f"topic name {name!r}"
    if not name:
        raise _bad_topic("a topic name", " cannot be empty; add the topic's name")
    if name in (".", ".."):
        raise _bad_topic(subject, " is one Kafka refuses ('.' and '..' name no topic); rename it")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise _bad_topic(subject[:40] + "…'", f" is {len(name):,} characters long; Kafka allows at most "
                         f"{MAX_TOPIC_NAME_LENGTH}: rename it")
    if _LEGAL_TOPIC.fullmatch(name):
        return name
    for i, ch in enumerate(name):
        if ch not in TOPIC_CHARS:
            kind = " (an invisible character)" if first_invisible(ch) else ""
            raise _bad_topic(subject, f": {describe(ch)}{kind}{{where}} is not allowed in a Kafka topic name, "
                             "which has only letters a-z and A-Z, digits, '.', '_' and '-'; replace it "
                             "(e.g. with '.' or '-')", i)
    return name


def _check_id(name: str, subject: str, code: str) -> None:
    if not name:
        raise TextProblem(code, subject, " cannot be empty; add it")
    if len(name) > MAX_ID_LENGTH:
        raise TextProblem(code, subject[:40] + "…'", f" is {len(name):,} characters long; at most {MAX_ID_LENGTH} "
                          "are allowed: make it shorter")
    suspect = first_invisible(name) or first_look_alike(name)
    if suspect:
        raise _suspect(subject, suspect)


def check_group_id(name: str) -> str:
    subject = f"consumer group id {name!r}"
    _check_id(name, subject, "group-id")
    comma, blank = name.find(","), name.find(" ")
    if comma >= 0:
        raise TextProblem("group-id", subject, ": ','{where} cannot be in a group id MirrorMaker 2 mirrors (its "
                          "`groups` setting is a comma-separated list); rename the group", comma)
    if blank >= 0:
        raise TextProblem("group-id", subject, ": a blank{where} is not allowed in a group id (MirrorMaker 2 trims "
                          "blanks from its group list); remove it or rename the group", blank)
    return name


def check_client_id_pattern(pattern: str) -> str:
    subject = f"client-id pattern {pattern!r}"
    _check_id(pattern, subject, "client-id-pattern")
    if pattern.isascii() and pattern.isprintable() and " " not in pattern:
        return pattern
    for i, ch in enumerate(pattern):
        if not ("!" <= ch <= "~"):
            raise TextProblem("client-id-pattern", subject, f": {describe(ch)}{{where}} is not allowed: "
                              "client-id patterns are printable ASCII without blanks; replace it", i)
    return pattern
