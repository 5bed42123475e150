"""The proxy's settings: one frozen object built by the CLI (or a test) and read by the shell.

Every limit has a default with its reason; every one can be changed on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .codec import DEFAULT_MAX_FIRST_FRAME_SIZE, HARD_MAX_FIRST_FRAME_SIZE, MIN_FRAME_SIZE
from .session import Address

__all__ = ["DEFAULT_ADMIN", "Limits", "ProxyConfig"]

#: Loopback by default: metrics and the route table are for the pod's own probes and a
#: scraper that reaches it through the pod network only if the operator says so.
DEFAULT_ADMIN = Address("127.0.0.1", 9100)


@dataclass(frozen=True)
class Limits:
    #: Open client connections at once; the next is accepted and closed at once (a Kafka client
    #: retries with backoff). Each pipe holds two file descriptors, so the proxy raises its
    #: RLIMIT_NOFILE soft limit to fit 2 x this; 8192 fits the common 20k-65k hard limits.
    #: Bootstrap pipes are short or idle, so this is far above what a gateway needs at once.
    max_connections: int = 8192
    #: Seconds from accept to a complete first request. Real clients send ApiVersions as soon
    #: as TCP is up (milliseconds); this only has to outlast a congested link, and it bounds how
    #: long a silent or byte-a-second (slowloris) peer holds a slot and its buffer.
    first_frame_timeout: float = 10.0
    #: Seconds per bootstrap server to establish TCP (and TLS); then the next one is tried.
    #: Kafka's own socket.connection.setup.timeout.ms starts at 10 s; half of that per server
    #: keeps a two-server failover inside the client's first timeout.
    connect_timeout: float = 5.0
    #: Seconds without a byte either way before a pipe is closed; 0 disables. Longer than the
    #: broker's connections.max.idle.ms (10 min) and the Java client's (9 min), so normally a
    #: Kafka peer closes an idle bootstrap connection first and the proxy never has to.
    idle_timeout: float = 900.0
    #: Seconds SIGTERM waits for open pipes to end before closing them. Below Kubernetes'
    #: default terminationGracePeriodSeconds (30 s) so the kill never comes first.
    drain_timeout: float = 20.0
    #: Bound on the first request's size field (see proxy.codec.DEFAULT_MAX_FIRST_FRAME_SIZE).
    max_first_frame_bytes: int = DEFAULT_MAX_FIRST_FRAME_SIZE
    #: Per-direction write buffer above which the other side's reads pause (backpressure).
    write_buffer_high: int = 256 * 1024
    #: Seconds a fenced connection is held open (read and discarded, nothing answered) before
    #: it is closed; 0 closes it at once. A connection closed at once is retried at once:
    #: librdkafka reconnects ~20 times a second against a peer that closes immediately. Held,
    #: every library waits for its own request timeout first - 30 s is that timeout in the Java
    #: clients (request.timeout.ms), kafkajs (requestTimeout), sarama (Net.ReadTimeout) and
    #: librdkafka (socket.connection.setup.timeout.ms) - so a fenced instance comes back about
    #: once per hold. Measured per library in docs/clients.md.
    fence_hold: float = 30.0
    #: Fenced connections held at once; past it a fenced connection is closed at once (and
    #: counted in ferry_proxy_fence_hold_overflow_total). Held connections count toward
    #: max_connections and cost a socket each; half of the default max_connections keeps a
    #: fenced fleet from ever taking the slots of routed clients.
    max_fence_held: int = 4096

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.fence_hold < 0:
            raise ValueError("fence_hold must be 0 (close at once) or positive")
        if self.max_fence_held < 0:
            raise ValueError("max_fence_held must be 0 (never hold) or positive")
        for name in ("first_frame_timeout", "connect_timeout", "drain_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.idle_timeout < 0:
            raise ValueError("idle_timeout must be 0 (never) or positive")
        if not MIN_FRAME_SIZE <= self.max_first_frame_bytes <= HARD_MAX_FIRST_FRAME_SIZE:
            raise ValueError(
                f"max_first_frame_bytes must be between {MIN_FRAME_SIZE} and {HARD_MAX_FIRST_FRAME_SIZE}"
            )
        if self.write_buffer_high < 4096:
            raise ValueError("write_buffer_high must be at least 4096")


@dataclass(frozen=True)
class ProxyConfig:
    routes: Path
    #: None: the route file's ``listen``.
    listen: Address | None = None
    #: None: no admin HTTP server.
    admin: Address | None = DEFAULT_ADMIN
    #: TLS termination on the Kafka listener (both or neither).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: CA bundle to verify clusters whose route entry says ``tls: true`` (default: the system's).
    upstream_ca: Path | None = None
    limits: Limits = field(default_factory=Limits)
    #: Route file polling: how often, and how long new content must stay the same.
    reload_interval: float = 0.1
    reload_debounce: float = 0.1
    #: Where decision-log lines go: "-" (stdout), a file path (appended), or "off".
    decision_log: str = "-"
    #: Seconds over which repeated refusals of one client id by one fence rule become one
    #: decision-log line with a count (the first of a window is written at once).
    fence_log_window: float = 60.0
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS termination needs both a certificate and a key")
        if self.fence_log_window <= 0:
            raise ValueError("fence_log_window must be positive")
        if self.reload_interval <= 0 or self.reload_debounce < 0:
            raise ValueError("reload_interval must be positive and reload_debounce non-negative")
