"""What the two container images would run, run here (there is no container engine on these
machines): each Dockerfile is read, its build stages are done into a folder standing for the
image's root (tests/deploy/dockerfile.py: the RUN lines exactly as written), and its ENTRYPOINT
runs against the sandbox's real clusters.

* ferry-proxy: the Dockerfile's own pip lines make a venv holding the proxy, uvloop and
  prometheus-client and nothing else (not even pip); its ENTRYPOINT routes a real client by
  client id, writes nothing into the image, and SIGTERM sent to that one process drains it
  (exit 0): there is no shell in between.
* ferry-mirrormaker2: the Dockerfile's Maven lines resolve exactly the jars the sandbox runs
  (the same names as ``ensure_kafka_lib()``) plus the policy jar it builds from kafka/; its
  ENTRYPOINT, with that /opt/kafka/libs as the classpath, runs MirrorMaker 2 on a rendered
  properties file and mirrors a topic under its new name.

The static rules the images promise (pinned bases, numeric non-root user, exec form, ports,
labels, one shared requirements file) are checked without Kafka.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from dockerfile import FakeRoot, Instruction, clean_env, exec_form, final_stage, parse, snapshot
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from ferry_testing import free_port, http_get, routed_clients
from proxy_clusters import Cluster
from sandbox.cluster import KafkaNode

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "deploy" / "images"
PROXY_DOCKERFILE = IMAGES / "ferry-proxy" / "Dockerfile"
MM2_DOCKERFILE = IMAGES / "ferry-mirrormaker2" / "Dockerfile"
STRIMZI_DOCKERFILE = IMAGES / "ferry-mirrormaker2-strimzi" / "Dockerfile"
SLIM = {"ferry-proxy", "uvloop", "prometheus-client"}


def _instructions(path: Path) -> list[Instruction]:
    return parse(path.read_text())


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- static: what both Dockerfiles promise


@pytest.mark.parametrize("dockerfile", [PROXY_DOCKERFILE, MM2_DOCKERFILE], ids=["proxy", "mm2"])
def test_image_is_pinned_non_root_exec_form_and_labelled(dockerfile: Path) -> None:
    instructions = _instructions(dockerfile)
    for base in (i.args.split()[0] for i in instructions if i.keyword == "FROM"):
        # An exact version tag (x.y.z…) or a digest: never `latest`, never a floating `3.11-slim`.
        assert "@sha256:" in base or re.search(r":\d+\.\d+\.\d+", base), f"{dockerfile}: base {base} is not pinned"
    final = final_stage(instructions)
    (user,) = [i.args for i in final if i.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit()), f"USER {user}: numeric and not root"
    assert [i.keyword for i in final][-1] in ("ENTRYPOINT", "CMD")
    entry = exec_form(final, "ENTRYPOINT")  # json: exec form, so the program is PID 1 and gets SIGTERM
    assert entry[0] not in ("sh", "/bin/sh", "bash", "/bin/bash"), entry
    labels = " ".join(i.args for i in final if i.keyword == "LABEL")
    for key in ("title", "description", "version", "revision", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels
    ignore = dockerfile.with_name("Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[next(n for n, line in enumerate(ignore) if not line.startswith("#"))] == "*", "allow-list context"


def test_proxy_image_reads_the_shared_requirements_and_exposes_both_ports() -> None:
    instructions = _instructions(PROXY_DOCKERFILE)
    installs = [i.args for i in instructions if i.keyword == "RUN" and " install " in i.args]
    assert installs == ['python -m pip --python "$VENV/bin/python" install -c proxy/requirements.txt ./proxy']
    text = PROXY_DOCKERFILE.read_text()
    for line in (REPO / "proxy" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line not in text, f"{line}: a second copy of a pin; read proxy/requirements.txt"
    final = final_stage(instructions)
    assert [i.args for i in final if i.keyword == "EXPOSE"] == ["9092 9100"]
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert exec_form(final, "ENTRYPOINT") == ["/opt/ferry-proxy/bin/ferry-proxy"]


def test_mm2_image_resolves_jars_as_the_sandbox_does_and_runs_the_sandboxs_main_class() -> None:
    from sandbox.mm2 import MIRROR_MAKER_MAIN

    instructions = _instructions(MM2_DOCKERFILE)
    runs = [i.args for i in instructions if i.keyword == "RUN"]
    # sandbox/jars.py's goal, on the same pom.
    assert any("-f kafka/runtime/pom.xml dependency:copy-dependencies -DincludeScope=runtime" in r for r in runs)
    assert all("--strict-checksums" in r for r in runs if r.startswith("mvn "))
    entry = exec_form(final_stage(instructions), "ENTRYPOINT")
    assert entry[0] == "java" and entry[-1] == MIRROR_MAKER_MAIN
    assert entry[entry.index("-cp") + 1] == "/opt/kafka/libs/*"  # Kafka's and Strimzi's layout


# ---- (a) the proxy image, run


@pytest.mark.kafka
def test_what_the_proxy_image_installs_routes_a_real_client(tmp_path: Path, kafka: dict[str, Cluster]) -> None:
    from proxy_harness import make_table, write_routes
    from sandbox.clients import Record, consume, create_topic, fetch_metadata, produce
    from sandbox.proxyproc import start_proxy

    instructions = _instructions(PROXY_DOCKERFILE)
    image = FakeRoot(tmp_path / "root", REPO)
    # `python` and its pip are the build stage's; the image's own pip never enters the venv.
    image.build(instructions, clean_env([Path(sys.executable).parent]))
    final = final_stage(instructions)
    env = image.stage_env(instructions, final[0].stage)
    venv = Path(env["VENV"])
    script = ("import importlib.metadata as m, json\n"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    listed = subprocess.run([str(venv / "bin" / "python"), "-c", script],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_env(), check=True)
    installed = {_norm(name): version for name, version in json.loads(listed.stdout).items()}
    assert set(installed) == SLIM, installed  # exactly the slim set: no pip, no setuptools, no compiler deps
    pins = dict(line.split("==") for line in (REPO / "proxy/requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert {_norm(k): v for k, v in pins.items()} == {k: v for k, v in installed.items() if k != "ferry-proxy"}

    legacy, target = kafka["legacy"], kafka["target"]
    routes = tmp_path / "routes" / "gw-image.routes.json"
    routes.parent.mkdir()
    write_routes(routes, make_table({"legacy": [legacy.bootstrap], "target": [target.bootstrap]},
                                    [("image.moved.*", "route", "target")], default="legacy", gateway="gw-image"))
    before = snapshot(image.root)
    proxy = start_proxy(routes, log=tmp_path / "proxy.log", decision_log=tmp_path / "decisions.jsonl",
                        command=image.command(exec_form(final, "ENTRYPOINT")), env={**clean_env(), **env})
    try:
        # The process is the venv's Python running the entry point script: nothing wraps it.
        cmdline = Path(f"/proc/{proxy.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].decode().startswith(str(venv)) and cmdline[1].decode().endswith("bin/ferry-proxy")
        assert "loop uvloop" in proxy.output()
        topic = f"image-{uuid.uuid4().hex[:8]}"
        create_topic(target.client_config(), topic)
        assert fetch_metadata(target.client_config(proxy.bootstrap, "image.moved.admin"), timeout=15).cluster_id \
            == target.cluster_id
        assert fetch_metadata(legacy.client_config(proxy.bootstrap, "image.stays.admin"), timeout=15).cluster_id \
            == legacy.cluster_id
        sent = [Record(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]
        produce(target.client_config(proxy.bootstrap, "image.moved.producer"), topic, sent)
        got = consume(target.client_config(proxy.bootstrap, "image.moved.consumer"), topic, 5,
                      group=f"image-{uuid.uuid4().hex[:8]}")
        assert [r.content() for r in got] == [r.content() for r in sent]
        # SIGTERM to that one process, as the container runtime sends it to PID 1: it drains, exits 0.
        os.kill(proxy.pid, signal.SIGTERM)
        code = proxy.proc.wait(timeout=30)
    finally:
        proxy.stop(timeout=30)
    assert code == 0, proxy.output()
    assert snapshot(image.root) == before, "the proxy wrote into the image (read-only root filesystem)"
    routed = routed_clients(tmp_path / "decisions.jsonl")
    assert routed["image.moved.producer"] == "target" and routed["image.stays.admin"] == "legacy"
    assert "Traceback" not in proxy.output()


# ---- the Strimzi variant: no Strimzi image runs here; its own stage is built and its promises read


def test_the_strimzi_image_adds_the_policy_jar_to_the_base_the_operator_runs(tmp_path: Path) -> None:
    import zipfile

    from compiler.models import Images
    from compiler.render import POLICY_CLASS

    instructions = _instructions(STRIMZI_DOCKERFILE)
    # The base is a required build argument: declared before the first FROM, without a default.
    assert [i.args for i in instructions if i.stage == -1] == ["STRIMZI_KAFKA_IMAGE"]
    final = final_stage(instructions)
    assert final[0].args == "${STRIMZI_KAFKA_IMAGE}"
    (user,) = [i.args for i in final if i.keyword == "USER"]
    assert user.isdigit() and int(user) > 0
    labels = " ".join(i.args for i in final if i.keyword == "LABEL")
    for key in ("title", "description", "version", "revision", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels
    # Strimzi starts its own scripts: the image keeps the base's entrypoint and command.
    assert not [i for i in final if i.keyword in ("ENTRYPOINT", "CMD")]
    copies = [i for i in final if i.keyword == "COPY"]
    assert [(c.flags, c.args.split()[-1]) for c in copies] == [
        (("--from=policy",), "/opt/kafka/libs/ferry-rename-policy.jar")]
    # The build stage, run as written: the policy jar with the class the rendered resources name.
    image = FakeRoot(tmp_path / "root", REPO)
    image.build([i for i in instructions if i.stage == 0], clean_env())
    with zipfile.ZipFile(image.path("/opt/kafka/libs/ferry-rename-policy.jar")) as jar:
        assert POLICY_CLASS.replace(".", "/") + ".class" in jar.namelist()
    assert Images().mirrormaker_strimzi.split("/")[-1].startswith("ferry-mirrormaker2-strimzi:")


# ---- (b) the MirrorMaker 2 image, run


@pytest.mark.kafka
def test_what_the_mm2_image_runs_mirrors_a_topic(tmp_path: Path, sandbox_nodes: dict[str, KafkaNode],
                                                 kafka_lib: Path) -> None:
    from mm2_harness import (
        SECRET,
        SOURCE,
        TARGET,
        TopicReader,
        commit_offsets,
        create_legacy_topics,
        end_offsets,
        make_flow,
        produce,
    )
    from sandbox import processes
    from sandbox.jars import require_tool
    from sandbox.mm2 import write_secret

    instructions = _instructions(MM2_DOCKERFILE)
    image = FakeRoot(tmp_path / "root", REPO)
    image.build(instructions, clean_env())  # mvn and java from PATH, artifacts from ~/.m2
    final = final_stage(instructions)
    libs = image.path("/opt/kafka/libs")
    jars = sorted(p.name for p in libs.glob("*.jar"))
    assert jars == sorted([*(p.name for p in kafka_lib.glob("*.jar")), "ferry-rename-policy.jar"])
    # The JMX exporter agent where the chart's default metrics.javaagentPath expects it.
    chart_values = (REPO / "charts" / "ferry-mirrormaker2" / "values.yaml").read_text()
    chart_metrics = YAML(typ="safe").load(chart_values)["metrics"]
    agent = image.path(chart_metrics["javaagentPath"])
    assert chart_metrics["enabled"] is True and agent.is_file()

    legacy_node, target_node = sandbox_nodes["legacy"], sandbox_nodes["target"]
    secrets = tmp_path / "secrets"
    write_secret(secrets, SECRET, "ferry", target_node.users["ferry"])
    token = f"img{time.monotonic_ns() % 10**8}"
    bootstraps = {SOURCE: legacy_node.bootstrap, TARGET: target_node.bootstrap}
    flow = make_flow(tmp_path / "flow", token, bootstraps, secrets)
    legacy, target = legacy_node.client_config(), target_node.client_config()
    create_legacy_topics(legacy, flow)
    first = flow.topic("orders")
    produce(legacy, first.legacy, "image", 10)

    entry = image.command(exec_form(final, "ENTRYPOINT"))
    argv = [require_tool("java"), *entry[1:], str(flow.mm2_config), "--clusters", TARGET]
    before = snapshot(image.root)
    out = tmp_path / "mm2.out"
    # JAVA_TOOL_OPTIONS as the chart's Deployment sets it (-javaagent:<javaagentPath>=<port>:<its rules file>),
    # with the agent and the rules at their paths here and a free port.
    port = free_port()
    rules = REPO / "charts" / "ferry-mirrormaker2" / "files" / "jmx-exporter.yaml"
    env = {**clean_env(), "JAVA_TOOL_OPTIONS": f"-javaagent:{agent}={port}:{rules}"}
    mm2 = processes.spawn(argv, output=out, env=env, cwd=tmp_path)

    def alive() -> None:
        assert mm2.poll() is None, f"MirrorMaker 2 exited {mm2.poll()}:\n{out.read_text()[-4000:]}"

    try:
        with TopicReader(target, first.new) as reader:
            seen = reader.wait_for(10, timeout=120, alive=alive)
        assert first.new != first.legacy and len(seen) >= 10
        # The exporter serves what the chart's alerts and dashboard read, by the rules' names.
        assert http_get(port, "/-/healthy")[0] == 200
        samples = scrape_until(port, lambda got: sum(
            v for name, labels, v in got
            if name == "kafka_connect_mirror_source_record_count" and labels.get("topic") == first.new) >= 10,
            alive=alive)
        names = {name for name, _, _ in samples}
        running = [v for name, _, v in samples if name == "kafka_connect_worker_connector_running_task_count"]
        assert running and max(running) >= 1, sorted(names)
        lags = {labels["topic"] for name, labels, _ in samples if name == "kafka_consumer_fetch_manager_records_lag"}
        assert first.legacy in lags, lags
        ours = rule_metrics(names)
        assert ours <= EXPORTED, sorted(ours - EXPORTED)
        # A group of the flow commits on the source: the checkpoint connector translates it, and its
        # checkpoint latency is exported per group by the checkpoint rule.
        group = next(g for g, read in sorted(flow.groups.items()) if first.legacy in read)
        commit_offsets(legacy, group, first.legacy, end_offsets(legacy, first.legacy))
        samples = scrape_until(port, lambda got: any(
            name == "kafka_connect_mirror_checkpoint_latency_ms" and labels.get("group") == group
            for name, labels, _ in got), alive=alive)
        checkpointed = {labels["topic"] for name, labels, _ in samples
                        if name == "kafka_connect_mirror_checkpoint_latency_ms" and labels["group"] == group}
        assert checkpointed == {first.new}, checkpointed  # labelled with the renamed topic
        assert rule_metrics({name for name, _, _ in samples}) <= EXPORTED
        os.kill(mm2.pid, signal.SIGTERM)  # as to PID 1: MM2 stops its herders and exits
        mm2.wait(timeout=30)
    finally:
        processes.terminate(mm2, timeout=30)
    log = out.read_text()
    assert " INFO " in log and "(o.a.k.c.m." in log, log[-2000:]  # the image's console-only log4j2 config
    assert snapshot(image.root) == before, "MirrorMaker 2 wrote into the image (read-only root filesystem)"


def rule_metrics(names: set[str]) -> set[str]:
    """The names the exporter's rules made: all but the agent's own and the JVM's (always on)."""
    return {name for name in names if not name.startswith(("jvm_", "process_", "jmx_"))}


#: every metric name the chart's exporter rules can produce (everything else is dropped by the rules)
EXPORTED = {
    *(f"kafka_connect_mirror_source_{a}" for a in ("record_count", "byte_rate", "replication_latency_ms",
                                                   "record_age_ms")),
    "kafka_connect_mirror_checkpoint_latency_ms",
    *(f"kafka_connect_worker_connector_{s}_task_count" for s in ("running", "failed", "paused", "unassigned",
                                                               "total")),
    "kafka_consumer_fetch_manager_records_lag",
}




Samples = list[tuple[str, dict[str, str], float]]


def scrape_until(port: int, done: Callable[[Samples], bool], alive: Callable[[], None],
                 timeout: float = 90) -> Samples:
    """The exporter's samples ((name, labels, value), parsed by prometheus-client) once ``done`` holds."""
    deadline = time.monotonic() + timeout
    got: Samples = []
    while time.monotonic() < deadline:
        alive()
        status, text = http_get(port, "/metrics")
        assert status == 200, text[:500]
        got = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]
        if done(got):
            return got
        time.sleep(1)
    raise AssertionError(f"not exported within {timeout} s: {sorted({name for name, _, _ in got})}")
