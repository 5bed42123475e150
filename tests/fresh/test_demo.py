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


def test_ctrl_c_during_the_demo_tears_everything_down(fresh_checkout: Any) -> None:
    root = fresh_checkout.path
    started = time.monotonic()
    proc = subprocess.Popen(["bash", "-c", "exec ferry sandbox demo"], cwd=root, env=fresh_checkout.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "step 1/3 mirroring" in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(600), "the demo never reached step 1:\n" + "\n".join(lines[-40:])
        time.sleep(3)  # clients running, sandbox fully up
        state = json.loads((root / ".ferry/demo/sandbox.json").read_text())
        records = [*state["clusters"].values(), *state["mm2"].values(), *state["proxy"]["gateways"].values()]
        assert records and all(is_alive(rec) for rec in records)
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
        teardown = time.monotonic() - interrupted_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    out = "\n".join(lines)
    assert code == 130, out[-4000:]
    assert "SIGINT: stopping the clients and the sandbox" in out
    assert "interrupted (SIGINT) after 0 of 3 steps; sandbox torn down" in out
    assert SUMMARY.fullmatch(lines[-1]), lines[-1]
    assert not any(is_alive(rec) for rec in records)
    assert wait_gone(root) == []
    assert not (root / ".ferry/demo/sandbox.json").exists()
    record_time("ctrl-c teardown", teardown, until_interrupt=round(interrupted_at - started, 1))
