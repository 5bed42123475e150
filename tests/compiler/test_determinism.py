"""Rendering is a pure function of the specs' content: byte-stable, order-independent, and
the route file the proxy parses decides exactly like the in-memory table `explain` uses."""

import random
import re
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compiler import loader
from compiler.org import build_org
from compiler.render import render_specs
from compiler.validate import validate_specs
from ferry_testing import REPO
from proxy.routetable import glob_matches, parse_route_file

SPECS = REPO / "specs"


def _render(root: Path) -> dict[str, str]:
    result = validate_specs(root)
    assert result.ok and result.specs is not None, result.diagnostics
    return render_specs(result.specs)


def test_rendering_twice_is_byte_identical():
    assert _render(SPECS) == _render(SPECS)


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_file_discovery_order_changes_nothing(rnd):
    original = loader.migration_files

    def shuffled(root, layout=None):
        files = original(root, layout)
        rnd.shuffle(files)
        return files

    loader.migration_files = shuffled
    try:
        assert _render(SPECS) == _render_baseline()
    finally:
        loader.migration_files = original


_BASELINE: dict[str, str] = {}


def _render_baseline() -> dict[str, str]:
    if not _BASELINE:
        _BASELINE.update(_render(SPECS))
    return _BASELINE


def _strip_provenance(files: dict[str, str]) -> dict[str, str]:
    return {k: re.sub(r'(?m)^ *"source": ".*"\n', "", v) for k, v in files.items()}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_reordering_keys_inside_specs_changes_nothing_but_line_numbers(tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / f"specs-{seed}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(SPECS, root)
    yaml = YAML()
    for path in sorted((root / "migrations").rglob("*.yaml")):
        doc = yaml.load(path.read_text())
        for section in ("topics", "consumer_groups", "producers"):
            if section in doc:
                items = list(doc[section].items())
                rng.shuffle(items)
                doc[section] = dict(items)
        with path.open("w") as fh:
            yaml.dump(dict(doc), fh)
    mutated = _render(root)
    baseline = _render_baseline()
    assert sorted(mutated) == sorted(baseline)
    # Provenance cites lines, which moved; everything that decides behaviour is identical,
    # including the route tables' content versions.
    def rename(files: dict[str, str]) -> dict[str, str]:
        return {k: v.replace(f"specs-{seed}/", "specs/") for k, v in files.items()}

    assert _strip_provenance(rename(mutated)) == _strip_provenance(baseline)


def _tables():
    result = validate_specs(SPECS)
    assert result.specs is not None, result.diagnostics
    files = render_specs(result.specs)
    out = []
    for gw in build_org(result.specs).gateways:
        parsed = parse_route_file(files[f"proxy/{gw.table.gateway}.routes.json"])
        assert parsed == gw.table
        out.append((gw, parsed))
    return out


_TABLES = _tables()


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(alphabet="abcdeginlorstvy.-*0123456789", max_size=30),
    st.sampled_from(["billing.invoice-mailer.1", "billing.ledger.x", "ads.pacing.a", "search.indexer.",
                     "notifications.api.z", "chat.listing-alerts.7", "legacy-thing", ""]),
))
def test_route_file_decides_like_the_in_memory_table(client_id):
    for gw, parsed in _TABLES:
        a, b = parsed.decide(client_id), gw.table.decide(client_id)
        assert (a.action, a.cluster, a.index) == (b.action, b.cluster, b.index)
        # First match wins, checked against a plain linear scan.
        first = next((i for i, r in enumerate(parsed.rules) if glob_matches(r.match, client_id)), None)
        assert a.index == first
