"""`host:port` as the specs write it (bootstrap servers, a gateway's listen address).

Parsed once, strictly, with a message that says what is wrong: a port outside 1-65535, a
missing port, an IPv6 address without brackets, a scheme (`SASL_SSL://…`: the protocol is
`security.protocol`), a character no host name has (named, at its column).
"""

from __future__ import annotations

import ipaddress
import string
from dataclasses import dataclass

from .characters import TextProblem, describe

_HOST_CHARS = frozenset(string.ascii_letters + string.digits + ".-_")
MAX_HOST_LENGTH = 253  # DNS: a name of at most 253 characters, labels of at most 63
MAX_LABEL_LENGTH = 63
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # listen on every interface


@dataclass(frozen=True)
class HostPort:
    host: str  # an IPv6 address without its brackets
    port: int

    @property
    def wildcard(self) -> bool:
        return self.host in WILDCARD_HOSTS

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _bad(subject: str, problem: str, index: int | None = None) -> TextProblem:
    return TextProblem("address", subject, problem, index)


def parse_host_port(text: str) -> HostPort:
    subject = f"address {text!r}"
    if "://" in text:
        raise _bad(subject, ": remove the scheme and write host:port (the protocol is set by "
                          "`security.protocol`), e.g. kafka-1.internal:9092")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise _bad(subject, ": the IPv6 address has no closing ']'; add it: [address]:port, e.g. [::1]:9092")
        host, rest = text[1:close], text[close + 1 :]
        if not rest.startswith(":"):
            raise _bad(subject, ": add the port after the ']', e.g. [::1]:9092")
        port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad(subject, f": {host!r} in brackets is not an IPv6 address; fix the address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise _bad(subject, " has no port: add it (host:port, e.g. kafka-1.internal:9092)")
        if ":" in host:
            raise _bad(subject, ": an IPv6 address goes in brackets, e.g. [::1]:9092; add them")
        _check_host(host, subject)
    if not port:
        raise _bad(subject, " has no port after ':'; add the port, e.g. :9092")
    if not (port.isascii() and port.isdigit()):
        raise _bad(subject, f": the port {port!r} is not a number; use a port number (1-65535)")
    number = int(port)
    if not 1 <= number <= 65535:
        raise _bad(subject, f": port {number} is outside 1-65535; use the port the server listens on")
    return HostPort(host.lower(), number)


def _check_host(host: str, subject: str) -> None:
    if not host:
        raise _bad(subject, " has no host before ':'; add it (host:port, e.g. kafka-1.internal:9092)")
    for i, ch in enumerate(host):
        if ch not in _HOST_CHARS:
            raise _bad(subject, f": {describe(ch)}{{where}} is not allowed in a host name (letters, digits, "
                              "'.', '-' and '_'); fix the host", i)
    if all(ch.isdigit() or ch == "." for ch in host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _bad(subject, f": {host!r} is not an IPv4 address; fix the address") from None
        return
    if len(host) > MAX_HOST_LENGTH:
        raise _bad(subject, f": the host name is {len(host)} characters long, more than DNS allows "
                          f"({MAX_HOST_LENGTH}); use a shorter name")
    labels = host.removesuffix(".").split(".")
    for label in labels:
        if not label:
            raise _bad(subject, ": the host name has an empty part (two dots, or a leading dot); "
                              "remove the extra '.'")
        if len(label) > MAX_LABEL_LENGTH:
            raise _bad(subject, f": the host name part {label[:20]!r}… is longer than DNS allows "
                              f"({MAX_LABEL_LENGTH} characters); use a shorter name")
        if label.startswith("-") or label.endswith("-"):
            raise _bad(subject, f": the host name part {label!r} starts or ends with '-', which DNS "
                              "does not allow; fix the host")


def check_host_port(text: str) -> str:
    parse_host_port(text)
    return text
