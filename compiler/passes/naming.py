"""Pass `naming`: new topic names and client-id patterns follow the policy.

The policy gives a regex for topic names and one for client ids; the client-id regex must
have a named group `team`. A client-id *pattern* (a glob) conforms when some id it matches
conforms and the `team` part of that id lies in the pattern's literal prefix and equals
the spec's team: the wildcard may vary the instance, never the owner.

Passing (policy client ids `^(?P<team>[a-z]+)\\.(?P<service>[a-z0-9-]+)\\.[a-z0-9-]+$`)::

    team: billing
    topics: {invoices: billing.invoice.created.v1}
    consumer_groups: {g: {client_ids: ["billing.mailer.*"]}}

Failing::

    topics: {invoices: Invoices}                         # topic-name-policy
    consumer_groups: {g: {client_ids: ["mailer-*"]}}     # client-id-policy
    consumer_groups: {g: {client_ids: ["ads.mailer.*"]}} # client-id-team (team is billing)
    consumer_groups: {g: {client_ids: ["bill*"]}}        # client-id-team: team not literal
    # policy.yaml: client_ids: {pattern: "[a-z.]+"}       -> policy-no-team-group
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..glob import literal_prefix
from ..index import entries
from ..spec import Specs
from . import Pass

ID = "naming"

# Strings substituted for wildcards when looking for a conforming witness id.
# Separators matter: `bill*` must be able to stand for `ing.svc.0` to reveal that its team
# part is not literal.
_STAR_WITNESSES = ("0", "a", "", "a0", "0a", "a-0", "a.0", "a_0", "a.a.0", "a.a", ".a.0", "-a.a-0", "a-a.a.0")
_ONE_WITNESSES = ("0", "a", "-", ".", "_")


def _compile(specs: Specs, key: str) -> tuple[re.Pattern[str] | None, list[Diagnostic]]:
    rule = getattr(specs.policy.model, key)
    try:
        return re.compile(rule.pattern), []
    except re.error as exc:
        return None, [
            Diagnostic(
                specs.policy.at(key, "pattern"),
                "policy-invalid-regex",
                f"{key}.pattern is not a valid regular expression: {exc}",
            )
        ]


def witness_match(regex: re.Pattern[str], pattern: str) -> re.Match[str] | None:
    """A match of `regex` against some id the glob `pattern` matches, or None."""
    for star in _STAR_WITNESSES:
        for one in _ONE_WITNESSES:
            candidate = pattern.replace("*", star).replace("?", one)
            m = regex.fullmatch(candidate)
            if m:
                return m
    return None


def _example(specs: Specs, key: str) -> str:
    rule = getattr(specs.policy.model, key)
    return f" (e.g. {rule.example!r})" if rule.example else ""


def run(specs: Specs) -> Iterator[Diagnostic]:
    topic_re, diags = _compile(specs, "topic_names")
    yield from diags
    client_re, diags = _compile(specs, "client_ids")
    yield from diags
    if client_re is not None and "team" not in client_re.groupindex:
        yield Diagnostic(
            specs.policy.at("client_ids", "pattern"),
            "policy-no-team-group",
            "client_ids.pattern needs a named group `team`, e.g. (?P<team>[a-z]+), so that "
            "ownership of client ids can be checked",
        )
        client_re = None

    for mig in specs.migrations:
        if topic_re is not None:
            for legacy in sorted(mig.model.topics):
                new = mig.model.renamed(legacy).to
                if not topic_re.fullmatch(new):
                    path = ("topics", legacy) if isinstance(mig.model.topics[legacy], str) else ("topics", legacy, "to")
                    yield Diagnostic(
                        mig.at(*path),
                        "topic-name-policy",
                        f"new topic name {new!r} does not follow the topic naming policy "
                        f"{specs.policy.model.topic_names.pattern!r}{_example(specs, 'topic_names')}; rename it",
                    )
    if client_re is None:
        return
    for entry in entries(specs):
        team = entry.migration.model.team
        for i, pattern in enumerate(entry.spec.client_ids):
            m = witness_match(client_re, pattern)
            if m is None:
                yield Diagnostic(
                    entry.at("client_ids", i),
                    "client-id-policy",
                    f"client-id pattern {pattern!r} of {entry.label} matches no id allowed by the "
                    f"client-id policy {specs.policy.model.client_ids.pattern!r}"
                    f"{_example(specs, 'client_ids')}; clients that cut over restart with conforming ids",
                )
                continue
            if team != entry.migration.folder_team:
                continue  # `team` itself is wrong: reported once by pass `references`
            start, end = m.span("team")
            if end > len(literal_prefix(pattern)) or m.group("team") != team:
                literal = end <= len(literal_prefix(pattern))
                shown = (m.group("team") if literal
                         else pattern[start : start + len(literal_prefix(pattern[start:])) + 1])
                yield Diagnostic(
                    entry.at("client_ids", i),
                    "client-id-team",
                    f"client-id pattern {pattern!r} of {entry.label} must name team {team!r} literally "
                    f"in its `team` part (found {shown!r}{'' if literal else ', which is not literal'}); "
                    f"a team may only claim its own client ids: start the pattern with '{team}.'",
                )


PASS = Pass(ID, run)
