"""proxy.session as transcripts: events in, commands out, no sockets.

The route table is the shipped example (rendered/proxy/gw-service.routes.json): `governed`
and `legacy-service` with three bootstrap servers each, a fence rule for `billing.ledger.*`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.explain import explain
from compiler.org import Org, build_org
from compiler.validate import validate_specs
from proxy.apiversions import api_versions_answer
from proxy.errors import ProtocolErrorCause as Cause
from proxy.routetable import Endpoint, RouteTable, build_table, parse_route_file
from proxy.session import (
    HTTP_REFUSAL,
    Address,
    ClientData,
    ClientEof,
    Close,
    Dial,
    FirstFrameTimedOut,
    Hold,
    HoldOver,
    Outcome,
    Phase,
    PipeClosed,
    SendClient,
    SendUpstream,
    Session,
    StartPipe,
    Terminated,
    UpstreamConnected,
    UpstreamFailed,
    parse_address,
)
from proxy_playbook import Playbook
from tests.tools.kafka_frames import encode_api_versions_request, encode_frame, encode_request_header

REPO = Path(__file__).resolve().parents[2]
ROUTES = REPO / "rendered" / "proxy"
SERVICE = parse_route_file((ROUTES / "gw-service.routes.json").read_text(), "gw-service")

GOV1 = Address("kafka-1.governed.internal", 9094)
GOV2 = Address("kafka-2.governed.internal", 9094)
GOV3 = Address("kafka-3.governed.internal", 9094)
LEG1 = Address("kafka-service-1.legacy.internal", 9092)

MAILER = "billing.invoice-mailer.7f9c4"


def frame(client_id: str | None, version: int = 3, correlation_id: int = 1) -> bytes:
    return encode_api_versions_request(version, correlation_id, client_id)


def session(**kwargs: Any) -> Session:
    return Session(SERVICE, **kwargs)


# ------------------------------------------------------------------------------------------
# The happy paths.


def test_a_matching_rule_routes_to_its_cluster_and_forwards_the_frame_verbatim() -> None:
    s = session()
    f = frame(MAILER)
    assert (
        Playbook(s)
        >> ClientData(f)
        << Dial("governed", GOV1, False, 1, 3)
        >> UpstreamConnected(GOV1)
        << SendUpstream(f)
        << StartPipe()
        >> PipeClosed()
        << Close(Outcome.FORWARDED)
    )
    assert s.history == [Phase.AWAITING_FIRST_FRAME, Phase.ROUTED, Phase.CONNECTING, Phase.FORWARDING, Phase.CLOSED]
    assert s.decision is not None and s.decision.rule is not None
    assert s.decision.rule.match == "billing.invoice-mailer.*"
    assert (s.client_id, s.cluster, s.upstream) == (MAILER, "governed", GOV1)


def test_an_unmatched_client_id_goes_to_the_default_cluster() -> None:
    s = session()
    assert Playbook(s) >> ClientData(frame("some-old-service")) << Dial("legacy-service", LEG1, False, 1, 3)
    assert s.decision is not None
    assert s.decision.rule is None and s.decision.rule_name == "default"


def test_a_null_client_id_goes_to_the_default_cluster() -> None:
    s = session()
    assert Playbook(s) >> ClientData(frame(None)) << Dial("legacy-service", LEG1, False, 1, 3)


FENCE_DETAIL = "fenced by rule #19 `billing.ledger.*` (consumer group billing-ledger, migration billing/invoices)"


def test_a_fence_rule_holds_the_connection_without_dialling_then_closes_it() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame("billing.ledger.0"))
        << SendClient(api_versions_answer(3, 1))  # answered as a broker would, then silence
        << Hold()
        >> ClientData(frame("billing.ledger.0", correlation_id=2))  # a retry: read and discarded
        >> FirstFrameTimedOut()  # the shell stopped that timer; a late one changes nothing
        >> HoldOver("closed after the 30 s hold")
        << Close(Outcome.FENCED, f"{FENCE_DETAIL}; closed after the 30 s hold")
    )
    assert s.history == [Phase.AWAITING_FIRST_FRAME, Phase.HELD, Phase.CLOSED]
    assert s.handle(UpstreamConnected(GOV1)) == []  # a closed session ignores late events


def test_a_fenced_client_that_leaves_during_the_hold_is_still_fenced() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame("billing.ledger.0", version=0, correlation_id=9))
        << SendClient(api_versions_answer(0, 9))
        << Hold()
        >> ClientEof()
        << Close(Outcome.FENCED, f"{FENCE_DETAIL}; the client left during the hold")
    )


def test_a_fenced_first_request_other_than_api_versions_gets_no_answer() -> None:
    s = session()
    metadata = encode_frame(encode_request_header(3, 1, 5, "billing.ledger.0") + struct.pack(">i", -1))
    assert Playbook(s) >> ClientData(metadata) << Hold()


def test_hold_over_outside_a_hold_is_a_bug_of_the_shell() -> None:
    s = session()
    s.handle(ClientData(frame(MAILER)))
    with pytest.raises(RuntimeError, match="HoldOver in phase"):
        s.handle(HoldOver("x"))


@pytest.mark.parametrize("raw", [b"billing.ledger.\xff", b"\xff\xfe", b"billing.invoice-mailer.\xc3"])
def test_a_client_id_that_is_not_utf8_matches_no_rule_and_goes_to_the_default(raw: bytes) -> None:
    """Even where its escaped text (`billing.ledger.\\xff`) would match a rule's glob."""
    s = session()
    f = encode_frame(encode_request_header(18, 0, 1, None)[:-2] + struct.pack(">h", len(raw)) + raw)
    assert Playbook(s) >> ClientData(f) << Dial("legacy-service", LEG1, False, 1, 3)
    assert s.frame is not None and s.frame.client_id_utf8 is False
    assert s.client_id == raw.decode("utf-8", "backslashreplace")
    assert s.decision is not None and s.decision.rule is None


def test_the_frame_arrives_one_byte_at_a_time() -> None:
    s = session()
    f = frame(MAILER)
    book = Playbook(s)
    for i in range(len(f) - 1):
        book = book >> ClientData(f[i : i + 1])
    assert book >> ClientData(f[-1:]) << Dial("governed", GOV1, False, 1, 3)


def test_pipelined_bytes_behind_the_first_frame_go_upstream_with_it() -> None:
    s = session()
    f, nxt, later = frame(MAILER), frame(MAILER, correlation_id=2), frame(MAILER, correlation_id=3)
    assert (
        Playbook(s)
        >> ClientData(f + nxt[:5])
        << Dial("governed", GOV1, False, 1, 3)
        >> ClientData(nxt[5:] + later)  # arrived while dialling
        >> UpstreamConnected(GOV1)
        << SendUpstream(f + nxt + later)
        << StartPipe()
    )


def test_every_api_versions_version_and_a_metadata_first_request_route() -> None:
    for version in range(5):
        s = session()
        assert s.handle(ClientData(frame(MAILER, version))) == [Dial("governed", GOV1, False, 1, 3)]
    metadata_v4 = encode_frame(encode_request_header(3, 4, 7, MAILER) + b"\xff\xff\xff\xff\x00")
    assert session().handle(ClientData(metadata_v4)) == [Dial("governed", GOV1, False, 1, 3)]


# ------------------------------------------------------------------------------------------
# Failover.


def test_failover_tries_each_bootstrap_server_in_file_order() -> None:
    s = session()
    f = frame(MAILER)
    assert (
        Playbook(s)
        >> ClientData(f)
        << Dial("governed", GOV1, False, 1, 3)
        >> UpstreamFailed(GOV1, "refused")
        << Dial("governed", GOV2, False, 2, 3)
        >> UpstreamFailed(GOV2, "timeout")
        << Dial("governed", GOV3, False, 3, 3)
        >> UpstreamConnected(GOV3)
        << SendUpstream(f)
        << StartPipe()
    )
    assert s.upstream == GOV3
    assert s.failures == [(GOV1, "refused"), (GOV2, "timeout")]


def test_a_whole_cluster_down_closes_cleanly() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame(MAILER))
        << Dial("governed", GOV1, False, 1, 3)
        >> UpstreamFailed(GOV1, "refused")
        << Dial("governed", GOV2, False, 2, 3)
        >> UpstreamFailed(GOV2, "refused")
        << Dial("governed", GOV3, False, 3, 3)
        >> UpstreamFailed(GOV3, "timeout")
        << Close(
            Outcome.UPSTREAM_UNAVAILABLE,
            "no bootstrap server of cluster governed accepted a connection: "
            "kafka-1.governed.internal:9094 (refused), kafka-2.governed.internal:9094 (refused), "
            "kafka-3.governed.internal:9094 (timeout)",
        )
    )


def test_the_client_leaving_while_dialling_closes() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame(MAILER))
        << Dial("governed", GOV1, False, 1, 3)
        >> ClientEof()
        << Close(Outcome.CLIENT_CLOSED, "client closed during connecting")
    )


def test_a_tls_cluster_is_dialled_with_tls() -> None:
    clusters = {**SERVICE.clusters, "governed": replace(SERVICE.clusters["governed"], tls=True)}
    table = build_table(SERVICE.gateway, SERVICE.listen, SERVICE.default_cluster, clusters, SERVICE.rules)
    assert Session(table).handle(ClientData(frame(MAILER))) == [Dial("governed", GOV1, True, 1, 3)]


# ------------------------------------------------------------------------------------------
# Bad input: each ends in one Close with a bounded outcome and cause.


def _refused(data: bytes) -> Close:
    s = session()
    out = s.handle(ClientData(data))
    assert s.phase is Phase.CLOSED and s.upstream is None
    assert not any(isinstance(c, Dial) for c in out)
    assert isinstance(out[-1], Close)
    return out[-1]


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (struct.pack(">i", -1) + b"\x00" * 20, Cause.NEGATIVE_LENGTH),
        (struct.pack(">i", 2**31 - 1), Cause.OVERSIZED),  # 2 GiB, refused from the size field alone
        (b"\x00\x00\x00\x02ab", Cause.UNDERSIZED),
        (b"\x00\x00\x00\x20\x7f\x7f\x00\x00", Cause.UNKNOWN_API_KEY),
        (bytes(range(0x41, 0x61)), Cause.OVERSIZED),  # printable garbage is a huge length
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Cause.TLS),
        (b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", Cause.PROXY_PROTOCOL),
    ],
    ids=lambda v: v.value if isinstance(v, Cause) else None,
)
def test_malformed_first_bytes_close_with_their_cause(data: bytes, cause: Cause) -> None:
    close = _refused(data)
    assert (close.outcome, close.cause) == (Outcome.MALFORMED, cause)
    assert close.detail  # the codec's operator-facing explanation


def test_http_on_the_kafka_port_gets_a_readable_400_then_close() -> None:
    s = session()
    out = s.handle(ClientData(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert out[0] == SendClient(HTTP_REFUSAL)
    assert isinstance(out[1], Close)
    assert (out[1].outcome, out[1].cause) == (Outcome.MALFORMED, Cause.HTTP)
    assert HTTP_REFUSAL.startswith(b"HTTP/1.1 400 ")


def test_a_truncated_frame_waits_then_times_out() -> None:
    f = frame(MAILER)
    s = session()
    assert (
        Playbook(s)
        >> ClientData(f[:-3])
        >> FirstFrameTimedOut()
        << Close(Outcome.FIRST_FRAME_TIMEOUT, f"no complete first request in time ({len(f) - 3} bytes received)")
    )


def test_a_truncated_frame_then_eof_is_client_closed() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame(MAILER)[:10])
        >> ClientEof()
        << Close(Outcome.CLIENT_CLOSED, "client closed during awaiting_first_frame")
    )


def test_a_silent_client_times_out() -> None:
    assert Playbook(session()) >> FirstFrameTimedOut() << Close(
        Outcome.FIRST_FRAME_TIMEOUT, "no complete first request in time (0 bytes received)"
    )


def test_the_first_frame_bound_is_the_sessions_setting() -> None:
    big = encode_frame(encode_request_header(18, 3, 1, MAILER) + b"\x00" * 5000)
    small = Session(SERVICE, max_first_frame_size=1000)
    out = small.handle(ClientData(big[:4]))
    assert isinstance(out[-1], Close)
    assert out[-1].cause is Cause.OVERSIZED
    assert Session(SERVICE, max_first_frame_size=6000).handle(ClientData(big[:4])) == []


def test_drain_deadline_before_a_pipe_exists() -> None:
    s = session()
    assert (
        Playbook(s)
        >> ClientData(frame(MAILER))
        << Dial("governed", GOV1, False, 1, 3)
        >> Terminated(Outcome.SHUTDOWN, "drain over")
        << Close(Outcome.SHUTDOWN, "drain over")
    )


def test_events_out_of_phase_are_bugs_not_silence() -> None:
    with pytest.raises(RuntimeError):
        session().handle(UpstreamConnected(GOV1))
    with pytest.raises(RuntimeError):
        session().handle(PipeClosed())
    s = session()
    s.handle(ClientData(frame(MAILER)))
    s.handle(UpstreamConnected(GOV1))
    with pytest.raises(RuntimeError):
        s.handle(ClientData(b"x"))  # pipe bytes never reach the session


# ------------------------------------------------------------------------------------------
# Addresses.


@pytest.mark.parametrize(
    ("text", "address"),
    [("kafka-1:9092", Address("kafka-1", 9092)), ("127.0.0.1:1", Address("127.0.0.1", 1)),
     ("[::1]:9093", Address("::1", 9093))],
)
def test_parse_address(text: str, address: Address) -> None:
    assert parse_address(text) == address
    assert str(address) == text


@pytest.mark.parametrize("text", ["kafka", "kafka:", ":9092", "kafka:0", "kafka:65536", "::1:9092", "[::1]9092"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_address(text)


def test_port_zero_only_when_allowed() -> None:
    assert parse_address("127.0.0.1:0", allow_port_zero=True) == Address("127.0.0.1", 0)


def test_a_bad_bootstrap_entry_is_skipped_like_a_failed_dial() -> None:
    table = build_table("gw", "0.0.0.0:9092", "c", {"c": Endpoint(bootstrap=("nonsense", "good:9092"))}, [])
    s = Session(table)
    assert s.handle(ClientData(frame("x"))) == [Dial("c", Address("good", 9092), False, 2, 2)]


# ------------------------------------------------------------------------------------------
# Properties over client ids.

_SERVICE_PATTERNS = [r.match for r in SERVICE.rules]
client_ids = st.one_of(
    st.text(max_size=40),
    st.builds(lambda p, fill: p.replace("*", fill), st.sampled_from(_SERVICE_PATTERNS), st.text(max_size=12)),
)


@settings(max_examples=300, deadline=None)
@given(client_id=client_ids)
def test_the_proxy_only_ever_dials_what_the_route_file_names(client_id: str) -> None:
    s = session()
    out = s.handle(ClientData(frame(client_id)))
    decision = SERVICE.decide(client_id)
    dials: list[Dial] = [c for c in out if isinstance(c, Dial)]
    while dials:
        d = dials[-1]
        assert d.cluster == decision.cluster
        assert str(d.address) in SERVICE.clusters[decision.cluster].bootstrap
        out = s.handle(UpstreamFailed(d.address, "refused"))
        dials = [c for c in out if isinstance(c, Dial)]
    if decision.action == "fence":
        assert s.phase is Phase.HELD and out == [SendClient(api_versions_answer(3, 1)), Hold()]
        return
    assert s.phase is Phase.CLOSED
    assert s.outcome is Outcome.UPSTREAM_UNAVAILABLE


# ------------------------------------------------------------------------------------------
# `ferry explain` and the proxy agree, on both example gateways.


@pytest.fixture(scope="module")
def org() -> Org:
    result = validate_specs(REPO / "specs")
    assert result.ok
    assert result.specs is not None
    return build_org(result.specs)


def _ids_for(table: RouteTable) -> list[str]:
    ids = ["", "x", "unknown.service.1", "billing", "billing.", "ads.", "notifications.api"]
    for rule in table.rules:
        ids += [rule.match.replace("*", fill) for fill in ("", "0", "7f9c4", "a.b.c", "*")]
        ids.append(rule.match.replace("*", "").rstrip(".") + "-other.1")
    return ids


@pytest.mark.parametrize("gateway", ["gw-service", "gw-ads"])
def test_ferry_explain_and_the_proxy_agree_on_every_client_id(org: Org, gateway: str) -> None:
    rendered = parse_route_file((ROUTES / f"{gateway}.routes.json").read_text(), gateway)
    compiled = next(g.table for g in org.gateways if g.table.gateway == gateway)
    assert rendered.version == compiled.version  # the committed file is what the specs render
    for client_id in _ids_for(rendered):
        s = Session(rendered)
        out = s.handle(ClientData(frame(client_id)))
        (line,) = explain(org, client_id, gateway)
        decision = s.decision
        assert decision is not None
        if s.phase is Phase.HELD:
            assert "REFUSED (fence)" in line, (client_id, line)
            assert decision.rule is not None and decision.index is not None
            assert f"rule #{decision.index + 1} `{decision.rule.match}`" in line
        elif decision.rule is None:
            assert f"matches no rule -> default cluster {s.cluster} " in line, (client_id, line)
        else:
            assert decision.index is not None
            assert f"rule #{decision.index + 1} `{decision.rule.match}`" in line, (client_id, line)
            assert f"-> cluster {s.cluster} " in line
            assert s.cluster is not None
            first = rendered.clusters[s.cluster].bootstrap[0]
            assert out == [Dial(s.cluster, parse_address(first), False, 1, len(rendered.clusters[s.cluster].bootstrap))]
