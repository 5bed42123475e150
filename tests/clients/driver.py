"""Running one client-library driver (see README.md here): request in, parsed ``RESULT`` out."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Driver", "DriverFailed", "metadata_straight", "request"]

#: Seconds a driver may take beyond its request's ``timeout_s`` (JVM start, npm module load).
GRACE_S = 30.0


class DriverFailed(AssertionError):
    """The driver broke its contract: no RESULT line, a crash, or it overran its bound."""


@dataclass(frozen=True)
class Driver:
    #: The library's name as the matrix shows it (``kafkajs``, ``franz-go`` …).
    library: str
    #: The command before the request argument.
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: Settings added to every request's ``options`` (a variant such as Java's rebootstrap).
    options: Mapping[str, str] = field(default_factory=dict)

    def run(self, req: Mapping[str, Any]) -> dict[str, Any]:
        req = {**req, "options": {**self.options, **(req.get("options") or {})}}
        try:
            done = subprocess.run(
                [*self.argv, json.dumps(req)], capture_output=True, text=True,
                timeout=float(req["timeout_s"]) + GRACE_S, env={**os.environ, **self.env},
            )
        except subprocess.TimeoutExpired as exc:
            raise DriverFailed(f"{self.library}: {req['action']} overran {req['timeout_s']} s + {GRACE_S} s; "
                               f"stderr tail: {str(exc.stderr or '')[-2000:]}") from None
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise DriverFailed(f"{self.library}: {req['action']} exited {done.returncode} with "
                               f"{'no' if not lines else 'a'} RESULT line; stdout tail: {done.stdout[-1500:]!r}; "
                               f"stderr tail: {done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
        result["stderr_tail"] = done.stderr[-2000:]
        return result


def request(action: str, *, bootstrap: str, client_id: str, sasl: Mapping[str, str] | None = None,
            topic: str | None = None, group: str | None = None, count: int | None = None,
            role: str | None = None, timeout_s: float = 30.0,
            options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A request with every field present, as the contract says."""
    return {"action": action, "bootstrap": bootstrap, "client_id": client_id,
            "sasl": dict(sasl) if sasl else None, "topic": topic, "group": group, "count": count,
            "role": role, "timeout_s": timeout_s, "options": dict(options or {})}


def metadata_straight(driver: Driver, cluster: Any, client_id: str) -> dict[str, Any]:
    """A ``metadata`` request straight to ``cluster`` (a ``proxy_clusters.Cluster``), checked: the
    driver succeeded, and the brokers and cluster id it reports are the cluster's own."""
    result = driver.run(request("metadata", bootstrap=cluster.bootstrap, sasl=cluster.sasl(), timeout_s=30,
                                client_id=client_id))
    assert result["ok"], result
    assert result["brokers"] == [cluster.bootstrap], result
    assert result["cluster_id"] == cluster.cluster_id, result
    return result
