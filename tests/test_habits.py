"""The project's own habits are real: the code workflow, CI's order (lint, then tests), the
pre-commit hooks, the lint rules we rely on, and the `make` targets the docs name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ferry_testing import REPO

BIN = Path(sys.executable).parent
CODE_WORKFLOW = REPO / ".github/workflows/code.yml"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN))
    assert found, f"{name} is not installed in {BIN}: pip install -e '.[dev]'"
    return found


def _check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_code_workflow_is_valid_and_a_broken_copy_is_not(tmp_path: Path) -> None:
    r = _check_workflow(CODE_WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    broken = tmp_path / "code.yml"
    broken.write_text(CODE_WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [[]]"))
    assert _check_workflow(broken).returncode == 1


def test_code_workflow_runs_lint_then_fast_tests_on_prs_touching_any_code() -> None:
    wf = YAML(typ="safe").load(CODE_WORKFLOW.read_text())
    paths = wf["on"]["pull_request"]["paths"]
    packages = sorted(p.name for p in REPO.iterdir() if (p / "__init__.py").is_file())
    assert {"ferry", "compiler", "proxy", "sandbox"} <= set(packages)
    for watched in [*packages, "tests", "bench"]:
        assert f"{watched}/**" in paths, f"code.yml does not run when {watched}/ changes"
    assert {"pyproject.toml", "Makefile"} <= set(paths)
    (job,) = wf["jobs"].values()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == ["make lint", "make test-fast"]
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"


def _fake_make(tmp_path: Path, exits: dict[str, int]) -> tuple[dict[str, str], Path]:
    """A `make` on PATH that records its target and exits as told (the real one would start Kafka)."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir()
    cases = "".join(f"  {target}) exit {code} ;;\n" for target, code in exits.items())
    fake.write_text(f'#!/bin/sh\necho "$1" >> {calls}\ncase "$1" in\n{cases}esac\nexit 0\n')
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}, calls


@pytest.mark.parametrize(("exits", "rc", "targets"), [
    ({}, 0, ["lint", "test"]),
    ({"lint": 2}, 1, ["lint"]),          # a lint finding fails CI before any broker starts
    ({"test": 1}, 1, ["lint", "test"]),
    ({"test": 5}, 5, ["lint", "test"]),  # pytest collected nothing: a failure, never a pass
])
def test_ci_runs_lint_before_the_tests(tmp_path: Path, exits: dict[str, int], rc: int, targets: list[str]) -> None:
    env, calls = _fake_make(tmp_path, exits)
    r = subprocess.run(["bash", str(REPO / ".ci/run")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == rc, r.stdout + r.stderr
    assert calls.read_text().split() == targets


def test_pre_commit_config_is_valid_and_its_hooks_are_installed() -> None:
    config = REPO / ".pre-commit-config.yaml"
    r = subprocess.run([_tool("pre-commit"), "validate-config", str(config)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    hooks = {h["id"]: h for repo in YAML(typ="safe").load(config.read_text())["repos"] for h in repo["hooks"]}
    assert {"ruff", "mypy", "check-github-workflows", "end-of-file-fixer", "trailing-whitespace"} <= set(hooks)
    assert hooks["mypy"]["entry"].startswith("make ") and "typecheck" in hooks["mypy"]["entry"]
    for hook in hooks.values():
        exe = hook["entry"].split()[0]
        if exe.startswith(".venv/bin/"):
            _tool(exe.removeprefix(".venv/bin/"))


def test_ruff_rejects_mocks_with_the_projects_rule(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("from unittest import mock\n\n\ndef test_x() -> None:\n    assert mock\n")
    r = subprocess.run([_tool("ruff"), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(sample)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "TID251" in r.stdout and "Real parts, not mocks" in r.stdout, r.stdout + r.stderr


def test_mypy_checks_pydantic_models_with_the_plugin(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    n: int\n\n\n"
                      "M(n=1)\nM(n=1, bogus=2)\n")
    r = subprocess.run([_tool("mypy"), "--config-file", str(REPO / "pyproject.toml"), "--no-incremental",
                        str(sample)], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r'sample\.py:9: error: Unexpected keyword argument "bogus" for "M"', r.stdout), r.stdout
    assert "sample.py:8" not in r.stdout


def test_every_make_target_the_docs_name_exists() -> None:
    targets = set(re.findall(r"(?m)^([a-z][\w-]*):", (REPO / "Makefile").read_text()))
    named = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted(REPO.glob("*/README.md"))]:
        named |= set(re.findall(r"(?m)(?:^|`)make ([a-z][\w-]*)", doc.read_text()))
    assert {"lint", "test", "test-fast"} <= named
    assert named <= targets, f"documented but not in the Makefile: {sorted(named - targets)}"
