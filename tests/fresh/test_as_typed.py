"""The README's and the docs' commands, typed as a newcomer types them, in a fresh checkout.

Default options and relative paths only: no ``--state-dir``, no absolute ``--specs``; the working
directory is the clone's root and ``ferry`` is the clone's own install (``make setup``). The
sandbox stays up across this module's tests (started once, as typed), and the last test takes it
down as typed. ``test_every_documented_command_is_exercised`` keeps the list honest: a command
added to README.md or docs/ without a test here (or a named test elsewhere) fails it.

``ferry sandbox sync`` is proved here too, on the same running sandbox: a spec edit that cuts a
consumer group over and adds a topic reaches the running proxy by hot reload (same pid, a client
with the new id lands on the target, a client already connected is not dropped) and restarts
only the MirrorMaker 2 flow whose config changed; the groups the same edit fences are aligned
exactly (`ferry cutover align`'s code), or refused with the reason and the command to rerun.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from fresh_checkout import Checkout
from sandbox.stack import cluster_client_config, is_alive

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]

# Every command line a user can copy from README.md and docs/ (placeholders such as `URL`, `FILE`
# or `[--opt]` are synopses, not commands) -> where it runs as typed. "here" is this module.
DOCUMENTED_ELSEWHERE = {
    "make demo": "tests/fresh/test_demo.py",
    "make test": "CI itself (.ci/run)",
    "make lint": "CI itself (.ci/run runs it before make test)",
    "make test-fast": "the code workflow (.github/workflows/code.yml); the same tests run in make test",
    "make test-k8s": "tests/fresh/test_make_k8s.py",
    "ferry apply connect --url http://localhost:8083": "tests/mm2/test_connect_apply.py (a real Connect worker)",
}


def run(checkout: Checkout, command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = checkout.run(command, timeout=timeout)
    print(f"$ {command}\n{result.stdout}{result.stderr}")
    return result


def ok(checkout: Checkout, command: str, timeout: float = 300) -> str:
    result = run(checkout, command, timeout)
    assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def sandbox_state(checkout: Checkout) -> dict[str, Any]:
    return json.loads((checkout.path / ".ferry" / "sandbox.json").read_text())


def live_records(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [*state.get("clusters", {}).values(), *state.get("mm2", {}).values(),
            *state.get("proxy", {}).get("gateways", {}).values()]


@pytest.fixture(scope="module")
def sandbox(fresh_checkout: Checkout) -> Iterator[dict]:
    """`ferry sandbox up`, exactly as typed (the failure this module was written for: a relative
    --state-dir handed to a broker whose working directory is elsewhere)."""
    up = run(fresh_checkout, "ferry sandbox up", timeout=400)
    try:
        assert up.returncode == 0, f"ferry sandbox up failed:\n{up.stdout}\n{up.stderr}"
        assert "sandbox up: .ferry/sandbox.json" in up.stdout
        yield sandbox_state(fresh_checkout)
    finally:
        if (fresh_checkout.path / ".ferry" / "sandbox.json").exists():
            run(fresh_checkout, "ferry sandbox down", timeout=120)


def test_compiler_commands_as_typed(fresh_checkout: Checkout) -> None:
    validated = ok(fresh_checkout, "ferry validate")
    assert re.fullmatch(r"ok: \d+ migration\(s\), \d+ cluster\(s\), \d+ gateway\(s\)\n", validated)
    assert "is up to date" in ok(fresh_checkout, "ferry render --check")
    ok(fresh_checkout, "ferry plan")
    out = ok(fresh_checkout, "ferry explain billing.ledger.0 --gateway gw-service")
    assert "specs/migrations/billing/invoices.yaml:" in out
    ok(fresh_checkout, "ferry explain some-legacy-client --gateway gw-ads")


def test_proxy_as_typed(fresh_checkout: Checkout, tmp_path: Path) -> None:
    """docs/proxy.md's first command: the gateway's committed route file, default listen (the file's
    0.0.0.0:9092) and admin (127.0.0.1:9100); ready, accepting, and a clean exit 0 on SIGTERM."""
    log = tmp_path / "proxy.log"
    proc = fresh_checkout.start("ferry proxy --routes rendered/proxy/gw-service.routes.json", log=log)
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and proc.poll() is None and not ready:
            try:
                with urllib.request.urlopen("http://127.0.0.1:9100/readyz", timeout=2) as resp:
                    ready = resp.status == 200
            except OSError:
                time.sleep(0.2)
        assert ready, f"not ready (exit {proc.poll()}):\n{log.read_text()}"
        with urllib.request.urlopen("http://127.0.0.1:9100/routes", timeout=2) as resp:
            assert json.loads(resp.read())["gateway"] == "gw-service"
        socket.create_connection(("127.0.0.1", 9092), timeout=5).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()
    assert "gateway gw-service listening on 0.0.0.0:9092" in log.read_text()


def test_sandbox_commands_as_typed(fresh_checkout: Checkout, sandbox: dict[str, Any]) -> None:
    status = ok(fresh_checkout, "ferry sandbox status")
    assert status.count("running") == len(live_records(sandbox)), status
    assert all(is_alive(rec) for rec in live_records(sandbox))
    # The relative paths the user typed (the default .ferry) resolve to the checkout, and every path
    # recorded for a child process is absolute.
    for rec in live_records(sandbox):
        for key in ("log", "config", "routes", "decision_log"):
            if key in rec:
                assert Path(rec[key]).is_absolute() and str(fresh_checkout.path) in rec[key], rec

    preflight = run(fresh_checkout, "ferry preflight --connections .ferry/sandbox.json")
    assert preflight.returncode in (0, 1), preflight.stderr  # 1 = a gate failed: a verdict, not a crash
    assert "Traceback" not in preflight.stderr
    assert "source-topic" in preflight.stdout, preflight.stdout

    status = ok(fresh_checkout, "ferry status")
    assert "ads-billing-aggregator" in status

    # While clients run: one connected through gw-service (a cut-over group's id), one fenced (held).
    host, port = sandbox["proxy"]["gateways"]["gw-service"]["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as connected, \
            socket.create_connection((host, int(port)), timeout=20) as fenced:
        connected.sendall(api_versions_request("billing.invoice-mailer.live-1", 1))
        assert read_response(connected)[0] == 1
        fenced.sendall(api_versions_request("billing.ledger.live-1", 1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"open", "fenced"} <= {
            d.get("event") for d in _decisions(sandbox, "gw-service") if str(d.get("client_id")).endswith(".live-1")
        }:
            time.sleep(0.1)
        live = ok(fresh_checkout, "ferry status --decision-log .ferry/logs/sandbox-proxy-gw-service.decisions.jsonl")
    rows = {line.split()[2]: line for line in live.splitlines() if line.startswith("billing/")}
    assert "target 1" in rows["billing-invoice-mailer"], live
    assert "fenced 1" in rows["billing-ledger"], live
    assert "  billing/invoices group billing-ledger: billing.ledger.live-1" in live
    assert "  billing/invoices group billing-invoice-mailer on target: 1 (billing.invoice-mailer.live-1)" in live
    ok(fresh_checkout, "ferry sandbox sync")


def test_cutover_align_as_typed(fresh_checkout: Checkout, sandbox: dict[str, Any]) -> None:
    """docs/runbook.md's `ferry cutover align` for the example's fenced group, billing-ledger: it
    read 7 of 20 invoices on legacy and stopped; once MirrorMaker 2 copied them, the dry run
    shows the exact target position and the real run writes it (read back here)."""
    legacy: dict[str, Any] = cluster_client_config({"bootstrap": "", **sandbox["clusters"]["legacy-service"]})
    governed: dict[str, Any] = cluster_client_config({"bootstrap": "", **sandbox["clusters"]["governed"]})
    probe = Consumer({**legacy, "group.id": "fresh-probe"})
    start = probe.get_watermark_offsets(TopicPartition("invoices", 0), timeout=10)[1]
    probe.close()
    producer = Producer({**legacy, "client.id": "billing.invoice-api.fresh"})
    for i in range(20):
        producer.produce("invoices", key=f"k{i}".encode(), value=f"invoice-{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer({**legacy, "client.id": "billing.ledger.fresh", "group.id": "billing-ledger",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition("invoices", 0, start)])
    read: list[Message] = []
    deadline = time.monotonic() + 60
    while len(read) < 7 and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            read.append(msg)
    assert len(read) == 7
    consumer.commit(message=read[-1], asynchronous=False)  # offset after the 7th
    consumer.close()
    mirrored = Consumer({**governed, "group.id": "fresh-probe"})
    deadline = time.monotonic() + 120
    while mirrored.get_watermark_offsets(TopicPartition("billing.invoice.created.v1", 0), timeout=10)[1] \
            < (read[-1].offset() or 0) + 14 and time.monotonic() < deadline:
        time.sleep(1)
    mirrored.close()

    dry = ok(fresh_checkout, "ferry cutover align --specs specs --connections .ferry/sandbox.json "
                             "--group billing-ledger --dry-run", timeout=120)
    assert re.search(r"billing-ledger\s+invoices->billing\.invoice\.created\.v1\s+0\s+\d+\s+\d+.*ALIGNED", dry), dry
    assert "(dry run)" in dry and "wrote" not in dry
    admin = AdminClient(governed)
    wrote = ok(fresh_checkout, "ferry cutover align --specs specs --connections .ferry/sandbox.json "
                               "--group billing-ledger", timeout=120)
    assert "read back equal" in wrote, wrote
    # The record after the last one read on legacy is the first the group reads on the target.
    (target_offset,) = _committed(admin, "billing-ledger", "billing.invoice.created.v1").values()
    check = Consumer({**governed, "group.id": "fresh-check", "enable.auto.commit": False})
    check.assign([TopicPartition("billing.invoice.created.v1", 0, target_offset)])
    first = None
    deadline = time.monotonic() + 30
    while first is None and time.monotonic() < deadline:
        msg = check.poll(1.0)
        if msg is not None and msg.error() is None:
            first = msg
    check.close()
    assert first is not None and first.value() == b"invoice-7" and first.key() == b"k7"

    # docs/runbook.md's exact cutover: preflight judges the fenced group by the exact offset-sync
    # gate (other gates may fail on the sandbox: a verdict, not a crash), the report is written.
    gates = run(fresh_checkout, "ferry preflight --connections .ferry/sandbox.json "
                                "--spec specs/migrations/billing/invoices.yaml", timeout=120)
    assert gates.returncode in (0, 1) and "Traceback" not in gates.stderr, gates.stderr
    (row,) = [line for line in gates.stdout.splitlines() if "offset-sync" in line and "billing-ledger" in line]
    assert row.startswith("OK") and "0 re-read, 0 skipped" in row, gates.stdout
    report = ok(fresh_checkout, "ferry cutover report --connections .ferry/sandbox.json --group billing-ledger "
                                "--decision-log .ferry/logs/sandbox-proxy-gw-service.decisions.jsonl", timeout=120)
    heading = "### Consumer group `billing-ledger` (billing/invoices, legacy-service → governed)"
    assert f"{heading}: exact: 0 re-read, 0 skipped" in report, report
    assert f"| {target_offset} | {target_offset} | 0 | 0 |" in report, report  # target committed, exact offset
    assert list((fresh_checkout.path / ".ferry" / "reports").glob("cutover-*.md")), "no report in .ferry/reports"


def _committed(admin: AdminClient, group: str, topic: str) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    (future,) = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
    try:
        listed = future.result(timeout=30)
    except Exception:  # noqa: BLE001 - a group the target never saw has no offsets
        return {}
    return {tp.partition: tp.offset for tp in listed.topic_partitions if tp.topic == topic and tp.offset >= 0}


def _proxy_config(sandbox: dict, gateway: str, cluster: str | None = None, client_id: str = "") -> dict:
    """A client of ``cluster`` (its credentials, if any) that bootstraps through ``gateway``'s proxy."""
    entry = {"bootstrap": "", **sandbox["clusters"].get(cluster or "", {})}
    return {**cluster_client_config(entry), "bootstrap.servers": sandbox["proxy"]["gateways"][gateway]["listen"],
            "client.id": client_id}


def _decisions(sandbox: dict, gateway: str) -> list[dict]:
    path = Path(sandbox["proxy"]["gateways"][gateway]["decision_log"])
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def api_versions_request(client_id: str, correlation_id: int) -> bytes:
    """ApiVersions v0 (request header v1): api_key, api_version, correlation_id, client_id; empty body."""
    cid = client_id.encode()
    payload = struct.pack(">hhih", 18, 0, correlation_id, len(cid)) + cid
    return struct.pack(">i", len(payload)) + payload


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response frame: (correlation id, the rest)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the proxy closed the connection"
            data += chunk
        return data

    size = struct.unpack(">i", exactly(4))[0]
    body = exactly(size)
    return struct.unpack(">i", body[:4])[0], body[4:]


class BackgroundProducer:
    """A client that stays connected through the proxy and produces all along."""

    def __init__(self, config: dict, topic: str) -> None:
        self.producer = Producer({**config, "linger.ms": 5})
        self.topic = topic
        self.delivered = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _report(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.errors.append(str(err))

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            self.producer.produce(self.topic, value=str(n).encode(), on_delivery=self._report)
            self.producer.poll(0.02)
            n += 1
        self.producer.flush(15)

    def __enter__(self) -> BackgroundProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _end(config: dict, topic: str) -> int:
    probe = Consumer({**config, "group.id": "fresh-probe"})
    try:
        return int(probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        probe.close()


def _values(config: dict, topic: str, start: int) -> list[bytes | None]:
    """Values of topic[0] from ``start`` to its end now."""
    end = _end(config, topic)
    reader = Consumer({**config, "group.id": "fresh-check", "enable.auto.commit": False})
    reader.assign([TopicPartition(topic, 0, start)])
    out: list[bytes | None] = []
    deadline = time.monotonic() + 30
    try:
        while start + len(out) < end and time.monotonic() < deadline:
            msg = reader.poll(1.0)
            if msg is not None and msg.error() is None:
                out.append(msg.value())
    finally:
        reader.close()
    return out


def _fence(path: Path, group: str) -> None:
    """The PR that opens a group's fence window."""
    text = path.read_text()
    head = f"  {group}:\n"
    at = text.index(head)
    client_ids = text.index("    client_ids:", at)
    line_end = text.index("\n", client_ids) + 1
    path.write_text(text[:line_end] + "    fence: true\n" + text[line_end:])


def test_sync_cuts_a_group_over_by_hot_reload(fresh_checkout: Checkout, sandbox: dict[str, Any]) -> None:
    specs = fresh_checkout.path / "specs" / "migrations" / "ads" / "impressions.yaml"
    original = specs.read_text()
    billing = fresh_checkout.path / "specs" / "migrations" / "billing" / "invoices.yaml"
    chat = fresh_checkout.path / "specs" / "migrations" / "chat" / "listing-alerts.yaml"
    originals = {billing: billing.read_text(), chat: chat.read_text()}
    legacy: dict[str, Any] = cluster_client_config({"bootstrap": "", **sandbox["clusters"]["legacy-service"]})
    governed: dict[str, Any] = cluster_client_config({"bootstrap": "", **sandbox["clusters"]["governed"]})
    gw = sandbox["proxy"]["gateways"]["gw-ads"]
    mm2_before = {flow: rec["pid"] for flow, rec in sandbox["mm2"].items()}
    try:
        # Refused: a spec with an error changes nothing.
        _edit(specs, "  ads-pacing:\n    topics: [ad-budget-events, ad-impressions]",
              "  ads-pacing:\n    topics: [ad-budget-events, no-such-topic]")
        refused = run(fresh_checkout, "ferry sandbox sync")
        assert refused.returncode == 1
        assert "impressions.yaml:" in refused.stderr and "nothing changed" in refused.stderr
        assert "Traceback" not in refused.stderr
        specs.write_text(original)

        old_version = json.loads(Path(gw["routes"]).read_text())["version"]
        # The edit a team's PR makes: cut ads-pacing over, and mirror one more topic.
        pacing = '  ads-pacing:\n    topics: [ad-budget-events, ad-impressions]\n    client_ids: ["ads.pacing.*"]\n'
        _edit(specs, pacing,
              pacing +
              "    cutover: true\n    attestations:\n"
              "      idempotent: {by: kim@example.com, ref: ADS-2100}\n"
              "      unordered_ok: {by: kim@example.com, ref: ADS-2100}\n")
        _edit(specs, "  ad-conversions: ads.conversion.attributed.v1\n",
              "  ad-conversions: ads.conversion.attributed.v1\n  ad-refunds: ads.refund.issued.v1\n")
        # Two groups enter a fence in the same sync: billing-refund-worker stopped on legacy after 5 of 12
        # refunds (the sync aligns it), chat-history-archiver with an instance still in its group on legacy
        # (refused, nothing written; the sync still succeeds and says how to run the alignment again).
        refunds_start = _end(legacy, "refunds")
        producer = Producer({**legacy, "client.id": "billing.refund-api.fresh"})
        for i in range(12):
            producer.produce("refunds", key=f"r{i}".encode(), value=f"refund-{i}".encode(), partition=0)
        assert producer.flush(30) == 0
        u = refunds_start + 5
        stopped = Consumer({**legacy, "group.id": "billing-refund-worker", "enable.auto.commit": False})
        stopped.commit(offsets=[TopicPartition("refunds", 0, u)], asynchronous=False)
        stopped.close()
        deadline = time.monotonic() + 120
        while _end(governed, "billing.refund.requested.v1") < _end(legacy, "refunds") and time.monotonic() < deadline:
            time.sleep(1)
        _fence(billing, "billing-refund-worker")
        _fence(chat, "chat-history-archiver")
        archiver = Consumer({**legacy, "group.id": "chat-history-archiver", "client.id": "chat.history-archiver.0"})
        archiver.subscribe(["chat-messages"])
        deadline = time.monotonic() + 60
        while not archiver.assignment() and time.monotonic() < deadline:
            archiver.poll(0.5)
        assert archiver.assignment(), "the archiver's legacy instance never joined its group"

        host, port = gw["listen"].rsplit(":", 1)
        held = socket.create_connection((host, int(port)), timeout=20)  # a client connected all along
        with held, BackgroundProducer(_proxy_config(sandbox, "gw-ads", client_id="ads.ad-server.sync-1"),
                                      "ad-clicks") as steady:
            held.sendall(api_versions_request("ads.fraud-detector.held", 1))
            assert read_response(held)[0] == 1
            deadline = time.monotonic() + 60
            while steady.delivered < 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert steady.delivered >= 20, steady.errors
            synced = run(fresh_checkout, "ferry sandbox sync", timeout=300)
            assert synced.returncode == 0, synced.stderr
            archiver.close()
            before_after = steady.delivered
            time.sleep(2)
            assert steady.delivered > before_after, "the connected producer stopped delivering"
            # The connection opened before the reload still pipes to its broker.
            held.sendall(api_versions_request("ads.fraud-detector.held", 2))
            assert read_response(held)[0] == 2
            held_ended = [d for d in _decisions(sandbox, "gw-ads")
                          if d.get("client_id") == "ads.fraud-detector.held" and d["event"] == "connection"]
            assert held_ended == [], held_ended
        assert steady.errors == []

        out = synced.stdout
        assert "ads-pacing" in out  # the plan's words for the flipped route
        assert f"proxy gw-ads: routes {old_version} -> " in out and "hot reload" in out
        assert "mm2 legacy-ads--governed: restarted" in out
        assert "legacy-service--governed" not in out
        # The groups that entered the fence: one aligned exactly (the target delivers refund-5 first, then
        # exactly what legacy still holds for it), one refused with its reason and the command to rerun.
        (target_offset,) = _committed(AdminClient(governed), "billing-refund-worker",
                                      "billing.refund.requested.v1").values()
        assert ("cutover align billing-refund-worker: entered the fence; wrote 1 exact offset(s) to governed, "
                "read back equal") in out, out
        assert f"  billing.refund.requested.v1[0] {u} on legacy-service -> {target_offset}" in out, out
        on_target = _values(governed, "billing.refund.requested.v1", target_offset)
        assert on_target == _values(legacy, "refunds", u) and on_target[0] == b"refund-5", on_target
        refusal = "cutover align chat-history-archiver: refused, nothing written: 1 member(s) still in the group on"
        rerun = "`ferry cutover align --specs specs --connections .ferry/sandbox.json --group chat-history-archiver`"
        assert refusal + " legacy-service" in out and f"run {rerun} once that is resolved" in out, out
        assert _committed(AdminClient(governed), "chat-history-archiver", "chat.message.sent.v1") == {}
        state = sandbox_state(fresh_checkout)
        # The proxy was not restarted; only the changed flow was.
        assert state["proxy"]["gateways"]["gw-ads"]["pid"] == gw["pid"] and is_alive(gw)
        assert state["mm2"]["legacy-service--governed"]["pid"] == mm2_before["legacy-service--governed"]
        assert state["mm2"]["legacy-ads--governed"]["pid"] != mm2_before["legacy-ads--governed"]

        # A cut-over instance bootstraps through the running proxy and lands on the target.
        admin = AdminClient(_proxy_config(state, "gw-ads", "governed", client_id="ads.pacing.7"))
        metadata = admin.list_topics(timeout=20)
        governed_port = state["clusters"]["governed"]["bootstrap"].rsplit(":", 1)[1]
        assert {str(b.port) for b in metadata.brokers.values()} == {governed_port}
        assert "ads.refund.issued.v1" in metadata.topics  # the new topic is mirrored

        # Idempotent: the second sync changes nothing and says so.
        again = ok(fresh_checkout, "ferry sandbox sync")
        assert "nothing to change" in again
        assert sandbox_state(fresh_checkout)["mm2"] == state["mm2"]
    finally:
        specs.write_text(original)
        for path, text in originals.items():
            path.write_text(text)


def test_sandbox_down_as_typed(fresh_checkout: Checkout, sandbox: dict[str, Any]) -> None:
    records = live_records(sandbox_state(fresh_checkout))
    out = ok(fresh_checkout, "ferry sandbox down", timeout=120)
    assert out.startswith("stopped ")
    assert not any(is_alive(rec) for rec in records)
    assert not (fresh_checkout.path / ".ferry" / "sandbox.json").exists()
    status = run(fresh_checkout, "ferry sandbox status")
    assert status.returncode == 1 and "not up" in status.stdout


def _documented_commands() -> set[str]:
    commands = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```(?:sh|console)\n(.*?)```", doc.read_text(), re.DOTALL):
            for typed in block.splitlines():
                line = typed.removeprefix("$ ").split("  #")[0].strip()
                if re.match(r"(ferry|make) ", line) and not re.search(r"\[|\bURL\b|\bFILE\b|…|\\$", line):
                    commands.add(line)
    return commands


EXERCISED_HERE = {
    "ferry validate", "ferry render --check", "ferry plan", "ferry explain billing.ledger.0 --gateway gw-service",
    "ferry explain some-legacy-client --gateway gw-ads", "ferry sandbox up", "ferry sandbox status",
    "ferry sandbox sync", "ferry sandbox down", "ferry preflight --connections .ferry/sandbox.json", "ferry status",
    "ferry proxy --routes rendered/proxy/gw-service.routes.json",
    "ferry status --decision-log .ferry/logs/sandbox-proxy-gw-service.decisions.jsonl",
    "ferry cutover align --specs specs --connections .ferry/sandbox.json --group billing-ledger --dry-run",
    "ferry cutover align --specs specs --connections .ferry/sandbox.json --group billing-ledger",
    "ferry preflight --connections .ferry/sandbox.json --spec specs/migrations/billing/invoices.yaml",
    ("ferry cutover report --connections .ferry/sandbox.json --group billing-ledger "
     "--decision-log .ferry/logs/sandbox-proxy-gw-service.decisions.jsonl"),
}


def test_every_documented_command_is_exercised() -> None:
    documented = _documented_commands()
    assert documented, "no commands found in README.md and docs/"
    untested = sorted(documented - EXERCISED_HERE - set(DOCUMENTED_ELSEWHERE))
    assert untested == [], f"documented commands no test runs as typed: {untested}"
