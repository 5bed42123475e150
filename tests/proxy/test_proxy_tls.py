"""TLS: termination on the listener (cert and key from files), and TLS towards a cluster whose
route entry says ``tls: true``.

The sandbox clusters speak plaintext, so the TLS cluster in the second test is a second proxy
with a TLS listener in front of the real legacy cluster: client -(plain)-> proxy B -(TLS)->
proxy A -(plain)-> Kafka. That exercises both ends of the feature with a real broker behind.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy_clusters import Cluster
from proxy_harness import RunningProxy, make_table, write_routes
from tests.tools.kafka_frames import encode_api_versions_request
from tests.tools.probe import probe

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl (Debian's openssl package) is needed to make test certificates"
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


def _client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture
def tls_proxy(
    tmp_path: Path, kafka: dict[str, Cluster], certificate: tuple[Path, Path]
) -> Iterator[RunningProxy]:
    cert, key = certificate
    path = tmp_path / "tls.routes.json"
    write_routes(path, make_table({"legacy": [kafka["legacy"].bootstrap]}, default="legacy", gateway="gw-tls"))
    with RunningProxy(path, config_overrides={"tls_cert": cert, "tls_key": key}) as p:
        yield p


def test_tls_is_terminated_on_the_listener(
    tls_proxy: RunningProxy, kafka: dict[str, Cluster], certificate: tuple[Path, Path]
) -> None:
    result = probe(tls_proxy.address, "tls.client", tls=_client_context(certificate[0]), server_hostname="localhost")
    assert result.cluster_id == kafka["legacy"].cluster_id
    tls_proxy.wait_for(lambda: bool(tls_proxy.records))
    assert tls_proxy.records[0]["client_id"] == "tls.client"
    assert tls_proxy.records[0]["outcome"] == "forwarded"


def test_plain_kafka_on_the_tls_listener_fails_the_handshake_and_others_continue(
    tls_proxy: RunningProxy, kafka: dict[str, Cluster], certificate: tuple[Path, Path]
) -> None:
    with socket.create_connection(tls_proxy.address, timeout=5) as s:
        s.sendall(encode_api_versions_request(3, 1, "plain.client"))
        try:
            answer = s.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b"" or answer[0] == 0x15  # closed, or a TLS alert record
    assert probe(tls_proxy.address, "ok", tls=_client_context(certificate[0])).cluster_id == kafka["legacy"].cluster_id


def test_tls_towards_a_cluster_that_says_tls(
    tmp_path: Path, tls_proxy: RunningProxy, kafka: dict[str, Cluster], certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    path = tmp_path / "front.routes.json"
    # proxy B sees proxy A as cluster "secure" with tls: true
    write_routes(path, make_table({"secure": [tls_proxy.bootstrap]}, default="secure", tls=["secure"]))
    with RunningProxy(path, config_overrides={"upstream_ca": cert}) as front:
        assert probe(front.address, "through.two").cluster_id == kafka["legacy"].cluster_id
        front.wait_for(lambda: bool(front.records))
    assert front.records[0]["upstream"] == tls_proxy.bootstrap
    tls_proxy.wait_for(lambda: bool(tls_proxy.records))
    assert tls_proxy.records[0]["client_id"] == "through.two"


def test_an_untrusted_cluster_certificate_is_a_failed_dial(tmp_path: Path, tls_proxy: RunningProxy) -> None:
    path = tmp_path / "front.routes.json"
    write_routes(path, make_table({"secure": [tls_proxy.bootstrap]}, default="secure", tls=["secure"]))
    with RunningProxy(path) as front:  # system CAs only: our self-signed cert is not trusted
        with socket.create_connection(front.address, timeout=5) as s:
            s.sendall(encode_api_versions_request(3, 1, "x"))
            assert s.recv(10) == b""
        front.wait_for(lambda: bool(front.records))
    assert front.metrics.value("ferry_proxy_upstream_connect_failures_total", cluster="secure", reason="tls") == 1
    assert front.records[0]["outcome"] == "upstream_unavailable"
