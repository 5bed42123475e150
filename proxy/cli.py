"""`ferry proxy`: parse options into a ProxyConfig, make one call. Attached to the `ferry`
group by ``compiler.cli._register_optional``; imports no asyncio until the command runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compiler.routing import RouteFileError

from .config import DEFAULT_ADMIN, Limits, ProxyConfig
from .session import Address, parse_address

_DEFAULTS = Limits()


class _AddressType(click.ParamType):
    name = "HOST:PORT"

    def __init__(self, allow_off: bool = False) -> None:
        self.allow_off = allow_off

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, Address) or value is None:
            return value
        if self.allow_off and value == "off":
            return None
        try:
            return parse_address(value, allow_port_zero=True)  # 0: the OS picks (tests, benches)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _seconds(name: str, default: float, text: str) -> click.Option:  # type: ignore[type-arg]
    return click.option(f"--{name}", type=float, default=default, show_default=True, help=text)


@click.command("proxy")
@click.option("--routes", "routes", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The gateway's route file (rendered/proxy/<gateway>.routes.yaml); hot-reloaded.")
@click.option("--listen", type=_AddressType(), default=None,
              help="Kafka listener address.  [default: the route file's `listen`]")
@click.option("--admin", type=_AddressType(allow_off=True), default=str(DEFAULT_ADMIN), show_default=True,
              help="Admin HTTP (/healthz /readyz /metrics /routes), or `off`.")
@click.option("--tls-cert", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="PEM certificate (chain) to terminate TLS on the Kafka listener.")
@click.option("--tls-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="PEM private key for --tls-cert.")
@click.option("--upstream-ca", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CA bundle for clusters whose route entry says tls: true.  [default: system CAs]")
@click.option("--max-connections", type=click.IntRange(min=1), default=_DEFAULTS.max_connections,
              show_default=True, help="Open client connections at most; more are closed at once.")
@_seconds("first-frame-timeout", _DEFAULTS.first_frame_timeout,
          "Seconds for a new connection to send its whole first request.")
@_seconds("connect-timeout", _DEFAULTS.connect_timeout, "Seconds per bootstrap server to connect.")
@_seconds("idle-timeout", _DEFAULTS.idle_timeout, "Seconds without bytes before a pipe is closed (0: never).")
@_seconds("drain-timeout", _DEFAULTS.drain_timeout, "Seconds SIGTERM waits for open connections.")
@click.option("--max-first-frame-bytes", type=int, default=_DEFAULTS.max_first_frame_bytes, show_default=True,
              help="Largest first request accepted (its size field).")
@_seconds("reload-interval", 0.1, "Seconds between route file polls.")
@_seconds("reload-debounce", 0.1, "Seconds new route file content must stay unchanged before it is used.")
@click.option("--decision-log", default="-", show_default=True,
              help="Where the JSON decision lines go: - (stdout), a file (appended), or off.")
@click.option("--event-loop", type=click.Choice(["auto", "uvloop", "asyncio"]), default="auto",
              show_default=True, help="auto: uvloop when installed.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default="INFO",
              show_default=True, help="Operational log level (stderr).")
def proxy(routes: Path, listen: Address | None, admin: Address | None, tls_cert: Path | None,
          tls_key: Path | None, upstream_ca: Path | None, max_connections: int, first_frame_timeout: float,
          connect_timeout: float, idle_timeout: float, drain_timeout: float, max_first_frame_bytes: int,
          reload_interval: float, reload_debounce: float, decision_log: str, event_loop: str,
          log_level: str) -> None:
    """Run the Kafka wire proxy for one gateway: route each connection by client id."""
    try:
        config = ProxyConfig(
            routes=routes, listen=listen, admin=admin, tls_cert=tls_cert, tls_key=tls_key,
            upstream_ca=upstream_ca,
            limits=Limits(
                max_connections=max_connections, first_frame_timeout=first_frame_timeout,
                connect_timeout=connect_timeout, idle_timeout=idle_timeout, drain_timeout=drain_timeout,
                max_first_frame_bytes=max_first_frame_bytes,
            ),
            reload_interval=reload_interval, reload_debounce=reload_debounce,
            decision_log=decision_log, event_loop=event_loop,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    from .server import configure_logging, run  # asyncio only from here on

    configure_logging(log_level)
    try:
        code = run(config)
    except RouteFileError as exc:
        click.echo(f"ferry proxy: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"ferry proxy: {exc}", err=True)
        sys.exit(1)
    sys.exit(code)
