"""Pass `naming`: new topic names and client-id patterns follow the policy.

The policy gives a regex for topic names and one for client ids; the client-id regex must
have a named group `team`. A client-id *pattern* (a glob) must match at least one id the
policy allows, and no allowed id whose `team` part is another team's: the wildcards may
vary the instance, never the owner. Both are decided exactly, with automata
(`compiler.ownership`), not by trying sample ids. Messages say what the policy expects in
words (its `description`, else a generic phrase) and show its `example`, never the regex.

Passing (policy client ids `^(?P<team>[a-z]+)\\.(?P<service>[a-z0-9-]+)\\.[a-z0-9-]+$`)::

    team: billing
    topics: {invoices: billing.invoice.created.v1}
    consumer_groups: {g: {client_ids: ["billing.mailer.*"]}}
    consumer_groups: {g: {client_ids: ["billing.*.*-blue"]}}  # two `*`, all billing's

Failing::

    topics: {invoices: Invoices}                          # topic-name-policy
    consumer_groups: {g: {client_ids: ["mailer-*"]}}      # client-id-policy
    consumer_groups: {g: {client_ids: ["ads.mailer.*"]}}  # client-id-team (team is billing)
    consumer_groups: {g: {client_ids: ["bill*"]}}         # client-id-team: also bill.a.a
    consumer_groups: {g: {client_ids: ["billin?.x.*"]}}   # client-id-team: also billina.x.a
    # policy.yaml: client_ids: {pattern: "[a-z.]+"}        -> policy-no-team-group
    # policy.yaml: client_ids: {pattern: "(?=x)..."}       -> policy-unsupported-regex
    # policy.yaml: client_ids: {pattern: "...(a{255}){255}"} -> policy-regex-too-large
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..index import entries
from ..models import NamingRule
from ..ownership import ClientIdPolicy, PolicyTooLarge, PolicyUnsupported
from ..spec import Specs
from . import Pass

ID = "naming"


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


def expects(rule: NamingRule, what: str) -> str:
    """What the policy's rule asks for, in words: its description, else a generic phrase, and its example."""
    said = f"the policy's {what} rule"
    if rule.description:
        said += f" ({rule.description})"
    if rule.example:
        said += f", e.g. {rule.example!r}"
    return said


def _client_id_policy(specs: Specs) -> tuple[ClientIdPolicy | None, list[Diagnostic]]:
    client_re, diags = _compile(specs, "client_ids")
    if client_re is None:
        return None, diags
    at = specs.policy.at("client_ids", "pattern")
    if "team" not in client_re.groupindex:
        return None, [
            Diagnostic(
                at,
                "policy-no-team-group",
                "client_ids.pattern needs a named group `team`, e.g. (?P<team>[a-z]+), so that "
                "ownership of client ids can be checked",
            )
        ]
    teams = {m.model.team for m in specs.migrations}
    try:
        return ClientIdPolicy.compile(client_re.pattern, chars="".join(teams)), []
    except PolicyUnsupported as exc:
        return None, [
            Diagnostic(
                at,
                "policy-regex-too-large" if isinstance(exc, PolicyTooLarge) else "policy-unsupported-regex",
                f"client_ids.pattern cannot be used to decide which team owns a client id: {exc}",
            )
        ]


def run(specs: Specs) -> Iterator[Diagnostic]:
    topic_re, diags = _compile(specs, "topic_names")
    yield from diags
    policy, diags = _client_id_policy(specs)
    yield from diags

    rules = specs.policy.model
    for mig in specs.migrations:
        if topic_re is not None:
            for legacy in sorted(mig.model.topics):
                new = mig.model.renamed(legacy).to
                if not topic_re.fullmatch(new):
                    path = ("topics", legacy) if isinstance(mig.model.topics[legacy], str) else ("topics", legacy, "to")
                    yield Diagnostic(
                        mig.at(*path),
                        "topic-name-policy",
                        f"new topic name {new!r} does not follow {expects(rules.topic_names, 'topic naming')}; "
                        "rename it",
                    )
    if policy is None:
        return
    for entry in entries(specs):
        team = entry.migration.model.team
        team_ok = team == entry.migration.folder_team  # else reported once by pass `references`
        for i, pattern in enumerate(entry.spec.client_ids):
            if policy.conforming_example(pattern) is None:
                yield Diagnostic(
                    entry.at("client_ids", i),
                    "client-id-policy",
                    f"client-id pattern {pattern!r} of {entry.label} matches no id allowed by "
                    f"{expects(rules.client_ids, 'client-id')}; clients that cut over restart with "
                    "conforming ids, so make the pattern match them",
                )
                continue
            if not team_ok:
                continue
            claimed = policy.foreign_example(pattern, team)
            if claimed is not None:
                other = policy.team_of(claimed)
                whose = f"of team {other!r}" if other not in (None, team) else "whose `team` part reads as another team"
                example = f" (the policy's example: {rules.client_ids.example!r})" if rules.client_ids.example else ""
                yield Diagnostic(
                    entry.at("client_ids", i),
                    "client-id-team",
                    f"client-id pattern {pattern!r} of {entry.label} (team {team!r}) also matches "
                    f"{claimed!r}, a client id {whose}; a team may only claim its own client ids: "
                    f"make the `team` part exactly {team!r}, with no wildcard in it{example}",
                )

PASS = Pass(ID, run)
