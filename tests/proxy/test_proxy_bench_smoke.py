"""bench/proxy_bench.py at tiny sizes: every measurement runs and the last line parses. The
figures themselves are meaningless at this size; docs/proxy.md has the real run."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from proxy_clusters import Cluster

pytestmark = pytest.mark.kafka

BENCH = Path(__file__).resolve().parents[2] / "bench" / "proxy_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proxy_bench", BENCH)
    assert spec is not None and spec.loader is not None, BENCH
    module = importlib.util.module_from_spec(spec)
    sys.modules["proxy_bench"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_bench_runs_at_tiny_sizes(
    bench: ModuleType, kafka: dict[str, Cluster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = bench.Sizes(latency_n=20, rate_concurrency=4, rate_seconds=0.3, pipe_mb=2, pipe_seconds=0.3,
                       flips=2, idle=100, pipes=20, warm_up_seconds=0.2)
    out = bench.run(tiny, kafka["legacy"].bootstrap, tmp_path)
    line = bench.machine_line(out)
    m = re.fullmatch(
        r"proxy_bench added_p99_ms=(-?[\d.]+) bootstrap_ratio=([\d.]+) pipe_ratio=([\d.]+) "
        r"idle10k_rss_mb=([\d.]+) reload_ms=([\d.]+)",
        line,
    )
    assert m, line
    layout = re.fullmatch(r"proxy_bench_layout layout=shared bootstrap_ratio_shared=([\d.]+) "
                          r"pipe_ratio_shared=([\d.]+)", bench.layout_line(out))
    assert layout, bench.layout_line(out)
    # Someone else's broker cannot be pinned: one (shared) layout, one set of ratios.
    assert (m.group(2), m.group(3)) == (layout.group(1), layout.group(2))
    assert float(m.group(2)) > 0 and float(m.group(3)) > 0
    assert 0 < float(m.group(5)) < 1000
    printed = capsys.readouterr().out
    assert "bootstrap rate" in printed and "pipe throughput" in printed and "failures 0/0" in printed


def test_the_isolated_layout_splits_the_cpus_and_pins_every_thread(bench: ModuleType) -> None:
    assert bench.CpuLayout.isolated(frozenset({0})) is None
    layout = bench.CpuLayout.isolated(frozenset({0, 1, 2, 3}))
    assert (layout.clients, layout.proxy) == ({0, 1}, {2, 3})
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.fail(f"this test needs two CPUs, the process may use {cpus}")
    # A child with two threads, pinned after both exist: each thread reports the new set.
    child = subprocess.Popen([sys.executable, "-c", ("import threading, time; "
                              "threading.Thread(target=time.sleep, args=(30,)).start(); time.sleep(30)")])
    try:
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{child.pid}/task")) < 2:
            assert time.monotonic() < deadline, "the child never started its second thread"
            time.sleep(0.02)
        bench.pin(child.pid, frozenset({cpus[-1]}))
        for tid in os.listdir(f"/proc/{child.pid}/task"):
            assert os.sched_getaffinity(int(tid)) == {cpus[-1]}
    finally:
        child.kill()
        child.wait()
