"""The local stack behind ``ferry sandbox up|down|status``: the specs' clusters, MirrorMaker 2
for every rendered flow and, when the proxy is installed, one proxy per gateway — all on
loopback, started detached so they outlive the command, and recorded in ``sandbox.json``.

Layout under the state directory (default ``.ferry/``, git-ignored)::

    sandbox.json                         what runs: clusters, mm2, proxy (pids, addresses, files)
    logs/                                every process's log (<name>.log / <name>.out)
    sandbox/clusters/<cluster>/          broker data
    sandbox/secrets/<secret>/            username, password (the sandbox's SCRAM user)
    sandbox/mm2/<flow>.properties        the rendered file, localised (sandbox.mm2)
    sandbox/proxy/<gateway>.routes.json  the rendered route table, localised

Pure parts (which node per cluster, the localised route table, the state document, process
identity) are separate from the IO (``up``, ``down``, ``status``).

Processes are identified by pid **and** start time (``/proc/<pid>/stat`` field 22), so a pid the
kernel reused for something else is never signalled. Each leads its own process group; ``down``
signals the group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from compiler.diagnostics import format_text
from compiler.live.connections import ClusterConnectionError, Connections
from compiler.live.cutover import FencedGroup, entered_fence, fenced_groups, run_align
from compiler.live.preflight import routes_in_force
from compiler.models import SaslMechanism, SecurityProtocol
from compiler.org import Flow, Org, build_org
from compiler.output import read_tree, write_tree
from compiler.plan import format_plan, plan_changes
from compiler.render import render_org
from compiler.spec import Specs
from compiler.validate import validate_specs
from proxy.routetable import Endpoint, RouteTable, build_table, parse_route_file, route_file_text
from sandbox.brokerconfig import SCRAM_MECHANISM, SecurityMode
from sandbox.clients import ClusterUnreachable, create_topic, fetch_metadata
from sandbox.cluster import DEFAULT_USERS, KafkaNode, start_all
from sandbox.errors import SandboxError
from sandbox.jars import ensure_kafka_lib, ensure_policy_jar
from sandbox.mm2 import (
    MirrorMaker2,
    connector_states,
    mm2_running,
    status_topic,
    substitute_mm2_properties,
    wait_until,
    write_secret,
)
from sandbox.proxyproc import ProxyProcess, start_proxy

STATE_FILE = "sandbox.json"
SANDBOX_USER = "ferry"  # the SCRAM user written into every Secret folder
STOP_GRACE_SECONDS = 20.0
Echo = Callable[[str], None]


# ---- pure


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    security: SecurityMode
    secret: str | None


def plan_clusters(specs: Specs) -> list[ClusterPlan]:
    """One single-node cluster per spec cluster, with the security its spec asks for."""
    plans = []
    for name, cluster in sorted(specs.clusters.model.clusters.items()):
        sec = cluster.security
        if sec.protocol is SecurityProtocol.PLAINTEXT:
            plans.append(ClusterPlan(name, SecurityMode.PLAINTEXT, None))
        elif sec.protocol is SecurityProtocol.SASL_PLAINTEXT and sec.sasl_mechanism is SaslMechanism.SCRAM_SHA_512:
            plans.append(ClusterPlan(name, SecurityMode.SCRAM, sec.secret))
        else:
            mechanism = f" {sec.sasl_mechanism.value}" if sec.sasl_mechanism else ""
            raise SandboxError(
                f"cluster {name}: the sandbox runs PLAINTEXT and SASL_PLAINTEXT/{SCRAM_MECHANISM} clusters, "
                f"not {sec.protocol.value}{mechanism}"
            )
    return plans


def local_route_table(table: RouteTable, bootstraps: Mapping[str, str]) -> RouteTable:
    """The rendered table with every cluster endpoint pointing at its local cluster (version recomputed)."""
    missing = sorted(set(table.clusters) - set(bootstraps))
    if missing:
        raise SandboxError(f"gateway {table.gateway}: no local cluster for {', '.join(missing)}")
    clusters = {name: Endpoint(bootstrap=(bootstraps[name],), tls=False) for name in table.clusters}
    return build_table(table.gateway, table.listen, table.default_cluster, clusters, list(table.rules))


def local_route_file_text(table: RouteTable) -> str:
    return route_file_text(table, "ferry sandbox: the rendered route table with local cluster endpoints")


def cluster_entry(node_bootstrap: str, plan: ClusterPlan, password: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"bootstrap": node_bootstrap, "security_protocol": plan.security.value}
    if plan.security is SecurityMode.SCRAM:
        entry.update({"sasl_mechanism": SCRAM_MECHANISM, "sasl_username": SANDBOX_USER, "sasl_password": password})
    return entry


# ---- process identity


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def process_record(pid: int, **extra: Any) -> dict[str, Any]:
    return {"pid": pid, "start_time": start_time(pid), **extra}


def is_alive(record: Mapping[str, Any]) -> bool:
    pid = record.get("pid")
    return isinstance(pid, int) and start_time(pid) is not None and start_time(pid) == record.get("start_time")


def all_processes(state: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, record) in stop order: proxies, MirrorMaker 2, clusters."""
    out = [(f"proxy {gw}", rec) for gw, rec in sorted(state.get("proxy", {}).get("gateways", {}).items())]
    out += [(f"mm2 {flow}", rec) for flow, rec in sorted(state.get("mm2", {}).items())]
    out += [(f"cluster {name}", rec) for name, rec in sorted(state.get("clusters", {}).items())]
    return out


# ---- state file


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_path(state_dir).read_text())
        return state
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise SandboxError(f"{state_path(state_dir)} is not valid JSON ({exc}); remove it") from exc


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` whole (a reader sees the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text)
    os.replace(scratch, path)


def write_state(state_dir: Path, state: Mapping[str, Any]) -> None:
    write_atomically(state_path(state_dir), json.dumps(state, indent=2, sort_keys=True) + "\n")


# ---- up


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _http_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def cluster_client_config(entry: Mapping[str, Any]) -> dict[str, str]:
    """confluent-kafka settings for a cluster as sandbox.json records it."""
    config = {"bootstrap.servers": entry["bootstrap"]}
    if entry.get("sasl_mechanism"):
        config.update({"security.protocol": entry["security_protocol"], "sasl.mechanism": entry["sasl_mechanism"],
                       "sasl.username": entry["sasl_username"], "sasl.password": entry["sasl_password"]})
    return config


@dataclass(frozen=True)
class Site:
    """Where a running sandbox keeps things, and what its components are started with. All paths are
    absolute: they go to child processes that may run in another working directory."""

    state_dir: Path
    lib: Path
    policy_jar: Path

    @property
    def data(self) -> Path:
        return self.state_dir / "sandbox"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def secrets(self) -> Path:
        return self.data / "secrets"

    @property
    def applied(self) -> Path:
        """The rendered tree the running sandbox was last brought to (``up`` or ``sync``)."""
        return self.data / "rendered"

    def mm2_config(self, flow: str) -> Path:
        return self.data / "mm2" / f"{flow}.properties"

    def route_file(self, gateway: str) -> Path:
        return self.data / "proxy" / f"{gateway}.routes.json"


def _ensure_legacy_topics(specs: Specs, org: Org, clusters: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Create the legacy topics the flows mirror (with the spec's partition counts); returns those created."""
    created = []
    for mig in specs.migrations:
        if not any(f.source == mig.model.source for f in org.flows):
            continue
        source = {**cluster_client_config(clusters[mig.model.source]), "log_level": 3}
        existing_topics = set(fetch_metadata(source).topics)
        for legacy in sorted(mig.model.topics):
            if legacy not in existing_topics:
                create_topic(source, legacy, mig.model.renamed(legacy).partitions or 1)
                created.append(f"{mig.model.source}/{legacy}")
    return created


def _localised_mm2(rendered: Mapping[str, str], flow: str, bootstraps: Mapping[str, str], site: Site) -> str:
    return substitute_mm2_properties(rendered[f"mm2/{flow}.properties"], bootstraps, site.secrets)


def _start_mm2(flow: Flow, text: str, site: Site) -> tuple[MirrorMaker2, dict[str, Any]]:
    config = site.mm2_config(flow.name)
    config.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(config, text)
    mm2 = MirrorMaker2(f"sandbox-mm2-{flow.name}", config, clusters=[flow.target], log_dir=site.logs,
                       lib_dir=site.lib, policy_jar=site.policy_jar, detached=True)
    mm2.start()
    assert mm2.pid is not None  # start() either runs it or raises
    return mm2, process_record(mm2.pid, config=str(config), log=str(mm2.log_file), source=flow.source,
                               target=flow.target)


def _wait_mm2(flow: Flow, mm2: MirrorMaker2, clusters: Mapping[str, Mapping[str, Any]], deadline: float) -> None:
    """Until the flow's connectors run and its renamed topics exist on the target."""
    target = {**cluster_client_config(clusters[flow.target]), "log_level": 3}
    expected = {r.new for r in flow.renames}

    def ready() -> bool:
        mm2.check_alive()
        try:
            if not mm2_running(connector_states(target, status_topic(flow.source))):
                return False
            return expected <= set(fetch_metadata(target).topics)
        except (KafkaException, ClusterUnreachable):
            return False  # a topic MM2 just created is not readable for a moment

    wait_until(ready, timeout=max(10.0, deadline - time.monotonic()), interval=0.5,
               what=f"MirrorMaker 2 {flow.name}: connectors RUNNING and renamed topics created")


def _local_routes(rendered: Mapping[str, str], gateway: str, bootstraps: Mapping[str, str]) -> RouteTable:
    return local_route_table(parse_route_file(rendered[f"proxy/{gateway}.routes.json"], gateway), bootstraps)


def _start_proxy(gateway: str, table: RouteTable, site: Site, deadline: float) -> tuple[ProxyProcess, dict[str, Any]]:
    routes = site.route_file(gateway)
    write_atomically(routes, local_route_file_text(table))
    proxy = start_proxy(routes, log=site.logs / f"sandbox-proxy-{gateway}.log",
                        decision_log=site.logs / f"sandbox-proxy-{gateway}.decisions.jsonl", detached=True,
                        timeout=max(10.0, deadline - time.monotonic()))
    record = process_record(proxy.pid, listen=proxy.bootstrap, admin=proxy.admin_url, routes=str(routes),
                            log=str(proxy.log), decision_log=str(proxy.decision_log))
    return proxy, record


def _stop_quietly(things: list[Any]) -> None:
    for thing in reversed(things):
        with contextlib.suppress(Exception):  # best effort while unwinding
            thing.stop()


def up(specs_dir: Path, state_dir: Path, *, echo: Echo = print, timeout: float = 180.0,
       with_proxy: bool = True) -> dict[str, Any]:
    """Start everything and wait until it is ready; returns the state written to sandbox.json.

    On failure everything started so far is stopped again and SandboxError raised.
    """
    state_dir = state_dir.absolute()
    existing = read_state(state_dir)
    if existing is not None:
        running = [label for label, rec in all_processes(existing) if is_alive(rec)]
        if running:
            raise SandboxError(f"the sandbox is already up ({', '.join(running)}); `ferry sandbox down` first")
    specs, org, rendered = _compile(specs_dir)
    plans = plan_clusters(specs)

    site = Site(state_dir, lib=Path(), policy_jar=Path())
    if site.data.exists():
        shutil.rmtree(site.data)
    site.logs.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {"ready": False, "specs": str(specs_dir.absolute()), "state_dir": str(state_dir),
                             "clusters": {}, "mm2": {}, "proxy": {}}
    started: list[Any] = []
    try:
        site = Site(state_dir, lib=ensure_kafka_lib(), policy_jar=ensure_policy_jar())
        nodes = {
            p.name: KafkaNode(f"sandbox-{p.name}", base_dir=site.data / "clusters" / p.name, security=p.security,
                              log_dir=site.logs, lib_dir=site.lib, detached=True)
            for p in plans
        }
        t0 = time.monotonic()
        echo(f"starting {len(nodes)} cluster(s): {', '.join(nodes)}")
        started.extend(nodes.values())
        start_all(list(nodes.values()), timeout=max(30.0, deadline - time.monotonic()))
        for p in plans:
            node = nodes[p.name]
            assert node.pid is not None  # start_all either starts every node or raises
            state["clusters"][p.name] = {
                **cluster_entry(node.bootstrap, p, DEFAULT_USERS[SANDBOX_USER]),
                **process_record(node.pid, log=str(node.log_file)),
            }
        write_state(state_dir, state)
        echo(f"  clusters ready in {time.monotonic() - t0:.1f} s")

        bootstraps = {name: node.bootstrap for name, node in nodes.items()}
        for p in plans:
            if p.secret:
                write_secret(site.secrets, p.secret, SANDBOX_USER, DEFAULT_USERS[SANDBOX_USER])
        _ensure_legacy_topics(specs, org, state["clusters"])

        mm2s: dict[str, MirrorMaker2] = {}
        for flow in org.flows:
            mm2, record = _start_mm2(flow, _localised_mm2(rendered, flow.name, bootstraps, site), site)
            started.append(mm2)
            mm2s[flow.name] = mm2
            state["mm2"][flow.name] = record
            write_state(state_dir, state)
        t1 = time.monotonic()
        if mm2s:
            echo(f"starting MirrorMaker 2 for {len(mm2s)} flow(s): {', '.join(mm2s)}")
        for flow in org.flows:
            _wait_mm2(flow, mm2s[flow.name], state["clusters"], deadline)
        if mm2s:
            echo(f"  MirrorMaker 2 ready in {time.monotonic() - t1:.1f} s")

        gateways = org.gateways if with_proxy else ()
        if gateways:
            state["proxy"] = {"gateways": {}, "admin": {}}
            echo(f"starting {len(gateways)} proxy(ies): {', '.join(g.table.gateway for g in gateways)}")
        for gw in gateways:
            name = gw.table.gateway
            proc, record = _start_proxy(name, _local_routes(rendered, name, bootstraps), site, deadline)
            started.append(proc)
            state["proxy"]["gateways"][name] = record
            state["proxy"]["admin"][name] = record["admin"]
            write_state(state_dir, state)
        if not gateways:
            state.pop("proxy")
        write_tree(rendered, site.applied)
        state["ready"] = True
        write_state(state_dir, state)
        return state
    except BaseException:
        echo("start-up failed; stopping what was started")
        _stop_quietly(started)
        state_path(state_dir).unlink(missing_ok=True)
        raise


def _compile(specs_dir: Path) -> tuple[Specs, Org, dict[str, str]]:
    """Validate and render the specs; SandboxError (with the diagnostics) when they have errors."""
    validation = validate_specs(specs_dir)
    if not validation.ok:
        errors = [d for d in validation.diagnostics if d.is_error]
        raise SandboxError(
            f"{specs_dir} has {len(errors)} error(s); nothing changed:\n{format_text(validation.diagnostics)}".rstrip())
    specs = validation.specs
    assert specs is not None  # ok implies loaded
    org = build_org(specs)
    return specs, org, render_org(org)


# ---- sync


@dataclass
class SyncReport:
    """What ``sync`` changed: the plan's words, then what was done to which process."""

    plan: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def lines(self) -> list[str]:
        return [*self.plan, *self.actions] if self.changed else ["sandbox in sync with the specs: nothing to change"]


def sync(specs_dir: Path, state_dir: Path, *, echo: Echo = print, timeout: float = 120.0) -> SyncReport:
    """Bring the running sandbox to the specs, as CI and Argo CD do in production.

    Validate (on errors raise and change nothing); render; swap each gateway's localised route file in
    place and wait until its proxy serves the new version (a hot reload: the proxy keeps running and so
    do its connections); restart only the MirrorMaker 2 flows whose localised config changed, start new
    flows, stop removed ones; then align the groups whose fence is new since the last applied tree
    (``align_entering``). Clusters are not added or removed (that is ``down`` + ``up``). Idempotent:
    a second call changes nothing and says so.
    """
    state_dir = state_dir.absolute()
    state = read_state(state_dir)
    if state is None or not state.get("ready"):
        raise SandboxError(f"the sandbox is not up (no ready {state_path(state_dir)}); `ferry sandbox up` first")
    down_now = [label for label, rec in all_processes(state) if not is_alive(rec)]
    if down_now:
        raise SandboxError(f"not running: {', '.join(down_now)}; `ferry sandbox down` then `ferry sandbox up`")
    specs, org, rendered = _compile(specs_dir)
    wanted = {p.name for p in plan_clusters(specs)}
    if wanted != set(state["clusters"]):
        added, removed = sorted(wanted - set(state["clusters"])), sorted(set(state["clusters"]) - wanted)
        change = ", ".join([*(f"+{c}" for c in added), *(f"-{c}" for c in removed)])
        raise SandboxError(f"the specs' clusters changed ({change}); sync does not add or remove clusters: "
                           "`ferry sandbox down` then `ferry sandbox up`")
    site = Site(state_dir, lib=ensure_kafka_lib(), policy_jar=ensure_policy_jar())
    report = SyncReport()
    applied = read_tree(site.applied) if site.applied.is_dir() else {}
    entering = entered_fence(fenced_groups(specs), routes_in_force(site.applied, specs) if applied else {})
    report.plan = format_plan(plan_changes(applied, rendered)).rstrip("\n").splitlines()
    deadline = time.monotonic() + timeout
    bootstraps = {name: rec["bootstrap"] for name, rec in state["clusters"].items()}
    for p in plan_clusters(specs):
        if p.secret:
            write_secret(site.secrets, p.secret, SANDBOX_USER, DEFAULT_USERS[SANDBOX_USER])
    report.actions += [f"topic {t}: created on the legacy cluster" for t in
                       _ensure_legacy_topics(specs, org, state["clusters"])]

    # Routes first: a cut-over group's instances reach the target as soon as the proxy says so; the
    # mirror keeps running for it (its offsets keep syncing until the migration completes).
    if "proxy" in state:
        report.actions += _sync_proxies(state, org, rendered, bootstraps, site, deadline, echo)
        write_state(state_dir, state)
    report.actions += _sync_mirrors(state, org, rendered, bootstraps, site, deadline, echo)
    write_tree(rendered, site.applied)
    write_state(state_dir, state)
    if entering:
        report.actions += align_entering(specs, entering, state_dir, specs_dir)
    return report


def align_entering(specs: Specs, groups: list[FencedGroup], state_dir: Path, specs_dir: Path) -> list[str]:
    """`ferry cutover align` (the same code) for the groups this sync put into the fence: each group's exact
    position written to the target, or why not. A refusal (its legacy instances not gone yet, the mirror
    behind) or an unreachable cluster does not fail the sync, whose changes are in force: it says so and how
    to run the alignment again."""
    def shown(path: Path) -> str:
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)

    connections = state_path(state_dir)
    again = f"ferry cutover align --specs {shown(specs_dir.absolute())} --connections {shown(connections)} --group"
    try:
        results = run_align(Connections(specs.clusters.model.clusters, connections), groups, dry_run=False)
    except ClusterConnectionError as exc:
        return [f"cutover align: not run ({exc}); run `{again} {g.name}`" for g in groups]
    lines = []
    for g in results:
        if g.refused:
            lines.append(f"cutover align {g.group}: refused, nothing written: {'; '.join(g.refusals())}; the sync "
                         f"is done, run `{again} {g.group}` once that is resolved")
            continue
        written = sorted(g.to_write().items())
        lines.append(f"cutover align {g.group}: entered the fence; wrote {len(written)} exact offset(s) to "
                     f"{g.target}, read back equal" + (": " if written else ""))
        by_target = {(p.target_topic, p.partition): p for p in g.partitions}
        lines += [f"  {t}[{p}] {by_target[(t, p)].legacy_offset} on {g.source} -> {o}" for (t, p), o in written]
    return lines


def _sync_proxies(state: dict[str, Any], org: Org, rendered: Mapping[str, str], bootstraps: Mapping[str, str],
                  site: Site, deadline: float, echo: Echo) -> list[str]:
    actions = []
    running: dict[str, dict[str, Any]] = state["proxy"]["gateways"]
    wanted = {gw.table.gateway for gw in org.gateways}
    for name in sorted(set(running) - wanted):
        stop_processes([(f"proxy {name}", running[name])], echo=echo)
        del running[name]
        state["proxy"]["admin"].pop(name, None)
        actions.append(f"proxy {name}: stopped (gateway removed)")
    for name in sorted(wanted):
        table = _local_routes(rendered, name, bootstraps)
        if name not in running:
            _proc, record = _start_proxy(name, table, site, deadline)
            running[name] = record
            state["proxy"]["admin"][name] = record["admin"]
            actions.append(f"proxy {name}: started on {record['listen']} (new gateway)")
            continue
        record = running[name]
        serving = _http_json(f"{record['admin']}/routes") or {}
        if serving.get("version") == table.version:
            continue
        write_atomically(Path(record["routes"]), local_route_file_text(table))

        def reloaded(admin: str = record["admin"], version: str = table.version) -> bool:
            return (_http_json(f"{admin}/routes") or {}).get("version") == version

        wait_until(reloaded, timeout=max(5.0, deadline - time.monotonic()), interval=0.05,
                   what=f"proxy {name} to hot-reload route version {table.version} (see {record['log']})")
        actions.append(f"proxy {name}: routes {serving.get('version', '?')} -> {table.version} "
                       f"(hot reload, pid {record['pid']} kept)")
    return actions


def _sync_mirrors(state: dict[str, Any], org: Org, rendered: Mapping[str, str], bootstraps: Mapping[str, str],
                  site: Site, deadline: float, echo: Echo) -> list[str]:
    actions = []
    running: dict[str, dict[str, Any]] = state["mm2"]
    flows = {flow.name: flow for flow in org.flows}
    for name in sorted(set(running) - set(flows)):
        stop_processes([(f"mm2 {name}", running[name])], echo=echo)
        del running[name]
        site.mm2_config(name).unlink(missing_ok=True)
        actions.append(f"mm2 {name}: stopped (flow removed)")
    starting: list[tuple[Flow, MirrorMaker2]] = []
    for name, flow in sorted(flows.items()):
        text = _localised_mm2(rendered, name, bootstraps, site)
        if name in running:
            try:
                current = Path(running[name]["config"]).read_text()
            except OSError:
                current = None
            if current == text:
                continue
            stop_processes([(f"mm2 {name}", running[name])], echo=echo)
            actions.append(f"mm2 {name}: restarted (rendered config changed)")
        else:
            actions.append(f"mm2 {name}: started (new flow)")
        mm2, running[name] = _start_mm2(flow, text, site)
        starting.append((flow, mm2))
    for flow, mm2 in starting:
        _wait_mm2(flow, mm2, state["clusters"], deadline)
    return actions


# ---- down


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_processes(records: list[tuple[str, dict[str, Any]]], grace: float = STOP_GRACE_SECONDS,
                   echo: Echo = print) -> list[str]:
    """SIGTERM every live one, wait up to ``grace`` s, SIGKILL what is left; returns what was stopped."""
    live = [(label, rec) for label, rec in records if is_alive(rec)]
    for _label, rec in live:
        _signal_group(rec["pid"], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(rec) for _l, rec in live):
        time.sleep(0.1)
    for label, rec in live:
        if is_alive(rec):
            echo(f"  {label}: still running after {grace:.0f} s, SIGKILL")
            _signal_group(rec["pid"], signal.SIGKILL)
    kill_deadline = time.monotonic() + 10
    while time.monotonic() < kill_deadline and any(is_alive(rec) for _l, rec in live):
        time.sleep(0.05)
    return [label for label, _rec in live]


def down(state_dir: Path, *, echo: Echo = print) -> list[str]:
    """Stop everything sandbox.json records (proxies and MM2 first, then clusters); remove the data."""
    state = read_state(state_dir)
    if state is None:
        echo(f"nothing to stop: no {state_path(state_dir)}")
        return []
    records = all_processes(state)
    front = [(label, rec) for label, rec in records if not label.startswith("cluster ")]
    back = [(label, rec) for label, rec in records if label.startswith("cluster ")]
    stopped = stop_processes(front, echo=echo) + stop_processes(back, echo=echo)
    left = [label for label, rec in records if is_alive(rec)]
    if left:
        raise SandboxError(f"still running: {', '.join(left)}")
    shutil.rmtree(state_dir / "sandbox", ignore_errors=True)
    state_path(state_dir).unlink(missing_ok=True)
    return stopped


# ---- status


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def status(state_dir: Path) -> dict[str, Any]:
    """What runs, checked now: process alive, and per kind one cheap liveness probe."""
    state = read_state(state_dir)
    if state is None:
        return {"up": False, "components": []}
    components = []
    clients: dict[str, dict[str, str]] = {}
    for name, rec in sorted(state.get("clusters", {}).items()):
        config = cluster_client_config(rec)
        clients[name] = config
        alive = is_alive(rec)
        detail = rec["bootstrap"]
        if alive:
            try:
                topics = fetch_metadata(config, timeout=5).topics
                detail += f", {len([t for t in topics if not t.startswith('__')])} topics"
            except ClusterUnreachable as exc:
                alive, detail = False, f"{detail}: {exc}"
        components.append({"kind": "cluster", "name": name, "pid": rec["pid"], "running": alive, "detail": detail})
    for flow, rec in sorted(state.get("mm2", {}).items()):
        alive = is_alive(rec)
        detail = rec["config"]
        target = clients.get(rec.get("target", ""))
        if alive and target is not None and is_alive(state["clusters"][rec["target"]]):
            try:
                states = connector_states(target, status_topic(rec["source"]))
            except (KafkaException, TimeoutError) as exc:
                states, detail = {}, f"status topic unreadable: {exc}"
            else:
                running = sum(v == "RUNNING" for k, v in states.items() if not k.startswith("topic-"))
                detail = f"{running} connectors/tasks RUNNING" + ("" if mm2_running(states) else " (not all)")
            alive = mm2_running(states)
        components.append({"kind": "mm2", "name": flow, "pid": rec["pid"], "running": alive, "detail": detail})
    for gw, rec in sorted(state.get("proxy", {}).get("gateways", {}).items()):
        alive = is_alive(rec) and _http_ok(f"{rec['admin']}/readyz") and _port_open(rec["listen"])
        components.append({"kind": "proxy", "name": gw, "pid": rec["pid"], "running": alive,
                           "detail": f"listen {rec['listen']}, admin {rec['admin']}"})
    return {"up": bool(components) and all(c["running"] for c in components), "components": components}
