"""Go programs the Kubernetes tests run, compiled from their Go modules and cached like the Kafka jars.

Three tools, each pinned by a small wrapper module under ``sandbox/gotools/<tool>/`` (a ``go.mod``
whose ``tool`` directive names the program's main package, and the ``go.sum`` that fixes every
dependency's checksum):

* ``helm`` from ``helm.sh/helm/v3/cmd/helm``;
* ``etcd`` from ``go.etcd.io/etcd/server/v3`` (the server module's root package is etcd's main);
* ``kube-apiserver`` from ``k8s.io/kubernetes/cmd/kube-apiserver``. k8s.io/kubernetes cannot be
  ``go install``-ed: its go.mod replaces each ``k8s.io/*`` staging module with a folder of its own
  tree, so the wrapper replaces each with the release published from the same tag instead.

``ensure_tool(name)`` returns ``$FERRY_CACHE/bin/<tool>-<version>/<tool>`` (default cache
``~/.cache/ferry``), building it on first use with ``go build`` through the Go module proxy. A
marker beside the binary holds the digest of the wrapper's go.mod and go.sum: while it matches,
Go is not run at all. Concurrent callers serialise on a lock file; the binary is built into a
folder beside its final place and renamed in, so nobody sees half a build. A build runs niced
(the machine is shared) and is bounded in time; on timeout its whole process group is killed and
the error names the tool.

Versions live in one place, the wrapper's go.mod; the version strings a release build stamps into
the binary (``helm version``, the API server's ``/version``) are derived from it the way each
project's own Makefile derives them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox import processes
from sandbox.errors import SandboxError
from sandbox.jars import REPO_ROOT, _locked, cache_root

WRAPPERS_DIR = REPO_ROOT / "sandbox" / "gotools"
MARKER_NAME = "build.complete"

# Cold builds measured on the 2-core development machine while it was shared (docs/deploy.md):
# helm 9 min (with the standard library), etcd 2 min, kube-apiserver 17 min. The bounds leave room
# for a busier machine and a cold module download, and still end a build stuck on a dead network.
BUILD_TIMEOUT_SECONDS = {"helm": 1800.0, "etcd": 1800.0, "kube-apiserver": 3600.0}


class ToolMissing(SandboxError):
    """The Go toolchain is not installed where we can find it."""


class BuildError(SandboxError):
    """``go build`` ran and failed or timed out; the message names the tool and ends with Go's output."""


# ---- pure helpers


def module_versions(go_mod: str) -> dict[str, str]:
    """Every ``require``d module's version in a go.mod text, as ``{path: version}``.

    Handles the one-line form (``require a v1``) and blocks; ignores ``replace`` targets and
    comments. go.mod is machine-written (``go mod tidy``), so one module per line holds.
    """
    versions: dict[str, str] = {}
    in_require = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_require:
            if line == ")":
                in_require = False
            elif line:
                path, version = line.split()[:2]
                versions[path] = version
        elif line == "require (":
            in_require = True
        elif line.startswith("require "):
            path, version = line.split()[1:3]
            versions[path] = version
    return versions


def k8s_release_of_staging(version: str) -> tuple[str, str]:
    """(major, minor) of the Kubernetes release a ``k8s.io/*`` staging version belongs to.

    Staging modules are published as v0.<minor>.<patch> from Kubernetes v1.<minor>.<patch>; helm's
    Makefile stamps its default KubeVersion this way (0 + 1, minor) from k8s.io/client-go.
    """
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", version)
    if match is None:
        raise ValueError(f"not a module version: {version!r}")
    return str(int(match.group(1)) + 1), match.group(2)


def _helm_stamps(versions: Mapping[str, str]) -> dict[str, str]:
    major, minor = k8s_release_of_staging(versions["k8s.io/client-go"])
    return {
        "helm.sh/helm/v3/internal/version.version": versions["helm.sh/helm/v3"],
        "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor": major,
        "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor": minor,
        "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor": major,
        "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor": minor,
    }


def _kube_stamps(versions: Mapping[str, str]) -> dict[str, str]:
    version = versions["k8s.io/kubernetes"]
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", version)
    if match is None:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    stamps = {}
    # hack/lib/version.sh stamps both packages; clients and the server's /version read one each.
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        stamps[f"{package}.gitVersion"] = version
        stamps[f"{package}.gitMajor"] = match.group(1)
        stamps[f"{package}.gitMinor"] = match.group(2)
    return stamps


@dataclass(frozen=True)
class GoTool:
    name: str
    #: The main package ``go build`` compiles (the wrapper's ``tool`` directive names it too).
    package: str
    #: The module whose required version names the build (``bin/<name>-<version>``).
    module: str
    #: ``-X`` link-time values, from the wrapper's required versions.
    stamps: Callable[[Mapping[str, str]], dict[str, str]] = lambda _versions: {}

    @property
    def wrapper(self) -> Path:
        return WRAPPERS_DIR / self.name


TOOLS: dict[str, GoTool] = {
    "helm": GoTool("helm", "helm.sh/helm/v3/cmd/helm", "helm.sh/helm/v3", _helm_stamps),
    # etcd's version is a constant of go.etcd.io/etcd/api/v3/version: nothing to stamp.
    "etcd": GoTool("etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3"),
    "kube-apiserver": GoTool(
        "kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes", _kube_stamps
    ),
}


def wrapper_digest(wrapper: Path) -> str:
    """What a cached build was made from: the wrapper's go.mod and go.sum."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update(name.encode() + b"\0" + (wrapper / name).read_bytes() + b"\0")
    return digest.hexdigest()


def tool_version(tool: GoTool) -> str:
    versions = module_versions((tool.wrapper / "go.mod").read_text())
    if tool.module not in versions:
        raise BuildError(f"{tool.wrapper / 'go.mod'} does not require {tool.module}: cannot build {tool.name}")
    return versions[tool.module]


def tool_dir(tool: GoTool, environ: Mapping[str, str] | None = None) -> Path:
    return cache_root(environ) / "bin" / f"{tool.name}-{tool_version(tool)}"


def build_command(tool: GoTool, output: Path) -> list[str]:
    """``go build`` of the tool's main package inside its wrapper module, stamped like a release."""
    versions = module_versions((tool.wrapper / "go.mod").read_text())
    ldflags = ["-s", "-w", *(f"-X {key}={value}" for key, value in sorted(tool.stamps(versions).items()))]
    return ["go", "build", "-trimpath", "-ldflags", " ".join(ldflags), "-o", str(output), tool.package]


def build_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.update(
        # Static binaries, as the projects release them; no C toolchain needed.
        CGO_ENABLED="0",
        # The wrapper's go.sum is the whole truth: a missing entry is an error, not a download.
        GOFLAGS="-mod=readonly -buildvcs=false",
        # Never fetch another Go toolchain: the installed one builds it or the error says so.
        GOTOOLCHAIN="local",
    )
    return env


def marker_text(digest: str, binary: Path, wall: float, cpu: float, go_version: str) -> str:
    return (
        f"wrapper-sha256 {digest}\n"
        f"binary {binary.name} {binary.stat().st_size}\n"
        f"built-with {go_version}\n"
        f"build wall={wall:.0f}s cpu={cpu:.0f}s\n"
    )


def build_is_complete(directory: Path, name: str, digest: str) -> bool:
    try:
        lines = (directory / MARKER_NAME).read_text().splitlines()
    except OSError:
        return False
    return bool(lines) and lines[0] == f"wrapper-sha256 {digest}" and os.access(directory / name, os.X_OK)


# ---- process IO


def require_go() -> str:
    found = shutil.which("go")
    if found is None:
        raise ToolMissing(
            "'go' was not found on PATH: helm, etcd and kube-apiserver are built from their Go modules. "
            "Install Go 1.26+ (https://go.dev/doc/install, or Debian's golang-go if it is new enough)."
        )
    return found


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_build(name: str, command: list[str], cwd: Path, log: Path, timeout: float) -> tuple[float, float]:
    """Run ``command`` niced in ``cwd``; (wall, cpu) seconds. BuildError naming ``name`` on failure or timeout."""
    nice = shutil.which("nice")
    # Dies with us (setpriv --pdeathsig, as sandbox children do): a killed test run leaves no
    # build running on, unlocked, beside the next one.
    argv = [*processes.death_signal_prefix(), *([nice, "-n", "10"] if nice else []), *command]
    cpu_before = _children_cpu_seconds()
    started = time.monotonic()
    with open(log, "wb") as sink:
        # Its own process group: on timeout the compilers and the linker go down with `go`.
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=build_env(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BuildError(
                f"building {name} timed out after {timeout:.0f} s and was stopped "
                f"(`{' '.join(command)}` in {cwd}). The machine may be busy: retry, "
                f"or look at {log}.\n{_tail(log)}"
            ) from None
        except BaseException:
            # Ctrl-C or the test runner giving up: leave no compiler running.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    wall = time.monotonic() - started
    cpu = _children_cpu_seconds() - cpu_before
    if code != 0:
        raise BuildError(
            f"building {name} failed (exit {code}): `{' '.join(command)}` in {cwd}.\n"
            f"Last lines of {log}:\n{_tail(log)}"
        )
    return wall, cpu


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def _go_version() -> str:
    result = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, env=build_env(os.environ))
    return result.stdout.strip() or "go (unknown version)"


def ensure_tool(name: str, timeout: float | None = None) -> Path:
    """The path of the cached ``name`` binary (helm, etcd, kube-apiserver), building it on first use."""
    try:
        tool = TOOLS[name]
    except KeyError:
        raise ValueError(f"unknown Go tool {name!r}; known: {', '.join(sorted(TOOLS))}") from None
    directory = tool_dir(tool)
    digest = wrapper_digest(tool.wrapper)
    if build_is_complete(directory, name, digest):
        return directory / name
    with _locked(directory.parent / f".{directory.name}.lock"):
        if build_is_complete(directory, name, digest):
            return directory / name
        require_go()
        # Leftovers of builds that were killed: nobody else builds this tool while we hold the lock.
        for leftover in directory.parent.glob(f"{directory.name}.partial-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = directory.parent / f"{directory.name}.partial-{os.getpid()}"
        staging.mkdir(parents=True)
        log = directory.parent / f"{directory.name}.build.log"
        try:
            bound = timeout if timeout is not None else BUILD_TIMEOUT_SECONDS[name]
            wall, cpu = run_build(name, build_command(tool, staging / name), tool.wrapper, log, bound)
            binary = staging / name
            if not os.access(binary, os.X_OK):
                raise BuildError(f"go build reported success for {name} but wrote no {binary}")
            (staging / MARKER_NAME).write_text(marker_text(digest, binary, wall, cpu, _go_version()))
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory / name


def build_record(name: str) -> str | None:
    """The cached build's marker text (what it was built from, its cold build time), or None."""
    try:
        return (tool_dir(TOOLS[name]) / MARKER_NAME).read_text()
    except OSError:
        return None


if __name__ == "__main__":
    import sys

    for tool_name in sys.argv[1:] or list(TOOLS):
        print(ensure_tool(tool_name), flush=True)
        print(build_record(tool_name), end="", flush=True)
