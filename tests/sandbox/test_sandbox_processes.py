"""Children started through sandbox.processes never outlive their parent (no JVM needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sandbox import processes


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _child_python(tmp_path: Path, then: str) -> tuple[subprocess.Popen[str], int]:
    """A Python that spawns `sleep 60` through sandbox.processes, prints its pid, then runs `then`."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from sandbox import processes
        proc = processes.spawn(["sleep", "60"], output=Path({str(tmp_path / "sleep.out")!r}))
        print(proc.pid, flush=True)
        {then}
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def test_terminate_stops_the_whole_process_group(tmp_path: Path) -> None:
    # The shell forks a grandchild; SIGTERM to the group reaches both.
    proc = processes.spawn(["sh", "-c", "sleep 60 & echo $! > grandchild; wait"], output=tmp_path / "out",
                           cwd=tmp_path)
    deadline = time.monotonic() + 5
    while not (tmp_path / "grandchild").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "grandchild").read_text())
    processes.terminate(proc, timeout=5)
    assert proc.poll() is not None
    assert _wait_gone(grandchild)


def test_terminate_falls_back_to_sigkill(tmp_path: Path) -> None:
    proc = processes.spawn(["sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"], output=tmp_path / "out")
    time.sleep(0.2)
    started = time.monotonic()
    code = processes.terminate(proc, timeout=0.5)
    assert time.monotonic() - started < 5
    assert code == -9


def test_children_are_stopped_when_python_exits_normally(tmp_path: Path) -> None:
    parent, pid = _child_python(tmp_path, then="pass")
    parent.wait(timeout=10)
    assert _wait_gone(pid)


@pytest.mark.skipif(not processes.death_signal_prefix(), reason="setpriv (util-linux) not installed")
def test_children_are_killed_when_python_is_killed(tmp_path: Path) -> None:
    parent, pid = _child_python(tmp_path, then="time.sleep(60)")
    assert _alive(pid)
    parent.kill()
    parent.wait()
    if not _wait_gone(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"pid {pid} outlived its SIGKILLed parent")
