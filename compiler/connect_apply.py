"""`ferry apply connect`: make a Kafka Connect worker run exactly the rendered connectors.

Three layers, so the decisions are testable without a worker:

* ``load_rendered(dir)`` reads ``<dir>/**/*.json`` (``{"name": …, "config": {…}}``, the ``"//"``
  provenance key ignored) into ``Connector``s;
* ``plan(desired, current, prune=…)`` is pure: for every rendered connector ``create`` (the
  worker has none of that name), ``update`` (its config differs; the changed keys are listed)
  or ``unchanged``; with ``prune``, ``delete`` for every ``ferry-*`` connector on the worker that
  is no longer rendered (connectors of other owners are never touched);
* ``ConnectClient`` speaks the Connect REST API with ``urllib`` and ``run`` ties them together.

``PUT /connectors/<name>/config`` is create-or-update and idempotent; the plan compares it
with ``GET /connectors/<name>/config``, which returns the *raw* config (``${dir:…}`` references
unresolved) plus ``name``. When the worker rejects a config, ``PUT
/connector-plugins/<class>/config/validate`` names the offending fields.

Exit codes, like the other commands: 0 everything applied (or nothing to do), 1 the worker
rejected a config, a connector it accepted failed to start (``--wait``), or it could not be
reached; 2 usage (no rendered connectors, unreadable JSON,
duplicate names, a URL that is not http(s)).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import CompilerError

PRUNE_PREFIX = "ferry-"
# A worker answers 409 while it rebalances (e.g. right after another connector changed).
REBALANCE_RETRY_SECONDS = 30.0

Kind = Literal["create", "update", "unchanged", "delete"]


class ApplyUsageError(CompilerError, ValueError):
    """The input is unusable (exit 2)."""


class ConnectError(CompilerError, RuntimeError):
    """The worker answered with an error, or could not be reached (exit 1)."""

    def __init__(self, message: str, status: int | None = None, worker_message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.worker_message = worker_message


# ---- input


@dataclass(frozen=True)
class Connector:
    name: str
    config: dict[str, str]
    source: str  # the file it was read from

    @property
    def connector_class(self) -> str | None:
        return self.config.get("connector.class")


def _as_string(name: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ApplyUsageError(f"{name}: config value of {key!r} must be a string, not {type(value).__name__}")


def parse_connector(text: str, source: str) -> Connector:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ApplyUsageError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("config"), dict):
        raise ApplyUsageError(f'{source}: expected {{"name": "...", "config": {{...}}}}')
    name = body["name"]
    if not name or name != name.strip() or "/" in name:
        raise ApplyUsageError(f"{source}: connector name {name!r} is not usable in a URL path")
    config = {k: _as_string(name, k, v) for k, v in body["config"].items()}
    if "name" in config and config["name"] != name:
        raise ApplyUsageError(f"{source}: config.name {config['name']!r} differs from name {name!r}")
    config.pop("name", None)
    return Connector(name, config, source)


def load_rendered(directory: Path) -> list[Connector]:
    """Every ``*.json`` under ``directory``, sorted by connector name; names must be unique."""
    if not directory.is_dir():
        raise ApplyUsageError(f"{directory}: no such directory (render first: ferry render)")
    files = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not files:
        raise ApplyUsageError(f"{directory}: no rendered connectors (*.json)")
    connectors: dict[str, Connector] = {}
    for path in files:
        connector = parse_connector(path.read_text(encoding="utf-8"), str(path))
        if connector.name in connectors:
            raise ApplyUsageError(
                f"connector {connector.name!r} is rendered twice: {connectors[connector.name].source} and {path}"
            )
        connectors[connector.name] = connector
    return [connectors[n] for n in sorted(connectors)]


# ---- the plan (pure)


@dataclass(frozen=True)
class Action:
    kind: Kind
    name: str
    changed: tuple[str, ...] = ()  # keys added, removed or changed (update only)
    source: str | None = None

    def describe(self, dry_run: bool = False) -> str:
        verb = {"create": "create", "update": "update", "unchanged": "unchanged", "delete": "delete"}[self.kind]
        if dry_run and self.kind != "unchanged":
            verb = f"would {verb}"
        text = f"{verb:<16} {self.name}"
        if self.kind == "update":
            shown = ", ".join(self.changed[:8]) + (f", … ({len(self.changed)} keys)" if len(self.changed) > 8 else "")
            text += f"  ({shown})"
        elif self.kind == "delete":
            text += "  (no longer rendered)"
        return text


def comparable(config: Mapping[str, Any]) -> dict[str, str]:
    """A config as the worker stores it, minus the ``name`` Connect adds."""
    return {k: str(v) for k, v in config.items() if k != "name"}


def changed_keys(desired: Mapping[str, str], current: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(desired) | set(current) if desired.get(k) != current.get(k)))


def plan(
    desired: Sequence[Connector],
    current: Mapping[str, Mapping[str, Any] | None],
    *,
    prune: bool = False,
    prune_prefix: str = PRUNE_PREFIX,
) -> list[Action]:
    """What to do so the worker runs ``desired``. ``current`` maps every connector on the worker
    to its config (None if it vanished between listing and reading). Creates and updates come
    first (name order), then deletes."""
    actions: list[Action] = []
    wanted = {c.name for c in desired}
    for connector in sorted(desired, key=lambda c: c.name):
        existing = current.get(connector.name)
        if existing is None:
            actions.append(Action("create", connector.name, source=connector.source))
            continue
        diff = changed_keys(connector.config, comparable(existing))
        kind: Kind = "update" if diff else "unchanged"
        actions.append(Action(kind, connector.name, diff, connector.source))
    if prune:
        for name in sorted(current):
            if name.startswith(prune_prefix) and name not in wanted:
                actions.append(Action("delete", name))
    return actions


def summary(actions: Sequence[Action], failed: Sequence[str] = ()) -> str:
    counts = {kind: sum(a.kind == kind and a.name not in failed for a in actions)
              for kind in ("create", "update", "unchanged", "delete")}
    words = {"create": "created", "update": "updated", "unchanged": "unchanged", "delete": "deleted"}
    text = ", ".join(f"{counts[k]} {words[k]}" for k in counts)
    if failed:
        text += f", {len(failed)} failed"
    return text


SETTLING = {"UNASSIGNED", "RESTARTING"}


def _first_line(trace: Any) -> str:
    return str(trace or "no trace").strip().splitlines()[0]


def status_problems(status: Mapping[str, Any]) -> list[str]:
    """FAILED connector or tasks in a ``GET /connectors/<name>/status`` answer, one line each."""
    problems = []
    connector = status.get("connector") or {}
    if connector.get("state") == "FAILED":
        problems.append(f"connector FAILED: {_first_line(connector.get('trace'))}")
    for task in status.get("tasks") or []:
        if task.get("state") == "FAILED":
            problems.append(f"task {task.get('id')} FAILED: {_first_line(task.get('trace'))}")
    return problems


def status_settled(status: Mapping[str, Any] | None) -> bool:
    """The worker has decided: the connector and its tasks are no longer being assigned or restarted."""
    if not status:
        return False
    states = [(status.get("connector") or {}).get("state")] + [t.get("state") for t in status.get("tasks") or []]
    return all(s is not None and s not in SETTLING for s in states)


# ---- the REST client (IO)


def check_url(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApplyUsageError(f"--url {url!r}: expected http(s)://host:port of a Kafka Connect worker")
    return url.rstrip("/")


def is_rebalancing(status: int, body: Any) -> bool:
    """409 "rebalance in progress", or the 500 a worker answers right after a config change
    (``RebalanceNeededException``: "Request cannot be completed because a rebalance is expected")."""
    if status == 409:
        return True
    message = body.get("message", "") if isinstance(body, dict) else str(body or "")
    return status == 500 and "rebalance" in message.lower()


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


@dataclass
class ConnectClient:
    url: str
    timeout: float = 30.0
    rebalance_retry_seconds: float = REBALANCE_RETRY_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON or None). Raises ConnectError for transport failures only."""
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + self.rebalance_retry_seconds
        delay = 0.25
        while True:
            req = urllib.request.Request(
                f"{self.url}{path}", data=data, method=method,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    status, raw = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ConnectError(f"cannot reach Kafka Connect at {self.url}: {reason}") from exc
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            if is_rebalancing(status, parsed) and time.monotonic() < deadline:
                self.sleep(delay)  # the worker asks us to come back after its rebalance
                delay = min(delay * 2, 2.0)
                continue
            return status, parsed

    def _fail(self, what: str, status: int, body: Any) -> ConnectError:
        message = body.get("message") if isinstance(body, dict) else (body or "")
        return ConnectError(f"{what}: HTTP {status}: {message}".rstrip(": "), status, message)

    def list_connectors(self) -> list[str]:
        status, body = self.request("GET", "/connectors")
        if status != 200 or not isinstance(body, list):
            raise self._fail("listing connectors", status, body)
        return sorted(body)

    def get_config(self, name: str) -> dict[str, str] | None:
        status, body = self.request("GET", f"/connectors/{_quote(name)}/config")
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise self._fail(f"{name}: reading its config", status, body)
        return body

    def put_config(self, name: str, config: Mapping[str, str]) -> int:
        status, body = self.request("PUT", f"/connectors/{_quote(name)}/config", dict(config))
        if status not in (200, 201):
            raise self._fail(f"{name}: the worker rejected the config", status, body)
        return status

    def delete(self, name: str) -> None:
        status, body = self.request("DELETE", f"/connectors/{_quote(name)}")
        if status not in (200, 204, 404):
            raise self._fail(f"{name}: delete", status, body)

    def validate(self, connector_class: str, config: Mapping[str, str]) -> list[str]:
        """``field: error`` for every field the connector plugin rejects (empty if none or unknown)."""
        plugin = connector_class.rsplit(".", 1)[-1]
        status, body = self.request("PUT", f"/connector-plugins/{_quote(plugin)}/config/validate", dict(config))
        if status != 200 or not isinstance(body, dict):
            return []
        problems = []
        for item in body.get("configs", []):
            value = item.get("value") or {}
            for error in value.get("errors") or []:
                problems.append(f"{value.get('name', '?')}: {error}")
        return problems

    def status(self, name: str) -> dict[str, Any] | None:
        status, body = self.request("GET", f"/connectors/{_quote(name)}/status")
        return body if status == 200 and isinstance(body, dict) else None

    def current(self) -> dict[str, dict[str, str] | None]:
        return {name: self.get_config(name) for name in self.list_connectors()}


# ---- the command


def failure_lines(name: str, exc: ConnectError, connector: Connector | None, client: ConnectClient) -> list[str]:
    """What went wrong: the connector, the HTTP status, the worker's message, the fields it rejects."""
    if exc.status is None:
        return [f"ferry: {exc}"]
    message = (exc.worker_message or "").strip()
    head, _, rest = str(exc).partition("\n")
    lines = [f"ferry: {head}"] + [f"    {line}" for line in rest.splitlines() if line.strip()]
    if connector is not None and connector.connector_class:
        try:
            problems = client.validate(connector.connector_class, {**connector.config, "name": name})
        except ConnectError:
            problems = []
        fresh = [p for p in problems if p.split(": ", 1)[-1] not in message]
        if fresh:
            lines.append(f"  fields the {connector.connector_class.rsplit('.', 1)[-1]} plugin rejects:")
            lines += [f"    {p}" for p in fresh]
        lines.append(f"  (rendered from {connector.source})")
    return lines


def run(
    url: str,
    directory: Path,
    *,
    prune: bool = False,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    error: Callable[[str], None] = print,
    client: ConnectClient | None = None,
    wait: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Apply (or with ``dry_run`` only print) the plan; returns the exit code.

    After creating or updating, wait up to ``wait`` seconds for those connectors to start: a
    config the worker accepts can still fail when the connector starts (Connect's validation
    does not instantiate the replication policy, so a bad rename map shows up only here)."""
    try:
        base = check_url(url)
        desired = load_rendered(directory)
    except ApplyUsageError as exc:
        error(f"ferry: {exc}")
        return 2
    client = client or ConnectClient(base)
    try:
        actions = plan(desired, client.current(), prune=prune)
    except ConnectError as exc:
        error(f"ferry: {exc}")
        return 1
    by_name = {c.name: c for c in desired}
    echo(f"{'plan (dry run, nothing changed)' if dry_run else 'applying'}: {len(desired)} rendered "
         f"connector(s) from {directory} -> {base}")
    failed: list[str] = []
    for action in actions:
        echo(f"  {action.describe(dry_run)}")
        if dry_run or action.kind == "unchanged":
            continue
        try:
            if action.kind == "delete":
                client.delete(action.name)
            else:
                client.put_config(action.name, by_name[action.name].config)
        except ConnectError as exc:
            failed.append(action.name)
            for line in failure_lines(action.name, exc, by_name.get(action.name), client):
                error(line)
    applied = [a.name for a in actions if a.kind in ("create", "update") and a.name not in failed]
    if applied and not dry_run and wait > 0:
        failed += check_started(client, applied, wait, echo, error, clock)
    echo(("would be: " if dry_run else "done: ") + summary(actions, failed))
    return 1 if failed else 0


def check_started(client: ConnectClient, names: Sequence[str], wait: float, echo: Callable[[str], None],
                  error: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> list[str]:
    """Poll the applied connectors' status until each settles (or ``wait`` s pass); report FAILED ones."""
    deadline = clock() + wait
    statuses: dict[str, dict[str, Any] | None] = {}
    pending = list(names)
    while pending:
        for name in list(pending):
            try:
                statuses[name] = client.status(name)
            except ConnectError:
                statuses[name] = None
            if status_settled(statuses[name]) or status_problems(statuses[name] or {}):
                pending.remove(name)
        if not pending or clock() >= deadline:
            break
        client.sleep(0.5)
    failed = []
    for name in names:
        problems = status_problems(statuses.get(name) or {})
        if problems:
            failed.append(name)
            error(f"ferry: {name}: accepted, but failed to start:")
            for problem in problems:
                error(f"    {problem}")
    if pending:
        echo(f"  still starting after {wait:.0f} s: {', '.join(pending)} (GET /connectors/<name>/status)")
    return failed
