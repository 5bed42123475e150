"""The proxy ships on its own: its runtime is the standard library, uvloop and
prometheus-client, and nothing of the compiler's.

Proved two ways. (a) The entry point, run as far as a start-up error, loads none of the
compiler's libraries. (b) A venv holding only the slim distribution (``proxy/pyproject.toml``,
installed as docs/proxy.md says) runs ``ferry-proxy`` against the real sandbox clusters and
routes a real confluent-kafka client by its client id.

The slim venv is cached under ~/.cache/ferry/, keyed by the distribution's pyproject and pinned
requirements (so a changed dependency makes a new one); the proxy package itself is rebuilt
from the working tree and reinstalled on every run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from pathlib import Path

import pytest

from ferry_testing import routed_clients
from proxy_clusters import Cluster
from proxy_harness import make_table, write_routes
from sandbox.clients import Record, consume, create_topic, fetch_metadata, produce
from sandbox.proxyproc import start_proxy

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / "proxy"
#: Top-level modules the proxy must never load: the compiler and the libraries only it uses.
FOREIGN = {"compiler", "sandbox", "ferry", "pydantic", "ruamel", "jinja2", "click", "confluent_kafka"}
#: Distributions the slim venv may hold: the proxy, its two dependencies, and the venv's own
#: installer (pip, and setuptools where the Python version still seeds it).
SLIM_DISTRIBUTIONS = {"ferry-proxy", "uvloop", "prometheus-client", "pip", "setuptools"}
CACHE = Path.home() / ".cache" / "ferry"


def _top_level_modules(python: str, code: str, *, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run([python, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_the_entry_point_loads_nothing_of_the_compiler(tmp_path: Path) -> None:
    imported = _top_level_modules(sys.executable, "import proxy.main", cwd=REPO)
    assert not imported & (FOREIGN | {"asyncio"}), sorted(imported & (FOREIGN | {"asyncio"}))
    # ... and run as far as the route file (asyncio, the server and the runtime are loaded by now).
    code = f"import proxy.main\nassert proxy.main.main(['--routes', {str(tmp_path / 'none.json')!r}]) == 1"
    imported = _top_level_modules(sys.executable, code, cwd=REPO)
    assert "asyncio" in imported and "proxy" in imported
    assert not imported & FOREIGN, sorted(imported & FOREIGN)


def test_the_slim_distribution_asks_for_what_ferry_asks_for() -> None:
    def deps(pyproject: Path) -> dict[str, str]:
        listed = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        return {d.split(">")[0].split("=")[0].split(";")[0].strip(): d for d in listed}

    slim, ferry = deps(PROXY / "pyproject.toml"), deps(REPO / "pyproject.toml")
    assert set(slim) == {"uvloop", "prometheus-client"}
    assert {name: ferry.get(name) for name in slim} == slim
    pins = {line.split("==")[0] for line in (PROXY / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert pins == set(slim)


# ---- (b) a venv with only the slim proxy, against real clusters


def _sources(dest: Path) -> Path:
    """The distribution's files from the working tree (not the build/ or *.egg-info/ a
    `pip install ./proxy` leaves behind, which could carry modules deleted since)."""
    shutil.copytree(PROXY, dest, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return dest


def _slim_venv(tmp_path: Path) -> Path:
    """The cached venv with the slim proxy's dependencies, the proxy reinstalled from this tree.

    Beside it a cached builder venv holds the distribution's build requirements, so the
    per-run rebuild needs no network."""
    slim = tomllib.loads((PROXY / "pyproject.toml").read_text())
    key = hashlib.sha256()
    for part in (PROXY / "pyproject.toml", PROXY / "requirements.txt"):
        key.update(part.read_bytes())
    key.update(sys.version.encode())
    venv, builder = (CACHE / f"slim-proxy-{role}-{key.hexdigest()[:16]}" for role in ("venv", "builder"))
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "slim-proxy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers share the cache
        if not (venv / "complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            _venv(venv)
            # The documented one-line install (docs/proxy.md), from a clean copy of the sources.
            _pip(venv, "install", "-c", str(PROXY / "requirements.txt"), str(_sources(tmp_path / "first")))
            (venv / "complete").touch()
        if not (builder / "complete").exists():
            shutil.rmtree(builder, ignore_errors=True)
            _venv(builder)
            _pip(builder, "install", "wheel", *slim["build-system"]["requires"])
            (builder / "complete").touch()
        wheels = tmp_path / "wheels"
        _pip(builder, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(_sources(tmp_path / "src")))
        (wheel,) = wheels.glob("ferry_proxy-*.whl")
        _pip(venv, "install", "--no-deps", "--force-reinstall", str(wheel))
    return venv


def _venv(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
                   check=True, timeout=600, env=_clean_env())


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}


@pytest.mark.kafka
def test_a_venv_with_only_the_slim_proxy_routes_a_real_client(tmp_path: Path, kafka: dict[str, Cluster]) -> None:
    venv = _slim_venv(tmp_path)
    python = str(venv / "bin" / "python")
    listed = subprocess.run([python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True, timeout=60)
    installed = {d["name"].lower().replace("_", "-") for d in json.loads(listed.stdout)}
    assert installed <= SLIM_DISTRIBUTIONS and {"ferry-proxy", "uvloop", "prometheus-client"} <= installed, installed
    # The venv's proxy is the installed copy, and the compiler is not there to be found.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([python, "-c", "import proxy; print(proxy.__file__)"], capture_output=True, text=True,
                           timeout=30, cwd=outside, env=_clean_env())
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    missing = subprocess.run([python, "-c", "import compiler"], capture_output=True, text=True, timeout=30,
                             cwd=outside, env=_clean_env())
    assert "No module named 'compiler'" in missing.stderr

    legacy, target = kafka["legacy"], kafka["target"]
    routes = tmp_path / "gw-slim.routes.json"
    write_routes(routes, make_table({"legacy": [legacy.bootstrap], "target": [target.bootstrap]},
                                    [("slim.moved.*", "route", "target")], default="legacy", gateway="gw-slim"))
    proxy = start_proxy(routes, log=tmp_path / "proxy.log", decision_log=tmp_path / "decisions.jsonl",
                        command=[str(venv / "bin" / "ferry-proxy")], env=_clean_env())
    try:
        # The running process loaded nothing foreign either (its own /proc view of its files).
        maps = Path(f"/proc/{proxy.pid}/maps").read_text()
        assert "uvloop" in maps and "/confluent_kafka" not in maps and "pydantic_core" not in maps
        assert "loop uvloop" in proxy.output()

        topic = f"slim-{uuid.uuid4().hex[:8]}"
        create_topic(target.client_config(), topic)
        meta = fetch_metadata(target.client_config(proxy.bootstrap, "slim.moved.admin"), timeout=15)
        assert meta.cluster_id == target.cluster_id
        assert fetch_metadata(legacy.client_config(proxy.bootstrap, "slim.stays.admin"), timeout=15).cluster_id \
            == legacy.cluster_id
        sent = [Record(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
        produce(target.client_config(proxy.bootstrap, "slim.moved.producer"), topic, sent)
        got = consume(target.client_config(proxy.bootstrap, "slim.moved.consumer"), topic, 10,
                      group=f"slim-{uuid.uuid4().hex[:8]}")
        assert [r.content() for r in got] == [r.content() for r in sent]

        assert proxy.admin_url is not None
        with urllib.request.urlopen(f"{proxy.admin_url}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        assert 'cluster="target"' in metrics and 'rule="slim.moved.*"' in metrics
        assert "process_resident_memory_bytes" in metrics  # prometheus-client's own collectors, installed
    finally:
        code = proxy.stop(timeout=30)
    assert code == 0, proxy.output()
    routed = routed_clients(tmp_path / "decisions.jsonl")
    assert routed["slim.moved.admin"] == "target" and routed["slim.moved.producer"] == "target"
    assert routed["slim.stays.admin"] == "legacy"
    assert "Traceback" not in proxy.output()
