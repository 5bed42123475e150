"""Every path the sandbox hands to a child process is absolute (no JVM needed).

Brokers and Connect workers run with their data folder as working directory, so a relative path
in their command line would resolve against the wrong folder (`ferry sandbox up` with the default
`--state-dir .ferry` failed exactly so). The real commands as typed run in tests/fresh/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sandbox import processes
from sandbox.cluster import KafkaNode
from sandbox.connect import ConnectWorker
from sandbox.jars import cache_root
from sandbox.mm2 import MirrorMaker2


@pytest.fixture
def inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from tmp_path, as a user types commands from a checkout's root."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_components_hold_absolute_paths_given_relative_ones(inside: Path) -> None:
    node = KafkaNode("n", base_dir=Path(".ferry/clusters/n"), log_dir=Path(".ferry/logs"), lib_dir=Path("/lib"))
    assert node.base_dir == inside / ".ferry/clusters/n" and node.properties_file.is_absolute()
    assert node.log_dir == inside / ".ferry/logs" and node.log_file.is_absolute()

    mm2 = MirrorMaker2("m", Path(".ferry/mm2/flow.properties"), clusters=["governed"], log_dir=Path(".ferry/logs"))
    assert mm2.config_file == inside / ".ferry/mm2/flow.properties" and mm2.out_file.is_absolute()

    worker = ConnectWorker("w", base_dir=Path(".ferry/connect"), bootstrap="127.0.0.1:1",
                           security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                           secrets_dir=Path(".ferry/secrets"), secret="s", log_dir=Path("logs"))
    assert worker.base_dir == inside / ".ferry/connect" and worker.properties_file.is_absolute()
    assert worker.secret_dir == inside / ".ferry/secrets/s" and worker.log_dir == inside / "logs"


def test_a_relative_cache_is_made_absolute(inside: Path) -> None:
    assert cache_root({"FERRY_CACHE": "cache"}) == inside / "cache"


def test_spawn_refuses_a_relative_working_directory(inside: Path) -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        processes.spawn([sys.executable, "-c", "pass"], output=inside / "out.log", cwd=Path("relative"))
