"""`ferry sandbox demo`: one migration of the example org, live, on the sandbox.

On a copy of the specs (``<state-dir>/specs``; the user's ``specs/`` is never touched) and a
sandbox of its own (``<state-dir>``, default ``.ferry/demo``):

0. validate and render the copy, bring the sandbox up (clusters, MirrorMaker 2, proxies);
   start the team's clients with their legacy client ids, bootstrapping through the proxy:
   a producer writing both topics, one instance of the consumer group reading them; and
   another team's producer and group that stay on legacy throughout (bystanders).
1. **mirroring** — the migration as shipped: MirrorMaker 2 copies the topics under their new
   names and translates the group's committed offsets; every client stays on legacy.
2. **group cut over** — the copy gets ``cutover: true`` and both attestations for the group
   (the team's PR). The team stops the legacy instance; ``ferry preflight``'s offset-sync and
   target-group-idle gates pass once MirrorMaker 2 translated its final offsets; ``ferry sandbox
   sync`` (merge + Argo CD) flips the route by hot reload; the instance restarts the way the team
   would: policy-conforming client id, renamed topics, SASL/SCRAM credentials of the target.
3. **producers cut over** — ``cutover: true`` for the producer (the compiler allows it now that
   every group of its topics moved); ``sync``; the producer restarts with its new id on the
   renamed topics. The consumer reads the tail of mirrored messages, then direct ones.

Then the producers stop, the groups drain, and the tally says what was sent, received, lost
(acknowledged, never received) and duplicated (MirrorMaker 2's offset translation is within
``offset.lag.max`` per partition: a bounded re-read, shown as it is). The sandbox is torn
down at the end — also on Ctrl-C (SIGINT) and SIGTERM — and the last line is the summary.

Pure parts live beside this module in ``sandbox.demo``: who moves (``sandbox.demo.cast``), the spec edits
(``sandbox.demo.spec_edits``), the tally (``sandbox.demo.tally``), the view (``sandbox.demo.view``). IO:
the clients (``sandbox.demo.traffic``), the screen (``sandbox.demo.screen``), and the walk here.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from compiler.diagnostics import format_text
from compiler.live.connections import ClusterConnectionError, Connections
from compiler.live.preflight import run_preflight
from compiler.output import write_tree
from compiler.render import render_specs
from compiler.spec import Specs
from compiler.validate import validate_specs
from sandbox import stack
from sandbox.clients import ClusterUnreachable, committed_offsets
from sandbox.demo.cast import ATTESTATION, Cast, cast_of, scope_of
from sandbox.demo.screen import Monitor, Screen
from sandbox.demo.spec_edits import cut_over_group, cut_over_producer, keep_only
from sandbox.demo.tally import Counts, Tally
from sandbox.demo.traffic import ConsumerInstance, Instance, ProducerInstance
from sandbox.demo.view import summary_line
from sandbox.errors import SandboxError
from sandbox.mm2 import wait_until

# Messages/s each producer writes (and its group reads again): ~360/s through the clients in all.
# The migrating producer stays at 15/s per partition: MirrorMaker 2 checkpoints every 5 s (the
# example policy) and translates a stopped group's offset from the offset syncs around it, so
# the translation is within offset.lag.max (100) - what preflight's offset-sync gate demands -
# only while a partition gains fewer than ~100 records per checkpoint interval.
RATE = 30.0
BYSTANDER_RATE = 150.0
STEPS = ("mirroring", "group cut over", "producers cut over")
MIRROR_WAIT_SECONDS = 90.0   # MM2 lists groups every refresh_groups_interval (30 s in the example policy)
GATES_WAIT_SECONDS = 60.0
CLIENT_WAIT_SECONDS = 45.0
BOTH_WRITERS_SECONDS = 6.0   # how long the producer runs on the target before the drain
DRAIN_SECONDS = 60.0


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop the walk, tear down, exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ---- signals


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """The first SIGINT or SIGTERM raises Interrupted in the main thread (the walk's try/finally
    tears down); any further one is ignored, so a second Ctrl-C cannot cut short the clean-up
    that the first one started (e.g. `sandbox up` stopping what it had started)."""

    def later(_signum: int, _frame: object) -> None:
        pass

    def first(signum: int, _frame: object) -> None:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, later)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, first) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def signals_deferred(note: Callable[[], None]) -> Iterator[list[int]]:
    """While tearing down, a further Ctrl-C or SIGTERM is noted, not obeyed: stopping half-way
    would leave processes running."""
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        note()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# ---- the walk


@dataclass
class Result:
    counts: Counts
    lost: int
    steps: int
    seconds: float
    phases: dict[str, float]
    interrupted: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.interrupted is None and self.lost == 0 and self.steps == len(STEPS)


class Demo:
    def __init__(self, specs_dir: Path, state_dir: Path, screen: Screen, monitor: Monitor, rate: float) -> None:
        self.user_specs = specs_dir
        self.state_dir = state_dir.absolute()
        self.specs = self.state_dir / "specs"
        self.rendered = self.state_dir / "rendered"
        self.screen, self.monitor, self.rate = screen, monitor, rate
        self.phases: dict[str, float] = {}
        self.steps_done = 0
        self.state: dict[str, Any] = {}
        self.legacy_config: dict[str, Any] = {}
        self.target_config: dict[str, Any] = {}
        self.cast: Cast | None = None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = round(time.monotonic() - t0, 1)

    # -- preparing

    def prepare(self) -> Cast:
        """A fresh copy of the specs, validated and rendered (the demo's own `rendered/`)."""
        if stack.read_state(self.state_dir) is not None:
            self.screen.event(f"a previous demo's sandbox is recorded in {self.state_dir}: stopping it first")
            stack.down(self.state_dir, echo=self.screen.event)
        if self.specs.exists():
            shutil.rmtree(self.specs)
        shutil.copytree(self.user_specs, self.specs)
        specs = self.validated()
        cast = cast_of(specs)
        scope = scope_of(specs, cast.gateway)
        for rel in scope.dropped:
            (self.specs / rel).unlink()
            if not any((self.specs / rel).parent.iterdir()):
                (self.specs / rel).parent.rmdir()
        clusters_file = self.specs / "clusters.yaml"
        clusters_file.write_text(
            keep_only(clusters_file.read_text(), clusters=scope.clusters, gateways=[scope.gateway]))
        write_tree(render_specs(self.validated()), self.rendered)
        left_out = f" (left out, on another gateway: {', '.join(map(str, scope.dropped))})" if scope.dropped else ""
        self.screen.event(f"specs copied to {self.specs} (yours stay untouched), narrowed to gateway {scope.gateway}: "
                          f"clusters {', '.join(scope.clusters)}, {len(scope.kept)} migration(s){left_out}; "
                          f"valid; rendered to {self.rendered}")
        return cast

    def validated(self) -> Specs:
        validation = validate_specs(self.specs)
        if not validation.ok or validation.specs is None:
            errors = [d for d in validation.diagnostics if d.is_error]
            listing = format_text(validation.diagnostics).rstrip()
            raise SandboxError(f"{self.specs} has {len(errors)} error(s):\n{listing}")
        return validation.specs

    def edit(self, change: Callable[[str], str], what: str) -> None:
        assert self.cast is not None
        path = self.specs / self.cast.spec_file
        path.write_text(change(path.read_text()))
        self.validated()
        self.screen.event(f"PR: {what} in {self.cast.spec_file} (valid)")

    def client_configs(self) -> None:
        assert self.cast is not None
        gateway = self.state["proxy"]["gateways"][self.cast.gateway]
        # Every client bootstraps through the gateway; on the target it logs in as the sandbox writes it.
        self.legacy_config = {"bootstrap.servers": gateway["listen"]}
        self.target_config = {**stack.cluster_client_config(self.state["clusters"][self.cast.target]),
                              "bootstrap.servers": gateway["listen"]}
        self.monitor.cluster_by_address = {rec["bootstrap"]: name for name, rec in self.state["clusters"].items()}
        self.monitor.decision_log = Path(gateway["decision_log"])

    def start(self, instance: Instance) -> Instance:
        self.monitor.instances.append(instance)
        instance.start()
        return instance

    def stop(self, instance: Instance) -> None:
        instance.stop()
        if instance.is_alive():
            raise SandboxError(f"{instance.kind} {instance.client_id} did not stop within 40 s")

    def sync(self) -> None:
        report = stack.sync(self.specs, self.state_dir, echo=self.screen.event)
        for line in report.lines:
            self.screen.event(f"sync: {line}")

    def target_offsets(self) -> dict[str, dict[int, int]]:
        """The group's translated offsets on the target, per renamed topic (only those it has)."""
        assert self.cast is not None
        config: dict[str, Any] = {**stack.cluster_client_config(self.state["clusters"][self.cast.target]),
                                  "log_level": 0}
        out = {}
        for topic, partitions in zip(self.cast.group_topics_new, self.cast.group_partitions, strict=True):
            try:
                got = committed_offsets(config, topic, partitions, self.cast.group, timeout=5)
            except Exception:  # noqa: BLE001 - not there yet; asked again
                got = {}
            out[topic] = {p: o for p, o in got.items() if o >= 0}
        return out

    def gates(self) -> tuple[bool, str]:
        """`ferry preflight`'s offset-sync and target-group-idle for the group, against the demo's
        rendered tree (what is merged) and the edited copy (the PR)."""
        assert self.cast is not None
        specs = self.validated()
        mig = next(m for m in specs.migrations if m.name == self.cast.migration)
        try:
            conns = Connections(specs.clusters.model.clusters, stack.state_path(self.state_dir))
            results = run_preflight(specs, [mig], conns, self.rendered)
        except (ClusterConnectionError, ClusterUnreachable) as exc:
            return False, str(exc)
        gates = [r for r in results if r.subject == self.cast.group and r.gate in ("offset-sync", "target-group-idle")]
        detail = "; ".join(f"{r.gate} {r.status}: {r.detail}" for r in gates) or "no gate ran"
        return bool(gates) and all(r.status == "ok" for r in gates), detail

    def merged(self) -> None:
        """The PR merged: the demo's rendered tree follows the copy (what preflight compares with)."""
        write_tree(render_specs(self.validated()), self.rendered)

    def walk(self) -> None:
        with self.phase("prepare"):
            self.screen.activity("validating and rendering a copy of the specs")
            self.cast = cast = self.prepare()
        with self.phase("up"):
            self.screen.activity("bringing the sandbox up: a cluster per spec cluster, MirrorMaker 2 per flow, "
                                 "a proxy per gateway")
            self.state = stack.up(self.specs, self.state_dir, echo=self.screen.event)
            self.client_configs()
            gw = self.state["proxy"]["gateways"][cast.gateway]
            self.screen.event(f"sandbox up; clients bootstrap through proxy {cast.gateway} at {gw['listen']}")

        tally = self.monitor.tally
        legacy_group_id, new_group_id = cast.group_ids
        legacy_producer_id, new_producer_id = cast.producer_ids

        # 1. mirroring
        self.monitor.current = 1
        with self.phase("mirroring"):
            self.screen.activity(f"step 1/3 mirroring: {cast.migration} as shipped; clients start on "
                                 f"{cast.source} with their legacy ids")
            by = cast.bystanders
            self.start(ProducerInstance(by.producer_id, f"producer {by.producer} (stays)", list(by.topics),
                                        self.legacy_config, tally, BYSTANDER_RATE))
            self.start(ConsumerInstance(by.group_id, f"group {by.group} (stays)", list(by.topics),
                                        self.legacy_config, tally, by.group))
            producer = self.start(ProducerInstance(legacy_producer_id, f"producer {cast.producer}",
                                                   list(cast.producer_topics), self.legacy_config, tally, self.rate))
            consumer = self.start(ConsumerInstance(legacy_group_id, f"group {cast.group}", list(cast.group_topics),
                                                   self.legacy_config, tally, cast.group))
            wait_until(lambda: consumer.first_at, timeout=CLIENT_WAIT_SECONDS,
                       what=f"{legacy_group_id} to receive on {cast.source}")
            self.screen.activity(f"step 1/3 mirroring: waiting for MirrorMaker 2 to translate {cast.group}'s offsets "
                                 f"to {cast.target} (it lists groups every refresh.groups.interval)")
            wait_until(lambda: all(self.target_offsets().values()), timeout=MIRROR_WAIT_SECONDS,
                       what=f"MirrorMaker 2 to translate {cast.group}'s offsets to {cast.target}", interval=1.0)
            self.screen.event(f"MirrorMaker 2 translates {cast.group}'s offsets onto "
                              f"{', '.join(cast.group_topics_new)}")
        self.steps_done = self.monitor.done = 1

        # 2. the consumer group cuts over
        self.monitor.current = 2
        with self.phase("group-cutover"):
            self.screen.activity(f"step 2/3 group cut over: {cast.group}")
            self.edit(lambda t: cut_over_group(t, cast.group, ATTESTATION),
                      f"consumer group {cast.group}: cutover: true (attested)")
            self.stop(consumer)
            self.screen.event(f"{legacy_group_id} stopped on {cast.source} (final offsets committed)")
            self.screen.activity(f"step 2/3 group cut over: preflight gates offset-sync and target-group-idle "
                                 f"for {cast.group}")
            last = [""]

            def gates_ok() -> bool:
                ok, last[0] = self.gates()
                return ok

            try:
                wait_until(gates_ok, timeout=GATES_WAIT_SECONDS, what=f"preflight gates for {cast.group}", interval=1.0)
            except SandboxError as exc:
                raise SandboxError(f"{exc}: {last[0]}") from None
            self.screen.event(f"preflight: {last[0]}")
            self.screen.activity("step 2/3 group cut over: ferry sandbox sync")
            self.sync()
            self.merged()
            consumer = self.start(ConsumerInstance(new_group_id, f"group {cast.group}", list(cast.group_topics_new),
                                                   self.target_config, tally, cast.group))
            wait_until(lambda: consumer.first_at, timeout=CLIENT_WAIT_SECONDS,
                       what=f"{new_group_id} to receive on {cast.target}")
            self.screen.event(f"{new_group_id} consumes {', '.join(cast.group_topics_new)} on {cast.target}")
        self.steps_done = self.monitor.done = 2

        # 3. the producers cut over
        self.monitor.current = 3
        with self.phase("producer-cutover"):
            self.screen.activity(f"step 3/3 producers cut over: {cast.producer}")
            self.edit(lambda t: cut_over_producer(t, cast.producer), f"producer {cast.producer}: cutover: true")
            self.sync()
            self.merged()
            self.stop(producer)
            self.screen.event(f"{legacy_producer_id} stopped on {cast.source} (flushed)")
            producer = self.start(ProducerInstance(new_producer_id, f"producer {cast.producer}",
                                                   list(cast.producer_topics_new), self.target_config, tally,
                                                   self.rate))
            wait_until(lambda: producer.first_at, timeout=CLIENT_WAIT_SECONDS,
                       what=f"{new_producer_id} to write on {cast.target}")
            self.screen.event(f"{new_producer_id} writes {', '.join(cast.producer_topics_new)} on {cast.target}")
            time.sleep(BOTH_WRITERS_SECONDS)
        self.steps_done = self.monitor.done = 3
        self.monitor.current = None

        with self.phase("drain"):
            self.screen.activity("draining: producers stopped, the groups read what is left")
            producers = [i for i in self.monitor.instances if i.kind == "producer" and not i.stopped]
            for instance in producers:
                self.stop(instance)
            try:
                wait_until(lambda: tally.counts().pending == 0, timeout=DRAIN_SECONDS,
                           what="the groups to receive every message")
            except SandboxError as exc:
                self.screen.event(f"{exc}: still missing e.g. {', '.join(tally.pending_sample())}")
            for instance in [i for i in self.monitor.instances if not i.stopped]:
                self.stop(instance)

    def stop_clients(self) -> None:
        for instance in list(self.monitor.instances):
            if instance.is_alive():
                instance.stop(timeout=15)

    def teardown(self) -> None:
        with self.phase("down"):
            self.screen.activity("tearing the sandbox down")
            stopped = stack.down(self.state_dir, echo=self.screen.event)
            if stopped:
                self.screen.event(f"stopped {len(stopped)}: {', '.join(stopped)}")


def run(specs_dir: Path, state_dir: Path, *, console: Console | None = None, rate: float = RATE) -> Result:
    """The whole demo; returns its result (the caller prints the summary and picks the exit code)."""
    console = console or Console()
    started = time.monotonic()
    monitor = Monitor(Tally(), steps=STEPS, started=started)
    screen = Screen(monitor, console)
    demo = Demo(specs_dir, state_dir, screen, monitor, rate)
    interrupted: str | None = None
    error: str | None = None
    with screen:
        try:
            with signals_interrupt():
                demo.walk()
        except Interrupted as exc:
            interrupted = str(exc)
        except KeyboardInterrupt:
            interrupted = "SIGINT"
        except SandboxError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported with its type, then torn down
            error = f"{type(exc).__name__}: {exc}"
        finally:
            with signals_deferred(lambda: screen.event("still tearing down; the sandbox stops in a moment")):
                if interrupted:
                    screen.event(f"{interrupted}: stopping the clients and the sandbox")
                if error:
                    screen.event(f"failed: {error}")
                demo.stop_clients()
                try:
                    demo.teardown()
                except SandboxError as exc:
                    error = error or f"teardown: {exc}"
                    screen.event(f"teardown failed: {exc}")
    counts = monitor.tally.counts()
    lost = counts.pending if demo.steps_done == len(STEPS) and not interrupted else 0
    result = Result(counts=counts, lost=lost, steps=demo.steps_done, seconds=round(time.monotonic() - started, 1),
                    phases=demo.phases, interrupted=interrupted, error=error)
    record = {**result.__dict__, "counts": counts.__dict__, "ok": result.ok}
    (demo.state_dir / "demo-result.json").write_text(json.dumps(record, indent=2) + "\n")
    return result


def report_lines(result: Result) -> list[str]:
    """What the command prints after the view: phases, what went wrong, and the summary last."""
    lines = ["phases: " + " ".join(f"{k}={v}s" for k, v in result.phases.items())]
    if result.interrupted:
        lines.append(f"interrupted ({result.interrupted}) after {result.steps} of {len(STEPS)} steps; "
                     "sandbox torn down")
    if result.error:
        lines.append(f"ferry sandbox demo: {result.error}")
    if result.counts.pending and not result.lost:
        lines.append(f"{result.counts.pending} message(s) in flight when the walk stopped (not counted as lost)")
    lines.append(summary_line(result.counts, lost=result.lost, steps=result.steps, seconds=result.seconds))
    return lines
