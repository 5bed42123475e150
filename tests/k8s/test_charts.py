"""The Helm charts `charts/ferry-proxy` and `charts/ferry-mirrormaker2`, checked by the real tools.

* helm (built from its module) lints each chart with `--strict` for every committed rendered values file and
  its file parameter (the route file, the MM2 properties), optional objects on and off; a misspelt key fails.
* `helm template` output is compared byte for byte with the golden files under tests/k8s/golden/. After an
  intended chart change, regenerate and review them like rendered/:
  `FERRY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/k8s/test_charts.py -k golden`.
* Every templated object is server-side applied with dryRun=All to a real kube-apiserver: zero rejections.
  ServiceMonitor and PrometheusRule (monitoring.coreos.com) are left out of the applied set: their CRDs are
  not among the shared ones, and a stand-in CRD would accept anything (docs/deploy.md#helm-charts).
* The promises a cutover depends on: the routes ConfigMap is mounted as a directory (no subPath) and no
  checksum of it is on the proxy's pod template; MM2's config checksum is on its pod template.
* The proxy container's command, taken from the templated Deployment, runs against the sandbox's real Kafka
  with its route file in a directory updated as the kubelet does (`..data` symlink swap): a route flip takes
  effect and an open connection stays up.

The run ends with `k8s_apply objects=<n> rejected=0 charts=2 lint=ok` (printed last, after pytest's summary).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from ferry_testing import free_port, http_get
from k8s_summary import Summary
from proxy.routetable import Endpoint, RouteRule, RouteTable, build_table
from sandbox.kubeapi import KubeClient, apply_all
from tests.tools.probe import KafkaConnection, probe

pytestmark = pytest.mark.k8s

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
NAMESPACE = "ferry"
UPDATE_GOLDEN = os.environ.get("FERRY_UPDATE_GOLDEN") == "1"

sys.path.insert(0, str(REPO / "tests" / "proxy"))
from proxy_harness import write_routes  # noqa: E402

#: chart -> (values key of the file it is built from, the file parameter's name)
CHARTS = {"ferry-proxy": ("routes", "routes.content"), "ferry-mirrormaker2": ("config", "config.content")}
#: the optional objects, all switched on for the golden files and the apply
OPTIONAL = {
    "ferry-proxy": "networkPolicy.enabled=true,serviceMonitor.enabled=true,prometheusRule.enabled=true,"
    "grafanaDashboard.enabled=true",
    "ferry-mirrormaker2": "metrics.enabled=true,serviceMonitor.enabled=true,prometheusRule.enabled=true,"
    "grafanaDashboard.enabled=true",
}
#: kinds whose CRDs the test server does not have (see the module docstring)
NOT_APPLIED = {"ServiceMonitor", "PrometheusRule"}


@dataclass(frozen=True)
class Release:
    chart: str
    name: str
    values: Path
    file_parameter: tuple[str, Path]

    @property
    def id(self) -> str:
        return f"{self.chart}/{self.name}"

    def args(self, *, optional: bool = True) -> list[str]:
        key, path = self.file_parameter
        args = ["-f", str(self.values), "--set-file", f"{key}={path}"]
        return args + (["--set", OPTIONAL[self.chart]] if optional else [])


def load_yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(text) if doc]


def argo_path(source: dict[str, Any], path: str) -> Path:
    """A path of an Application's Helm source resolved as Argo CD does: from the repository root when it
    starts with '/', else from the chart's folder; never outside the repository."""
    resolved = (REPO / path.lstrip("/") if path.startswith("/") else REPO / source["path"] / path).resolve()
    assert resolved.is_relative_to(REPO), f"{path} leaves the repository"
    return resolved


def releases() -> list[Release]:
    """Every Helm release the committed Argo CD Applications deploy, with their values file and file parameter:
    what Argo CD would template is what these tests template."""
    found = []
    for path in sorted((REPO / "rendered" / "argocd" / "apps").glob("*.yaml")):
        [app] = documents(path.read_text())
        source = app["spec"]["source"]
        if "helm" in source:
            [values] = source["helm"]["valueFiles"]
            [parameter] = source["helm"]["fileParameters"]
            found.append(Release(Path(source["path"]).name, source["helm"]["releaseName"], argo_path(source, values),
                                 (parameter["name"], argo_path(source, parameter["path"]))))
    return found


RELEASES = releases()


def helm(binary: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """helm with its cache, config and data in ``home`` (never the user's)."""
    env = {**os.environ, "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data")}
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)


def template(binary: Path, home: Path, release: Release, *extra: str) -> str:
    result = helm(binary, home, "template", release.name, str(REPO / "charts" / release.chart),
                  "--namespace", NAMESPACE, *release.args(), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


@pytest.fixture(scope="module")
def templated(helm_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("helm")
    return {release.id: template(helm_binary, home, release) for release in RELEASES}


# ---- lint


def test_every_rendered_values_file_is_deployed_by_one_application_with_its_file() -> None:
    assert {release.chart for release in RELEASES} == set(CHARTS)
    values_files = sorted((REPO / "rendered" / "helm").glob("*/*.values.yaml"))
    assert sorted(release.values for release in RELEASES) == values_files
    for release in RELEASES:
        section, parameter = CHARTS[release.chart]
        rendered = load_yaml(release.values.read_text())[section]["renderedFile"]
        assert release.file_parameter == (parameter, REPO / rendered), release
        assert release.file_parameter[1].is_file(), release
        assert release.values.parent.name == release.chart


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.id)
def test_helm_lint_strict_passes_for_every_rendered_values_file(
    helm_binary: Path, tmp_path: Path, release: Release, summary: Summary
) -> None:
    ok = True
    for optional in (False, True):
        lint = helm(helm_binary, tmp_path, "lint", "--strict", str(REPO / "charts" / release.chart),
                    *release.args(optional=optional))
        ok = ok and lint.returncode == 0
        assert lint.returncode == 0, lint.stdout + lint.stderr
    summary.lint[release.id] = ok


@pytest.mark.parametrize(("chart", "typo", "expected"), [
    ("ferry-proxy", "replicsa: 3\n", "additional properties 'replicsa' not allowed"),
    ("ferry-proxy", "routes:\n  fileNmae: x.json\n", "additional properties 'fileNmae' not allowed"),
    ("ferry-mirrormaker2", "secret:\n  - name: a\n", "additional properties 'secret' not allowed"),
    ("ferry-mirrormaker2", "metrics:\n  enabeld: true\n", "additional properties 'enabeld' not allowed"),
])
def test_a_misspelt_value_fails_lint(helm_binary: Path, tmp_path: Path, chart: str, typo: str, expected: str) -> None:
    release = next(r for r in RELEASES if r.chart == chart)
    typo_file = tmp_path / "typo.yaml"
    typo_file.write_text(typo)
    lint = helm(helm_binary, tmp_path, "lint", "--strict", str(REPO / "charts" / chart), *release.args(),
                "-f", str(typo_file))
    assert lint.returncode != 0
    assert expected in lint.stdout + lint.stderr, lint.stdout + lint.stderr


def test_the_chart_refuses_to_render_without_the_route_file(helm_binary: Path, tmp_path: Path) -> None:
    release = next(r for r in RELEASES if r.chart == "ferry-proxy")
    result = helm(helm_binary, tmp_path, "template", release.name, str(REPO / "charts" / release.chart),
                  "-f", str(release.values))
    assert result.returncode != 0
    assert "--set-file routes.content=<routes.renderedFile>" in result.stderr, result.stderr


def test_a_grace_period_shorter_than_the_drain_is_refused(helm_binary: Path, tmp_path: Path) -> None:
    release = next(r for r in RELEASES if r.chart == "ferry-proxy")
    result = helm(helm_binary, tmp_path, "template", release.name, str(REPO / "charts" / release.chart),
                  *release.args(), "--set", "terminationGracePeriodSeconds=25")
    assert result.returncode != 0
    assert "must exceed preStopSleepSeconds + drainTimeoutSeconds (5 + 20)" in result.stderr, result.stderr


# ---- golden files


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.id)
def test_templated_manifests_match_the_golden_files(templated: dict[str, str], release: Release) -> None:
    golden = GOLDEN / release.chart / f"{release.name}.yaml"
    text = templated[release.id]
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"{golden} missing: FERRY_UPDATE_GOLDEN=1 .venv/bin/pytest {__file__} -k golden"
    assert text == golden.read_text(), (
        f"helm template output differs from {golden.relative_to(REPO)}; if intended, regenerate with "
        "FERRY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/k8s/test_charts.py -k golden and review the diff")


def test_templating_is_byte_stable(helm_binary: Path, tmp_path: Path, templated: dict[str, str]) -> None:
    for release in RELEASES:
        assert template(helm_binary, tmp_path, release) == templated[release.id], release.id


# ---- the server admits every object


def test_every_templated_object_is_admitted_by_the_api_server(
    kube: KubeClient, templated: dict[str, str], summary: Summary
) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    objects = [obj for text in templated.values() for obj in documents(text)]
    applied = [obj for obj in objects if obj["kind"] not in NOT_APPLIED]
    kinds = {obj["kind"] for obj in applied}
    assert kinds == {"ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service",
                     "ServiceAccount"}, kinds
    assert {obj["kind"] for obj in objects} - kinds == NOT_APPLIED
    rejected = apply_all(kube, applied, dry_run=True)
    summary.add(len(applied), len(rejected))
    assert rejected == [], "\n".join(rejected)


def test_the_argocd_project_admits_every_kind_the_charts_create(templated: dict[str, str]) -> None:
    [project] = documents((REPO / "rendered" / "argocd" / "project.yaml").read_text())
    allowed = {(k["group"], k["kind"]) for k in project["spec"]["namespaceResourceWhitelist"]}
    created = {(obj["apiVersion"].rpartition("/")[0], obj["kind"]) for text in templated.values()
               for obj in documents(text)}
    assert created - allowed == set()
    assert project["spec"]["clusterResourceWhitelist"] == []


# ---- what a cutover relies on


def pod_spec(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    [deployment] = of_kind(objects, "Deployment")
    template_ = deployment["spec"]["template"]
    return template_["metadata"], template_["spec"]


@pytest.mark.parametrize("release", [r for r in RELEASES if r.chart == "ferry-proxy"], ids=lambda r: r.id)
def test_proxy_routes_are_a_directory_mount_and_never_roll_the_pods(
    templated: dict[str, str], release: Release
) -> None:
    values = load_yaml(release.values.read_text())
    objects = documents(templated[release.id])
    metadata, spec = pod_spec(objects)
    assert not any("checksum" in key for key in metadata.get("annotations", {})), metadata
    [volume] = [v for v in spec["volumes"] if v.get("configMap", {}).get("name") == values["routes"]["configMapName"]]
    [container] = spec["containers"]
    mounts = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mounts == [{"name": volume["name"], "mountPath": "/etc/ferry/routes", "readOnly": True}]
    assert all("subPath" not in m and "subPathExpr" not in m for m in container["volumeMounts"])
    assert "items" not in volume["configMap"]
    [configmap] = [c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"] == volume["configMap"]["name"]]
    assert configmap["data"] == {values["routes"]["fileName"]: release.file_parameter[1].read_text()}
    assert container["command"][:3] == ["ferry-proxy", "--routes", f"/etc/ferry/routes/{values['routes']['fileName']}"]
    listen, admin = f"{values['listen']['host']}:{values['listen']['port']}", f"0.0.0.0:{values['admin']['port']}"
    assert container["command"][3:7] == ["--listen", listen, "--admin", admin]


@pytest.mark.parametrize("release", [r for r in RELEASES if r.chart == "ferry-proxy"], ids=lambda r: r.id)
def test_proxy_pod_is_hardened_probed_and_drains_within_its_grace(
    templated: dict[str, str], release: Release
) -> None:
    values = load_yaml(release.values.read_text())
    objects = documents(templated[release.id])
    _, spec = pod_spec(objects)
    [container] = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert {"name": "admin", "containerPort": values["admin"]["port"], "protocol": "TCP"} in container["ports"]
    command = container["command"]
    drain = float(command[command.index("--drain-timeout") + 1])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert drain == 20 and spec["terminationGracePeriodSeconds"] > pre_stop + drain
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert [c["topologyKey"] for c in spec["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert len(of_kind(objects, "PodDisruptionBudget")) == (1 if values["replicas"] > 1 else 0)
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert {f"app.kubernetes.io/{key}" for key in ("name", "instance", "version", "managed-by", "component",
                                                       "part-of")} <= set(labels), obj["metadata"]


@pytest.mark.parametrize("release", [r for r in RELEASES if r.chart == "ferry-proxy"], ids=lambda r: r.id)
def test_proxy_network_policy_allows_only_the_route_files_bootstrap_ports(
    templated: dict[str, str], release: Release
) -> None:
    table = json.loads(release.file_parameter[1].read_text())
    ports = sorted({int(s.rpartition(":")[2]) for c in table["clusters"].values() for s in c["bootstrap"]})
    [policy] = of_kind(documents(templated[release.id]), "NetworkPolicy")
    upstream, dns = policy["spec"]["egress"]
    assert [p["port"] for p in upstream["ports"]] == ports
    assert {p["port"] for p in dns["ports"]} == {53}


@pytest.mark.parametrize("release", [r for r in RELEASES if r.chart == "ferry-mirrormaker2"], ids=lambda r: r.id)
def test_mm2_config_checksum_is_on_the_pod_template_and_secrets_are_mounted_by_name(
    templated: dict[str, str], release: Release
) -> None:
    values = load_yaml(release.values.read_text())
    properties = release.file_parameter[1].read_text()
    metadata, spec = pod_spec(documents(templated[release.id]))
    assert metadata["annotations"]["checksum/config"] == hashlib.sha256(properties.encode()).hexdigest()
    [container] = spec["containers"]
    # No command: the image's ENTRYPOINT is connect-mirror-maker's main class; the properties lead the args.
    assert "command" not in container
    assert container["args"] == [f"/etc/ferry/mm2/{values['config']['fileName']}", *values["args"]]
    assert all("subPath" not in m for m in container["volumeMounts"])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    by_name = {v["name"]: v for v in spec["volumes"]}
    for secret in values["secrets"]:
        [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == secret["mountPath"]]
        assert by_name[mount["name"]]["secret"]["secretName"] == secret["name"]
        assert f"${{dir:{secret['mountPath']}:" in properties
    # Every directory the rendered config reads a credential from is mounted.
    for directory in set(re.findall(r"\$\{dir:([^:}]+):", properties)):
        assert directory in {s["mountPath"] for s in values["secrets"]}, directory


def test_mm2_lag_alert_uses_the_flows_offset_lag_max(templated: dict[str, str]) -> None:
    for release in (r for r in RELEASES if r.chart == "ferry-mirrormaker2"):
        lag_max = re.search(r"offset\.lag\.max=(\d+)", release.file_parameter[1].read_text())
        assert lag_max is not None
        [rule] = of_kind(documents(templated[release.id]), "PrometheusRule")
        [alert] = [r for g in rule["spec"]["groups"] for r in g["rules"]
                   if r["alert"] == "FerryMirrorMaker2LagOverOffsetLagMax"]
        assert alert["expr"].endswith(f"> {lag_max.group(1)}"), alert["expr"]


# ---- the chart's command, run for real




def flip_table(legacy: str, target: str, to: str) -> RouteTable:
    endpoints = {"legacy": Endpoint(bootstrap=(legacy,)), "target": Endpoint(bootstrap=(target,))}
    rules = [RouteRule(match="flip.*", action="route", cluster=to, migration="test/charts", entry="flip",
                       source="tests/k8s/test_charts.py:1")]
    return build_table("gw-service", "0.0.0.0:9092", "legacy", endpoints, rules)


@pytest.fixture
def chart_proxy_command(templated: dict[str, str]) -> tuple[list[str], str]:
    """The proxy container's command and its routes mount path, from the templated gw-service Deployment."""
    [deployment] = of_kind(documents(templated["ferry-proxy/gw-service"]), "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "routes"]
    return container["command"], mount["mountPath"]


@pytest.mark.kafka
def test_the_charts_proxy_command_hot_reloads_a_kubelet_projected_route_file(
    chart_proxy_command: tuple[list[str], str], sandbox_nodes: dict[str, Any], tmp_path: Path
) -> None:
    command, mount_path = chart_proxy_command
    legacy, target = sandbox_nodes["legacy"], sandbox_nodes["target"]
    scram = (target.admin_user, target.users[target.admin_user])
    routes_dir = tmp_path / "routes"
    routes_dir.mkdir()
    routes_arg = command[command.index("--routes") + 1]
    assert routes_arg.startswith(mount_path + "/")
    routes_file = routes_dir / routes_arg.removeprefix(mount_path + "/")
    write_routes(routes_file, flip_table(legacy.bootstrap, target.bootstrap, "legacy"), mode="symlink")
    assert routes_file.is_symlink() and os.readlink(routes_file) == f"..data/{routes_file.name}"

    # Only what a pod has and a test cannot: the image's binary on PATH, the mount path, the addresses.
    listen, admin = free_port(), free_port()
    argv = [str(Path(sys.executable).parent / "ferry-proxy"), *command[1:]]
    argv[argv.index("--routes") + 1] = str(routes_file)
    argv[argv.index("--listen") + 1] = f"127.0.0.1:{listen}"
    argv[argv.index("--admin") + 1] = f"127.0.0.1:{admin}"
    proc = subprocess.Popen([*argv, "--reload-interval", "0.05", "--decision-log", "off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if http_get(admin, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "proxy not ready in 20 s"
            time.sleep(0.1)

        with KafkaConnection(("127.0.0.1", listen)) as held:
            held.api_versions("flip.held-1")
            assert held.metadata("flip.held-1", []).cluster_id == legacy.cluster_id
            assert probe(("127.0.0.1", listen), "flip.new-1").cluster_id == legacy.cluster_id

            flipped = flip_table(legacy.bootstrap, target.bootstrap, "target")
            write_routes(routes_file, flipped, mode="symlink")
            started = time.monotonic()
            while True:
                status, body = http_get(admin, "/readyz")
                if json.loads(body).get("version") == flipped.version:
                    break
                assert time.monotonic() - started < 10, body
                time.sleep(0.05)
            assert status == 200
            assert probe(("127.0.0.1", listen), "flip.new-2", scram=scram).cluster_id == target.cluster_id
            # The connection opened before the flip is still up, on the cluster it started with.
            assert held.metadata("flip.held-1", []).cluster_id == legacy.cluster_id
        metrics = http_get(admin, "/metrics")[1]
        assert 'ferry_proxy_route_reloads_total{outcome="applied"} 1.0' in metrics
        assert "ferry_proxy_route_file_stale 0.0" in metrics
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read() if proc.stderr else ""
