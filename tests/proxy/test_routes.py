"""proxy.routes: when a route file change counts (FilePoller, with a fake clock) and what it
means (evaluate). The parser itself is proxy.routetable's and is tested in test_routetable.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.routes import FilePoller, ReloadOutcome, evaluate, load_routes
from proxy.routetable import RouteFileError
from proxy_harness import make_table, routes_text, write_routes

A = make_table({"legacy": ["127.0.0.1:9092"], "target": ["127.0.0.1:9093"]}, default="legacy")
B = make_table({"legacy": ["127.0.0.1:9092"], "target": ["127.0.0.1:9093"]},
               [("moved.*", "route", "target")], default="legacy")


@pytest.fixture(params=["inplace", "rename", "symlink"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_each_way_of_replacing_the_file_is_seen_once_after_the_debounce(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A, mode=mode)
    current = load_routes(path)
    poller = FilePoller(path, debounce=0.1, settled_digest=current.digest)
    assert poller.poll(0.0) is None
    write_routes(path, B, mode=mode)
    assert poller.poll(1.0) is None  # first sight: wait for it to settle
    assert poller.poll(1.05) is None
    change = poller.poll(1.1)
    assert change is not None and change.data is not None
    assert poller.poll(1.2) is None  # reported once
    result = evaluate(change, current)
    assert result.outcome is ReloadOutcome.APPLIED
    assert result.loaded is not None
    assert result.loaded.table.version == B.version


def test_a_file_rewritten_within_the_debounce_is_read_only_when_settled(tmp_path: Path) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    poller = FilePoller(path, debounce=0.1, settled_digest=load_routes(path).digest)
    path.write_text("")  # a non-atomic writer truncated the file...
    assert poller.poll(1.0) is None
    path.write_text(routes_text(B)[:40])  # ...and is half-way through
    assert poller.poll(1.08) is None
    assert poller.poll(1.15) is None  # the half-written content restarted the debounce
    path.write_text(routes_text(B))
    assert poller.poll(1.2) is None
    change = poller.poll(1.31)
    assert change is not None and change.data == routes_text(B).encode()


def test_content_back_to_the_loaded_one_is_no_change(tmp_path: Path) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    poller = FilePoller(path, debounce=0.0, settled_digest=load_routes(path).digest)
    os.utime(path, (1, 1))  # only metadata changed
    assert poller.poll(1.0) is None
    write_routes(path, A, mode="rename")  # new inode, same bytes
    assert poller.poll(2.0) is None


def test_a_comment_only_change_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    current = load_routes(path)
    write_routes(path, A, comment="re-rendered")
    change = FilePoller(path, debounce=0.0, settled_digest=current.digest).poll(0.0)
    assert change is not None
    result = evaluate(change, current)
    assert result.loaded is not None
    assert result.outcome is ReloadOutcome.UNCHANGED and result.loaded.table == current.table


def test_missing_then_back(tmp_path: Path) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    current = load_routes(path)
    poller = FilePoller(path, debounce=0.0, settled_digest=current.digest)
    path.unlink()
    change = poller.poll(0.0)
    assert change is not None and change.data is None
    result = evaluate(change, current)
    assert result.outcome is ReloadOutcome.MISSING and "still serving version" in result.message
    assert poller.poll(0.1) is None  # reported once, not every poll
    write_routes(path, B)
    change = poller.poll(0.2)
    assert change is not None
    assert evaluate(change, current).outcome is ReloadOutcome.APPLIED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json: [", "not valid JSON"),
        (b"[1, 2]\n", "expected a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (routes_text(A).replace(A.version, "0000000000000000").encode(), "does not match the content"),
        (routes_text(make_table({"x": ["h:1"]}, default="x", gateway="gw-other")).encode(), "gateway 'gw-other'"),
    ],
    ids=["json", "shape", "utf8", "hand-edited", "other-gateway"],
)
def test_an_invalid_file_keeps_the_last_good_table(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    current = load_routes(path)
    path.write_bytes(content)
    change = FilePoller(path, debounce=0.0, settled_digest=current.digest).poll(0.0)
    assert change is not None
    result = evaluate(change, current)
    assert result.outcome is ReloadOutcome.INVALID and result.loaded is None
    assert message in result.message and f"still serving version {A.version}" in result.message


def test_a_changed_listen_applies_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "gw.routes.json"
    write_routes(path, A)
    current = load_routes(path)
    moved = make_table({"legacy": ["127.0.0.1:9092"], "target": ["127.0.0.1:9093"]},
                       [("moved.*", "route", "target")], default="legacy", listen="0.0.0.0:9999")
    write_routes(path, moved)
    change = FilePoller(path, debounce=0.0, settled_digest=current.digest).poll(0.0)
    assert change is not None
    result = evaluate(change, current)
    assert result.outcome is ReloadOutcome.APPLIED and "only on restart" in result.message


def test_load_routes_says_why_it_cannot(tmp_path: Path) -> None:
    with pytest.raises(RouteFileError, match="cannot read the route file"):
        load_routes(tmp_path / "absent.routes.json")


def test_the_shipped_route_files_load(repo: Path) -> None:
    paths = sorted((repo / "rendered" / "proxy").glob("*.routes.json"))
    assert paths
    for path in paths:
        loaded = load_routes(path)
        assert loaded.table.gateway == path.name.removesuffix(".routes.json")
        assert loaded.describe()["version"] == loaded.table.version
