"""`make demo` exactly as typed in a fresh checkout, and Ctrl-C in the middle of the demo.

Both run against real clusters, MirrorMaker 2 and proxies that the demo starts itself, and
both end with no process of the demo alive. Wall times are printed and recorded in
``.ferry/demo-fresh-times.json`` of this repository (figures, not assertions: speed targets
belong in bench/).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.stack import is_alive

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
TIMES = REPO / ".ferry" / "demo-fresh-times.json"
SUMMARY = re.compile(r"demo lost=(\d+) duplicated=(\d+) sent=(\d+) received=(\d+) unique=(\d+) steps=(\d) "
                     r"seconds=([\d.]+)")


def record_time(name: str, seconds: float, **extra: object) -> None:
    TIMES.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.is_file() else {}
    times[name] = {"seconds": round(seconds, 1), **extra}
    TIMES.write_text(json.dumps(times, indent=2) + "\n")
    print(f"{name}: {seconds:.1f} s {extra}")


def demo_processes(checkout: Path) -> list[str]:
    """Live processes the demo started: their command line names the checkout and the demo
    (its own `ferry sandbox demo`, or a path under `.ferry/demo/`). Zombies do not count: in
    this container nobody reaps orphans, and a zombie runs nothing."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] in "ZX":
            continue
        if str(checkout) in cmdline and (".ferry/demo" in cmdline or "sandbox demo" in cmdline):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def wait_gone(checkout: Path, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := demo_processes(checkout)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_make_demo_as_typed(fresh_checkout: Any) -> None:
    root = fresh_checkout.path
    started = time.monotonic()
    r = fresh_checkout.run("make demo", timeout=900)
    wall = time.monotonic() - started
    out = r.stdout
    assert r.returncode == 0, f"make demo failed (exit {r.returncode}):\n{out[-6000:]}\n{r.stderr[-3000:]}"

    # the compiler steps ran first
    assert "ok: " in out and "ferry plan" in out and "ferry render" in out
    # the walk: three steps, each edit applied by sync, the gates passed, clients moved
    for expected in ("step 1/3 mirroring", "step 2/3 group cut over", "step 3/3 producers cut over",
                     "PR: consumer group search-indexer: cutover: true (attested)",
                     "preflight: target-group-idle ok", "offset-sync ok",
                     "sync:   ~ flipped: client ids `search.indexer.*`",
                     "sync:   ~ flipped: client ids `search.catalog-api.*`",
                     "search.indexer.0 consumes search.catalog.updated.v1, search.catalog.deleted.v1 on governed",
                     ("search.catalog-api.0 writes search.catalog.updated.v1, search.catalog.deleted.v1 "
                      "on governed"),
                     "tearing the sandbox down"):
        assert expected in out, f"{expected!r} not in the output:\n{out[-6000:]}"
    # the periodic status lines show where clients are, by their broker connections
    assert "search-indexer-1@legacy-service" in out and "search.indexer.0@governed" in out

    last = out.strip().splitlines()[-1]
    m = SUMMARY.fullmatch(last)
    assert m, f"last line is not the summary: {last!r}"
    lost, duplicated, sent, received, unique, steps, seconds = (float(g) for g in m.groups())
    assert (lost, steps) == (0, 3)
    assert sent > 1000 and unique == sent and received == unique + duplicated

    result = json.loads((root / ".ferry/demo/demo-result.json").read_text())
    assert result["ok"] and result["lost"] == 0
    assert list(result["phases"]) == [
        "prepare", "up", "mirroring", "group-cutover", "producer-cutover", "drain", "down"]

    assert wait_gone(root) == []
    assert not (root / ".ferry/demo/sandbox.json").exists()
    status = subprocess.run(["git", "status", "--porcelain", "--", "specs"], cwd=root, capture_output=True, text=True)
    assert status.stdout == "", f"the demo changed the user's specs:\n{status.stdout}"
    record_time("make demo", wall, demo_seconds=seconds, phases=result["phases"], duplicated=int(duplicated))


class Running:
    """`ferry sandbox demo` started in the checkout as a user types it, its output collected."""

    def __init__(self, checkout: Any) -> None:
        self.proc = subprocess.Popen(["bash", "-c", "exec ferry sandbox demo"], cwd=checkout.path, env=checkout.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "the demo ended early:\n" + "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, f"no {text!r} in {timeout:.0f} s:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.2)

    def interrupt(self, sig: signal.Signals) -> tuple[int, float]:
        """Send ``sig``; the exit code and the seconds until the command ended."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(180)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)
        return code, time.monotonic() - sent

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def live_records(root: Path) -> list[dict]:
    """The processes sandbox.json records right now (clusters, MirrorMaker 2, proxies)."""
    state = json.loads((root / ".ferry/demo/sandbox.json").read_text())
    return [*state["clusters"].values(), *state["mm2"].values(), *state.get("proxy", {}).get("gateways", {}).values()]


def test_ctrl_c_while_clients_run_tears_everything_down(fresh_checkout: Any) -> None:
    root = fresh_checkout.path
    started = time.monotonic()
    demo = Running(fresh_checkout)
    demo.wait_for_line("step 1/3 mirroring", 600)
    time.sleep(3)  # clients running, sandbox fully up
    records = live_records(root)
    assert len(records) == 4 and all(is_alive(rec) for rec in records)  # 2 clusters, 1 MM2, 1 proxy
    interrupted_at = time.monotonic() - started
    code, teardown = demo.interrupt(signal.SIGINT)
    out = demo.output
    assert code == 130, out[-4000:]
    assert "SIGINT: stopping the clients and the sandbox" in out
    assert "interrupted (SIGINT) after 0 of 3 steps; sandbox torn down" in out
    assert SUMMARY.fullmatch(demo.lines[-1]), demo.lines[-1]
    assert not any(is_alive(rec) for rec in records)
    assert wait_gone(root) == []
    assert not (root / ".ferry/demo/sandbox.json").exists()
    record_time("ctrl-c teardown", teardown, until_interrupt=round(interrupted_at, 1))


def test_sigterm_while_the_sandbox_starts_stops_what_was_started(fresh_checkout: Any) -> None:
    """The moment a user most likely gives up: clusters up, MirrorMaker 2 starting."""
    root = fresh_checkout.path
    demo = Running(fresh_checkout)
    demo.wait_for_line("clusters ready", 600)
    code, teardown = demo.interrupt(signal.SIGTERM)
    out = demo.output
    assert code == 143, out[-4000:]
    assert "SIGTERM: stopping the clients and the sandbox" in out
    assert SUMMARY.fullmatch(demo.lines[-1]), demo.lines[-1]
    assert wait_gone(root) == [], out[-4000:]
    assert not (root / ".ferry/demo/sandbox.json").exists()
    record_time("sigterm during up", teardown)
