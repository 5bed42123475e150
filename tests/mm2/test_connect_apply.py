"""`ferry apply connect` without a worker: the pure plan, the input checks, and the REST client
against a small fake of the Connect REST API (rebalance retries, rejections, prune)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from compiler.connect_apply import (
    Action,
    ApplyUsageError,
    ConnectClient,
    Connector,
    load_rendered,
    plan,
    run,
    status_problems,
    status_settled,
)

RENDERED_CONNECT = Path(__file__).resolve().parents[2] / "rendered" / "connect"


def connector(name: str, **config: str) -> Connector:
    return Connector(name, {"connector.class": "X", **config}, f"{name}.json")


# ---- planning: pure functions


def test_plan_creates_updates_and_leaves_alone() -> None:
    desired = [connector("ferry-b", a="1"), connector("ferry-a", a="1"), connector("ferry-c", a="1", b="2")]
    current = {
        "ferry-a": {"name": "ferry-a", "connector.class": "X", "a": "1"},  # `name` is added by Connect
        "ferry-c": {"name": "ferry-c", "connector.class": "X", "a": "1", "stale": "x"},
    }
    assert plan(desired, current) == [
        Action("unchanged", "ferry-a", (), "ferry-a.json"),
        Action("create", "ferry-b", (), "ferry-b.json"),
        Action("update", "ferry-c", ("b", "stale"), "ferry-c.json"),
    ]


def test_prune_deletes_only_unrendered_ferry_connectors() -> None:
    desired = [connector("ferry-a")]
    current = {"ferry-a": {"connector.class": "X"}, "ferry-old": {}, "team-x-sink": {}}
    assert [a.kind for a in plan(desired, current)] == ["unchanged"]
    assert plan(desired, current, prune=True)[-1] == Action("delete", "ferry-old")
    assert "team-x-sink" not in [a.name for a in plan(desired, current, prune=True)]


def test_dry_run_wording() -> None:
    assert Action("create", "ferry-a").describe(dry_run=True).startswith("would create")
    assert Action("unchanged", "ferry-a").describe(dry_run=True).startswith("unchanged")
    assert Action("update", "ferry-a", ("k",)).describe() == "update           ferry-a  (k)"


# ---- input


def test_the_committed_rendered_tree_loads() -> None:
    loaded = load_rendered(RENDERED_CONNECT)
    assert [c.name for c in loaded] == sorted(c.name for c in loaded)
    assert len(loaded) == 3 * len(list(RENDERED_CONNECT.iterdir()))
    assert all("//" not in c.config and "name" not in c.config for c in loaded)


def write(path: Path, body: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no rendered connectors"),
        ({"a.json": "{"}, "not valid JSON"),
        ({"a.json": {"name": "x"}}, 'expected {"name"'),
        ({"a.json": {"name": "a/b", "config": {}}}, "not usable in a URL path"),
        ({"a.json": {"name": "x", "config": {"k": {"nested": 1}}}}, "must be a string"),
        ({"a.json": {"name": "x", "config": {"name": "y"}}}, "differs from name"),
        ({"a/s.json": {"name": "x", "config": {}}, "b/s.json": {"name": "x", "config": {}}}, "rendered twice"),
    ],
)
def test_unusable_input_is_a_usage_error(tmp_path: Path, files: dict, message: str) -> None:
    for rel, body in files.items():
        write(tmp_path / rel, body)
    with pytest.raises(ApplyUsageError, match=re.escape(message)):
        load_rendered(tmp_path)


def test_scalars_become_strings(tmp_path: Path) -> None:
    write(tmp_path / "a.json", {"//": "x", "name": "ferry-a", "config": {"tasks.max": 2, "enabled": True}})
    (loaded,) = load_rendered(tmp_path)
    assert loaded.config == {"tasks.max": "2", "enabled": "true"}


# ---- against a fake worker


class FakeConnect:
    """Enough of the Connect REST API: connectors, config, delete, validate; scripted hiccups."""

    def __init__(self) -> None:
        self.connectors: dict[str, dict[str, str]] = {}
        self.hiccups: list[tuple[int, str]] = []  # answered (status, message) before the next request
        self.requests: list[tuple[str, str]] = []
        self.failing: dict[str, str] = {}  # connector -> trace its start fails with

    def handle(self, method: str, path: str, body: Any) -> tuple[int, object]:  # body: JSON as sent
        self.requests.append((method, path))
        if self.hiccups:
            status, message = self.hiccups.pop(0)
            return status, {"error_code": status, "message": message}
        if path == "/connectors" and method == "GET":
            return 200, sorted(self.connectors)
        if m := re.fullmatch(r"/connector-plugins/([^/]+)/config/validate", path):
            bad = body.get("tasks.max", "1")
            errors = [] if bad.isdigit() else [f"Invalid value {bad} for configuration tasks.max: Not a number"]
            return 200, {"name": m[1], "error_count": len(errors), "configs": [
                {"value": {"name": "tasks.max", "errors": errors}},
                {"value": {"name": "topics", "errors": ["made-up field error"] if errors else []}},
            ]}
        if (m := re.fullmatch(r"/connectors/([^/]+)/status", path)) and method == "GET":
            if m[1] not in self.connectors:
                return 404, {"error_code": 404, "message": f"No status found for connector {m[1]}"}
            if m[1] in self.failing:
                return 200, {"name": m[1], "connector": {"state": "FAILED", "trace": self.failing[m[1]]}, "tasks": []}
            return 200, {"name": m[1], "connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]}
        m = re.fullmatch(r"/connectors/([^/]+)(/config)?", path)
        if not m:
            return 404, {"error_code": 404, "message": "no such path"}
        name = m[1]
        if method == "GET":
            if name not in self.connectors:
                return 404, {"error_code": 404, "message": f"Connector {name} not found"}
            return 200, {**self.connectors[name], "name": name}
        if method == "PUT":
            if not body.get("tasks.max", "1").isdigit():
                return 400, {"error_code": 400, "message": "Connector configuration is invalid and contains the "
                             "following 1 error(s):\nInvalid value zero for configuration tasks.max: Not a number"}
            status = 200 if name in self.connectors else 201
            self.connectors[name] = dict(body)
            return status, {"name": name, "config": body}
        if method == "DELETE":
            self.connectors.pop(name, None)
            return 204, None
        return 405, {"error_code": 405, "message": "no"}


Fake = tuple[FakeConnect, str]  # the worker's state and its URL


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = FakeConnect()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = state.handle(self.command, self.path, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def apply(url: str, directory: Path, **options: Any) -> tuple[int, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []
    client = ConnectClient(url.rstrip("/"), sleep=lambda _s: None)
    code = run(url, directory, echo=out.append, error=err.append, client=client, **options)
    return code, out, err


def test_apply_dry_run_then_idempotent(fake: Fake, tmp_path: Path) -> None:
    state, url = fake
    dry = apply(url, RENDERED_CONNECT, dry_run=True)
    assert dry[0] == 0 and state.connectors == {}
    assert all(m == "GET" for m, _ in state.requests)
    assert sum("would create" in line for line in dry[1]) == 6
    first = apply(url, RENDERED_CONNECT)
    assert first[0] == 0 and len(state.connectors) == 6 and first[1][-1].startswith("done: 6 created")
    second = apply(url, RENDERED_CONNECT)
    assert second[0] == 0 and second[1][-1] == "done: 0 created, 0 updated, 6 unchanged, 0 deleted"


def test_apply_waits_out_a_rebalance(fake: Fake) -> None:
    state, url = fake
    state.hiccups = [(409, "Cannot complete request momentarily due to stale configuration"),
                     (500, "Request cannot be completed because a rebalance is expected")]
    code, _, err = apply(url, RENDERED_CONNECT)
    assert code == 0, err
    assert len(state.connectors) == 6


def test_a_rejected_config_reports_connector_status_message_and_fields(fake: Fake, tmp_path: Path) -> None:
    state, url = fake
    write(tmp_path / "f/source.json", {"name": "ferry-bad", "config": {"connector.class": "a.b.MirrorSourceConnector",
                                                                       "tasks.max": "zero"}})
    write(tmp_path / "f/heartbeat.json", {"name": "ferry-good", "config": {"connector.class": "a.b.X"}})
    code, out, err = apply(url, tmp_path)
    assert code == 1
    assert err[0] == ("ferry: ferry-bad: the worker rejected the config: HTTP 400: Connector configuration is "
                      "invalid and contains the following 1 error(s):")
    assert "    Invalid value zero for configuration tasks.max: Not a number" in err
    # Field errors already in the worker's message are not repeated; new ones are listed.
    assert "    topics: made-up field error" in err
    assert not any(line.strip().startswith("tasks.max:") for line in err)
    assert err[-1] == f"  (rendered from {tmp_path / 'f/source.json'})"
    assert ("PUT", "/connector-plugins/MirrorSourceConnector/config/validate") in state.requests
    assert list(state.connectors) == ["ferry-good"]  # the others are still applied
    assert out[-1] == "done: 1 created, 0 updated, 0 unchanged, 0 deleted, 1 failed"


def test_prune(fake: Fake, tmp_path: Path) -> None:
    state, url = fake
    state.connectors = {"ferry-retired-source": {"connector.class": "X"}, "mine": {"connector.class": "X"}}
    code, out, _ = apply(url, RENDERED_CONNECT, prune=True, dry_run=True)
    assert code == 0 and "ferry-retired-source" in state.connectors
    assert "  would delete     ferry-retired-source  (no longer rendered)" in out
    code, out, _ = apply(url, RENDERED_CONNECT, prune=True)
    rendered = [c.name for c in load_rendered(RENDERED_CONNECT)]
    assert code == 0 and sorted(state.connectors) == sorted(["mine", *rendered])


def test_exit_codes_for_usage_and_unreachable(tmp_path: Path) -> None:
    assert apply("ftp://x", RENDERED_CONNECT)[0] == 2
    assert apply("http://127.0.0.1:9", tmp_path / "missing")[0] == 2
    code, _, err = apply("http://127.0.0.1:9", RENDERED_CONNECT)
    assert code == 1 and err[0].startswith("ferry: cannot reach Kafka Connect at http://127.0.0.1:9")


def test_status_helpers() -> None:
    assert not status_settled(None)
    assert not status_settled({"connector": {"state": "UNASSIGNED"}, "tasks": []})
    assert not status_settled({"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RESTARTING"}]})
    assert status_settled({"connector": {"state": "RUNNING"}, "tasks": []})
    failed = {"connector": {"state": "RUNNING"},
              "tasks": [{"id": 1, "state": "FAILED", "trace": "java.lang.X: boom\n\tat a.b(C.java:1)"}]}
    assert status_problems(failed) == ["task 1 FAILED: java.lang.X: boom"]


def test_a_connector_that_fails_to_start_is_reported(fake: Fake) -> None:
    state, url = fake
    name = load_rendered(RENDERED_CONNECT)[0].name
    state.failing[name] = ("org.apache.kafka.common.config.ConfigException: Invalid replication.policy.ferry.renames"
                           " (1 problem): ...\n\tat dev.ferry.mirror.RenameMap.parse(RenameMap.java:120)")
    code, out, err = apply(url, RENDERED_CONNECT)
    assert code == 1
    assert err == [f"ferry: {name}: accepted, but failed to start:",
                   ("    connector FAILED: org.apache.kafka.common.config.ConfigException: Invalid "
                    "replication.policy.ferry.renames (1 problem): ...")]
    assert out[-1] == "done: 5 created, 0 updated, 0 unchanged, 0 deleted, 1 failed"
    # Without waiting nothing is checked; an unchanged connector is not checked either.
    assert apply(url, RENDERED_CONNECT, wait=0)[0] == 0
