"""Route tables: the contract between the compiler and the wire proxy.

One model, one parser, one matcher. The compiler builds a `RouteTable` from the specs and
renders it to `rendered/proxy/<gateway>.routes.yaml`; the proxy parses that file back
with `parse_route_file` into the same frozen model; `ferry explain` and the proxy both
call `RouteTable.decide`, so they agree on every client id.

Semantics: rules are tried in file order and the first rule whose glob matches the client
id wins; `route` sends the connection to `cluster`, `fence` refuses it; no match (or no
client id at all) goes to `default_cluster`. The `version` is a content hash of what
decides behaviour (rules, default, cluster endpoints), not of comments or provenance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .glob import compile_glob, literal_prefix

ROUTES_FORMAT = "ferry.routes/v1"


class RouteFileError(ValueError):
    """A route file that cannot be used; the message says where and why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Frozen):
    bootstrap: tuple[str, ...] = Field(min_length=1)
    tls: bool = False


class RouteRule(_Frozen):
    match: str = Field(min_length=1)
    action: Literal["route", "fence"]
    cluster: str | None = None
    migration: str
    entry: str
    source: str

    @model_validator(mode="after")
    def _cluster_iff_route(self) -> "RouteRule":
        if (self.action == "route") != (self.cluster is not None):
            raise ValueError("a `route` rule needs `cluster`; a `fence` rule has none")
        return self


class RouteTable(_Frozen):
    format: Literal["ferry.routes/v1"] = ROUTES_FORMAT
    gateway: str
    version: str
    listen: str
    default_cluster: str
    clusters: dict[str, Endpoint]
    rules: tuple[RouteRule, ...] = ()

    @model_validator(mode="after")
    def _clusters_known(self) -> "RouteTable":
        named = {self.default_cluster, *(r.cluster for r in self.rules if r.cluster)}
        missing = sorted(named - set(self.clusters))
        if missing:
            raise ValueError(f"clusters {missing} are routed to but have no bootstrap entry under `clusters`")
        if self.version != content_version(self):
            raise ValueError(
                f"version {self.version!r} does not match the content (expected {content_version(self)!r}); "
                "the file was edited by hand: render it with `ferry render` instead"
            )
        return self

    @cached_property
    def _buckets(self) -> tuple[tuple[int, ...], dict[str, list[int]]]:
        by_prefix: dict[str, list[int]] = {}
        for idx, rule in enumerate(self.rules):
            by_prefix.setdefault(literal_prefix(rule.match), []).append(idx)
        return tuple(sorted({len(p) for p in by_prefix})), by_prefix

    def decide(self, client_id: str | None) -> "Decision":
        if client_id is not None:
            lengths, by_prefix = self._buckets
            candidates: list[int] = []
            for n in lengths:
                if n > len(client_id):
                    break
                candidates.extend(by_prefix.get(client_id[:n], ()))
            for idx in sorted(candidates):
                rule = self.rules[idx]
                if compile_glob(rule.match).fullmatch(client_id):
                    return Decision(rule.action, rule.cluster, rule, idx)
        return Decision("route", self.default_cluster, None, None)


@dataclass(frozen=True)
class Decision:
    action: Literal["route", "fence"]
    cluster: str | None
    rule: RouteRule | None
    index: int | None

    @property
    def rule_name(self) -> str:
        """A bounded label for metrics: the rule's pattern, or `default`."""
        return self.rule.match if self.rule else "default"


def content_version(table: RouteTable) -> str:
    return _behaviour_hash(table.gateway, table.default_cluster, table.clusters, table.rules)


def _behaviour_hash(gateway: str, default_cluster: str, clusters: dict[str, Endpoint], rules) -> str:
    behaviour = {
        "gateway": gateway,
        "default_cluster": default_cluster,
        "clusters": {k: v.model_dump(mode="json") for k, v in sorted(clusters.items())},
        "rules": [[r.match, r.action, r.cluster] for r in rules],
    }
    blob = json.dumps(behaviour, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build_table(
    gateway: str, listen: str, default_cluster: str, clusters: dict[str, Endpoint], rules: list[RouteRule]
) -> RouteTable:
    return RouteTable(
        gateway=gateway, version=_behaviour_hash(gateway, default_cluster, clusters, rules), listen=listen,
        default_cluster=default_cluster, clusters=dict(sorted(clusters.items())), rules=tuple(rules),
    )


def parse_route_file(text: str, name: str = "<routes>") -> RouteTable:
    """Parse and validate a rendered route file; raise RouteFileError saying what is wrong."""
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise RouteFileError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RouteFileError(f"{name}: expected a mapping with format {ROUTES_FORMAT!r}")
    try:
        return RouteTable.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise RouteFileError(f"{name}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from exc
