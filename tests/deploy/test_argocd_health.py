"""The Argo CD health checks of deploy/argocd/argocd-cm.yaml, run in Lua 5.1 (lupa's embedded interpreter;
Argo CD's is gopher-lua, also 5.1) on the objects Argo CD would hand them: `obj` as a global, a table
with `status` and `message` returned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
CM = YAML(typ="safe").load((REPO / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
HEALTH = "resource.customizations.health."


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime()
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(CM["data"][HEALTH + kind])
    return result["status"], result["message"]


def mm2(generation: int = 2, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "ferry-legacy--governed", "generation": generation}}
    if status:
        obj["status"] = status
    return obj


RUNNING = [{"name": "legacy->governed.MirrorSourceConnector", "connector": {"state": "RUNNING"},
            "tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "RUNNING"}]}]
READY = [{"type": "Ready", "status": "True"}]

MM2_CASES = [
    ("no status yet", mm2(), "Progressing", "waiting for the Strimzi operator"),
    ("older generation", mm2(observedGeneration=1, conditions=READY), "Progressing", "generation 2"),
    ("creating", mm2(observedGeneration=2, conditions=[{"type": "NotReady", "status": "True", "reason": "Creating",
                                                         "message": "Creating pods"}]),
     "Progressing", "Creating pods"),
    ("ready and running", mm2(observedGeneration=2, conditions=READY, connectors=RUNNING), "Healthy", "running"),
    ("ready, a task failed", mm2(observedGeneration=2, conditions=READY, connectors=[
        {**RUNNING[0], "tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "FAILED"}]}]),
     "Degraded", "task 1 of connector legacy->governed.MirrorSourceConnector failed"),
    ("ready, a connector failed", mm2(observedGeneration=2, conditions=READY, connectors=[
        {**RUNNING[0], "connector": {"state": "FAILED"}}]), "Degraded", "connector legacy->governed"),
    ("not ready", mm2(observedGeneration=2, conditions=[{"type": "Ready", "status": "False", "reason": "Timeout",
                                                         "message": "Exceeded timeout of 300000ms"}]),
     "Degraded", "Exceeded timeout"),
]


@pytest.mark.parametrize(("case", "obj", "status", "message"), MM2_CASES, ids=[c[0] for c in MM2_CASES])
def test_kafka_mirror_maker2_health(case: str, obj: dict[str, Any], status: str, message: str) -> None:
    got_status, got_message = health("kafka.strimzi.io_KafkaMirrorMaker2", obj)
    assert (got_status, message in got_message) == (status, True), (case, got_status, got_message)


@pytest.mark.parametrize(("status", "expected"), [
    (None, ("Progressing", "no health reported yet")),
    ({"health": {"status": "Healthy"}}, ("Healthy", "")),
    ({"health": {"status": "Degraded", "message": "Deployment exceeded its progress deadline"}},
     ("Degraded", "Deployment exceeded its progress deadline")),
])
def test_application_health_follows_the_applications_own(status: dict[str, Any] | None,
                                                          expected: tuple[str, str]) -> None:
    obj: dict[str, Any] = {"metadata": {"name": "ferry-mm2-legacy--governed"}}
    if status is not None:
        obj["status"] = status
    assert health("argoproj.io_Application", obj) == expected


def test_the_config_map_holds_exactly_the_two_checks() -> None:
    assert CM["kind"] == "ConfigMap" and CM["metadata"] == {
        "name": "argocd-cm", "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"}}
    assert sorted(CM["data"]) == [HEALTH + "argoproj.io_Application", HEALTH + "kafka.strimzi.io_KafkaMirrorMaker2"]
