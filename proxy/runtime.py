"""The proxy's process: event loop choice, file descriptor limit, signals, logging, ``run``.

Entry points (``proxy.main``, ``ferry proxy``) parse their arguments into a
:class:`~proxy.config.ProxyConfig`, call :func:`configure_logging` and :func:`run`, and
exit with what it returns. Everything here happens once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
import signal
import sys
from collections.abc import Callable

from .config import ProxyConfig
from .errors import StartupError
from .server import ProxyServer

__all__ = ["configure_logging", "loop_factory", "raise_fd_limit", "run"]

log = logging.getLogger("ferry.proxy")


def loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when asked for, or when available under "auto"; (None, "asyncio") otherwise."""
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise StartupError("--event-loop uvloop: uvloop is not installed (pip install uvloop), "
                               "or pass --event-loop auto") from None
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``wanted`` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


async def _serve(config: ProxyConfig, ready: Callable[[ProxyServer], None] | None) -> int:
    server = ProxyServer(config)
    await server.start()
    # Everything imported and loaded so far (the route table, the modules) lives as long as the
    # process: move it out of the cyclic GC's sight, so a full collection under load scans only
    # what connections allocate (about 7 ms otherwise, in the middle of someone's bootstrap).
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_shutdown)
    if ready is not None:
        ready(server)
    await server.wait_closed()
    return 0


def run(config: ProxyConfig, ready: Callable[[ProxyServer], None] | None = None) -> int:
    """Run a proxy until SIGTERM/SIGINT; returns the process exit code. ``ready`` is called
    with the started server (its bound addresses) before the first connection is served."""
    factory, _name = loop_factory(config.event_loop)
    wanted = 2 * config.limits.max_connections + 256
    have = raise_fd_limit(wanted)
    if have < wanted:
        log.warning("file descriptor limit is %d; %d connections need about %d (raise ulimit -n)",
                    have, config.limits.max_connections, wanted)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_serve(config, ready))


def configure_logging(level: str = "INFO") -> None:
    """Operational log lines (``ferry.*`` loggers) to stderr at ``level``; decision lines are
    not logging (they go to the decision-log sink)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("ferry")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
