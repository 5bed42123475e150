"""Which fenced groups a change put into the fence: the selection behind `ferry cutover align
--fenced-since DIR` (the post-merge workflow) and `ferry sandbox sync`, judged against an earlier
rendered tree's route files (the example specs: billing-ledger is `fence: true`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from compiler.live.cutover import entered_fence, fenced_groups
from compiler.live.preflight import routes_in_force
from compiler.org import build_org
from compiler.output import write_tree
from compiler.render import render_org
from compiler.spec import Specs
from compiler.validate import validate_specs
from ferry_testing import REPO, run_ferry


def _specs() -> Specs:
    specs = validate_specs(REPO / "specs").specs
    assert specs is not None
    return specs


def _names(before: Path) -> list[str]:
    specs = _specs()
    return [g.name for g in entered_fence(fenced_groups(specs), routes_in_force(before, specs))]


def test_a_fence_already_in_the_route_files_did_not_enter(tmp_path: Path) -> None:
    assert [g.name for g in fenced_groups(_specs())] == ["billing-ledger"]
    assert _names(REPO / "rendered") == []  # the committed tree already fences it (the rule's entry label)
    assert _names(tmp_path) == ["billing-ledger"]  # a tree with no route files fenced nobody


def test_a_group_routed_before_entered(tmp_path: Path) -> None:
    """The previous commit: billing-ledger without its fence, rendered as CI renders it."""
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    spec = tmp_path / "specs" / "migrations" / "billing" / "invoices.yaml"
    text = spec.read_text()
    assert text.count("    fence: true\n") == 1
    spec.write_text(text.replace("    fence: true\n", ""))
    before = validate_specs(tmp_path / "specs").specs
    assert before is not None
    write_tree(render_org(build_org(before)), tmp_path / "rendered")
    assert routes_in_force(tmp_path / "rendered", _specs()).get("consumer group billing-ledger") is None
    assert _names(tmp_path / "rendered") == ["billing-ledger"]


def test_cli_says_when_nothing_entered_without_touching_a_cluster(tmp_path: Path) -> None:
    done = run_ferry("cutover", "align", "--fenced-since", "rendered", cwd=REPO, timeout=60)
    assert (done.returncode, done.stdout) == (0, "no group entered the fence since rendered: nothing to align\n")
    missing = run_ferry("cutover", "align", "--fenced-since", str(tmp_path / "nope"), cwd=REPO, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
