"""For any bytes in any spec file, `ferry validate` exits 0 or 1 with diagnostics in the
chosen format: never a traceback, never a crash, never a hang (issue 11, "the loader is
bounded and never crashes").

In-process: hypothesis writes arbitrary bytes, mutated spec files and YAML-token soup into
one spec file of the acceptance-case base org, validates, and renders the diagnostics in
every format. A corpus of nasty YAML does the same for the inputs a fuzzer is unlikely to
build (bombs, deep nesting, tags, BOMs, surrogates, files over the size bound). A few runs
of the real CLI check exit codes and stderr.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import FORMATTERS
from compiler.loader import MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES
from compiler.validate import Validation, validate_specs
from ferry_testing import REPO

BASE = REPO / "tests" / "cases" / "base" / "specs"
TARGETS = ("clusters.yaml", "policy.yaml", "migrations/ads/impressions.yaml")
BASE_MIGRATION = (BASE / TARGETS[2]).read_bytes()


def _bomb(levels: int) -> bytes:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


CORPUS: dict[str, bytes] = {
    "empty": b"",
    "only-a-comment": b"# nothing here yet\n",
    "only-whitespace": b"\n  \n\t\n",
    "sequence-at-top": b"- team: ads\n- owners: [x]\n",
    "scalar-at-top": b"just a string\n",
    "null-at-top": b"~\n",
    "merge-key": b"base: &b {team: ads}\nother:\n  <<: *b\n  owners: [x]\n",
    "merge-key-list": b"a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b]}\n",
    "complex-key-list": b"? [a, b]\n: value\n",
    "complex-key-map": b"? {a: 1}\n: value\n",
    "alias-as-key": b"k: &k topic\n*k : v\n",
    "alias-to-map-as-key": b"k: &k {a: 1}\n*k : v\n",
    "deep-block": "".join("  " * i + f"k{i}:\n" for i in range(300)).encode(),
    "deep-flow-lists": b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "deep-flow-maps": b"a: " + b"{a: " * 5_000 + b"b" + b"}" * 5_000 + b"\n",
    "deep-sequences": "".join("  " * i + "-\n" for i in range(300)).encode(),
    "depth-at-bound": b"a: " + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"\n",
    "depth-over-bound": b"a: " + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"\n",
    "alias-bomb": _bomb(10),
    "alias-bomb-maps": b"a: &a {x: 1, y: 1}\n" + b"".join(
        f"b{i}: &b{i} {{p: *{'a' if i == 0 else f'b{i - 1}'}, q: *{'a' if i == 0 else f'b{i - 1}'}}}\n".encode()
        for i in range(40)
    ),
    "recursive-alias": b"a: &a [*a]\n",
    "recursive-alias-map": b"a: &a {b: *a}\n",
    "undefined-alias": b"a: *nowhere\n",
    "python-tag": b"a: !!python/object/apply:os.system ['echo hi']\n",
    "python-name-tag": b"a: !!python/name:os.system\n",
    "unknown-tag": b"a: !vault |\n  secret\n",
    "str-tag": b"a: !!str 123\n",
    "non-specific-tag": b"a: ! 123\n",
    "tag-directive": b"%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "yaml-directive": b"%YAML 1.1\n---\na: yes\n",
    "bad-yaml-directive": b"%YAML 9.9\n---\na: 1\n",
    "bom": b"\xef\xbb\xbfteam: ads\n",
    "bom-twice": b"\xef\xbb\xbf\xef\xbb\xbfteam: ads\n",
    "bom-mid-file": b"team: ads\n\xef\xbb\xbfowners: [x]\n",
    "utf16-bom": "team: ads\n".encode("utf-16"),
    "nul-byte": b"team: a\x00ds\n",
    "nul-in-key": b"te\x00am: ads\n",
    "control-bell": b"team: a\x07ds\n",
    "control-escape": b"team: \x1b[31mads\n",
    "del": b"team: a\x7fds\n",
    "c1-control": "team: a\x85ds\n".encode(),
    "u-fffe": "team: a\ufffeds\n".encode(),
    "zero-width-space": "team: a\u200bds\n".encode(),
    "bidi-override": "team: a\u202eds\n".encode(),
    "invalid-utf8": b"team: ads\nowners: [Jos\xe9]\n",
    "truncated-utf8": b"team: ads \xe2\x82",
    "lone-surrogate-escape": b'team: "\\ud800"\n',
    "lone-surrogate-key": b'"\\udfff": x\n',
    "surrogate-pair-escape": b'team: "\\ud83d\\ude00"\n',
    "utf8-encoded-surrogate": b"team: \xed\xa0\x80\n",
    "huge-scalar": b"description: " + b"x" * (MAX_FILE_BYTES - 100) + b"\n",
    "huge-quoted-scalar": b'description: "' + b"\\n" * 200_000 + b'"\n',
    "huge-key": b"k" * 200_000 + b": v\n",
    "huge-int": b"partitions: " + b"9" * 5_000 + b"\n",
    "huge-hex": b"partitions: 0x" + b"f" * 50_000 + b"\n",
    "huge-float": b"partitions: 1e999999\n",
    "nan": b"partitions: .nan\n",
    "too-large": b"# " + b"x" * MAX_FILE_BYTES + b"\n",
    "two-documents": b"team: ads\n---\nteam: chat\n",
    "document-end-marker": b"team: ads\n...\n",
    "many-documents": b"---\n" * 10_000,
    "tabs-indent": b"topics:\n\ta: b\n",
    "crlf": b"team: ads\r\nowners: [x]\r\n",
    "cr-only": b"team: ads\rowners: [x]\r",
    "unclosed-quote": b'team: "ads\n',
    "unclosed-flow": b"owners: [x, y\n",
    "anchor-without-node": b"a: &x\n",
    "duplicate-anchors": b"a: &x 1\nb: &x 2\nc: *x\n",
    "many-duplicate-keys": b"".join(b"k: v\n" for _ in range(2_000)),
    "many-complex-keys": b"".join(b"? [a]\n: v\n" for _ in range(500)),
    "key-with-newline": b'"a\\nb": 1\n',
    "key-with-format-escape": b'"::error file=x::owned": 1\n',
    "binary-garbage": bytes(range(256)) * 4,
    "null-bytes-only": b"\x00" * 100,
    "long-line": b"a: [" + b"x, " * 100_000 + b"x]\n",
    "block-scalar-bad-indent": b"a: |\n  x\n y\n",
    "sequence-where-mapping": b"topics: [a, b]\nconsumer_groups: [g]\nproducers: x\n",
    "mapping-where-sequence": b"owners: {a: b}\n",
    "null-key": b"? \n: v\n",
    "empty-flow-key": b"{: v}\n",
}


def _tree(dest: Path) -> Path:
    root = dest / "specs"
    shutil.copytree(BASE, root)
    return root


def _validate(tmp: Path, target: str, content: bytes) -> Validation:
    root = _tree(tmp)
    (root / target).write_bytes(content)
    return validate_specs(root)


def _assert_reported(result: Validation) -> None:
    """Every formatter renders the result, as text that encodes to UTF-8."""
    for name, fmt in FORMATTERS.items():
        out = fmt(result.diagnostics)
        out.encode("utf-8")  # a lone surrogate here would crash the CLI when it prints
        if name == "json":
            payload = json.loads(out)
            assert payload["errors"] == sum(d.is_error for d in result.diagnostics)
        if name == "github":
            assert all(line.startswith("::") for line in out.splitlines())
    for d in result.diagnostics:
        assert d.position.line >= 1 and d.position.col >= 1
        assert d.message.strip()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_nasty_yaml_is_reported_never_raised(name: str, target: str, tmp_path: Path) -> None:
    result = _validate(tmp_path, target, CORPUS[name])
    _assert_reported(result)


# Every corpus entry whose content no spec file may hold is an error at that file.
_ACCEPTABLE = {"only-whitespace", "empty", "only-a-comment", "null-at-top", "bom", "crlf", "cr-only",
               "document-end-marker", "zero-width-space", "bidi-override", "c1-control", "surrogate-pair-escape"}


@pytest.mark.parametrize("name", sorted(set(CORPUS) - _ACCEPTABLE))
def test_nasty_yaml_in_a_migration_is_an_error_in_that_file(name: str, tmp_path: Path) -> None:
    result = _validate(tmp_path, TARGETS[2], CORPUS[name])
    assert not result.ok
    assert any(d.position.file.endswith(TARGETS[2]) for d in result.diagnostics if d.is_error), result.diagnostics


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("alias-bomb", "alias-limit"),
        ("alias-bomb-maps", "alias-limit"),
        ("deep-flow-lists", "nesting-too-deep"),
        ("deep-block", "nesting-too-deep"),
        ("deep-sequences", "nesting-too-deep"),
        ("depth-over-bound", "nesting-too-deep"),
        ("too-large", "file-too-large"),
        ("recursive-alias", "yaml-alias"),
        ("undefined-alias", "yaml-alias"),
        ("python-tag", "yaml-tag"),
        ("merge-key", "merge-key"),
        ("complex-key-list", "complex-key"),
        ("alias-to-map-as-key", "complex-key"),
        ("nul-byte", "yaml-syntax"),
        ("lone-surrogate-escape", "yaml-syntax"),
        ("invalid-utf8", "yaml-syntax"),
    ],
)
def test_each_bound_and_refusal_has_its_code(name: str, code: str, tmp_path: Path) -> None:
    result = _validate(tmp_path, TARGETS[2], CORPUS[name])
    assert code in {d.code for d in result.diagnostics}, result.diagnostics


def test_depth_bound_is_exact(tmp_path: Path) -> None:
    at = _validate(tmp_path / "at", TARGETS[2], CORPUS["depth-at-bound"])
    over = _validate(tmp_path / "over", TARGETS[2], CORPUS["depth-over-bound"])
    assert "nesting-too-deep" not in {d.code for d in at.diagnostics}
    [deep] = [d for d in over.diagnostics if d.code == "nesting-too-deep"]
    assert (deep.position.line, deep.position.col) == (1, 4 + MAX_DEPTH - 1)


def test_alias_bound_is_exact(tmp_path: Path) -> None:
    # One anchor of 9 nodes (a list of 8 scalars) aliased k times adds 9k nodes.
    def doc(aliases: int) -> bytes:
        return b"a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: [" + b", ".join([b"*a"] * aliases) + b"]\n"

    fits = MAX_ALIAS_NODES // 9
    under = _validate(tmp_path / "u", TARGETS[2], doc(fits))
    over = _validate(tmp_path / "o", TARGETS[2], doc(fits + 1))
    assert "alias-limit" not in {d.code for d in under.diagnostics}
    assert "alias-limit" in {d.code for d in over.diagnostics}


def test_file_size_bound_is_exact(tmp_path: Path) -> None:
    filler = b"# x\n"
    body = BASE_MIGRATION + filler * ((MAX_FILE_BYTES - len(BASE_MIGRATION)) // len(filler))
    body += b"#" * (MAX_FILE_BYTES - len(body))
    assert len(body) == MAX_FILE_BYTES
    at = _validate(tmp_path / "at", TARGETS[2], body)
    over = _validate(tmp_path / "over", TARGETS[2], body + b"\n")
    assert at.ok, at.diagnostics
    assert [d.code for d in over.diagnostics] == ["file-too-large"]


def test_aliases_that_fit_are_loaded_like_the_value(tmp_path: Path) -> None:
    text = BASE_MIGRATION
    for plain, aliased in [
        (b"    partitions: 48", b"    partitions: &p 48"),
        (b"    target_partitions: 48", b"    target_partitions: *p"),
        (b"    replication_factor: 3", b"    replication_factor: &rf 3"),
        (b"    target_replication_factor: 3", b"    target_replication_factor: *rf"),
    ]:
        assert plain + b"\n" in text
        text = text.replace(plain + b"\n", aliased + b"\n")
    result = _validate(tmp_path, TARGETS[2], text)
    assert result.ok and result.specs is not None, result.diagnostics
    [ads] = [m for m in result.specs.migrations if m.name == "ads/impressions"]
    assert ads.model.renamed("ad-impressions").target_partitions == 48


# --- hypothesis ---------------------------------------------------------------------------------

_TOKENS = [
    "a", "b", "team", "topics", ":", ": ", " ", "  ", "\n", "- ", "-", "[", "]", "{", "}", ",", "? ",
    "&x ", "*x", "&y ", "*y", "!!python/object ", "!t ", "!!str ", "<<", "'", '"', "#", "|", ">", "\t",
    "\\u", "\\ud800", "\\x00", "0x", "1", "9" * 40, ".inf", "~", "null", "---\n", "...\n", "%YAML 1.2\n",
    "\ufeff", "\x00", "\x1b", "\u200b", "é", "\r\n",
]
_soup = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join).map(lambda s: s.encode("utf-8", "surrogatepass"))


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(BASE_MIGRATION)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([t.encode() for t in _TOKENS]))
        if op == "insert":
            data[at:at] = chunk
        elif op == "delete":
            del data[at : at + len(chunk)]
        else:
            data[at : at + len(chunk)] = chunk
    return bytes(data)


_any_bytes = st.binary(max_size=400) | _soup | _mutated()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), content=_any_bytes)
def test_any_bytes_in_any_spec_file_are_reported_never_raised(target: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _assert_reported(_validate(Path(tmp), target, content))


# --- the real CLI -------------------------------------------------------------------------------

_CLI_CORPUS = ["alias-bomb", "deep-flow-lists", "lone-surrogate-escape", "key-with-format-escape", "huge-int",
               "invalid-utf8", "too-large"]


@pytest.mark.parametrize("fmt", sorted(FORMATTERS))
def test_cli_exits_0_or_1_with_the_chosen_format(fmt: str, tmp_path: Path) -> None:
    for name in _CLI_CORPUS:
        root = _tree(tmp_path / name)
        (root / TARGETS[2]).write_bytes(CORPUS[name])
        proc = subprocess.run(
            [sys.executable, "-m", "ferry", "validate", "--specs", str(root), "--format", fmt],
            capture_output=True, timeout=120, cwd=REPO,
        )
        out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
        assert proc.returncode == 1, (name, out, err)
        assert "Traceback" not in err and not err.strip(), (name, err)
        if fmt == "json":
            assert json.loads(out)["errors"] >= 1
        elif fmt == "github":
            assert out and all(line.startswith("::error ") for line in out.splitlines()), (name, out)
        else:
            assert TARGETS[2] in out, (name, out)
