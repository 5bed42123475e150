"""The image and post-merge workflows: valid GitHub workflows (check-jsonschema's schema, as the
others in tests/compiler/test_cli.py, which globs every workflow), actions pinned to exact
versions, one image per deploy/images/ folder, and the post-merge steps in their order with the
options `ferry apply connect` really has."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent


def _load(name: str) -> dict:
    return YAML(typ="safe").load((WORKFLOWS / name).read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_both_workflows_are_valid_and_a_broken_copy_is_not(tmp_path: Path) -> None:
    exe = shutil.which("check-jsonschema", path=str(BIN))
    assert exe, "check-jsonschema is not installed: pip install -e '.[dev]'"
    files = [str(WORKFLOWS / "images.yml"), str(WORKFLOWS / "post-merge.yml")]
    done = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "images.yml"
    broken.write_text((WORKFLOWS / "images.yml").read_text().replace("packages: write", "packages: always"))
    assert subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(broken)],
                          capture_output=True, text=True, timeout=120).returncode == 1


def test_actions_are_pinned_to_exact_versions() -> None:
    for name in ("images.yml", "post-merge.yml"):
        for step in _steps(_load(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", step["uses"]), step["uses"]


def test_images_workflow_pushes_every_image_on_a_tag() -> None:
    wf = _load("images.yml")
    assert list(wf["on"]) == ["push"] and list(wf["on"]["push"]) == ["tags"]
    assert wf["permissions"]["packages"] == "write"
    (job,) = wf["jobs"].values()
    images = sorted(p.name for p in (REPO / "deploy" / "images").iterdir() if (p / "Dockerfile").is_file())
    assert sorted(job["strategy"]["matrix"]["image"]) == images == [
        "ferry-mirrormaker2", "ferry-mirrormaker2-strimzi", "ferry-proxy"]
    (build,) = [s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
    assert build["with"]["push"] is True and build["with"]["context"] == "."
    assert build["with"]["file"] == "deploy/images/${{ matrix.image }}/Dockerfile"


def test_post_merge_applies_connect_then_refreshes_argo_cd() -> None:
    wf = _load("post-merge.yml")
    assert wf["on"]["push"] == {"branches": ["main"], "paths": ["rendered/**"]}
    jobs = wf["jobs"]
    assert jobs["argocd-refresh"]["needs"] == "apply-connect"
    apply = next(s["run"] for s in jobs["apply-connect"]["steps"] if "ferry apply connect" in s.get("run", ""))
    line = next(x.strip() for x in apply.splitlines() if x.strip().startswith("ferry apply connect"))
    helped = subprocess.run([str(BIN / "ferry"), "apply", "connect", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0, helped.stderr
    for option in re.findall(r"--[a-z-]+", line):
        assert option in helped.stdout, f"post-merge.yml passes {option}, which `ferry apply connect` lacks"
    refresh = "\n".join(s.get("run", "") for s in jobs["argocd-refresh"]["steps"])
    assert "app get" in refresh and "--refresh" in refresh
    # Credentials only by secret name, never inline.
    env = {**jobs["argocd-refresh"]["env"], **next(s["env"] for s in jobs["apply-connect"]["steps"] if "env" in s)}
    for key in ("ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN", "FERRY_CONNECT_URL"):
        assert env[key] == "${{ secrets." + key + " }}"


def test_post_merge_refreshes_the_project_ferry_rendered(tmp_path: Path) -> None:
    """The step that names the AppProject, run as the runner runs it (bash, in the checkout): it reads the
    committed rendered/argocd/project.yaml, and fails with a reason when there is none."""
    steps = _load("post-merge.yml")["jobs"]["argocd-refresh"]["steps"]
    [step] = [s for s in steps if "project.yaml" in s.get("run", "")]
    env_file = tmp_path / "github_env"
    env = {"PATH": "/usr/bin:/bin", "GITHUB_ENV": str(env_file)}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    project = YAML(typ="safe").load((REPO / "rendered" / "argocd" / "project.yaml").read_text())["metadata"]["name"]
    assert env_file.read_text() == f"ARGOCD_PROJECT={project}\n"
    (tmp_path / "rendered" / "argocd").mkdir(parents=True)
    (tmp_path / "rendered" / "argocd" / "project.yaml").write_text("# no project\n")
    missing = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=30)
    assert missing.returncode == 1 and "set delivery.argocd in specs/policy.yaml" in missing.stderr
