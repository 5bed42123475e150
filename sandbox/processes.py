"""Child processes (JVMs) that never outlive the Python process that started them.

Three layers, because each covers a way the others fail:

1. Each child leads its own process group (``start_new_session``), so a stop or kill reaches
   anything it forks, and Ctrl-C in the terminal does not hit it before we do.
2. An ``atexit`` hook stops every child still registered when Python exits normally
   (end of a pytest session, an uncaught exception).
3. On Linux the child is started through ``setpriv --pdeathsig KILL`` (util-linux), so the
   kernel kills it when its parent dies without running atexit: SIGKILL, OOM killer, a crashed
   interpreter. The kernel ties the death signal to the *thread* that forked the child, so spawn
   from a thread that lives as long as the child (the main thread); a worker thread of a pool
   that is shut down would take its children with it.

   ``Popen`` may return before the child even runs ``setpriv`` (the kernel closes the
   close-on-exec pipe Python waits on before the exec completes), and ``setpriv`` arms the
   signal only just before it execs the real command; a parent killed in that window leaves an
   orphan (measured: 2 in 40 under load). ``spawn`` therefore returns only once the child's
   ``/proc/<pid>/comm`` names the real command, which setpriv execs after arming the signal.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# How long the atexit hook waits for SIGTERM before SIGKILL: exiting should stay quick.
EXIT_GRACE_SECONDS = 3.0

_live: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def death_signal_prefix() -> list[str]:
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL"] if setpriv else []


def spawn(
    command: Sequence[str],
    *,
    output: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    detached: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``command`` with stdout and stderr appended to ``output``.

    ``detached=True`` drops layers 2 and 3: the child keeps its own process group but is meant
    to outlive this process (``ferry sandbox up``), so whoever starts it must record its pid
    and stop it later.
    """
    if cwd is not None and not Path(cwd).is_absolute():
        # The child resolves every relative path in ``command`` against ``cwd``, the caller against
        # its own working directory: the two disagree unless everything is absolute.
        raise ValueError(f"spawn: cwd {cwd} must be absolute (and so must the paths in the command)")
    output.parent.mkdir(parents=True, exist_ok=True)
    prefix = [] if detached else death_signal_prefix()
    with open(output, "ab") as sink:
        proc = subprocess.Popen(
            [*prefix, *command],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    if not detached:
        with _lock:
            _live[proc.pid] = proc
    if prefix:
        _wait_for_exec(proc, _comm_of(command[0]))
    return proc


def _comm_of(program: str) -> str:
    """The kernel's name for a process running ``program``: its basename, cut to 15 bytes."""
    return Path(program).name[:15]


def _wait_for_exec(proc: subprocess.Popen[bytes], comm: str, timeout: float = 5.0) -> None:
    """Wait until ``proc`` runs ``comm`` (or exited, or ``timeout`` s passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if Path(f"/proc/{proc.pid}/comm").read_text().strip() == comm:
                return
        except OSError:
            return
        time.sleep(0.0005)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _forget(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _live.pop(proc.pid, None)


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    return kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process group and reap the child. Returns the exit code."""
    # Also after the leader exited: a grandchild may still hold the group.
    _signal_group(proc, signal.SIGKILL)
    code = proc.wait()
    _forget(proc)
    return code


def _stop_all_at_exit() -> None:
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + EXIT_GRACE_SECONDS
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        kill(proc)


atexit.register(_stop_all_at_exit)
