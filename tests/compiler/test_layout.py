"""Every file under specs/ is loaded, allowed or reported (compiler/layout.py). The
acceptance cases cover what a case overlay can hold; hidden files, `.gitkeep`, links and
pipes are tested here on real trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from compiler.layout import classify, migration_id
from compiler.validate import validate_specs
from ferry_testing import REPO

BASE = REPO / "tests" / "cases" / "base" / "specs"


def _codes(entries: list[tuple[str, bool]]) -> dict[str, str]:
    layout = classify(entries, lambda rel: rel)
    return {d.position.file: d.code for d in layout.diagnostics}


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    shutil.copytree(BASE, root)
    return root


def test_specs_readme_and_gitkeep_are_the_only_quiet_files() -> None:
    entries = [
        ("clusters.yaml", True), ("policy.yaml", True), ("README.md", True), (".gitkeep", True),
        ("migrations/.gitkeep", True), ("migrations/ads/README.md", True), ("migrations/ads/x.yaml", True),
        ("migrations/empty/.gitkeep", True),
    ]
    layout = classify(entries, lambda rel: rel)
    assert layout.migrations == ("migrations/ads/x.yaml",)
    assert layout.diagnostics == ()


def test_hidden_files_and_folders_are_reported() -> None:
    assert _codes([
        ("migrations/ads/.impressions.yaml", True),
        ("migrations/.ads/impressions.yaml", True),
        (".DS_Store", True),
        ("migrations/ads/.impressions.yaml.swp", True),
    ]) == {
        "migrations/ads/.impressions.yaml": "stray-file",
        "migrations/.ads/impressions.yaml": "stray-file",
        ".DS_Store": "stray-file",
        "migrations/ads/.impressions.yaml.swp": "stray-file",
    }


def test_top_level_extension_and_name_mistakes() -> None:
    layout = classify([("clusters.yml", True), ("Policy.yaml", True), ("impressions.yaml", True)], lambda r: r)
    by_file = {d.position.file: d for d in layout.diagnostics}
    assert by_file["clusters.yml"].code == "file-extension" and "`clusters.yaml`" in by_file["clusters.yml"].message
    assert "did you mean `policy.yaml`?" in by_file["Policy.yaml"].message
    assert "migrations/<team>/<name>.yaml" in by_file["impressions.yaml"].message


def test_migration_ids_collide_without_case_and_normalisation() -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    layout = classify([(f"migrations/ads/{nfc}.yaml", True), (f"migrations/ads/{nfd}.yaml", True),
                       ("migrations/Ads/budget.yaml", True), ("migrations/ads/budget.yaml", True)], lambda r: r)
    assert sorted(d.code for d in layout.diagnostics) == ["duplicate-migration", "duplicate-migration"]
    assert migration_id("migrations/ads/budget.yaml") == "ads/budget"


def test_a_missing_clusters_file_next_to_its_misnamed_copy(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "clusters.yaml").rename(root / "clusters.yml")
    codes = sorted((d.position.file.rsplit("specs/", 1)[-1], d.code) for d in validate_specs(root).diagnostics)
    assert codes == [("clusters.yaml", "missing-file"), ("clusters.yml", "file-extension")]


def test_links_to_folders_and_pipes_are_reported_not_followed(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "migrations" / "ads-link").symlink_to(root / "migrations" / "ads", target_is_directory=True)
    os.mkfifo(root / "migrations" / "chat" / "alerts.yaml")  # reading it would block forever
    result = validate_specs(root)
    got = sorted((d.position.file.rsplit("specs/", 1)[-1], d.code) for d in result.diagnostics)
    assert got == [("migrations/ads-link", "stray-file"), ("migrations/chat/alerts.yaml", "stray-file")]


def test_hidden_hand_made_spec_in_a_real_tree_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    shutil.copy(root / "migrations/ads/impressions.yaml", root / "migrations/ads/.budget.yaml")
    (root / "migrations" / "ads" / ".gitkeep").touch()
    result = validate_specs(root)
    assert [(d.position.file.rsplit("specs/", 1)[-1], d.code) for d in result.diagnostics] == [
        ("migrations/ads/.budget.yaml", "stray-file")
    ]
