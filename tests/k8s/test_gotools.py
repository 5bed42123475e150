"""How sandbox.gotools reads its wrapper modules and bounds a build (no Go build here: the API server
and helm tests exercise the real ones)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox import gotools


def test_module_versions_reads_one_line_and_block_requires() -> None:
    go_mod = (
        "module example.local/x\n\ngo 1.26.0\n\ntool k8s.io/kubernetes/cmd/kube-apiserver\n\n"
        "require k8s.io/kubernetes v1.37.2\n\n"
        "require (\n\tk8s.io/client-go v0.37.2 // indirect\n\t// a comment\n\tgo.etcd.io/etcd/api/v3 v3.7.0\n)\n\n"
        "replace k8s.io/api => k8s.io/api v0.37.2\n"
    )
    assert gotools.module_versions(go_mod) == {
        "k8s.io/kubernetes": "v1.37.2",
        "k8s.io/client-go": "v0.37.2",
        "go.etcd.io/etcd/api/v3": "v3.7.0",
    }


def test_every_wrapper_requires_the_module_that_names_its_build() -> None:
    for tool in gotools.TOOLS.values():
        version = gotools.tool_version(tool)
        assert version.startswith("v"), (tool.name, version)
        assert (tool.wrapper / "go.sum").is_file()
        assert f"tool {tool.package}\n" in (tool.wrapper / "go.mod").read_text()


def test_kube_apiserver_pins_every_staging_module_to_its_release() -> None:
    go_mod = (gotools.TOOLS["kube-apiserver"].wrapper / "go.mod").read_text()
    kubernetes = gotools.tool_version(gotools.TOOLS["kube-apiserver"])
    staging = "v0." + kubernetes.removeprefix("v1.")
    replaces = [line.split() for line in go_mod.splitlines() if "=>" in line]
    assert len(replaces) >= 30
    for left, _, right, version in replaces:
        assert left == right and left.startswith("k8s.io/") and version == staging, (left, right, version)


def test_release_stamps_follow_the_projects_makefiles() -> None:
    assert gotools.k8s_release_of_staging("v0.37.0") == ("1", "37")
    command = gotools.build_command(gotools.TOOLS["helm"], Path("/out/helm"))
    ldflags = command[command.index("-ldflags") + 1]
    assert "-X helm.sh/helm/v3/internal/version.version=v3." in ldflags
    assert "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1" in ldflags
    command = gotools.build_command(gotools.TOOLS["kube-apiserver"], Path("/out/kube-apiserver"))
    assert "-X k8s.io/component-base/version.gitVersion=v1." in command[command.index("-ldflags") + 1]


def test_a_failed_build_names_the_tool_and_shows_the_output(tmp_path: Path) -> None:
    with pytest.raises(gotools.BuildError) as failed:
        gotools.run_build("mytool", ["sh", "-c", "echo cannot find package; exit 3"], tmp_path, tmp_path / "log", 30)
    assert "building mytool failed (exit 3)" in str(failed.value)
    assert "cannot find package" in str(failed.value)


def test_a_build_over_its_bound_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; sleep 60"
    started = time.monotonic()
    with pytest.raises(gotools.BuildError) as stopped:
        gotools.run_build("slowtool", ["sh", "-c", script], tmp_path, tmp_path / "log", 1.0)
    assert time.monotonic() - started < 10
    assert "building slowtool timed out after 1 s" in str(stopped.value)
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{grandchild}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{grandchild}").exists(), "the build's background child outlived it"


@pytest.mark.k8s
def test_building_all_ahead_as_docs_deploy_types_it() -> None:
    """docs/deploy.md's `.venv/bin/python -m sandbox.gotools`, from the checkout: every tool is
    there afterwards (built, or found in the cache) and its path is printed."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "sandbox.gotools"], cwd=gotools.WRAPPERS_DIR.parent.parent,
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in gotools.TOOLS:
        assert f"/{name}\n" in done.stdout or done.stdout.rstrip().endswith(f"/{name}"), done.stdout
