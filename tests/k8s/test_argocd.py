"""rendered/argocd/ and the Strimzi option's rendered/strimzi/, checked by a real kube-apiserver.

* The committed Argo CD objects (AppProject, root Application, one Application per gateway and flow) are
  server-side applied with dryRun=All against the upstream Argo CD CRDs: zero rejections.
* An org with `delivery.mirrormaker: strimzi` is rendered by `ferry render` as a user types it, in a
  fresh folder; its KafkaMirrorMaker2 resources (upstream Strimzi CRD) and Applications are admitted too.
* What Argo CD will do with them is checked without Argo CD: every path an Application names resolves
  inside the repository as Argo CD resolves it, the project admits every destination and kind they deploy,
  mirroring syncs in an earlier wave than the routes.

The charts' side (every Application's values and file parameter linted and templated) is test_charts.py,
which takes its releases from these Applications.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from k8s_summary import Summary
from sandbox.kubeapi import KubeClient, apply_all

pytestmark = pytest.mark.k8s

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
FERRY = Path(sys.executable).parent / "ferry"


def objects_in(rendered: Path, *folders: str) -> dict[str, dict[str, Any]]:
    """{path relative to rendered/: object} of every YAML file under the folders (one object per file)."""
    found = {}
    for folder in folders:
        for path in sorted((rendered / folder).rglob("*.yaml")):
            [obj] = [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]
            found[str(path.relative_to(rendered))] = obj
    return found


COMMITTED = objects_in(REPO / "rendered", "argocd")


def policy_delivery(specs: Path) -> dict[str, Any]:
    return dict(YAML(typ="safe").load((specs / "policy.yaml").read_text())["delivery"])


def namespace(kube: KubeClient, name: str) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def deployed(obj: dict[str, Any], destination: str) -> dict[str, Any]:
    """The object as Argo CD applies it: into the Application's destination namespace."""
    copied = copy.deepcopy(obj)
    copied["metadata"].setdefault("namespace", destination)
    return copied


@pytest.fixture(scope="module")
def strimzi_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh folder with the acceptance cases' base org plus the Strimzi case, rendered by `ferry render`."""
    org = tmp_path_factory.mktemp("strimzi-org")
    shutil.copytree(CASES / "base" / "specs", org / "specs")
    shutil.copytree(CASES / "valid" / "delivery-strimzi-with-argocd" / "specs", org / "specs", dirs_exist_ok=True)
    result = subprocess.run([str(FERRY), "render"], cwd=org, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return org


def test_the_committed_argocd_objects_are_admitted_by_the_api_server(kube: KubeClient, summary: Summary) -> None:
    kinds = sorted(obj["kind"] for obj in COMMITTED.values())
    gateways = len(list((REPO / "rendered" / "proxy").glob("*.routes.json")))
    flows = len(list((REPO / "rendered" / "mm2").glob("*.properties")))
    assert kinds == ["AppProject"] + ["Application"] * (1 + gateways + flows), kinds
    namespace(kube, policy_delivery(REPO / "specs")["argocd"].get("namespace", "argocd"))
    # with the argocd-cm settings docs/deploy.md asks for (the health checks the sync waves rely on)
    [settings] = list(YAML(typ="safe").load_all((REPO / "deploy" / "argocd" / "argocd-cm.yaml").read_text()))
    objects = [*COMMITTED.values(), settings]
    rejected = apply_all(kube, objects, dry_run=True)
    summary.add(len(objects), len(rejected))
    assert rejected == [], "\n".join(rejected)


def test_the_strimzi_options_objects_are_admitted_by_the_api_server(
    kube: KubeClient, strimzi_org: Path, summary: Summary
) -> None:
    rendered = strimzi_org / "rendered"
    argo = objects_in(rendered, "argocd")
    strimzi = objects_in(rendered, "strimzi")
    flows = sorted(p.name.removesuffix(".properties") for p in (rendered / "mm2").glob("*.properties"))
    assert sorted(strimzi) == [f"strimzi/{flow}.yaml" for flow in flows]
    assert not (rendered / "helm" / "ferry-mirrormaker2").exists()  # Strimzi instead of the chart
    destination = policy_delivery(strimzi_org / "specs")["argocd"]["destination"]["namespace"]
    for name in ("argocd", destination):
        namespace(kube, name)
    objects = [*argo.values(), *(deployed(obj, destination) for obj in strimzi.values())]
    rejected = apply_all(kube, objects, dry_run=True)
    summary.add(len(objects), len(rejected))
    assert rejected == [], "\n".join(rejected)
    assert {obj["kind"] for obj in objects} == {"AppProject", "Application", "KafkaMirrorMaker2"}


def test_a_strimzi_resource_carries_the_flow_as_the_dedicated_properties_do(strimzi_org: Path) -> None:
    rendered = strimzi_org / "rendered"
    clusters = YAML(typ="safe").load((strimzi_org / "specs" / "clusters.yaml").read_text())["clusters"]
    for path, mm2 in objects_in(rendered, "strimzi").items():
        flow = Path(path).stem
        properties = dict(line.split("=", 1) for line in (rendered / "mm2" / f"{flow}.properties").read_text()
                          .splitlines() if "=" in line and not line.startswith("#"))
        spec = mm2["spec"]
        [mirror] = spec["mirrors"]
        source, target = flow.split("--")
        assert (mirror["source"]["alias"], spec["target"]["alias"]) == (source, target)
        for connector in ("sourceConnector", "checkpointConnector"):
            config = mirror[connector]["config"]
            assert config["replication.policy.class"] == properties["replication.policy.class"]
            assert config["replication.policy.ferry.renames"] == properties["replication.policy.ferry.renames"]
            assert not {"name", "connector.class", "tasks.max"} & set(config), config  # the CRD forbids them
        assert mirror["topicsPattern"].split("|") == properties[f"{source}->{target}.topics"].split(", ")
        assert mirror["groupsPattern"].split("|") == properties[f"{source}->{target}.groups"].split(", ")
        legacy = [pair.split(":")[0] for pair in properties["replication.policy.ferry.renames"].split(",")]
        assert all(re.fullmatch(mirror["topicsPattern"], topic) for topic in legacy)
        for alias, endpoint in ((source, mirror["source"]), (target, spec["target"])):
            security = clusters[alias].get("security", {})
            assert endpoint["bootstrapServers"] == ",".join(clusters[alias]["bootstrap"])
            if "sasl_mechanism" in security:
                assert endpoint["authentication"] == {
                    "type": security["sasl_mechanism"].lower(), "username": security["username"],
                    "passwordSecret": {"secretName": security["secret"], "password": "password"}}
            else:
                assert "authentication" not in endpoint
        assert spec["image"].endswith("ferry-mirrormaker2-strimzi:0.1.0")


@pytest.mark.parametrize("tree", ["committed", "strimzi"])
def test_every_application_names_paths_inside_the_repository_and_its_project_admits_it(
    tree: str, strimzi_org: Path
) -> None:
    root = REPO if tree == "committed" else strimzi_org
    objects = objects_in(root / "rendered", "argocd")
    delivery = policy_delivery(root / "specs")
    [project] = [obj for obj in objects.values() if obj["kind"] == "AppProject"]
    apps = {path: obj for path, obj in objects.items() if obj["kind"] == "Application"}
    allowed = {(d["server"], d["namespace"]) for d in project["spec"]["destinations"]}
    charts_path = delivery["argocd"].get("charts_path", "charts")
    for app in apps.values():
        spec = app["spec"]
        source = spec["source"]
        assert spec["project"] == project["metadata"]["name"]
        assert source["repoURL"] in project["spec"]["sourceRepos"] == [delivery["argocd"]["repo_url"]]
        assert (spec["destination"]["server"], spec["destination"]["namespace"]) in allowed
        assert app["metadata"]["namespace"] == project["metadata"]["namespace"]
        if "helm" in source:
            assert source["path"] == f"{charts_path}/{Path(source['path']).name}"
            files = [*source["helm"]["valueFiles"], *(p["path"] for p in source["helm"]["fileParameters"])]
            # Absolute: from the repository root (Argo CD's rule); every file exists in the rendered tree.
            assert all(f.startswith("/rendered/") and (root / f.lstrip("/")).is_file() for f in files), files
            if tree == "committed":
                assert (REPO / source["path"] / "Chart.yaml").is_file()
        else:
            assert (root / source["path"]).is_dir(), source
            include = source["directory"].get("include")
            assert include is None or (root / source["path"] / include).is_file(), source
    root_app = objects["argocd/root.yaml"]
    assert root_app["spec"]["source"]["path"] == "rendered/argocd/apps"
    assert sorted(p for p in apps if p.startswith("argocd/apps/")) == sorted(
        f"argocd/apps/{p.name}" for p in (root / "rendered" / "argocd" / "apps").glob("*.yaml"))
    assert "finalizers" not in root_app["metadata"]  # deleting the root must not delete every proxy


def test_mirroring_syncs_before_routes_and_every_application_is_server_side_applied() -> None:
    waves: dict[str, set[int]] = {"mirrormaker2": set(), "proxy": set()}
    for path, app in COMMITTED.items():
        if not path.startswith("argocd/apps/"):
            continue
        component = app["metadata"]["labels"]["app.kubernetes.io/component"]
        waves[component].add(int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]))
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}
        assert "ServerSideApply=true" in policy["syncOptions"]
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert waves["mirrormaker2"] and waves["proxy"]
    assert max(waves["mirrormaker2"]) < min(waves["proxy"])


def test_the_project_deploys_no_cluster_scoped_object() -> None:
    [project] = [obj for obj in COMMITTED.values() if obj["kind"] == "AppProject"]
    assert project["spec"]["clusterResourceWhitelist"] == []
    kinds = {(k["group"], k["kind"]) for k in project["spec"]["namespaceResourceWhitelist"]}
    assert ("kafka.strimzi.io", "KafkaMirrorMaker2") in kinds and ("argoproj.io", "Application") in kinds
