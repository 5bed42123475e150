"""Writing and checking `rendered/`: the only place the compiler touches the output tree.

`write_tree` never leaves a half-written tree: files go to a fresh sibling temp directory,
which then replaces the output directory by two renames (old -> aside, new -> in place);
stale files of removed specs disappear with the old tree. `diff_tree` compares what would
be written with what is there, as a unified diff.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path


def read_tree(root: Path) -> dict[str, str]:
    if not root.is_dir():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return out


def write_tree(files: dict[str, str], root: Path) -> None:
    root = root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.new-", dir=root.parent))
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        aside = None
        if root.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            aside.rmdir()
            os.rename(root, aside)
        os.rename(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def diff_tree(files: dict[str, str], root: Path, label: str = "rendered") -> str:
    current = read_tree(root)
    chunks: list[str] = []
    for rel in sorted(set(files) | set(current)):
        old, new = current.get(rel), files.get(rel)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{label}/{rel}" if old is not None else "/dev/null",
                tofile=f"b/{label}/{rel}" if new is not None else "/dev/null",
            )
        )
    return "".join(chunks)
