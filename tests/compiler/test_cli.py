"""The `ferry` CLI end to end on copies of the example org (real files, real subprocesses)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from compiler.output import read_tree, write_tree
from ferry_testing import REPO, edit, run_ferry

BILLING = "specs/migrations/billing/invoices.yaml"


def test_committed_rendered_output_is_current():
    r = run_ferry("render", "--check", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_committed_schema_is_current():
    r = run_ferry("schema", "--check", cwd=REPO)
    assert r.returncode == 0, r.stderr


def test_validate_ok_and_formats(org):
    r = run_ferry("validate", cwd=org)
    assert r.returncode == 0 and r.stdout.startswith("ok: 6 migration(s)")
    r = run_ferry("validate", "--format", "json", cwd=org)
    assert json.loads(r.stdout) == {"diagnostics": [], "errors": 0}


def test_validate_error_exit_1_with_position(org):
    edit(org / BILLING, "source: legacy-service", "source: legacy-servce")
    r = run_ferry("validate", cwd=org)
    assert r.returncode == 1
    assert (f"{BILLING}:5:9: [error] source cluster 'legacy-servce' is not in clusters.yaml; "
            "did you mean 'legacy-service'?") in r.stdout
    assert r.stdout.rstrip().endswith("(unknown-cluster)")
    r = run_ferry("validate", "--format", "github", cwd=org)
    assert r.stdout.startswith(f"::error file={BILLING},line=5,col=9,title=unknown-cluster::source cluster")


def test_usage_error_exit_2(org):
    assert run_ferry("validate", "--specs", "nope", cwd=org).returncode == 2
    assert run_ferry("validate", "--format", "xml", cwd=org).returncode == 2
    assert run_ferry("explain", "x", "--gateway", "gw-nope", cwd=org).returncode == 2


def test_render_check_reports_stale_output_as_a_diff(org):
    edit(org / BILLING, "    fence: true\n", "    cutover: true\n")
    r = run_ferry("render", "--check", cwd=org)
    assert r.returncode == 1
    assert "--- a/rendered/proxy/gw-service.routes.json" in r.stdout
    assert '-      "action": "fence",' in r.stdout and '+      "cluster": "governed",' in r.stdout
    assert "is stale" in r.stderr
    assert read_tree(org / "rendered") == read_tree(REPO / "rendered")  # --check wrote nothing


def test_render_replaces_the_tree_and_drops_stale_files(org):
    (org / "rendered" / "proxy" / "gw-removed.routes.json").write_text("stale\n")
    (org / "rendered" / "junk").mkdir()
    (org / "rendered" / "junk" / "x.json").write_text("{}")
    r = run_ferry("render", cwd=org)
    assert r.returncode == 0, r.stderr
    assert read_tree(org / "rendered") == read_tree(REPO / "rendered")
    assert sorted(p.name for p in org.iterdir()) == ["rendered", "specs"]  # no staging leftovers


def test_failed_validation_writes_nothing(org):
    before = read_tree(org / "rendered")
    edit(org / BILLING, "team: billing", "team: billing\npassword: hunter2")
    r = run_ferry("render", cwd=org)
    assert r.returncode == 1
    assert "inline-secret" in r.stderr and "nothing rendered" in r.stderr
    assert read_tree(org / "rendered") == before


def test_write_tree_failure_leaves_the_old_tree(tmp_path):
    out = tmp_path / "rendered"
    write_tree({"a.txt": "one\n"}, out)
    try:
        write_tree({"b.txt": "two\n", "b.txt/c": "conflict\n"}, out)
    except OSError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected the conflicting write to fail")
    assert read_tree(out) == {"a.txt": "one\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_render_is_independent_of_the_working_directory(org):
    r = run_ferry("render", "--specs", str(org / "specs"), "--out", str(org / "out"), cwd=Path(os.sep))
    assert r.returncode == 0, r.stderr
    assert read_tree(org / "out") == read_tree(REPO / "rendered")


def test_plan_in_words(org):
    r = run_ferry("plan", cwd=org)
    assert r.returncode == 0 and r.stdout == "No changes: rendered/ already matches specs/.\n"
    # Group billing-ledger: fence -> cutover; migration notifications already complete;
    # the search migration is removed entirely.
    edit(org / BILLING, "    fence: true\n", "    cutover: true\n")
    (org / "specs/migrations/search/catalog-index.yaml").unlink()
    r = run_ferry("plan", cwd=org)
    out = r.stdout
    assert "gateway gw-service:" in out
    assert ("~ flipped: client ids `billing.ledger.*` (consumer group billing-ledger, billing/invoices): "
            "refused (fence) -> governed") in out
    assert ("- client ids `search.indexer.*` (consumer group search-indexer, search/catalog-index) "
            "no longer have a rule: they go to legacy-service") in out
    assert "- stop mirroring catalog_updates -> search.catalog.updated.v1" in out
    assert "- stop syncing offsets of group search-indexer (its migration completed or was removed)" in out
    assert "billing-ledger (" not in out.split("mirroring")[1]  # a cutover keeps offset sync (no MM2 restart)
    assert "gw-ads" not in out
    md = run_ferry("plan", "--format", "markdown", cwd=org).stdout
    assert md.startswith("### ferry plan\n") and "#### mirroring legacy-service -> governed" in md


def test_explain_names_rule_cluster_and_spec_line(org):
    r = run_ferry("explain", "billing.invoice-mailer.7f9c4", cwd=org)
    assert r.returncode == 0
    assert ("gw-service: 'billing.invoice-mailer.7f9c4' matches rule #" in r.stdout
            and "-> cluster governed (kafka-1.governed.internal:9094" in r.stdout
            and f"from {BILLING}:21" in r.stdout)
    assert "gw-ads: 'billing.invoice-mailer.7f9c4' matches no rule -> default cluster legacy-ads" in r.stdout
    r = run_ferry("explain", "billing.ledger.1", "--gateway", "gw-service", cwd=org)
    assert "REFUSED (fence)" in r.stdout and len(r.stdout.splitlines()) == 1


def test_schema_validates_the_example_specs_and_workflows_are_valid(tmp_path):
    exe = Path(shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema")

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)

    r = check("--schemafile", str(REPO / "schema/clusters.schema.json"), str(REPO / "specs/clusters.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    migrations = sorted(str(p) for p in (REPO / "specs/migrations").rglob("*.yaml"))
    r = check("--schemafile", str(REPO / "schema/migration.schema.json"), *migrations)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("team: x\nowners: []\nsource: a\ntarget: b\ngateway: g\nbogus: 1\n")
    assert check("--schemafile", str(REPO / "schema/migration.schema.json"), str(bad)).returncode == 1
    workflows = sorted(str(p) for p in (REPO / ".github/workflows").glob("*.yml"))
    assert workflows
    r = check("--builtin-schema", "vendor.github-workflows", *workflows)
    assert r.returncode == 0, r.stdout + r.stderr
