"""The examples in README.md and docs/ are real: every ```console block's `$ ferry …`
commands run against the repository and must print exactly what the block shows."""

import re
import shlex

import pytest

from ferry_testing import REPO, run_ferry

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _examples():
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```console\n(.*?)```", text, re.S):
            lines = block.splitlines()
            i = 0
            while i < len(lines):
                if lines[i].startswith("$ ferry "):
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


def test_there_are_examples():
    assert len(EXAMPLES) >= 1


@pytest.mark.parametrize("cmd,expected", EXAMPLES)
def test_console_example(cmd: str, expected: str):
    args = shlex.split(cmd)[1:]
    r = run_ferry(*args, cwd=REPO)
    assert r.stdout.rstrip("\n") == expected.rstrip("\n"), r.stderr
