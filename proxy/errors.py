"""The wire proxy's error family.

Everything the proxy raises on purpose derives from :class:`ProxyError`, so the IO shell can
tell "we refused this connection for a reason we can name" from a bug, and an entry point can
print any of them as one line instead of a traceback. The family:

* :class:`ProtocolError` - bytes that can never become a Kafka request (the codec);
* :class:`~proxy.routetable.RouteFileError` - a route file that cannot be used (also a
  ``ValueError``, as the route-table contract promises its other users);
* :class:`StartupError` - a setting the process cannot start with (the runtime).

:class:`ProtocolError` is deliberately *not* a ``ValueError``: the session tells it apart from
every other failure by type, and a stray ``ValueError`` from a bug in the parser must surface
as a bug, not be mistaken for a client's malformed bytes.

:class:`ProtocolError` is what the first-frame codec raises for bytes that can never become a
valid Kafka request. Its ``cause`` is a :class:`ProtocolErrorCause`: a closed set of short
strings, safe to use as a metric label (bounded cardinality) and to match on in tests. Its
message is for the operator reading a log line: it says what arrived and what to do about it.
"""

from __future__ import annotations

from enum import StrEnum


class ProxyError(Exception):
    """Root of every error the proxy raises deliberately."""


class StartupError(ProxyError):
    """The proxy cannot start as configured; the message says what to change."""


class ProtocolErrorCause(StrEnum):
    """Why the first bytes of a connection are not a Kafka request. Values are metric labels."""

    NEGATIVE_LENGTH = "negative_length"
    OVERSIZED = "oversized"
    UNDERSIZED = "undersized"
    UNKNOWN_API_KEY = "unknown_api_key"
    BAD_API_VERSION = "bad_api_version"
    BAD_CLIENT_ID_LENGTH = "bad_client_id_length"
    BAD_TAGGED_FIELDS = "bad_tagged_fields"
    TLS = "tls"
    HTTP = "http"
    PROXY_PROTOCOL = "proxy_protocol"


class ProtocolError(ProxyError):
    """The peer sent bytes that are not (and can never become) a valid Kafka request."""

    def __init__(self, cause: ProtocolErrorCause, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message

    def __repr__(self) -> str:
        return f"ProtocolError(cause={self.cause.value!r}, message={self.message!r})"
