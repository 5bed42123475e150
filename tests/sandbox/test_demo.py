"""The pure parts of `ferry sandbox demo`: the spec edits, the tally, the cast read from the
example org, the view model and its renderings. No Kafka (the real run is tests/fresh/test_demo.py)."""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from compiler.spec import Specs
from compiler.validate import validate_specs
from sandbox.demo import RATE, STEPS, Result, report_lines
from sandbox.demo.cast import cast_of, conforming_id, scope_of
from sandbox.demo.screen import Monitor
from sandbox.demo.spec_edits import Attestation, cut_over_group, cut_over_producer, keep_only
from sandbox.demo.tally import Counts, Tally
from sandbox.demo.traffic import clusters_of, connected_brokers, message_id
from sandbox.demo.view import (
    ClientRow,
    Frame,
    decision_text,
    fold_decisions,
    per_second,
    plain_line,
    render,
    steps_view,
    summary_line,
)
from sandbox.errors import SandboxError

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
SEARCH = SPECS / "migrations/search/catalog-index.yaml"
WHO = Attestation(by="demo@example.com", ref="DEMO-1")


def specs_at(root: Path) -> Specs:
    specs = validate_specs(root).specs
    assert specs is not None
    return specs


def added_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert all(line.startswith("+") for line in changed), f"lines removed: {changed}"
    return [line[1:] for line in changed]


# ---- the spec edits


def test_group_cutover_adds_exactly_the_flag_and_both_attestations() -> None:
    before = SEARCH.read_text()
    after = cut_over_group(before, "search-indexer", WHO)
    assert added_lines(before, after) == [
        "    cutover: true",
        "    attestations:",
        "      idempotent: {by: demo@example.com, ref: DEMO-1}",
        "      unordered_ok: {by: demo@example.com, ref: DEMO-1}",
    ]
    # placed under the right group: the next group follows the new lines
    assert after.index("unordered_ok: {by: demo@example.com") < after.index("  search-ranking-trainer:")


def test_group_cutover_replaces_a_fence_and_keeps_existing_attestations() -> None:
    text = (SPECS / "migrations/billing/invoices.yaml").read_text()
    after = cut_over_group(text, "billing-ledger", WHO)
    ledger = after[after.index("  billing-ledger:"):after.index("  billing-refund-worker:")]
    assert "fence" not in ledger and "cutover: true" in ledger
    assert "ref: BILL-1420" in ledger and "DEMO-1" not in ledger
    assert after.startswith("# yaml-language-server")  # comments survive the round trip


def test_producer_cutover_adds_one_line() -> None:
    before = cut_over_group(SEARCH.read_text(), "search-indexer", WHO)
    after = cut_over_producer(before, "catalog-api")
    assert added_lines(before, after) == ["    cutover: true"]
    assert after.rstrip().endswith("cutover: true")


def test_an_unknown_entry_is_named_with_what_exists() -> None:
    known = r"\(it has: search-indexer, search-ranking-trainer\)"
    with pytest.raises(SandboxError, match=rf"no consumer_groups entry 'nope' {known}"):
        cut_over_group(SEARCH.read_text(), "nope", WHO)
    with pytest.raises(SandboxError, match="no producers entry 'search-indexer'"):
        cut_over_producer(SEARCH.read_text(), "search-indexer")


def test_the_edited_copies_validate_at_each_step_and_skipping_a_step_does_not(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    spec = specs / "migrations/search/catalog-index.yaml"
    shipped = spec.read_text()

    spec.write_text(cut_over_producer(shipped, "catalog-api"))  # producers before their group
    result = validate_specs(specs)
    assert not result.ok
    assert {d.code for d in result.diagnostics if d.is_error} == {"producer-cutover-before-consumers"}

    spec.write_text(cut_over_group(shipped, "search-indexer", WHO))
    assert validate_specs(specs).ok
    spec.write_text(cut_over_producer(spec.read_text(), "catalog-api"))
    assert validate_specs(specs).ok


# ---- the cast


def test_the_cast_comes_from_the_example_org() -> None:
    cast = cast_of(specs_at(SPECS))
    assert (cast.migration, cast.source, cast.target, cast.gateway) == (
        "search/catalog-index", "legacy-service", "governed", "gw-service")
    assert cast.spec_file == Path("migrations/search/catalog-index.yaml")
    assert cast.group_topics == ("catalog_updates", "catalog-deletes")
    assert cast.group_topics_new == ("search.catalog.updated.v1", "search.catalog.deleted.v1")
    assert cast.group_partitions == (1, 1)
    assert cast.producer_topics_new == cast.group_topics_new
    assert cast.group_ids == ("search-indexer-1", "search.indexer.0")
    assert cast.producer_ids == ("catalog-api-1", "search.catalog-api.0")
    assert (cast.bystanders.group_id, cast.bystanders.producer_id) == ("chat.history-archiver.0", "chat.chat-server.0")


def test_the_client_ids_route_where_the_walk_says() -> None:
    """Legacy ids go to legacy by default; conforming ids follow their rule (the same decision the proxy makes)."""
    from compiler.org import build_org

    specs = specs_at(SPECS)
    cast = cast_of(specs)
    table = next(gw.table for gw in build_org(specs).gateways if gw.table.gateway == cast.gateway)
    for legacy_id in (cast.group_ids[0], cast.producer_ids[0]):
        decision = table.decide(legacy_id)
        assert (decision.rule, decision.cluster) == (None, "legacy-service")
    for new_id in (cast.group_ids[1], cast.producer_ids[1], cast.bystanders.group_id, cast.bystanders.producer_id):
        decision = table.decide(new_id)
        assert decision.rule is not None and (decision.action, decision.cluster) == ("route", "legacy-service")


def test_a_migration_past_mirroring_is_refused(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    spec = specs / "migrations/search/catalog-index.yaml"
    spec.write_text(cut_over_group(spec.read_text(), "search-indexer", WHO))
    with pytest.raises(SandboxError, match=r"not in the mirroring stage .*search-indexer"):
        cast_of(specs_at(specs))


def test_conforming_id_fills_every_wildcard() -> None:
    assert conforming_id("search.indexer.*") == "search.indexer.0"
    assert conforming_id("a.b-?.x*") == "a.b-0.x0"


# ---- the tally


def test_tally_counts_sent_received_pending_duplicated() -> None:
    t = Tally()
    for i in range(5):
        t.acknowledged(message_id("p", i))
    assert t.counts() == Counts(sent=5, received=0, unique=0, duplicated=0, pending=5, failed=0)
    for i in range(3):
        t.received(message_id("p", i))
    t.received(message_id("p", 0))  # a mirrored copy, read again after the move
    t.received(message_id("p", 0))
    t.failed(message_id("p", 9))    # never acknowledged: not pending, not lost
    assert t.counts() == Counts(sent=5, received=5, unique=3, duplicated=2, pending=2, failed=1)
    assert t.pending_sample() == ["p:3", "p:4"]


def test_tally_a_message_received_before_its_delivery_report_is_not_pending() -> None:
    t = Tally()
    t.received("p:1")
    t.acknowledged("p:1")
    t.acknowledged("p:1")  # reported twice: counted once
    assert t.counts() == Counts(sent=1, received=1, unique=1, duplicated=0, pending=0, failed=0)


# ---- where a client is


def test_connected_brokers_are_the_learned_ones_that_are_up() -> None:
    stats = {"brokers": {
        "127.0.0.1:9092/bootstrap": {"nodeid": -1, "nodename": "127.0.0.1:9092", "state": "UP"},
        "127.0.0.1:41001/1": {"nodeid": 1, "nodename": "127.0.0.1:41001", "state": "UP"},
        "127.0.0.1:41002/1": {"nodeid": 1, "nodename": "127.0.0.1:41002", "state": "DOWN"},
    }}
    brokers = connected_brokers(json.dumps(stats))
    assert brokers == {"127.0.0.1:41001"}
    assert clusters_of(brokers, {"127.0.0.1:41001": "governed"}) == ["governed"]
    assert clusters_of(frozenset({"10.0.0.1:1"}), {}) == ["10.0.0.1:1"]
    assert connected_brokers("not json") == frozenset()


def test_the_decision_log_folds_to_the_latest_decision_per_client() -> None:
    seen: dict[str, str] = {}
    fold_decisions([
        {"client_id": "search-indexer-1", "rule": None, "action": "route", "cluster": "legacy-service"},
        {"client_id": "search.indexer.0", "rule": "search.indexer.*", "action": "route", "cluster": "legacy-service"},
        {"client_id": "search.indexer.0", "rule": "search.indexer.*", "action": "route", "cluster": "governed"},
        {"client_id": None, "rule": None, "action": "route", "cluster": "legacy-service"},
    ], seen)
    assert seen == {"search-indexer-1": "default -> legacy-service", "search.indexer.0": "search.indexer.* -> governed"}
    assert decision_text({"rule": "billing.ledger.*", "action": "fence", "cluster": None}) == \
        "billing.ledger.* -> refused (fence)"


# ---- the view


def frame() -> Frame:
    rows = (
        ClientRow("search-indexer-1", "group search-indexer", "consumer", "stopped", (),
                  "default -> legacy-service", 900),
        ClientRow("search.indexer.0", "group search-indexer", "consumer", "running", ("governed",),
                  "search.indexer.* -> governed", 120),
        ClientRow("catalog-api-1", "producer catalog-api", "producer", "running", ("legacy-service",),
                  "default -> legacy-service", 1000),
    )
    return Frame(elapsed=42.5, steps=steps_view(STEPS, done=1, current=2), activity="step 2/3 group cut over",
                 rows=rows, counts=Counts(sent=1000, received=1020, unique=990, duplicated=30, pending=10, failed=0),
                 sent_rate=30.0, received_rate=29.6, events=("  1.0s  sandbox up",))


def test_steps_view_marks_done_now_next() -> None:
    assert [s.state for s in steps_view(STEPS, done=1, current=2)] == ["done", "now", "next"]
    assert [s.state for s in steps_view(STEPS, done=3, current=None)] == ["done", "done", "done"]


def test_plain_line_names_the_step_the_counts_and_where_running_clients_are() -> None:
    assert plain_line(frame()) == (
        "[  42.5s] step 2/3 group cut over | sent=1000 received=1020 pending=10 duplicated=30 | 30/s in, 30/s out"
        " | search.indexer.0@governed catalog-api-1@legacy-service")


def test_rich_rendering_shows_clients_clusters_and_counts() -> None:
    with open(os.devnull, "w") as sink:
        console = Console(width=160, record=True, file=sink, color_system=None)
        console.print(render(frame()))
    text = console.export_text()
    assert "[x] 1 mirroring" in text and "[>] 2 group cut over" in text and "[ ] 3 producers cut over" in text
    for expected in ("search.indexer.0", "governed", "search.indexer.* -> governed", "catalog-api-1", "1,000",
                     "duplicated 30", "pending 10", "sandbox up"):
        assert expected in text


def test_summary_is_one_machine_readable_line_and_comes_last() -> None:
    counts = Counts(sent=100, received=104, unique=100, duplicated=4, pending=0, failed=0)
    assert summary_line(counts, lost=0, steps=3, seconds=95.04) == \
        "demo lost=0 duplicated=4 sent=100 received=104 unique=100 steps=3 seconds=95.0"
    result = Result(counts=counts, lost=0, steps=3, seconds=95.0, phases={"up": 20.0, "down": 6.0},
                    interrupted=None, error=None)
    lines = report_lines(result)
    assert lines[0] == "phases: up=20.0s down=6.0s" and lines[-1].startswith("demo lost=0 ")
    assert result.ok
    stopped = Result(counts=counts, lost=0, steps=1, seconds=30.0, phases={}, interrupted="SIGINT", error=None)
    assert not stopped.ok
    assert "interrupted (SIGINT) after 1 of 3 steps; sandbox torn down" in report_lines(stopped)


def test_rates() -> None:
    assert per_second(100, 400, 1.5) == 200.0
    assert per_second(1, 2, 0) == 0.0
    assert RATE < 100 / 5 * 2  # two partitions, < offset.lag.max records per 5 s checkpoint each


def test_the_monitor_reads_the_decision_log_as_it_grows_and_waits_for_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    first = {"event": "connection", "client_id": "catalog-api-1", "rule": None, "action": "route",
             "cluster": "legacy-service"}
    later = {**first, "rule": "search.catalog-api.*", "cluster": "governed"}
    log.write_text(json.dumps(first) + "\n" + json.dumps(later)[:20])  # the proxy is mid-write
    monitor = Monitor(Tally(), steps=STEPS, decision_log=log)
    monitor.frame()
    assert monitor.decisions == {"catalog-api-1": "default -> legacy-service"}
    log.write_text(json.dumps(first) + "\n" + json.dumps(later) + "\n")
    frame = monitor.frame()
    assert monitor.decisions == {"catalog-api-1": "search.catalog-api.* -> governed"}
    assert [s.state for s in frame.steps] == ["next", "next", "next"] and frame.rows == ()


def test_the_copy_is_narrowed_to_the_walks_gateway_and_stays_valid(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    scope = scope_of(specs_at(specs), "gw-service")
    assert scope.clusters == ("governed", "legacy-service")
    assert scope.dropped == (Path("migrations/ads/impressions.yaml"),)
    assert "search/catalog-index" in scope.kept and "chat/listing-alerts" in scope.kept
    (specs / "migrations/ads/impressions.yaml").unlink()
    (specs / "migrations/ads").rmdir()
    clusters = specs / "clusters.yaml"
    clusters.write_text(keep_only(clusters.read_text(), clusters=scope.clusters, gateways=["gw-service"]))
    narrowed = specs_at(specs)
    assert set(narrowed.clusters.model.clusters) == {"governed", "legacy-service"}
    assert set(narrowed.clusters.model.gateways) == {"gw-service"}
    assert "# Every client's bootstrap.servers points at a gateway." in clusters.read_text()
    with pytest.raises(SandboxError, match="no gateways entry 'gw-nope'"):
        keep_only(clusters.read_text(), clusters=scope.clusters, gateways=["gw-nope"])
