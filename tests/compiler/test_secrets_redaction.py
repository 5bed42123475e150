"""Secrets never leave through the compiler: found by shape, and never echoed in any format.

Every invalid acceptance case is validated and its diagnostics rendered in every format of
`FORMATTERS`; no output may hold a credential shape, and a case's `planted-secrets.txt` (one
credential per line, as planted in its specs) must appear in none of them. The choke point
(`Diagnostic` redacts its own message) is tested directly too, so a pass that quotes a value
cannot leak it, and `ferry explain` / `ferry plan` output goes through the same redaction.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.credentials import MASK, find, redact
from compiler.diagnostics import FORMATTERS, Diagnostic, Position
from compiler.validate import validate_specs

# The acceptance cases' tree builder. Imported by name at run time: a static import of
# test_cases gives the file two module names (mypy sees `test_cases`, pytest's importlib mode
# only `tests.compiler.test_cases`), which mypy refuses.
_acceptance = importlib.import_module("tests.compiler.test_cases")
build_tree: Callable[[Path, Path], Path] = _acceptance.build_tree
CASES: Path = _acceptance.CASES
FERRY: Path = _acceptance.FERRY
PLANTED = "planted-secrets.txt"


def _planted(case: Path) -> list[str]:
    path = case / PLANTED
    return [ln for ln in path.read_text().splitlines() if ln] if path.is_file() else []


def _invalid_cases() -> list[Path]:
    return sorted(p for p in (CASES / "invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", _invalid_cases(), ids=lambda p: p.name)
def test_no_format_echoes_a_credential(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(build_tree(case, tmp_path))
    diagnostics = validate_specs(Path(".")).diagnostics
    assert diagnostics
    for fmt, formatter in FORMATTERS.items():
        out = formatter(diagnostics)
        assert find(out) == [], f"{fmt}: a credential shape in\n{out}"
        for secret in _planted(case):
            assert secret not in out, f"{fmt}: planted secret echoed in\n{out}"


def test_secret_cases_plant_what_they_report() -> None:
    """Each case that plants a credential reports it (so the no-echo test above is not vacuous)."""
    cases = [c for c in _invalid_cases() if _planted(c)]
    assert len(cases) >= 15
    for case in cases:
        text = "".join(p.read_text() for p in sorted((case / "specs").rglob("*.yaml")))
        for secret in _planted(case):
            assert secret in text, f"{case.name}: {secret!r} is not in its specs"


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("mm2:Hunter2Pw@kafka-1:9094", "user:password in a host address", "mm2:****@kafka-1:9094"),
        ("kafka-1:9092,ads:Pa55word9@kafka-2:9092", "user:password in a host address",
         "kafka-1:9092,ads:****@kafka-2:9092"),
        ("sasl_ssl://mm2:Hunter2Pw@broker:9093", "Basic Auth Credentials", "sasl_ssl://mm2:****@broker:9093"),
        ("Authorization: Bearer 9f8e7d6c5b4a39281706", "Bearer token", "Authorization: Bearer ****"),
        ("x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl y", "JSON Web Token", "x **** y"),
        ("ghp_F3rryT3stT0kenN0tRealAbCdEfGhIjKlMnO", "GitHub Token", MASK),
        ("github_pat_11AFERRYTEST0123456789_abcdefghijklmnopqrstuvwxyzAB", "GitHub Token", MASK),
        ("key AKIAFERRYTESTN0TREAL", "AWS Access Key", "key ****"),
        ("xoxb-123456789012-1234567890123-FerryTestNotARealToken0", "Slack Token", MASK),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY-----\nrest", "Private Key",
         "-----****\nrest"),
        ('ScramLoginModule required username="mm2" password="hunter2";', "password assignment",
         'ScramLoginModule required username="mm2" password="****";'),
    ],
)
def test_shapes_found_and_masked(text: str, kind: str, masked: str) -> None:
    assert kind in {f.kind for f in find(text)}
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "owner@example.com", "kafka-1.legacy.internal:9092", "0.0.0.0:9092", "https://example.com/a:b",
        "mailto:ops@example.com", "user:password@host", "Bearer authentication", "APACsettlements",
        "ads.budget.changed.v1", "team0.consumer1.*", 'password="<secret>"', "u:****@h",
    ],
)
def test_look_alikes_are_not_credentials(text: str) -> None:
    assert find(text) == []
    assert redact(text) == text


def test_every_diagnostic_is_redacted_at_construction() -> None:
    """The choke point: a pass that quotes a value cannot leak it, in the message or a note."""
    pos = Position("clusters.yaml", 3, 7)
    d = Diagnostic(pos, "schema", "bootstrap.0: not host:port (got 'mm2:Hunter2Pw@kafka-1:9094')",
                   related=((pos, "first defined as mm2:Hunter2Pw@kafka-0:9094"),))
    assert "Hunter2Pw" not in d.full_message()
    assert "mm2:****@kafka-1:9094" in d.message
    for formatter in FORMATTERS.values():
        assert "Hunter2Pw" not in formatter([d])


def _ferry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = [str(FERRY)] if FERRY.exists() else [sys.executable, "-m", "ferry"]
    return subprocess.run([*exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_never_echoes_the_bootstrap_password(tmp_path: Path) -> None:
    """The issue's example: `user:password@host` in a bootstrap list, every format of the CLI."""
    root = build_tree(CASES / "invalid" / "secrets-userinfo-bootstrap-no-scheme", tmp_path)
    for fmt in FORMATTERS:
        proc = _ferry("validate", "--specs", ".", "--format", fmt, cwd=root)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "inline-secret" in proc.stdout
        assert "Hunter2Pw" not in proc.stdout + proc.stderr
    proc = _ferry("render", "--specs", ".", "--out", str(tmp_path / "rendered"), cwd=root)
    assert proc.returncode == 1 and "Hunter2Pw" not in proc.stdout + proc.stderr


def test_cli_explain_redacts_what_it_echoes(tmp_path: Path) -> None:
    root = build_tree(CASES / "valid" / "base-as-is", tmp_path)
    proc = _ferry("explain", "ads.pacing:Hunter2Pw@x", "--specs", ".", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ads.pacing:****@x" in proc.stdout and "Hunter2Pw" not in proc.stdout


def test_cli_explain_redacts_an_unknown_gateway_it_echoes(tmp_path: Path) -> None:
    root = build_tree(CASES / "valid" / "base-as-is", tmp_path)
    proc = _ferry("explain", "x", "--gateway", "gw:Hunter2Pw@x", "--specs", ".", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "unknown gateway" in proc.stderr and "Hunter2Pw" not in proc.stdout + proc.stderr


def test_render_check_masks_what_the_committed_tree_holds(tmp_path: Path) -> None:
    """`render --check` prints a diff whose old side is whatever was committed under rendered/,
    hand edits included: it goes through the same redaction as every other output."""
    root = build_tree(CASES / "valid" / "base-as-is", tmp_path)
    out = tmp_path / "out"
    assert _ferry("render", "--specs", ".", "--out", str(out), cwd=root).returncode == 0
    victim = next(p for p in sorted(out.rglob("*.properties")))
    victim.write_text(victim.read_text() + "bootstrap.servers=mm2:Hunter2Pw@kafka-9:9094\n")
    proc = _ferry("render", "--check", "--specs", ".", "--out", str(out), cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "mm2:****@kafka-9:9094" in proc.stdout and "Hunter2Pw" not in proc.stdout + proc.stderr


def test_a_credential_in_a_file_name_is_masked_in_positions(tmp_path: Path) -> None:
    root = build_tree(CASES / "valid" / "base-as-is", tmp_path)
    team = next(p for p in sorted((root / "migrations").iterdir()) if p.is_dir())
    leaked = team / "ghp_0123456789abcdefABCDEF0123456789abcd.yaml"
    leaked.write_text("not: [valid\n")
    for fmt in FORMATTERS:
        proc = _ferry("validate", "--specs", ".", "--format", fmt, cwd=root)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "yaml-syntax" in proc.stdout and "0123456789abcdefABCDEF" not in proc.stdout + proc.stderr
