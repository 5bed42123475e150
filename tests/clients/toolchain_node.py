"""kafkajs for the client matrix: ``npm ci`` of ``node/package-lock.json``, run once per change.

The install lives in ``<cache>/clients/kafkajs-<digest>/`` (``sandbox.jars.cache_root()``), where
the digest covers ``package.json``, ``package-lock.json`` and ``driver.js``: all three are copied
in, so what runs is exactly what was hashed, and Node finds ``kafkajs`` in the folder's own
``node_modules``. The folder is filled beside its final place and renamed in when ``npm ci``
succeeded, so an interrupted install is never taken for a complete one; two pytest workers
serialise on a lock file.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from buildcache import build_once, run_step
from driver import Driver

from sandbox.jars import ToolMissing, cache_root

NODE_DIR = Path(__file__).resolve().parent / "node"
INPUTS = ("package.json", "package-lock.json", "driver.js")
#: A cold ``npm ci`` of one dependency-free package takes seconds; a dead registry must not hang.
NPM_TIMEOUT_S = 300
HINT = "Install Node.js 18+ with npm (Debian: apt-get install nodejs npm)."


def inputs_digest(folder: Path = NODE_DIR) -> str:
    h = hashlib.sha256()
    for name in INPUTS:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def install_dir(digest: str) -> Path:
    return cache_root() / "clients" / f"kafkajs-{digest}"


def require(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(f"'{name}' was not found on PATH; the kafkajs driver of the client matrix needs it. {HINT}")
    return found


def ensure_installed() -> Path:
    """The folder holding ``driver.js`` and its ``node_modules``, installing it on first use."""
    final = install_dir(inputs_digest())
    if final.is_dir():
        return final
    npm = require("npm")

    def build(staging: Path) -> None:
        for name in INPUTS:
            shutil.copy2(NODE_DIR / name, staging / name)
        run_step([npm, "ci", "--no-audit", "--no-fund"], cwd=staging, timeout=NPM_TIMEOUT_S,
                 hint="is the npm registry reachable?")

    return build_once(final, ".kafkajs.lock", build)


def drivers() -> list[Driver]:
    node = require("node")
    folder = ensure_installed()
    return [Driver(library="kafkajs", argv=[node, str(folder / "driver.js")])]
