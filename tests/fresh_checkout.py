"""A fresh checkout, set up the way the README tells a newcomer: `make setup` in a clone.

The clone is of the *working tree* (``git clone`` of HEAD, then every tracked file's current
content and every untracked, not-ignored file laid over it), so a test sees uncommitted work
exactly as CI's clean clone will see it once committed. ``make setup`` creates the clone's own
``.venv`` and installs it from its own pyproject: nothing of this test session's interpreter
leaks into the commands. pip's wheel cache and Ferry's jar cache (``~/.cache``) are shared, as
they are on a user's machine after the first run.

Commands then run as typed: ``bash -c "<command>"`` in the clone's root with the clone's
``.venv/bin`` first on PATH (the README's ``make`` targets use it themselves; an activated venv
is how a user types ``ferry …``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What a first `make setup` may take here: a venv and a pip install from the wheel cache
# (~40 s measured); a cold cache downloads ~30 wheels.
SETUP_TIMEOUT_SECONDS = 600


_NOT_IN_A_USERS_SHELL = frozenset({"VIRTUAL_ENV", "PYTHONPATH", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
                                   "MAKE_TERMOUT", "MAKE_TERMERR"})


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def clone_working_tree(source: Path, dest: Path) -> None:
    """``git clone`` source into dest, then lay the working tree's current files over it."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(dest)], check=True)
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=source)
    for rel in filter(None, listed.split("\0")):
        src, dst = source / rel, dest / rel
        if src.is_symlink() or src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
        elif not src.exists() and dst.exists():
            dst.unlink()  # deleted in the working tree, not yet committed


@dataclass(frozen=True)
class Checkout:
    path: Path

    @property
    def env(self) -> dict[str, str]:
        # A user's shell: no venv of ours, and none of the variables an outer `make` (CI's
        # `make test`) exports, which would turn a typed `make demo` into a sub-make that prints
        # "make[1]: Leaving directory …" after the demo's last line.
        env = {k: v for k, v in os.environ.items() if k not in _NOT_IN_A_USERS_SHELL}
        env["PATH"] = f"{self.path / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, command: str, *, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``command`` through bash as a user types it, in the checkout's root (or ``cwd``)."""
        return subprocess.run(["bash", "-c", command], cwd=cwd or self.path, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, command: str, *, log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running ``command`` as typed (``exec``: signals reach it, not a shell)."""
        with open(log, "wb") as sink:
            return subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.path, env=self.env,
                                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
