"""Acceptance cases for `ferry validate`, one directory each (STYLE.md item 15).

`tests/cases/base/specs/` is a small, complete, valid org. A case's `specs/` is an overlay
on a copy of it: a file replaces the base file at the same relative path, and an empty
`<name>.yaml.delete` deletes `<name>.yaml`. Cases are found by listing, so adding a case
is adding a folder:

    tests/cases/valid/<case>/specs/...      must validate with no diagnostic at all
    tests/cases/invalid/<case>/specs/...
    tests/cases/invalid/<case>/expected.txt one `<path>:<line>:<col> <code>` per diagnostic,
                                            sorted; exactly these, no more (no follow-on
                                            errors), no fewer (every error collected)

Optional files of an invalid case, each line `<path>:<line>:<col> <code> <value>`:

    related.txt    the diagnostic carries a related position <value> ("first defined here")
    mentions.txt   its message contains the text <value> (a name the user must see)

Invalid case names start with the stage that must catch them (`loader-`, `secrets-`,
`schema-`, a semantic pass id, or `multi-` for cases spanning several); the coverage test
keeps one case per stage. A case may hold `xfail` (the reason: a known compiler bug, the
case states the correct behaviour) or `unhelpful` (the reason: its message does not yet
say how to fix the problem).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from compiler.diagnostics import Diagnostic
from compiler.passes import semantic_passes
from compiler.validate import validate_specs

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
BASE = CASES / "base" / "specs"
DELETE_SUFFIX = ".delete"
STAGES = ("loader", "secrets", "schema", *(p.id for p in semantic_passes()), "multi")

# A message says how to fix the problem when it suggests an action, names what is allowed
# or expected, or points at the thing to change. Deliberately loose: wording is free.
FIX_HINT = re.compile(
    r"\b(add|remove|rename|move|use|fix|make|declare|cut|keep|reference|pick|create|drop|"
    r"replace|merge|coordinate|set|should|must|needs?|missing|expected|did you mean|allowed|known|e\.g\.)\b",
    re.IGNORECASE,
)

Key = tuple[str, int, int, str]  # path, line, col, code


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if p.is_dir())


def _params(kind: str, *marker_files: str) -> list:
    params = []
    for case in _cases(kind):
        marks = []
        for marker_file in marker_files or ("xfail",):
            reason = case / marker_file
            if reason.is_file():
                # The first line is the summary; the rest of the file has the details.
                summary = reason.read_text().strip().splitlines()[0]
                marks.append(pytest.mark.xfail(reason=summary, strict=True))
                break
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def build_tree(case: Path, dest: Path) -> Path:
    """Copy base/specs to dest/specs and apply the case's overlay; return the specs root."""
    root = dest / "specs"
    shutil.copytree(BASE, root)
    overlay = case / "specs"
    for src in sorted(overlay.rglob("*")):
        if not src.is_file() or src.name.startswith("."):
            continue  # `.gitkeep` keeps an empty overlay in git
        rel = src.relative_to(overlay)
        if src.name.endswith(DELETE_SUFFIX):
            doomed = root / rel.with_name(src.name[: -len(DELETE_SUFFIX)])
            assert doomed.is_file(), f"{case.name}: {rel} deletes a file base/ does not have"
            doomed.unlink()
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / rel)
    return root


def _parse_key(text: str) -> Key:
    pos, code = text.split()
    path, line, col = pos.rsplit(":", 2)
    return path, int(line), int(col), code


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _annotations(path: Path) -> list[tuple[Key, str]]:
    out = []
    for ln in _lines(path):
        pos, code, value = ln.split(maxsplit=2)
        out.append((_parse_key(f"{pos} {code}"), value))
    return out


def _key(d: Diagnostic) -> Key:
    return (d.position.file, d.position.line, d.position.col, d.code)


def _show(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(f"{d.position} {d.code}: {d.full_message()}" for d in diagnostics) or "(none)"


RunCase = Callable[[Path], list[Diagnostic]]


@pytest.fixture
def run_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunCase:
    """Build a case's tree and validate it; returns the diagnostics."""

    def run(case: Path) -> list[Diagnostic]:
        monkeypatch.chdir(build_tree(case, tmp_path))  # diagnostic paths: relative to the specs root
        return validate_specs(Path(".")).diagnostics

    return run


@pytest.mark.parametrize("case", _params("valid"))
def test_valid_case(case: Path, run_case: RunCase) -> None:
    diagnostics = run_case(case)
    assert diagnostics == [], _show(diagnostics)


@pytest.mark.parametrize("case", _params("invalid"))
def test_invalid_case(case: Path, run_case: RunCase) -> None:
    expected = [_parse_key(ln) for ln in _lines(case / "expected.txt")]
    diagnostics = run_case(case)
    actual = [_key(d) for d in diagnostics]
    assert actual == sorted(actual), "the validator sorts its diagnostics"
    assert sorted(actual) == sorted(expected), _show(diagnostics)
    by_key: dict[Key, list[Diagnostic]] = {}
    for d in diagnostics:
        assert d.message.strip(), f"{d.position} {d.code}: empty message"
        by_key.setdefault(_key(d), []).append(d)
    for key, want in _annotations(case / "related.txt"):
        related = [str(pos) for d in by_key[key] for pos, _ in d.related]
        assert want in related, f"{key}: related {related}, expected {want}"
    for key, want in _annotations(case / "mentions.txt"):
        messages = [d.message for d in by_key[key]]
        assert any(want in m for m in messages), f"{key}: {want!r} not in {messages}"


@pytest.mark.parametrize("case", _params("invalid", "xfail", "unhelpful"))
def test_invalid_case_messages_say_how_to_fix(case: Path, run_case: RunCase) -> None:
    vague = [d for d in run_case(case) if not FIX_HINT.search(d.message)]
    assert not vague, "messages without a hint how to fix:\n" + _show(vague)


def test_case_layout() -> None:
    assert (BASE / "clusters.yaml").is_file() and (BASE / "policy.yaml").is_file()
    for case in _cases("valid") + _cases("invalid"):
        assert (case / "specs").is_dir(), f"{case.name}: no specs/ overlay"
    for case in _cases("invalid"):
        assert case.name.split("-")[0] in STAGES, f"{case.name}: name it <stage>-..., stage in {STAGES}"
        expected = _lines(case / "expected.txt")
        assert expected, f"{case.name}: expected.txt is missing or empty"
        keys = [_parse_key(ln) for ln in expected]
        assert keys == sorted(keys), f"{case.name}: expected.txt is not sorted"
        for note in ("related.txt", "mentions.txt"):
            for key, _ in _annotations(case / note):
                assert key in keys, f"{case.name}: {note} names {key}, which expected.txt does not list"


def test_every_stage_has_cases() -> None:
    covered = {case.name.split("-")[0] for case in _cases("invalid")}
    assert set(STAGES) <= covered, f"stages without an invalid case: {sorted(set(STAGES) - covered)}"


# --- the real CLI on a few cases -----------------------------------------------------------

FERRY = REPO / ".venv" / "bin" / "ferry"
GITHUB_LINE = re.compile(
    r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),title=(?P<code>[^:]+)::(?P<msg>.+)$"
)


def _ferry(root: Path, fmt: str) -> subprocess.CompletedProcess:
    exe = [str(FERRY)] if FERRY.exists() else [sys.executable, "-m", "ferry"]
    return subprocess.run(
        [*exe, "validate", "--specs", ".", "--format", fmt],
        cwd=root, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "name", ["loader-yaml-syntax", "secrets-password-key", "cutover-fence-and-cutover", "multi-errors-in-several-files"]
)
def test_cli_github_format(name: str, tmp_path: Path) -> None:
    case = CASES / "invalid" / name
    proc = _ferry(build_tree(case, tmp_path), "github")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    matches = [GITHUB_LINE.match(ln) for ln in lines]
    assert all(matches), f"not GitHub workflow commands:\n{proc.stdout}"
    got = sorted((m["file"], int(m["line"]), int(m["col"]), m["code"]) for m in matches if m)
    assert got == sorted(_parse_key(ln) for ln in _lines(case / "expected.txt"))


@pytest.mark.parametrize("name", ["loader-duplicate-key", "cutover-producer-before-consumers"])
def test_cli_json_format_carries_related(name: str, tmp_path: Path) -> None:
    case = CASES / "invalid" / name
    proc = _ferry(build_tree(case, tmp_path), "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    payload = json.loads(proc.stdout)
    got = {(d["file"], d["line"], d["col"], d["code"]): d for d in payload["diagnostics"]}
    assert payload["errors"] == len(payload["diagnostics"])
    assert sorted(got) == sorted(_parse_key(ln) for ln in _lines(case / "expected.txt"))
    for key, want in _annotations(case / "related.txt"):
        related = [f"{r['file']}:{r['line']}:{r['col']}" for r in got[key]["related"]]
        assert want in related


def test_cli_valid_exits_0(tmp_path: Path) -> None:
    proc = _ferry(build_tree(CASES / "valid" / "base-as-is", tmp_path), "github")
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stdout + proc.stderr
