"""Helpers shared by test modules (fixtures live in conftest.py files)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FERRY = [sys.executable, "-m", "compiler"]


def run_ferry(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*FERRY, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
