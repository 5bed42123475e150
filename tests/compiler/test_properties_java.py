"""Rendered .properties files as Java reads them: `java.util.Properties.load(InputStream)`,
which decodes ISO-8859-1, as MirrorMaker 2's `connect-mirror-maker.sh` does.

One JVM (tests/compiler/java/LoadProperties.java, Java's source launcher, no jars) loads the
MirrorMaker 2 configs rendered from the `unicode-group-ids` acceptance case (group ids in Latin
with accents, Hangul and Cyrillic) and a file of awkward values written with the renderer's
escaping; every value Java sees must be the one the spec or the test meant.
"""

from __future__ import annotations

import base64
import importlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.org import Org, build_org
from compiler.render import ascii_properties, literal_regex, property_value, render_mm2
from compiler.validate import validate_specs

# The acceptance cases' tree builder, imported by name (see test_secrets_redaction.py).
_acceptance = importlib.import_module("tests.compiler.test_cases")
build_tree: Callable[[Path, Path], Path] = _acceptance.build_tree
CASES: Path = _acceptance.CASES

PROGRAM = Path(__file__).resolve().parent / "java" / "LoadProperties.java"

AWKWARD = {
    "accents": "café crème",
    "hangul": "결제-정산",
    "cyrillic": "чат-архив",
    "astral": "rocket \U0001f680 launch",
    "leading.blanks": "   three blanks first",
    "tab.first": "\tthen text",
    "backslashes": "C:\\dir\\file \\u0041 not an escape",
    "line.breaks": "one\ntwo\r\nthree",
    "separators": "a=b:c d",
    "comment.marks": "#not ! a comment",
    "latin1": "\u00ff\u00a9 in ISO-8859-1 itself",
    "line.separator": "before\u2028after",
}


def _java_load(*files: Path) -> list[dict[str, str]]:
    from sandbox.jars import require_tool

    done = subprocess.run(
        [require_tool("java"), "-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", str(PROGRAM),
         *map(str, files)],
        capture_output=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    loaded: list[dict[str, str]] = [{} for _ in files]
    for line in done.stdout.decode().splitlines():
        index, key, value = line.split(" ")
        loaded[int(index)][base64.b64decode(key).decode()] = base64.b64decode(value).decode()
    return loaded


@pytest.fixture
def unicode_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Org:
    monkeypatch.chdir(build_tree(CASES / "valid" / "unicode-group-ids", tmp_path))
    validation = validate_specs(Path("."))
    assert validation.ok and validation.specs is not None, [str(d) for d in validation.diagnostics]
    return build_org(validation.specs)


def test_rendered_mm2_properties_read_by_java_carry_the_specs_names(unicode_org: Org, tmp_path: Path) -> None:
    flows = unicode_org.flows
    files = []
    for flow in flows:
        text = render_mm2(unicode_org, flow)
        assert text.isascii(), "a .properties file Java reads as ISO-8859-1 must be ASCII"
        path = tmp_path / f"{flow.name}.properties"
        path.write_bytes(text.encode("ascii"))
        files.append(path)
    spec_groups = {"chat-café-alerts", "채팅-archiver", "чат-архив"}
    seen: set[str] = set()
    for flow, loaded in zip(flows, _java_load(*files), strict=True):
        prefix = f"{flow.source}->{flow.target}"
        assert loaded[f"{prefix}.groups"] == ", ".join(literal_regex(g) for g in flow.groups)
        assert loaded[f"{prefix}.topics"] == ", ".join(literal_regex(r.legacy) for r in flow.renames)
        for alias in (flow.source, flow.target):
            cluster = unicode_org.cluster(alias)
            assert loaded[f"{alias}.bootstrap.servers"] == ",".join(cluster.bootstrap)
        seen.update(g for g in flow.groups if g in spec_groups)
    assert seen == spec_groups  # every non-ASCII group id went through a rendered file


def test_awkward_values_survive_the_escaping(tmp_path: Path) -> None:
    path = tmp_path / "awkward.properties"
    text = "# comment with — and 결\n" + "".join(f"{k}={property_value(v)}\n" for k, v in AWKWARD.items())
    path.write_bytes(ascii_properties(text).encode("ascii"))
    (loaded,) = _java_load(path)
    assert loaded == AWKWARD


def test_without_escaping_java_would_misread(tmp_path: Path) -> None:
    """The test can fail: the same value written as UTF-8 reaches Java as mojibake."""
    path = tmp_path / "raw.properties"
    path.write_bytes(f"groups={AWKWARD['hangul']}\n".encode())
    (loaded,) = _java_load(path)
    assert loaded["groups"] != AWKWARD["hangul"]
    assert loaded["groups"] == AWKWARD["hangul"].encode().decode("iso-8859-1")
