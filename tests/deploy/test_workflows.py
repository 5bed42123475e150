"""The image and post-merge workflows: valid GitHub workflows (check-jsonschema's schema, as the
others in tests/compiler/test_cli.py, which globs every workflow), actions pinned to exact
versions, one image per deploy/images/ folder, and the post-merge steps in their order with the
options `ferry apply connect` really has."""

from __future__ import annotations

import json
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


def test_post_merge_applies_connect_aligns_then_refreshes_argo_cd() -> None:
    wf = _load("post-merge.yml")
    assert wf["on"]["push"] == {"branches": ["main"], "paths": ["rendered/**"]}
    jobs = wf["jobs"]
    assert list(jobs) == ["apply-connect", "cutover-align", "argocd-refresh"]
    assert jobs["cutover-align"]["needs"] == "apply-connect" and jobs["argocd-refresh"]["needs"] == "cutover-align"
    apply = next(s["run"] for s in jobs["apply-connect"]["steps"] if "ferry apply connect" in s.get("run", ""))
    line = next(x.strip() for x in apply.splitlines() if x.strip().startswith("ferry apply connect"))
    helped = subprocess.run([str(BIN / "ferry"), "apply", "connect", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0, helped.stderr
    for option in re.findall(r"--[a-z-]+", line):
        assert option in helped.stdout, f"post-merge.yml passes {option}, which `ferry apply connect` lacks"
    refresh = "\n".join(s.get("run", "") for s in jobs["argocd-refresh"]["steps"])
    assert "app get" in refresh and "--refresh" in refresh
    # The alignment: options `ferry cutover align` has; a refusal or an error does not hold the refresh back.
    align = _align_step()
    assert align["continue-on-error"] is True
    line = next(x.strip() for x in align["run"].splitlines() if x.strip().startswith("ferry cutover align"))
    helped = subprocess.run([str(BIN / "ferry"), "cutover", "align", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0, helped.stderr
    # The options are gathered with `set --` (the optional --connections), then passed as "$@".
    ferry_args = [x for x in align["run"].splitlines() if x.strip().startswith("set -- ")] + [line]
    assert '"$@"' in line and len(ferry_args) == 3
    for option in re.findall(r"(?<![\w-])--[a-z][a-z-]+", " ".join(ferry_args)):
        assert option in helped.stdout, f"post-merge.yml passes {option}, which `ferry cutover align` lacks"
    assert "$RUNNER_TEMP/align.txt" in line
    # Credentials only by secret name, never inline; the connections file is written private and removed.
    env = {**jobs["argocd-refresh"]["env"], **next(s["env"] for s in jobs["apply-connect"]["steps"] if "env" in s),
           **align["env"]}
    for key in ("ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN", "FERRY_CONNECT_URL", "FERRY_CONNECTIONS"):
        assert env[key] == "${{ secrets." + key + " }}"
    assert env["BEFORE"] == "${{ github.event.before }}"
    assert "${{" not in "".join(s.get("run", "") for s in _steps(wf))
    assert align["run"].index("umask 077") < align["run"].index('> "$connections"')
    assert "trap 'rm -f \"$connections\"' EXIT" in align["run"]


def _align_step() -> dict:
    [step] = [s for s in _load("post-merge.yml")["jobs"]["cutover-align"]["steps"]
              if "ferry cutover align" in s.get("run", "")]
    return step


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=ferry-test", "-c", "user.email=ferry@example.com", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_post_merge_aligns_only_the_groups_the_merge_fenced(tmp_path: Path) -> None:
    """The alignment step run as the runner runs it (bash -e -o pipefail, in a depth-1 checkout of the
    pushed commit, the commit before the push fetched by the step itself). The merge fences billing-ledger
    (the example org; the commit before has it unfenced, rendered as CI renders it): the step selects it,
    tries the clusters the connections secret names (nothing listens: a clear error, exit 1, and the
    secret is neither echoed nor left on disk). Pushing nothing new selects nobody and reaches no cluster."""
    from compiler.org import build_org
    from compiler.output import write_tree
    from compiler.render import render_org
    from compiler.validate import validate_specs

    origin = tmp_path / "origin"
    shutil.copytree(REPO / "specs", origin / "specs")
    spec = origin / "specs" / "migrations" / "billing" / "invoices.yaml"
    fenced = spec.read_text()
    spec.write_text(fenced.replace("    fence: true\n", "", 1))
    unfenced = validate_specs(origin / "specs").specs
    assert unfenced is not None
    write_tree(render_org(build_org(unfenced)), origin / "rendered")
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "specs", "rendered")
    _git(origin, "commit", "-q", "-m", "before: billing-ledger not fenced")
    before = _git(origin, "rev-parse", "HEAD")
    spec.write_text(fenced)
    shutil.rmtree(origin / "rendered")
    shutil.copytree(REPO / "rendered", origin / "rendered")
    _git(origin, "add", "-A", "specs", "rendered")
    _git(origin, "commit", "-q", "-m", "fence billing-ledger")
    pushed = _git(origin, "rev-parse", "HEAD")
    checkout = tmp_path / "checkout"
    _git(tmp_path, "clone", "-q", "--depth=1", f"file://{origin}", str(checkout))

    def step(before_sha: str, connections: str) -> tuple[subprocess.CompletedProcess[str], str]:
        runner_temp = tmp_path / f"runner-{before_sha[:7]}"
        runner_temp.mkdir()
        summary = runner_temp / "summary.md"
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TEMP": str(runner_temp),
               "GITHUB_STEP_SUMMARY": str(summary), "BEFORE": before_sha, "FERRY_CONNECTIONS": connections}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _align_step()["run"]],
                              cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
        assert not (runner_temp / "connections.json").exists(), "the connections file was left on the runner"
        return done, summary.read_text()

    password = "pw-never-echoed-7f3a"
    nowhere = {"bootstrap": "127.0.0.1:9", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
               "sasl_username": "ferry", "sasl_password": password}
    secret = json.dumps({"clusters": dict.fromkeys(("legacy-service", "legacy-ads", "governed"), nowhere)})
    done, summary = step(before, secret)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "entered the fence since " in out and "/before/rendered: billing-ledger\n" in out, out
    assert "ferry cutover align: cluster 'legacy-service' (127.0.0.1:9)" in out and "Traceback" not in out, out
    assert summary.startswith("### ferry cutover align (groups this merge fenced)\n```text\n"), summary
    assert "billing-ledger" in summary and password not in out + summary

    done, summary = step(pushed, "")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/before/rendered: nothing to align" in done.stdout and "no group entered the fence" in summary


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
