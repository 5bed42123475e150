"""The proxy's process entry point: ``ferry-proxy``, ``python -m proxy`` and ``ferry proxy``.

Arguments in, one :class:`~proxy.config.ProxyConfig`, one call to ``run``, an exit code out:
0 after a clean shutdown, 1 when the route file or the listen address cannot be used at
start, 2 for usage errors. The standard library's argparse, so the proxy installs and starts
without click; asyncio is imported only once the arguments are good.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import DEFAULT_ADMIN, Limits, ProxyConfig
from .errors import ProxyError  # RouteFileError, StartupError: printed as one line
from .session import Address, parse_address

__all__ = ["build_parser", "main"]

_DEFAULTS = Limits()
DESCRIPTION = "Run the Kafka wire proxy for one gateway: route each connection by client id."


def _address(allow_off: bool) -> Callable[[str], Address | None]:
    def convert(text: str) -> Address | None:
        if allow_off and text == "off":
            return None
        try:
            return parse_address(text, allow_port_zero=True)  # 0: the OS picks (tests, benches)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = "HOST:PORT"  # argparse names the type in "invalid HOST:PORT value"
    return convert


def _file(must_exist: bool) -> Callable[[str], Path]:
    def convert(text: str) -> Path:
        path = Path(text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"file {text!r} is a directory")
        if must_exist and not path.exists():
            raise argparse.ArgumentTypeError(f"file {text!r} does not exist")
        return path

    convert.__name__ = "file"
    return convert


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not in the range x>=1")
    return value


def build_parser(prog: str = "ferry-proxy") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, allow_abbrev=False,
        formatter_class=functools.partial(argparse.HelpFormatter, max_help_position=36),
    )
    add = parser.add_argument

    def seconds(name: str, default: float, text: str) -> None:
        add(f"--{name}", type=float, default=default, metavar="S", help=f"{text}  [default: %(default)s]")

    add("--routes", required=True, type=_file(must_exist=False), metavar="FILE",
        help="The gateway's route file (rendered/proxy/<gateway>.routes.json); hot-reloaded.  [required]")
    add("--listen", type=_address(allow_off=False), default=None, metavar="HOST:PORT",
        help="Kafka listener address.  [default: the route file's `listen`]")
    add("--admin", type=_address(allow_off=True), default=str(DEFAULT_ADMIN), metavar="HOST:PORT",
        help="Admin HTTP (/healthz /readyz /metrics /routes), or `off`.  [default: %(default)s]")
    add("--tls-cert", type=_file(must_exist=True), metavar="FILE",
        help="PEM certificate (chain) to terminate TLS on the Kafka listener.")
    add("--tls-key", type=_file(must_exist=True), metavar="FILE", help="PEM private key for --tls-cert.")
    add("--upstream-ca", type=_file(must_exist=True), metavar="FILE",
        help="CA bundle for clusters whose route entry says tls: true.  [default: system CAs]")
    add("--max-connections", type=_at_least_one, default=_DEFAULTS.max_connections, metavar="N",
        help="Open client connections at most; more are closed at once.  [default: %(default)s]")
    seconds("first-frame-timeout", _DEFAULTS.first_frame_timeout,
            "Seconds for a new connection to send its whole first request.")
    seconds("connect-timeout", _DEFAULTS.connect_timeout, "Seconds per bootstrap server to connect.")
    seconds("idle-timeout", _DEFAULTS.idle_timeout, "Seconds without bytes before a pipe is closed (0: never).")
    seconds("drain-timeout", _DEFAULTS.drain_timeout, "Seconds SIGTERM waits for open connections.")
    seconds("fence-hold", _DEFAULTS.fence_hold,
            "Seconds a fenced connection is held open, answered nothing, before it is closed (0: at once).")
    add("--max-fence-held", type=int, default=_DEFAULTS.max_fence_held, metavar="N",
        help="Fenced connections held at once; past it they are closed at once.  [default: %(default)s]")
    seconds("fence-log-window", 60.0,
            "Seconds over which repeated refusals of one client id by one rule become one log line.")
    add("--max-first-frame-bytes", type=int, default=_DEFAULTS.max_first_frame_bytes, metavar="N",
        help="Largest first request accepted (its size field).  [default: %(default)s]")
    seconds("reload-interval", 0.1, "Seconds between route file polls.")
    seconds("reload-debounce", 0.1, "Seconds new route file content must stay unchanged before it is used.")
    add("--decision-log", default="-", metavar="-|FILE|off",
        help="Where the JSON decision lines go: - (stdout), a file (appended), or off.  [default: %(default)s]")
    add("--event-loop", choices=["auto", "uvloop", "asyncio"], default="auto",
        help="auto: uvloop when installed.  [default: %(default)s]")
    add("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO",
        help="Operational log level (stderr).  [default: %(default)s]")
    return parser


def _config(args: argparse.Namespace) -> ProxyConfig:
    """Raises ValueError for settings that are wrong together (or out of their bounds)."""
    return ProxyConfig(
        routes=args.routes, listen=args.listen, admin=args.admin, tls_cert=args.tls_cert, tls_key=args.tls_key,
        upstream_ca=args.upstream_ca,
        limits=Limits(
            max_connections=args.max_connections, first_frame_timeout=args.first_frame_timeout,
            connect_timeout=args.connect_timeout, idle_timeout=args.idle_timeout,
            drain_timeout=args.drain_timeout, max_first_frame_bytes=args.max_first_frame_bytes,
            fence_hold=args.fence_hold, max_fence_held=args.max_fence_held,
        ),
        reload_interval=args.reload_interval, reload_debounce=args.reload_debounce,
        decision_log=args.decision_log, fence_log_window=args.fence_log_window, event_loop=args.event_loop,
    )


def main(argv: Sequence[str] | None = None, prog: str = "ferry-proxy") -> int:
    """Run the proxy until SIGTERM/SIGINT; returns the exit code (``prog`` names the command
    in usage and error lines: ``ferry-proxy``, ``python -m proxy`` or ``ferry proxy``)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        try:
            config = _config(args)
        except ValueError as exc:
            parser.error(str(exc))
    except SystemExit as done:  # --help (0) or a usage error (2), already printed by argparse
        return int(done.code or 0)
    from .runtime import configure_logging, run  # asyncio only from here on

    configure_logging(args.log_level)
    try:
        return run(config)
    except (ProxyError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
