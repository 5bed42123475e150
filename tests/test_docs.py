"""The examples in README.md and docs/ are real: every ```console block's `$ ferry …`,
`$ ferry-proxy …` and `$ python -m proxy …` commands run against the repository (with a
100-column terminal, for help texts) and must print exactly what the block shows."""

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferry_testing import REPO, run_ferry

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMANDS = ("$ ferry ", "$ ferry-proxy ", "$ python -m proxy ")
ENV = {"COLUMNS": "100"}


def _examples() -> Iterator[Any]:
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
            lines = block.splitlines()
            i = 0
            while i < len(lines):
                if lines[i].startswith(COMMANDS):
                    cmd = lines[i][2:]
                    out = []
                    i += 1
                    while i < len(lines) and not lines[i].startswith("$ "):
                        out.append(lines[i])
                        i += 1
                    yield pytest.param(cmd, "\n".join(out), id=f"{doc.name}:{cmd}")
                else:
                    i += 1


EXAMPLES = list(_examples())


def _run(cmd: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(cmd)
    if words[0] == "ferry":
        return run_ferry(*words[1:], cwd=REPO, env=ENV)
    if words[0] == "ferry-proxy":  # the console script installed beside this interpreter
        command = [str(Path(sys.executable).parent / "ferry-proxy"), *words[1:]]
    else:
        command = [sys.executable, *words[1:]]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **ENV})


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 1
    assert any(p.values[0].startswith("ferry-proxy ") for p in EXAMPLES)


@pytest.mark.parametrize(("cmd", "expected"), EXAMPLES)
def test_console_example(cmd: str, expected: str) -> None:
    r = _run(cmd)
    assert r.stdout.rstrip("\n") == expected.rstrip("\n"), r.stderr
