"""The secrets pass skips walking a file's keys when its text holds none of the words a
credential-naming key or a Secret-name key ends in. Skipping must never change a finding: here,
every spec file of the repository (the example specs, every acceptance case, the MM2 test specs)
and keys built to test the argument (keys folded across lines, case-folded letters, aliases, escapes) give the
same findings with the prefilter and with the full walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.loader import RawDocument, load_file, parse_yaml
from compiler.passes import secrets

REPO = Path(__file__).resolve().parents[2]
FILES = sorted({*REPO.glob("specs/**/*.yaml"), *REPO.glob("tests/cases/**/*.yaml"),
                *REPO.glob("tests/mm2/specs/**/*.yaml")})
# The files with data to walk (a file that does not parse is scanned as text, not walked).
DOCS = [(path, doc) for path in FILES for doc in [load_file(path)[0]] if doc is not None]

TRICKY = [
    "? pass\n  word\n: x\n",  # an explicit key folded across lines: `pass word`
    "? to\n  ken\n: x\n",  # folding never joins two halves of a word: `to ken`
    "pa\u017f\u017fword: hunter2\n",  # long s: `re` reads it as `s` (the key check), str.lower does not: walked
    "x: &k password\n*k : hunter2\n",  # an alias used as a key
    '"pass\\x77ord": hunter2\n',  # an escape spelling the word
    "security: {secret: 'not a name!'}\n",
    "producers: {token: {client_ids: [a.*]}}\n",  # a name the user chose
    "team: ads\nowners: [a@example.com]\n",
]


Finding = tuple[object, str, str]


def findings(doc: RawDocument) -> list[Finding]:
    return [(path, str(d.position), d.message) for path, d in secrets.find_inline_secrets(doc)]


def both(doc: RawDocument, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Finding], list[Finding]]:
    filtered = findings(doc)
    with monkeypatch.context() as m:
        m.setattr(secrets, "_could_name_a_secret", lambda text: True)
        full = findings(doc)
    return filtered, full


def test_the_corpus_is_the_repositorys_spec_files_and_the_prefilter_skips_most_walks() -> None:
    assert len(DOCS) > 150 and len(FILES) - len(DOCS) < 20
    skipped = [p for p, doc in DOCS if not secrets._could_name_a_secret(doc.text)]
    assert len(skipped) > len(DOCS) / 2  # the files the comparison below is about


@pytest.mark.parametrize(("path", "doc"), DOCS, ids=[str(p.relative_to(REPO)) for p, _ in DOCS])
def test_every_spec_file_gets_the_same_findings_with_and_without_the_prefilter(
        path: Path, doc: RawDocument, monkeypatch: pytest.MonkeyPatch) -> None:
    filtered, full = both(doc, monkeypatch)
    assert filtered == full


@pytest.mark.parametrize("text", TRICKY)
def test_keys_built_against_the_argument_get_the_same_findings(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc, _ = parse_yaml(text, "t.yaml")
    assert doc is not None
    filtered, full = both(doc, monkeypatch)
    assert filtered == full
