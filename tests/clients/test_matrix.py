"""The client compatibility matrix: every library the seed's teams use, through the real proxy,
on the session's real clusters (legacy PLAINTEXT, target SASL_PLAINTEXT/SCRAM-SHA-512).

Per library (one driver each, see README.md here):

* routed - a conforming client id with SCRAM: the brokers it is given are the target's, 10
  records go out and come back;
* default - an id no rule matches, no SASL: the brokers are legacy's;
* resume - a consumer reads 4, commits, closes; the next one in the group reads exactly the
  other 6;
* misconfigured - routed to the SASL target without credentials: what the application sees;
* fenced - an instance of a fenced group (consumer) and producer, with the proxy's default
  hold and with the hold off (the old behaviour): what the application sees and how often it
  reconnects, from the proxy's own count of refusals.

The table it writes goes into docs/clients.md (between the `matrix` markers) and, with every
detail, into .ferry/clients-matrix.json.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import toolchain_go
import toolchain_java
import toolchain_node
import toolchain_python
from confluent_kafka.admin import AdminClient, NewTopic
from driver import Driver, request

from proxy.config import Limits
from proxy.routetable import Action
from proxy_clusters import Cluster
from proxy_harness import RunningProxy, make_table, write_routes

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "clients.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"
#: Seconds a fenced instance is watched (longer than one default hold, so a reconnect shows).
FENCED_WINDOW_S = 40.0
#: Seconds with the hold off: the old behaviour, a reconnect storm shows at once.
STORM_WINDOW_S = 12.0
NOCREDS_WINDOW_S = 15.0
#: The issue's target: at most one bootstrap a second per fenced instance.
MAX_FENCED_RATE = 1.0

K = TypeVar("K")

RULES: list[tuple[str, Action, str | None]] = [
    ("matrix.fenced.*", "fence", None), ("matrix.routed.*", "route", "target"), ("matrix.nocreds.*", "route", "target"),
]


def _slug(library: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", library.lower()).strip("-")


@pytest.fixture(scope="module")
def drivers() -> list[Driver]:
    # Toolchains install themselves (cached under ~/.cache/ferry/clients); a missing one fails.
    return [*toolchain_python.drivers(), *toolchain_java.drivers(), *toolchain_node.drivers(), *toolchain_go.drivers()]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory, kafka: dict[str, Cluster]) -> Path:
    path = tmp_path_factory.mktemp("matrix") / "gw-matrix.routes.json"
    write_routes(path, make_table({"legacy": [kafka["legacy"].bootstrap], "target": [kafka["target"].bootstrap]},
                                  RULES, default="legacy", gateway="gw-matrix"))
    return path


@pytest.fixture(scope="module")
def proxy(routes: Path) -> Iterator[RunningProxy]:
    with RunningProxy(routes) as p:
        yield p


def _topic(cluster: Cluster, name: str) -> str:
    admin = AdminClient(cluster.client_config())
    admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=15)[name].result(timeout=20)
    return name


def _parallel(jobs: dict[K, Callable[[], dict[str, Any]]]) -> dict[K, dict[str, Any]]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def _first_error(result: dict[str, Any]) -> str:
    """The first thing the application saw, shortened for a table cell: object reprs such as
    kafka-python's ``<BrokerConnection … <connected> …>`` become ``<…>``."""
    errors = result.get("errors") or []
    text = re.sub(r"\s+", " ", str(errors[0])) if errors else "nothing at all (no error surfaced)"
    text = re.sub(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "HOST:PORT", text)  # this run's ports: not news
    text = re.sub(r"'HOST:PORT', \d+", "'HOST', PORT", text)
    text = re.sub(r"<([^<>]{0,24})>", r"(\1)", text)
    text = re.sub(r"<[^<>]{25,}>", "<…>", text)
    return text if len(text) <= 200 else text[:120] + " … " + text[-60:]


def _fenced_window(routes: Path, drivers: list[Driver], kafka: dict[str, Cluster], hold: float | None,
                   window: float, roles: tuple[str, ...], stamp: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Fenced instances of every library at once, through a proxy with this hold; per (library,
    role): the driver's result and ``rate`` (refusals a second, from the proxy's own log)."""
    limits = Limits() if hold is None else Limits(fence_hold=hold)
    jobs: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {}
    with RunningProxy(routes, limits=limits) as p:
        for d in drivers:
            for role in roles:
                req = request("observe", bootstrap=p.bootstrap, client_id=f"matrix.fenced.{_slug(d.library)}.{role}",
                              role=role, topic=f"matrix-fenced-{stamp}", group=f"matrix-fenced-{_slug(d.library)}",
                              timeout_s=window)
                jobs[(d.library, role)] = lambda d=d, req=req: d.run(req)  # type: ignore[misc]
        results = _parallel(jobs)
    refusals: dict[str, int] = {}
    for rec in p.records:  # after stop: the last window's counts are flushed
        if rec["event"] == "fenced":
            refusals[rec["client_id"]] = refusals.get(rec["client_id"], 0) + int(rec["count"])
    for (library, role), result in results.items():
        count = refusals.get(f"matrix.fenced.{_slug(library)}.{role}", 0)
        result["refusals"] = count
        result["rate"] = count / window
    return results


def test_every_library_through_the_proxy(
    drivers: list[Driver], proxy: RunningProxy, routes: Path, kafka: dict[str, Cluster]
) -> None:
    legacy, target = kafka["legacy"], kafka["target"]
    stamp = str(time.monotonic_ns())
    legacy_brokers, target_brokers = [legacy.bootstrap], [target.bootstrap]
    rows: dict[str, dict[str, Any]] = {}
    failures: list[str] = []

    def check(library: str, name: str, ok: bool, shown: str, detail: Any = None) -> None:
        rows[library].setdefault("checks", {})[name] = {"ok": ok, "shown": shown}
        if not ok:
            failures.append(f"{library} {name}: {shown}: {detail}")

    for d in drivers:
        slug = _slug(d.library)
        rows[d.library] = {"library": d.library}
        routed_id, plain_id = f"matrix.routed.{slug}.1", f"{slug}.plain.1"
        topic = _topic(target, f"matrix-{slug}-{stamp}")
        sasl = target.sasl()
        assert sasl is not None
        meta = d.run(request("metadata", bootstrap=proxy.bootstrap, client_id=routed_id, sasl=sasl, timeout_s=30))
        rows[d.library]["version"] = meta.get("version", "?")
        brokers_ok = meta.get("ok") is True and meta.get("brokers") == target_brokers
        id_ok = meta.get("cluster_id") in (None, target.cluster_id)
        check(d.library, "routed", brokers_ok and id_ok, "target's brokers" if brokers_ok and id_ok else "wrong", meta)
        produced = d.run(request("produce", bootstrap=proxy.bootstrap, client_id=routed_id, sasl=sasl, topic=topic,
                                 count=10, timeout_s=30))
        group = f"matrix-{slug}-{stamp}"
        first = d.run(request("consume", bootstrap=proxy.bootstrap, client_id=routed_id, sasl=sasl, topic=topic,
                              group=group, count=4, timeout_s=60))
        rest = d.run(request("consume", bootstrap=proxy.bootstrap, client_id=routed_id, sasl=sasl, topic=topic,
                             group=group, count=6, timeout_s=60))
        round_trip = produced.get("produced") == 10 and first.get("values") == [f"v{i}" for i in range(4)]
        check(d.library, "produce+consume", round_trip and first.get("committed") is True,
              "10 out, 4 back, committed" if round_trip else "failed", (produced, first))
        resumed = rest.get("values") == [f"v{i}" for i in range(4, 10)]
        check(d.library, "resume", resumed, "v4..v9 exactly" if resumed else f"got {rest.get('values')}", rest)
        default = d.run(request("metadata", bootstrap=proxy.bootstrap, client_id=plain_id, timeout_s=30))
        default_ok = default.get("ok") is True and default.get("brokers") == legacy_brokers
        check(d.library, "default route", default_ok, "legacy's brokers" if default_ok else "wrong", default)
        for client_id, cluster in ((routed_id, "target"), (plain_id, "legacy")):
            proxy.wait_for(lambda cid=client_id: any(r.get("client_id") == cid for r in proxy.log),  # type: ignore[misc]
                           what=f"a decision line for {client_id}")
            assert {r["cluster"] for r in proxy.log if r.get("client_id") == client_id} == {cluster}

    # Misconfigured: routed to the SASL target without credentials, every library at once.
    nocreds = _parallel({
        d.library: (lambda d=d: d.run(request(  # type: ignore[misc]
            "observe", bootstrap=proxy.bootstrap, client_id=f"matrix.nocreds.{_slug(d.library)}.1", role="consumer",
            topic=f"matrix-nocreds-{stamp}", group=f"matrix-nocreds-{_slug(d.library)}", timeout_s=NOCREDS_WINDOW_S)))
        for d in drivers
    })
    for library, result in nocreds.items():
        check(library, "misconfigured", result.get("delivered", 0) == 0, _first_error(result), result)
        rows[library]["seen"] = {"misconfigured": result.get("errors")}

    storm = _fenced_window(routes, drivers, kafka, 0.0, STORM_WINDOW_S, ("consumer",), stamp)
    held = _fenced_window(routes, drivers, kafka, None, FENCED_WINDOW_S, ("consumer", "producer"), stamp)
    for d in drivers:
        before = storm[(d.library, "consumer")]["rate"]
        after = max(held[(d.library, role)]["rate"] for role in ("consumer", "producer"))
        rows[d.library]["fenced"] = {
            "rate_hold_off": round(before, 2), "rate_hold_default": round(after, 2),
            "consumer_sees": _first_error(held[(d.library, "consumer")]),
            "producer_sees": _first_error(held[(d.library, "producer")]),
            "fatal": any(held[(d.library, role)].get("fatal") for role in ("consumer", "producer")),
        }
        rows[d.library]["seen"].update({
            f"fenced {role}": held[(d.library, role)].get("errors") for role in ("consumer", "producer")
        } | {"fenced consumer, closed at once": storm[(d.library, "consumer")].get("errors")})
        refused = all(held[(d.library, r)].get("delivered", 0) == 0 for r in ("consumer", "producer"))
        check(d.library, "fenced", refused and after <= MAX_FENCED_RATE,
              f"{after:.2f}/s held, {before:.2f}/s at once", held[(d.library, "consumer")])

    _write(rows)
    assert failures == [], "\n".join(failures)


def _write(rows: dict[str, dict[str, Any]]) -> None:
    out = REPO / ".ferry" / "clients-matrix.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    header = ("library", "version", "routed (SCRAM)", "produce + consume", "resume", "default route",
              "misconfigured: the app sees", "fenced: reconnects/s held (at once)", "fenced consumer sees",
              "fenced producer sees")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows.values():
        c, f = row["checks"], row["fenced"]

        def mark(name: str, c: dict[str, Any] = c) -> str:
            return ("ok" if c[name]["ok"] else "FAILED") + f": {c[name]['shown']}"

        lines.append(
            f"| {row['library']} | {row['version']} | {mark('routed')} | {mark('produce+consume')} | {mark('resume')} "
            f"| {mark('default route')} | {_cell(c['misconfigured']['shown'])} "
            f"| {f['rate_hold_default']:.2f} ({f['rate_hold_off']:.2f}){' fatal' if f['fatal'] else ''} "
            f"| {_cell(f['consumer_sees'])} | {_cell(f['producer_sees'])} |"
        )
    table = "\n".join(lines)
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    DOC.write_text(f"{text[:start]}\n<!-- written by tests/clients/test_matrix.py on {stamp}; do not edit -->\n"
                   f"{table}\n{text[end:]}")


def _cell(text: str) -> str:
    return "`" + text.replace("|", "/").replace("`", "'") + "`"
