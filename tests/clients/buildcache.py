"""Building a client driver once into the cache (the toolchains of the client matrix).

A build goes into ``<final>.partial-<pid>`` beside its final folder and is renamed in when it
succeeded, so an interrupted build is never taken for a complete one; builds of one folder are
serialised on a lock file (two pytest workers). A build step that fails or overruns its bound is
a :class:`~sandbox.jars.BuildError` naming the command and the tail of its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sandbox.jars import BuildError, _locked

__all__ = ["build_once", "run_step"]


def build_once(final: Path, lock_name: str, build: Callable[[Path], None]) -> Path:
    """``final`` when it exists; otherwise ``build(staging)``, then ``staging`` renamed to ``final``."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.parent / lock_name):
        if final.is_dir():
            return final
        staging = final.parent / f"{final.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            build(staging)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def run_step(command: Sequence[str], *, cwd: Path | None = None, timeout: float, hint: str = "",
             env: Mapping[str, str] | None = None) -> None:
    """Run one build command; BuildError with its output's last 30 lines when it fails."""
    shown = " ".join(command)
    where = f" in {cwd}" if cwd else ""
    try:
        done = subprocess.run(list(command), cwd=cwd, env=None if env is None else dict(env), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        because = f" ({hint})" if hint else ""
        raise BuildError(f"`{shown}`{where} did not finish within {timeout:g} s{because}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise BuildError(f"`{shown}` failed{where} (exit {done.returncode}):\n{tail}")
