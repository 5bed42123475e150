"""What every sandbox JVM (broker, MirrorMaker 2, Connect worker) shares: one child process,
its two log files, and the way it ends. Subclasses set ``name``, ``log_dir`` and launch
``_proc`` with ``sandbox.processes.spawn``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sandbox import processes
from sandbox.jars import REPO_ROOT

STOP_TIMEOUT_SECONDS = 20.0
#: Where a JVM logs when its owner names no folder (tests, benches): the checkout's .ferry/logs.
DEFAULT_LOG_DIR = REPO_ROOT / ".ferry" / "logs"


def tail(path: Path, lines: int = 40) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return "\n".join(content[-lines:])


class JavaProcess:
    name: str
    log_dir: Path
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """log4j2 output (INFO and up)."""
        return self.log_dir / f"{self.name}.log"

    @property
    def out_file(self) -> Path:
        """stdout/stderr: warnings, JVM crashes, tool output."""
        return self.log_dir / f"{self.name}.out"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """SIGTERM (a clean, controlled shutdown), SIGKILL after ``timeout`` s. None if not running."""
        if self._proc is None:
            return None
        code = processes.terminate(self._proc, timeout)
        self._proc = None
        return code

    def kill(self) -> int | None:
        """SIGKILL: a crash. Data written before it survives (it is in the page cache)."""
        if self._proc is None:
            return None
        code = processes.kill(self._proc)
        self._proc = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.out_file}\n{tail(self.out_file, lines)}\n--- {self.log_file}\n{tail(self.log_file, lines)}"
