"""The real API server the Kubernetes tests validate against: it starts, serves the Argo CD and Strimzi
CRDs, accepts well-formed objects of each kind Ferry will render, and refuses broken ones with its
own message. helm, built from its module, lints and templates a chart whose output the server
accepts."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox import gotools
from sandbox.kubeapi import (
    KubeApiRejected,
    KubeApiServer,
    KubeClient,
    condition_status,
    shared_crd_files,
    yaml_documents,
)

pytestmark = pytest.mark.k8s

APPLICATION: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "ferry-proxy-orders", "namespace": "argocd"},
    "spec": {
        "project": "ferry",
        "source": {
            "repoURL": "https://git.example.com/platform/ferry.git",
            "targetRevision": "main",
            "path": "charts/ferry-proxy",
            "helm": {
                "valueFiles": ["../../rendered/helm/proxy-orders.values.yaml"],
                "fileParameters": [{"name": "routes", "path": "rendered/proxy/orders.routes.json"}],
            },
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "kafka-gateway"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["ServerSideApply=true"],
        },
    },
}

APPPROJECT: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "ferry", "namespace": "argocd"},
    "spec": {
        "sourceRepos": ["https://git.example.com/platform/ferry.git"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "kafka-gateway"}],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [{"group": "apps", "kind": "Deployment"}],
    },
}
MIRRORMAKER2: dict[str, Any] = {
    "apiVersion": "kafka.strimzi.io/v1",
    "kind": "KafkaMirrorMaker2",
    "metadata": {"name": "legacy-to-target", "namespace": "default"},
    "spec": {
        "replicas": 1,
        "target": {
            "alias": "target",
            "bootstrapServers": "target-kafka-bootstrap:9092",
            "groupId": "ferry-mm2-legacy-to-target",
            "configStorageTopic": "ferry-mm2-configs",
            "statusStorageTopic": "ferry-mm2-status",
            "offsetStorageTopic": "ferry-mm2-offsets",
            "authentication": {
                "type": "scram-sha-512",
                "username": "ferry-mm2",
                "passwordSecret": {"secretName": "ferry-mm2", "password": "password"},
            },
        },
        "mirrors": [
            {
                "source": {"alias": "legacy", "bootstrapServers": "legacy-kafka:9092"},
                "sourceConnector": {"config": {"replication.policy.class": "dev.ferry.RenamePolicy"}},
                "checkpointConnector": {"config": {"replication.policy.class": "dev.ferry.RenamePolicy"}},
                "topicsPattern": "orders\\..*",
            }
        ],
    },
}

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "ferry-proxy", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "ferry-proxy"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "ferry-proxy"}},
            "spec": {
                "containers": [
                    {
                        "name": "proxy",
                        "image": "ghcr.io/example/ferry-proxy:0.1.0",
                        "args": ["--routes", "/etc/ferry/routes/routes.json"],
                        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True},
                    }
                ]
            },
        },
    },
}

# The other kinds the charts create, each as small as the server accepts.
CONFIGMAP: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "ferry-routes", "namespace": "default"},
                             "data": {"gw.routes.json": "{}"}}
SERVICE: dict[str, Any] = {"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "ferry-proxy", "namespace": "default"},
                           "spec": {"selector": {"app": "ferry-proxy"}, "ports": [{"name": "kafka", "port": 9092}]}}
SERVICEACCOUNT: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                                  "metadata": {"name": "ferry-proxy", "namespace": "default"},
                                  "automountServiceAccountToken": False}
PDB: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                       "metadata": {"name": "ferry-proxy", "namespace": "default"},
                       "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "ferry-proxy"}}}}
NETWORKPOLICY: dict[str, Any] = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                 "metadata": {"name": "ferry-proxy", "namespace": "default"},
                                 "spec": {"podSelector": {"matchLabels": {"app": "ferry-proxy"}},
                                          "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 9092}]}]}}
VALID = {"AppProject": APPPROJECT, "Application": APPLICATION, "KafkaMirrorMaker2": MIRRORMAKER2,
         "Deployment": DEPLOYMENT, "ConfigMap": CONFIGMAP, "Service": SERVICE, "ServiceAccount": SERVICEACCOUNT,
         "PodDisruptionBudget": PDB, "NetworkPolicy": NETWORKPOLICY}


def broken(obj: dict[str, Any], path: list[str | int], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    """A copy of ``obj`` with the field at ``path`` set to ``value`` (or removed)."""
    copied = copy.deepcopy(obj)
    parent: Any = copied
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


# (kind, what is broken, the object, what the server's message must say)
BROKEN = [
    ("Application", "required field missing", broken(APPLICATION, ["spec", "destination"], delete=True),
     ["spec.destination", "Required value"]),
    ("Application", "wrong type", broken(APPLICATION, ["spec", "project"], 7), ["spec.project", "expected string"]),
    ("Application", "unknown field", broken(APPLICATION, ["spec", "syncPolicy", "automatic"], {"prune": True}),
     [".spec.syncPolicy.automatic: field not declared in schema"]),
    ("AppProject", "required field missing",
     broken(APPPROJECT, ["spec", "namespaceResourceWhitelist", 0, "kind"], delete=True),
     ["spec.namespaceResourceWhitelist[0].kind", "Required value"]),
    ("AppProject", "wrong type", broken(APPPROJECT, ["spec", "sourceRepos"], "https://git.example.com/x.git"),
     [".spec.sourceRepos: expected list"]),
    ("AppProject", "unknown field", broken(APPPROJECT, ["spec", "destination"], {"namespace": "x"}),
     [".spec.destination: field not declared in schema"]),
    ("KafkaMirrorMaker2", "required field missing", broken(MIRRORMAKER2, ["spec", "target", "groupId"], delete=True),
     ["spec.target.groupId", "Required value"]),
    ("KafkaMirrorMaker2", "wrong type", broken(MIRRORMAKER2, ["spec", "replicas"], "two"),
     [".spec.replicas: expected numeric"]),
    ("KafkaMirrorMaker2", "unknown field", broken(MIRRORMAKER2, ["spec", "mirrors", 0, "topicPattern"], "orders"),
     [".spec.mirrors[0].topicPattern: field not declared in schema"]),
    ("ConfigMap", "wrong type", broken(CONFIGMAP, ["data", "gw.routes.json"], 7),
     [".data.gw.routes.json: expected string"]),
    ("Service", "required field missing", broken(SERVICE, ["spec", "ports", 0, "port"], delete=True),
     ["spec.ports[0].port: Invalid value: 0"]),
    ("ServiceAccount", "unknown field", broken(SERVICEACCOUNT, ["automountToken"], False),
     [".automountToken: field not declared in schema"]),
    ("PodDisruptionBudget", "conflicting fields", broken(PDB, ["spec", "minAvailable"], 1),
     ["minAvailable and maxUnavailable cannot be both set"]),
    ("NetworkPolicy", "invalid value", broken(NETWORKPOLICY, ["spec", "policyTypes"], ["Sideways"]),
     ['spec.policyTypes[0]: Unsupported value: "Sideways"']),
    ("Deployment", "required field missing", broken(DEPLOYMENT, ["spec", "selector"], delete=True),
     ["spec.selector", "Required value"]),
    ("Deployment", "wrong type", broken(DEPLOYMENT, ["spec", "replicas"], "two"), [".spec.replicas: expected numeric"]),
    ("Deployment", "unknown field",
     broken(DEPLOYMENT, ["spec", "template", "spec", "containers", 0, "imagePullPolicyy"], "Always"),
     ['.spec.template.spec.containers[name="proxy"].imagePullPolicyy: field not declared in schema']),
]


@pytest.fixture(scope="module")
def namespaces(kube: KubeClient) -> None:
    """The namespace the Application lives in exists for real (admission refuses a missing one)."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})


def test_server_is_ready_and_is_the_pinned_release(kube_api: KubeApiServer, kube: KubeClient) -> None:
    status, _ = kube.request("GET", "/readyz")
    assert status == 200
    status, version = kube.request("GET", "/version")
    pinned = gotools.tool_version(gotools.TOOLS["kube-apiserver"])
    assert status == 200 and version["gitVersion"] == pinned, version
    assert kube_api.kubeconfig.is_file() and kube_api.url in kube_api.kubeconfig.read_text()


def test_every_shared_crd_is_established(kube: KubeClient) -> None:
    crds = [doc for path in shared_crd_files() for doc in yaml_documents(path)]
    assert len(crds) == 6
    for crd in crds:
        served = kube.get(crd)
        assert served is not None, crd["metadata"]["name"]
        assert condition_status(served, "Established") == "True", served.get("status")
    for api_version, kind in [
        ("argoproj.io/v1alpha1", "Application"),
        ("argoproj.io/v1alpha1", "ApplicationSet"),
        ("argoproj.io/v1alpha1", "AppProject"),
        ("kafka.strimzi.io/v1", "KafkaMirrorMaker2"),
        ("kafka.strimzi.io/v1", "KafkaConnect"),
        ("kafka.strimzi.io/v1", "KafkaConnector"),
    ]:
        plural, namespaced = kube.resource_of(api_version, kind)
        assert namespaced and plural == kind.lower() + ("es" if kind.endswith("s") else "s")


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_object_is_accepted_and_a_dry_run_stores_nothing(kube: KubeClient, kind: str) -> None:
    obj = VALID[kind]
    answer = kube.apply(obj, dry_run=True)
    assert answer["kind"] == kind and answer["metadata"]["name"] == obj["metadata"]["name"]
    # Defaults were filled in by the server, so it really processed the object...
    assert answer["metadata"].get("managedFields"), answer["metadata"]
    # ...and dryRun=All left nothing behind.
    assert kube.get(obj) is None


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize(
    ("kind", "breakage", "obj", "expected"), BROKEN, ids=[f"{k}-{b.replace(' ', '-')}" for k, b, _, _ in BROKEN]
)
def test_a_broken_object_is_rejected_with_the_servers_message(
    kube: KubeClient, kind: str, breakage: str, obj: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(KubeApiRejected) as rejected:
        kube.apply(obj, dry_run=True)
    message = rejected.value.message
    # 422 Invalid from validation; 500 from server-side apply's schema check (see TYPED_PATCH_FAILURE).
    assert rejected.value.code in (400, 422, 500), rejected.value
    for fragment in expected:
        assert fragment in message, f"{kind} ({breakage}): {message}"


# ---- helm


def helm(binary: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """helm with its cache, config and data kept in ``home`` (never the user's ~/.config/helm)."""
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=120)


def tiny_chart(root: Path) -> Path:
    chart = root / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello\nreplicas: 1\n")
    schema = {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {"greeting": {"type": "string"}, "replicas": {"type": "integer", "minimum": 0}},
    }
    (chart / "values.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: {{ .Release.Name }}-greeting\n"
        "  labels:\n"
        "    app.kubernetes.io/name: {{ .Chart.Name }}\n"
        "    app.kubernetes.io/instance: {{ .Release.Name }}\n"
        "data:\n"
        "  greeting: {{ .Values.greeting | quote }}\n"
        "  replicas: {{ .Values.replicas | quote }}\n"
        "  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    return chart


def test_helm_reports_the_pinned_version(helm_binary: Path, tmp_path: Path) -> None:
    result = helm(helm_binary, tmp_path, "version", "--short")
    pinned = gotools.tool_version(gotools.TOOLS["helm"])
    assert result.returncode == 0 and result.stdout.startswith(pinned), result


def test_helm_lints_and_templates_a_chart_the_server_accepts(
    helm_binary: Path, tmp_path: Path, kube: KubeClient
) -> None:
    chart = tiny_chart(tmp_path)
    lint = helm(helm_binary, tmp_path, "lint", "--strict", str(chart))
    assert lint.returncode == 0, lint.stdout + lint.stderr

    rendered = helm(helm_binary, tmp_path, "template", "demo", str(chart), "--set", "greeting=hi there")
    assert rendered.returncode == 0, rendered.stderr
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(rendered.stdout)
    [configmap] = yaml_documents(manifest)
    assert configmap["metadata"]["name"] == "demo-greeting" and configmap["data"]["greeting"] == "hi there"
    # Offline, helm assumes the Kubernetes release of its own client libraries, as a release build does.
    major, minor = gotools.k8s_release_of_staging(
        gotools.module_versions((gotools.TOOLS["helm"].wrapper / "go.mod").read_text())["k8s.io/client-go"]
    )
    assert configmap["data"]["kubeVersion"] == f"v{major}.{minor}.0"
    kube.apply(configmap, dry_run=True)


def test_helm_lint_strict_fails_on_a_value_the_schema_does_not_know(helm_binary: Path, tmp_path: Path) -> None:
    chart = tiny_chart(tmp_path)
    lint = helm(helm_binary, tmp_path, "lint", "--strict", str(chart), "--set", "greetin=typo")
    assert lint.returncode != 0
    assert "additional properties 'greetin' not allowed" in lint.stdout, lint.stdout + lint.stderr


def test_helm_reaches_the_server_through_the_kubeconfig(
    helm_binary: Path, tmp_path: Path, kube_api: KubeApiServer
) -> None:
    chart = tiny_chart(tmp_path)

    def validate(kubeconfig: Path) -> subprocess.CompletedProcess[str]:
        # --validate asks the server for its version and checks the manifest against its schemas.
        args = ["template", "demo", str(chart), "--validate", "--kubeconfig", str(kubeconfig)]
        return helm(helm_binary, tmp_path, *args)

    validated = validate(kube_api.kubeconfig)
    assert validated.returncode == 0, validated.stderr
    [configmap] = yaml_documents(_write(tmp_path / "validated.yaml", validated.stdout))
    assert configmap["data"]["kubeVersion"] == gotools.tool_version(gotools.TOOLS["kube-apiserver"])

    wrong_token = _write(tmp_path / "wrong-token", "not-the-token")
    impostor = _write(
        tmp_path / "impostor-kubeconfig",
        kube_api.kubeconfig.read_text().replace(str(kube_api.work_dir / "token"), str(wrong_token)),
    )
    refused = validate(impostor)
    assert refused.returncode != 0, refused.stdout
    assert "the server has asked for the client to provide credentials" in refused.stderr, refused.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
