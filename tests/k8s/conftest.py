"""A real Kubernetes API server for the session: etcd and kube-apiserver built from their Go modules
(``sandbox.gotools``, cached under ``~/.cache/ferry/bin``), started on loopback once, with the Argo CD
and Strimzi CRDs of ``kube/crds/`` (upstream, unmodified) installed and Established before any test runs.

The first run on a machine builds the binaries (tens of minutes on 2 cores, docs/deploy.md); later
runs start the server in seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the directory's helper modules (k8s_summary)
    sys.path.insert(0, str(HERE))

from k8s_summary import Summary  # noqa: E402
from sandbox import gotools  # noqa: E402
from sandbox.kubeapi import KubeApiServer, KubeClient, shared_crd_files  # noqa: E402


@pytest.fixture(scope="session")
def summary(request: pytest.FixtureRequest) -> Summary:
    plugin = Summary()
    request.config.pluginmanager.register(plugin, "ferry-k8s-summary")
    return plugin


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    server = KubeApiServer(tmp_path_factory.mktemp("kubeapi"))
    server.start()
    try:
        server.client().install_crds(shared_crd_files())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube(kube_api: KubeApiServer) -> KubeClient:
    return kube_api.client()


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    return gotools.ensure_tool("helm")
