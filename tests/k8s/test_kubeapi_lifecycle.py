"""KubeApiServer's own lifecycle: a server that fails to start says why and leaves nothing running;
a stopped server leaves no process behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.errors import ServiceError
from sandbox.kubeapi import KubeApiServer, kubeconfig_text

pytestmark = pytest.mark.k8s


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not Path(f"/proc/{pid}").exists()


def test_an_api_server_that_dies_at_start_is_reported_and_its_etcd_stopped(tmp_path: Path) -> None:
    fake = tmp_path / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'Error: unknown flag: --no-such-flag' >&2\nexit 1\n")
    fake.chmod(0o755)
    server = KubeApiServer(tmp_path / "work", apiserver=fake)
    with pytest.raises(ServiceError) as failed:
        server.start(timeout=60)
    message = str(failed.value)
    assert "kube-apiserver exited with code 1 while starting" in message
    assert "unknown flag: --no-such-flag" in message
    assert not server.is_running
    # etcd was started for real before the API server failed; nothing is left listening.
    assert (tmp_path / "work" / "etcd").is_dir()
    etcd_pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _runs(p, tmp_path)]
    assert etcd_pids == []


def _runs(proc: Path, work: Path) -> bool:
    try:
        return str(work) in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_a_stopped_server_leaves_no_process(tmp_path: Path) -> None:
    # A server of its own (beside the session's, if one runs), so stopping it takes nothing else down.
    server = KubeApiServer(tmp_path / "own")
    server.start()
    pids = server.pids
    assert len(pids) == 2 and server.is_running
    status, _ = server.client().request("GET", "/readyz")
    assert status == 200
    server.stop()
    assert all(gone(pid) for pid in pids)
    server.stop()  # twice is fine


def test_the_kubeconfig_names_the_server_ca_and_token_file(tmp_path: Path) -> None:
    text = kubeconfig_text("https://127.0.0.1:6443", tmp_path / "ca.crt", tmp_path / "token")
    assert 'server: "https://127.0.0.1:6443"' in text
    assert f'certificate-authority: "{tmp_path / "ca.crt"}"' in text
    assert f'tokenFile: "{tmp_path / "token"}"' in text
    assert text.endswith("current-context: ferry-test\n")


def test_building_the_binaries_does_not_count_against_the_start_timeout(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fresh machine `start()` first builds etcd and kube-apiserver (minutes, once); the start
    timeout is for the servers. Here the build is made to look an hour long on the module's clock."""
    from sandbox import gotools, kubeapi

    skew = [0.0]
    real_ensure = gotools.ensure_tool

    def slow_ensure(name: str) -> Path:
        skew[0] += 3600.0
        return real_ensure(name)

    clock = type("Clock", (), {"monotonic": staticmethod(lambda: time.monotonic() + skew[0]),
                                "sleep": staticmethod(time.sleep)})
    monkeypatch.setattr(kubeapi, "time", clock)
    monkeypatch.setattr(gotools, "ensure_tool", slow_ensure)
    server = KubeApiServer(tmp_path / "slow-build")
    try:
        server.start(timeout=120)
        assert server.is_running and skew[0] == 7200.0
    finally:
        server.stop()
