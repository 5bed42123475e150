"""MirrorMaker 2's view of a topic name, exactly as Kafka 4.3.1 decides it. Pure: no IO.

MirrorSourceConnector (connect-mirror 4.3.1) mirrors a source topic when

    (topicFilter.shouldReplicateTopic(t) || heartbeats replication on && policy.isHeartbeatsTopic(t))
    && !policy.isInternalTopic(t) && !isCycle(t)

with these rules (read from the 4.3.1 jars; separator `.`, the default):

* ``ReplicationPolicy.isInternalTopic(t)``: `t` starts with ``__`` or ``.``, or
  ``isMM2InternalTopic(t)``: `t` starts with ``mm2`` and ends with ``.internal``, or
  ``isCheckpointsTopic(t)``: `t` ends with ``.checkpoints.internal``. A plain ``.internal`` or
  ``-internal`` suffix is *not* internal in 4.3.1 (older releases said so).
* ``DefaultTopicFilter``: `topics` (Ferry lists the legacy names, escaped) and the default
  ``topics.exclude`` of three patterns: ``mm2`` … ``.internal`` and ``__`` … (both internal
  anyway) and any name ending in ``.replica``.
* ``isCycle(t)``: the policy names a source cluster for `t` and it is the target cluster, or the
  upstream name is itself a cycle. ``DefaultReplicationPolicy`` reads the source as the text before
  the first separator when something other than separators follows it (``governed.orders`` ->
  ``governed``, ``.orders`` -> empty, ``orders.`` -> none); Ferry's policy names a source only for
  a new name of its map, so a legacy name is never a cycle there unless it maps to itself.
* ``isHeartbeatsTopic(t)``: ``originalTopic(t) == "heartbeats"``.

Ferry runs MM2 with ``dev.ferry.mirror.RenameReplicationPolicy``. Its `configure` *refuses the
whole rename map* when either side of any entry is internal (the rule above) or looks like a
heartbeats topic (``heartbeats`` or ending in ``.heartbeats``): MM2 then starts no connector of
the flow, for every team on it. A name that passes is mirrored unless ``topics.exclude`` drops
it. ``mm2_view`` answers for that policy (``new`` given) or for ``DefaultReplicationPolicy``
(``new=None``); tests/compiler/test_mm2_topics_jar.py asks the real classes about a corpus.

Names are assumed legal Kafka topic names (``[a-zA-Z0-9._-]``, at most 249, not ``.`` or ``..``):
another check refuses the rest (so does Ferry's policy, for that reason), and on them Java's ``.``
in a regex and Python's differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SEPARATOR = "."
HEARTBEATS = "heartbeats"
INTERNAL_SUFFIX = ".internal"
CHECKPOINTS_SUFFIX = ".checkpoints.internal"
REPLICA_SUFFIX = ".replica"


class Effect(str, Enum):
    REFUSED = "refused"  # Ferry's policy refuses its whole config: the flow does not run at all
    NOT_MIRRORED = "not-mirrored"  # MM2 runs but silently skips the topic


@dataclass(frozen=True)
class Verdict:
    """Why MM2 would not mirror a name. `predicate` names the Java method (or check) that holds."""

    name: str
    side: str  # "legacy" or "new"
    code: str  # the diagnostic code
    rule: str  # where Kafka (or Ferry's policy) decides it, for the message
    predicate: str
    why: str  # what about the name triggers the rule, in words
    effect: Effect


# ---- Kafka 4.3.1's predicates, one function each (DefaultReplicationPolicy, separator ".")


def is_checkpoints_topic(name: str) -> bool:
    return name.endswith(CHECKPOINTS_SUFFIX)


def is_mm2_internal_topic(name: str) -> bool:
    return (name.startswith("mm2") and name.endswith(INTERNAL_SUFFIX)) or is_checkpoints_topic(name)


def is_internal_topic(name: str) -> bool:
    return name.startswith(("__", ".")) or is_mm2_internal_topic(name)


def excluded_by_default(name: str) -> bool:
    """DefaultTopicFilter's default topics.exclude: `mm2.*\\.internal, .*\\.replica, __.*`."""
    mm2_internal = name.startswith("mm2") and name.endswith(INTERNAL_SUFFIX)
    return mm2_internal or name.endswith(REPLICA_SUFFIX) or name.startswith("__")


def topic_source(name: str) -> str | None:
    """DefaultReplicationPolicy.topicSource: Java's `Pattern.split` drops trailing empty parts."""
    parts = name.split(SEPARATOR)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if parts == [""] and name:  # only separators: Java's split leaves no part at all
        return None
    return parts[0] if len(parts) >= 2 else None


def upstream_topic(name: str) -> str | None:
    source = topic_source(name)
    return None if source is None else name[len(source) + len(SEPARATOR):]


def original_topic(name: str) -> str:
    while (upstream := upstream_topic(name)) is not None and upstream != name:
        name = upstream
    return name


def is_heartbeats_topic(name: str) -> bool:
    return original_topic(name) == HEARTBEATS


def is_cycle(name: str, target: str) -> bool:
    """MirrorSourceConnector.isCycle under DefaultReplicationPolicy."""
    while (source := topic_source(name)) is not None:
        if source == target:
            return True
        upstream = upstream_topic(name)
        if upstream is None or upstream == name:
            return False
        name = upstream
    return False


def looks_like_heartbeats(name: str) -> bool:
    """Ferry's RenameReplicationPolicy keeps these for MM2's heartbeats (stricter than Kafka's)."""
    return name == HEARTBEATS or name.endswith(SEPARATOR + HEARTBEATS)


# ---- verdicts


def _internal(name: str, side: str, effect: Effect) -> Verdict | None:
    def verdict(rule: str, predicate: str, why: str) -> Verdict:
        return Verdict(name, side, "topic-internal-to-mm2", rule, predicate, why, effect)

    if name.startswith("__"):
        return verdict("ReplicationPolicy.isInternalTopic", "isInternalTopic",
                       "it starts with '__', the prefix of Kafka's own internal topics such as __consumer_offsets")
    if name.startswith("."):
        return verdict("ReplicationPolicy.isInternalTopic", "isInternalTopic",
                       "it starts with '.', which MirrorMaker 2 treats as a hidden, internal topic")
    if is_checkpoints_topic(name):
        return verdict("ReplicationPolicy.isInternalTopic", "isCheckpointsTopic",
                       f"it ends with '{CHECKPOINTS_SUFFIX}', as the checkpoints topics MirrorMaker 2 writes "
                       "('<alias>.checkpoints.internal') do")
    if is_mm2_internal_topic(name):
        return verdict("ReplicationPolicy.isInternalTopic", "isMM2InternalTopic",
                       f"it starts with 'mm2' and ends with '{INTERNAL_SUFFIX}', the shape of MirrorMaker 2's own "
                       "topics such as 'mm2-offset-syncs.<alias>.internal'")
    return None


def policy_refusal(name: str, side: str) -> Verdict | None:
    """Why Ferry's rename policy refuses a map naming `name` on either side, or None."""
    found = _internal(name, side, Effect.REFUSED)
    if found is None and looks_like_heartbeats(name):
        found = Verdict(name, side, "topic-is-mm2-heartbeats", "Ferry's RenameReplicationPolicy",
                        "looksLikeHeartbeats",
                        f"it is '{HEARTBEATS}' or ends with '.{HEARTBEATS}', the names MirrorMaker 2 gives its "
                        "heartbeats topics, which the policy leaves to MM2",
                        Effect.REFUSED)
    return found


def _not_mirrored(name: str, target: str, cycle: bool) -> Verdict | None:
    if excluded_by_default(name):
        return Verdict(name, "legacy", "topic-excluded-by-mm2", "DefaultTopicFilter", "excluded",
                       f"it ends with '{REPLICA_SUFFIX}'", Effect.NOT_MIRRORED)
    if cycle:
        return Verdict(name, "legacy", "topic-mm2-cycle", "MirrorSourceConnector.isCycle", "isCycle",
                       f"the replication policy reads it as mirrored from the target cluster '{target}'",
                       Effect.NOT_MIRRORED)
    return None


def mm2_view(legacy: str, new: str | None, *, source: str, target: str) -> tuple[Verdict, ...]:
    """Why MM2 would not mirror `legacy` from `source` to `target`; empty when it would.

    `new` given: Ferry's rename policy with the single entry `legacy:new` (the refusals of both
    sides, or else why the topic is skipped). `new=None`: Kafka's DefaultReplicationPolicy.
    """
    if new is None:
        if is_heartbeats_topic(legacy) and not is_internal_topic(legacy) and not is_cycle(legacy, target):
            return ()  # replicated as heartbeats even when topics.exclude lists it
        internal = _internal(legacy, "legacy", Effect.NOT_MIRRORED)
        if internal is not None:
            return (internal,)
        skipped = _not_mirrored(legacy, target, is_cycle(legacy, target))
        return () if skipped is None else (skipped,)
    refusals = tuple(v for v in (policy_refusal(legacy, "legacy"), policy_refusal(new, "new")) if v is not None)
    if refusals:
        return refusals
    # The policy names a source only for a mapped new name: here, a self-pair `legacy:legacy`.
    skipped = _not_mirrored(legacy, target, cycle=legacy == new and source == target)
    return () if skipped is None else (skipped,)
