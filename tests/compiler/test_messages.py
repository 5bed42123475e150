"""Messages a person can act on: no diagnostic of any acceptance case shows a raw regular
expression (a field's pattern, the policy's rule) - they say what is expected in words. The
exception is a diagnostic about the policy's regex itself (`policy-*`), written for the
platform team that maintains it."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.validate import validate_specs

# Imported by name at run time, as in test_secrets_redaction.py (one module name for mypy and pytest).
build_tree: Callable[[Path, Path], Path] = importlib.import_module("tests.compiler.test_cases").build_tree

CASES = Path(__file__).resolve().parents[1] / "cases" / "invalid"
#: What a regex leaks into a message: anchors around a class, a bounded repeat, escapes, pydantic's words.
REGEX = re.compile(r"should match pattern|\^\[|\]\{\d|\{\d+,\d*\}|\\[Sdsw]|\(\?P<|\$'")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()), ids=str)
def test_no_message_shows_a_regex(case: str, tmp_path: Path) -> None:
    root = build_tree(CASES / case, tmp_path)
    for d in validate_specs(root).diagnostics:
        if d.code.startswith("policy-"):
            continue
        text = d.full_message()
        assert not REGEX.search(text), f"{d.position} {d.code}: {text}"
