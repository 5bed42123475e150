"""The Go libraries of the client matrix: sarama, franz-go and segmentio/kafka-go, one small program
each in ``go/`` (module ``ferry.test/clients``; the contract: README.md here), built once per change.

One ``go build -o <dir> ./...`` builds the three binaries into ``<cache>/clients/go-<digest>/``
(``sandbox.jars.cache_root()``), where the digest covers every file under ``go/`` and the output of
``go version`` (a new Go compiles anew). The module's versions are pinned by the committed
``go.sum``: ``-mod=readonly`` makes a build that would need to change ``go.mod`` or ``go.sum`` an
error instead of a silent upgrade, and the Go module proxy supplies what the module cache lacks
(``GOCACHE``/``GOMODCACHE`` stay Go's defaults). ``-buildvcs=false`` keeps the repository's git
state out of the binaries. The binaries are built beside their final place and the folder renamed
in, so an interrupted build is never taken for a complete one; two pytest workers serialise on a
lock file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from buildcache import build_once, run_step
from driver import Driver

from sandbox.jars import BuildError, ToolMissing, cache_root

GO_DIR = Path(__file__).resolve().parent / "go"
#: The matrix's name for each library -> the binary ``go build`` names after its package folder.
BINARIES = {"sarama": "sarama", "franz-go": "franzgo", "kafka-go": "kafkago"}
#: A cold build downloads ~20 modules (tens of MB) and compiles them on a shared 2-core machine;
#: a dead module proxy must not hang the session.
GO_BUILD_TIMEOUT_S = 600
HINT = "Install Go 1.26+ (Debian: apt-get install golang-go, or the go.dev tarball) and put `go` on PATH."


def require_go() -> str:
    found = shutil.which("go")
    if found is None:
        raise ToolMissing(f"'go' was not found on PATH; the client matrix builds its Go drivers with it. {HINT}")
    return found


def go_version(go: str) -> str:
    done = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ToolMissing(f"`{go} version` failed (exit {done.returncode}): {done.stderr.strip()[-500:]} {HINT}")
    return done.stdout.strip()


def inputs_digest(version: str, folder: Path = GO_DIR) -> str:
    """A digest of every file under ``folder`` (path and content) and the Go version line."""
    h = hashlib.sha256(version.encode() + b"\0")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_env() -> dict[str, str]:
    """The environment of the build: the caller's, with the module pinned and no workspace file."""
    return {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "GOWORK": "off"}


def ensure_built() -> Path:
    """The folder holding the three driver binaries, building them on first use."""
    go = require_go()

    def build(staging: Path) -> None:
        run_step([go, "build", "-o", f"{staging}{os.sep}", "./..."], cwd=GO_DIR, env=build_env(),
                 timeout=GO_BUILD_TIMEOUT_S, hint="is the Go module proxy reachable?")
        missing = [name for name in BINARIES.values() if not (staging / name).is_file()]
        if missing:
            raise BuildError(f"`go build` reported success but left no {', '.join(missing)} in {staging}")

    return build_once(cache_root() / "clients" / f"go-{inputs_digest(go_version(go))}", ".go.lock", build)


def drivers() -> list[Driver]:
    folder = ensure_built()
    return [Driver(library=library, argv=[str(folder / binary)]) for library, binary in BINARIES.items()]
