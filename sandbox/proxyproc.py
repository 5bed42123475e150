"""One launcher for a proxy subprocess: ``ferry sandbox``, the tests and the bench all start
proxies with :func:`start_proxy`.

The child runs the proxy's own entry point (``python -m proxy`` by default, or any command
that takes the same arguments, such as a slim venv's ``ferry-proxy``) through
``sandbox.processes.spawn``, so it gets its own process group, its output appended to one
log file, and (unless detached) dies with this process. Every path handed to it is absolute:
the child's working directory never matters.

``start_proxy`` returns once the proxy is serving: its log names the address it listens on
(the real port when ``:0`` let the OS choose), and its admin ``/readyz`` answers 200 when
the admin server is on.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import processes
from .errors import SandboxTimeout, ServiceError

__all__ = ["PROXY_COMMAND", "ProxyProcess", "start_proxy"]

#: The proxy's entry point in this interpreter.
PROXY_COMMAND: tuple[str, ...] = (sys.executable, "-m", "proxy")

#: The proxy's start-up line (proxy/server.py): "gateway G listening on ADDR[ (TLS)] (routes …;
#: admin ADDR|off; loop L)". ADDR is host:port or [v6]:port.
_LISTENING = re.compile(
    r"gateway \S+ listening on (?P<listen>\S+?)(?: \(TLS\))? \(routes .*; admin (?P<admin>\S+); loop "
)

Address = tuple[str, int]


def _split(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass
class ProxyProcess:
    proc: subprocess.Popen[bytes]
    #: Where the Kafka listener and the admin server really are (None: admin off).
    listen: Address
    admin: Address | None
    routes: Path
    log: Path
    decision_log: Path | None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def bootstrap(self) -> str:
        """The listener as a client's ``bootstrap.servers`` entry."""
        host, port = self.listen
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def admin_url(self) -> str | None:
        if self.admin is None:
            return None
        host, port = self.admin
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        """Everything the proxy wrote to stderr (and stdout) so far."""
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """Wait for the proxy to exit by itself (after a signal the caller sent); its exit code.
        Raises ``subprocess.TimeoutExpired`` when it is still running after ``timeout`` s."""
        self.proc.wait(timeout)
        return processes.kill(self.proc)  # reap its process group and forget it

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the proxy drains, up to its --drain-timeout), SIGKILL after ``timeout`` s;
        the exit code (0: a clean shutdown)."""
        return processes.terminate(self.proc, timeout)


def start_proxy(
    routes: Path,
    *,
    log: Path,
    listen: str | None = "127.0.0.1:0",
    admin: str | None = "127.0.0.1:0",
    decision_log: Path | None = None,
    extra: Sequence[str] = (),
    command: Sequence[str] = PROXY_COMMAND,
    env: Mapping[str, str] | None = None,
    detached: bool = False,
    timeout: float = 30.0,
) -> ProxyProcess:
    """Start a proxy on ``routes`` and wait until it serves.

    ``listen=None`` uses the route file's ``listen``; ``admin=None`` turns the admin server
    off; ``decision_log=None`` turns the decision log off; ``extra`` are further proxy options
    (``--drain-timeout 1``, ``--max-connections N``, …). ``detached=True`` lets the proxy
    outlive this process (``ferry sandbox up`` records its pid). Raises ``ServiceError`` when
    the proxy exits during start-up and ``SandboxTimeout`` when it is not serving in time;
    either way the child is gone and the message ends with its log.
    """
    routes, log = routes.resolve(), log.resolve()
    argv = [*command, "--routes", str(routes), "--admin", admin or "off",
            "--decision-log", "off" if decision_log is None else str(decision_log.resolve())]
    if listen is not None:
        argv += ["--listen", listen]
    argv += list(extra)
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0  # the log is appended: read only this run
    proc = processes.spawn(argv, output=log, env=env, detached=detached)
    deadline = time.monotonic() + timeout
    try:
        listen_at, admin_at = _wait_listening(proc, log, offset, deadline)
        started = ProxyProcess(proc, listen_at, admin_at, routes, log,
                               None if decision_log is None else decision_log.resolve())
        if started.admin_url is not None:
            _wait_ready(proc, f"{started.admin_url}/readyz", log, offset, deadline)
    except BaseException:
        processes.kill(proc)
        raise
    return started


def _tail(log: Path, offset: int, lines: int = 30) -> str:
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _exited(proc: subprocess.Popen[bytes], log: Path, offset: int) -> ServiceError:
    return ServiceError(f"the proxy exited with code {proc.returncode} during start-up; its log ({log}):\n"
                        f"{_tail(log, offset)}")


def _wait_listening(proc: subprocess.Popen[bytes], log: Path, offset: int,
                    deadline: float) -> tuple[Address, Address | None]:
    while True:
        with log.open("rb") as fh:
            fh.seek(offset)
            found = _LISTENING.search(fh.read().decode(errors="replace"))
        if found:
            admin = found["admin"]
            return _split(found["listen"]), None if admin == "off" else _split(admin)
        if proc.poll() is not None:
            raise _exited(proc, log, offset)
        if time.monotonic() > deadline:
            raise SandboxTimeout(f"the proxy did not start listening in time; its log ({log}):\n{_tail(log, offset)}")
        time.sleep(0.02)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, offset: int, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None:
            raise _exited(proc, log, offset)
        if time.monotonic() > deadline:
            raise SandboxTimeout(
                f"the proxy's {url} did not answer 200 in time; its log ({log}):\n{_tail(log, offset)}"
            )
        time.sleep(0.05)
