"""Renderer: rendered/argocd/ — what Argo CD syncs (policy `delivery.argocd`; docs/deploy.md#argo-cd).

* `project.yaml`: the AppProject. Sources: this repository only; destinations: the namespace
  Ferry runs in and Argo CD's own (for the Applications); only the namespaced kinds the two
  charts and a Strimzi resource create (no cluster-scoped object at all).
* `root.yaml`: the app of apps. It syncs `rendered/argocd/apps/`, so a merged PR that adds a
  gateway or a flow adds its Application without anyone running kubectl.
* `apps/<name>.yaml`: one Application per gateway and per MirrorMaker 2 flow. Explicit
  Applications, not an ApplicationSet: each carries its own file parameter and sync wave, and
  a PR's diff of rendered/ shows exactly which Application changes (a generator's output
  appears only in the cluster).

Every Application: Helm from this repository's charts with the rendered values file and the
rendered route file (or MM2 properties) as a file parameter — absolute paths, which Argo CD
resolves from the repository root and refuses outside it; `ServerSideApply=true` (a large
route table outgrows client-side apply's 256 KiB last-applied annotation); automated sync with
prune and self-heal; sync waves: MirrorMaker 2 (wave 0) before the proxies (wave 1), so
mirroring is in place before routes change. Pure: the validated org in, objects out.
"""

from __future__ import annotations

from typing import Any

from .models import ArgoCD, MirrorMakerDeployment
from .org import Flow, GatewayRoutes, Org
from .strimzi import API_VERSION as STRIMZI_API_VERSION

API_VERSION = "argoproj.io/v1alpha1"
APPS_DIR = "rendered/argocd/apps"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
WAVE_MIRRORMAKER, WAVE_PROXY = "0", "1"
#: the file parameter each chart reads its rendered file from (charts/*/values.yaml)
FILE_PARAMETERS = {"ferry-proxy": "routes.content", "ferry-mirrormaker2": "config.content"}
#: (group, kind) of every namespaced object the charts and a Strimzi resource create
NAMESPACED_KINDS = (
    ("", "ConfigMap"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "Deployment"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    (STRIMZI_API_VERSION.split("/")[0], "KafkaMirrorMaker2"),
)
SYNC_POLICY: dict[str, Any] = {
    "automated": {"prune": True, "selfHeal": True},
    "syncOptions": ["ServerSideApply=true"],
    "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
}


def _labels(component: str, **extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "ferry", "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "ferry", **extra}


def _application(argo: ArgoCD, name: str, wave: str | None, labels: dict[str, str], source: dict[str, Any],
                 namespace: str) -> dict[str, Any]:
    """An Application; with a sync wave it is one of the root's children and carries the finalizer that
    deletes its objects when it goes (a gateway or flow removed from specs/). The root has neither:
    deleting it must not take every proxy down with it."""
    metadata: dict[str, Any] = {"name": name, "namespace": argo.namespace, "labels": labels}
    if wave is not None:
        metadata["annotations"] = {"argocd.argoproj.io/sync-wave": wave}
        metadata["finalizers"] = [FINALIZER]
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": argo.project,
            "source": {"repoURL": argo.repo_url, "targetRevision": argo.revision, **source},
            "destination": {"server": argo.destination.server, "namespace": namespace},
            "syncPolicy": SYNC_POLICY,
        },
    }


def _helm_source(argo: ArgoCD, chart: str, release: str, values: str, rendered_file: str) -> dict[str, Any]:
    return {
        "path": f"{argo.charts_path.strip('/')}/{chart}",
        "helm": {
            "releaseName": release,
            "valueFiles": [f"/{values}"],
            "fileParameters": [{"name": FILE_PARAMETERS[chart], "path": f"/{rendered_file}"}],
        },
    }


def proxy_application(argo: ArgoCD, gw: GatewayRoutes) -> dict[str, Any]:
    name = gw.table.gateway
    source = _helm_source(argo, "ferry-proxy", name, f"rendered/helm/ferry-proxy/{name}.values.yaml",
                          f"rendered/proxy/{name}.routes.json")
    return _application(argo, f"ferry-proxy-{name}", WAVE_PROXY, _labels("proxy", **{"ferry.dev/gateway": name}),
                        source, argo.destination.namespace)


def mirrormaker_application(argo: ArgoCD, flow: Flow, deployment: MirrorMakerDeployment) -> dict[str, Any]:
    if deployment is MirrorMakerDeployment.STRIMZI:
        source: dict[str, Any] = {"path": "rendered/strimzi", "directory": {"include": f"{flow.name}.yaml"}}
    else:
        source = _helm_source(argo, "ferry-mirrormaker2", flow.name,
                              f"rendered/helm/ferry-mirrormaker2/{flow.name}.values.yaml",
                              f"rendered/mm2/{flow.name}.properties")
    return _application(argo, f"ferry-mm2-{flow.name}", WAVE_MIRRORMAKER,
                        _labels("mirrormaker2", **{"ferry.dev/flow": flow.name}), source, argo.destination.namespace)


def root_application(argo: ArgoCD) -> dict[str, Any]:
    source = {"path": APPS_DIR, "directory": {"recurse": False}}
    return _application(argo, "ferry", None, _labels("argocd"), source, argo.namespace)


def app_project(argo: ArgoCD) -> dict[str, Any]:
    kinds = [{"group": group, "kind": kind} for group, kind in NAMESPACED_KINDS]
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {"name": argo.project, "namespace": argo.namespace, "labels": _labels("argocd"),
                     "finalizers": [FINALIZER]},
        "spec": {
            "description": "Ferry: the Kafka proxies and MirrorMaker 2 flows rendered from specs/",
            "sourceRepos": [argo.repo_url],
            "destinations": [
                {"server": argo.destination.server, "namespace": argo.destination.namespace},
                {"server": argo.destination.server, "namespace": argo.namespace},
            ],
            "clusterResourceWhitelist": [],
            "namespaceResourceWhitelist": [*kinds, {"group": "argoproj.io", "kind": "Application"}],
        },
    }


def argocd_objects(org: Org) -> dict[str, tuple[tuple[str, ...], dict[str, Any]]]:
    """{path under rendered/: (the spec files it comes from, object)}; empty without `delivery.argocd`."""
    delivery = org.specs.policy.model.delivery
    argo = delivery.argocd
    if argo is None:
        return {}
    policy: tuple[str, ...] = (org.specs.source_name(org.specs.policy),)
    out = {"argocd/project.yaml": (policy, app_project(argo)), "argocd/root.yaml": (policy, root_application(argo))}
    for gw in org.gateways:
        out[f"argocd/apps/proxy-{gw.table.gateway}.yaml"] = ((*gw.sources, *policy), proxy_application(argo, gw))
    for flow in org.flows:  # a flow's sources hold the policy already
        out[f"argocd/apps/mm2-{flow.name}.yaml"] = (flow.sources,
                                                     mirrormaker_application(argo, flow, delivery.mirrormaker))
    return out
