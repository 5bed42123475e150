"""`ferry status` from the committed routes and a proxy decision log (the e2e test feeds it
the log of a real proxy; here the lines are written in the proxy's format)."""

import json

from ferry_testing import REPO, run_ferry


def line(ts, gateway, client_id, rule, cluster, action="route", outcome="forwarded"):
    return json.dumps({"ts": ts, "event": "connection", "gateway": gateway, "peer": "10.0.0.1:5555",
                       "client_id": client_id, "rule": rule, "action": action, "cluster": cluster,
                       "outcome": outcome, "table_version": "x"})


def test_status_reports_stage_route_and_who_still_uses_legacy(tmp_path):
    log = tmp_path / "decisions.log"
    log.write_text("\n".join([
        "not json, ignored",
        line(1764000000.0, "gw-service", "billing.invoice-mailer.a1", "billing.invoice-mailer.*", "governed"),
        # cut over in the specs, but an old instance still bootstraps to legacy (an older table)
        line(1764000100.0, "gw-service", "billing.invoice-mailer.old", "billing.invoice-mailer.*", "legacy-service"),
        line(1764000200.0, "gw-service", "billing.ledger.1", "billing.ledger.*", None,
             action="fence", outcome="refused"),
        line(1764000300.0, "gw-service", "rails-app-7", None, "legacy-service"),
        line(1764000400.0, "gw-service", "rails-app-7", None, "legacy-service"),
    ]) + "\n")
    r = run_ferry("status", "--decision-log", str(log), cwd=REPO)
    assert r.returncode == 0, r.stderr
    rows = {row.split()[2]: row for row in r.stdout.splitlines() if row.startswith(("billing/", "search/"))}
    assert "cut over" in rows["billing-invoice-mailer"] and "governed" in rows["billing-invoice-mailer"]
    assert "2025-11-24 16:01:40Z (1)" in rows["billing-invoice-mailer"]  # last on legacy
    assert "fenced" in rows["billing-ledger"] and "refused (fence)" in rows["billing-ledger"]
    assert "billing/invoices billing-invoice-mailer" not in r.stdout
    assert "  billing/invoices group billing-invoice-mailer: billing.invoice-mailer.old" in r.stdout
    assert "  gw-service -> legacy-service: 'rails-app-7': 2 connection(s), last 2025-11-24 16:06:40Z" in r.stdout
    data = json.loads(run_ferry("status", "--decision-log", str(log), "--format", "json", cwd=REPO).stdout)
    ledger = next(e for e in data["entries"] if e["name"] == "billing-ledger")
    assert ledger["refused"]["connections"] == 1 and ledger["stage"] == "fenced"


def test_status_shows_who_is_connected_now_and_who_waits_in_a_fence(tmp_path):
    """`open` without a closing line = connected now; a `start` of a new proxy process in the
    same log ends what the old one left open; `fenced` lines carry a count, and a refusal within
    hold + window of the last one is waiting in a fence now."""
    import time

    now = time.time()

    def rec(**fields):
        return json.dumps({"gateway": "gw-service", "peer": "10.0.0.1:5555", "table_version": "x", **fields})

    mailer = {"rule": "billing.invoice-mailer.*", "action": "route", "cluster": "governed"}
    log = tmp_path / "decisions.log"
    log.write_text("\n".join([
        rec(ts=now - 900, event="start", instance="aaaa"),
        rec(ts=now - 800, event="open", conn="aaaa-1", client_id="billing.invoice-mailer.gone", **mailer),
        rec(ts=now - 700, event="start", instance="bbbb"),  # the proxy restarted: aaaa-1 ended with it
        rec(ts=now - 600, event="open", conn="bbbb-1", client_id="billing.invoice-mailer.live", **mailer),
        rec(ts=now - 500, event="open", conn="bbbb-2", client_id="billing.invoice-mailer.done", **mailer),
        rec(ts=now - 400, event="connection", conn="bbbb-2", client_id="billing.invoice-mailer.done",
            outcome="forwarded", **mailer),
        rec(ts=now - 5000, event="fenced", client_id="billing.ledger.old", rule="billing.ledger.*", action="fence",
            cluster=None, outcome="fenced", count=1, hold_s=30, window_s=60),
        rec(ts=now - 50, event="fenced", client_id="billing.ledger.7", rule="billing.ledger.*", action="fence",
            cluster=None, outcome="fenced", count=3, hold_s=30, window_s=60),
    ]) + "\n")
    r = run_ferry("status", "--decision-log", str(log), cwd=REPO)
    assert r.returncode == 0, r.stderr
    rows = {row.split()[2]: row for row in r.stdout.splitlines() if row.startswith("billing/")}
    assert "target 1" in rows["billing-invoice-mailer"]
    assert "fenced 1" in rows["billing-ledger"]
    assert "  billing/invoices group billing-invoice-mailer on target: 1 (billing.invoice-mailer.live)" in r.stdout
    assert "  billing/invoices group billing-ledger: billing.ledger.7" in r.stdout
    assert "billing.ledger.old" not in r.stdout.split("waiting in a fence now")[1]
    data = json.loads(run_ferry("status", "--decision-log", str(log), "--format", "json", cwd=REPO).stdout)
    mailer_row = next(e for e in data["entries"] if e["name"] == "billing-invoice-mailer")
    assert mailer_row["target"]["connections"] == 3  # three bootstraps, each counted once
    assert mailer_row["connected_now"]["target"]["client_ids"] == ["billing.invoice-mailer.live"]
    ledger = next(e for e in data["entries"] if e["name"] == "billing-ledger")
    assert ledger["refused"]["connections"] == 4  # 1 + a line with count 3
    assert ledger["fenced_now"]["client_ids"] == ["billing.ledger.7"]
