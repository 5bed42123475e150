"""A pair of real clusters and a real proxy for working on a driver by hand (not used by tests).

    .venv/bin/python tests/clients/dev_stack.py [STATE_DIR]   # Ctrl-C stops everything

Writes ``STATE_DIR/stack.json`` (default ``/tmp/ferry-clients-dev``): the proxy's bootstrap and
admin address, each cluster's direct bootstrap and id, the target's SCRAM user, and the rules:
``matrix.routed.*`` and ``matrix.nocreds.*`` -> target (SCRAM), ``matrix.fenced.*`` -> fence,
anything else -> legacy (the default). The proxy's decision log is ``STATE_DIR/decisions.jsonl``.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "proxy")]

from proxy.routetable import Action  # noqa: E402
from proxy_harness import make_table, write_routes  # noqa: E402
from sandbox.brokerconfig import SecurityMode  # noqa: E402
from sandbox.cluster import KafkaNode, start_all  # noqa: E402
from sandbox.jars import ensure_kafka_lib  # noqa: E402

RULES: list[tuple[str, Action, str | None]] = [
    ("matrix.fenced.*", "fence", None), ("matrix.routed.*", "route", "target"), ("matrix.nocreds.*", "route", "target"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    state = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ferry-clients-dev").absolute()
    state.mkdir(parents=True, exist_ok=True)
    lib = ensure_kafka_lib()
    legacy = KafkaNode("clients-dev-legacy", base_dir=state / "legacy", lib_dir=lib)
    target = KafkaNode("clients-dev-target", base_dir=state / "target", security=SecurityMode.SCRAM, lib_dir=lib)
    start_all([legacy, target])
    routes = state / "gw.routes.json"
    write_routes(routes, make_table({"legacy": [legacy.bootstrap], "target": [target.bootstrap]}, RULES,
                                    default="legacy"))
    listen, admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    proxy = subprocess.Popen([sys.executable, "-m", "proxy", "--routes", str(routes), "--listen", listen,
                              "--admin", admin, "--decision-log", str(state / "decisions.jsonl")], cwd=ROOT)
    info = {"proxy": listen, "admin": admin, "decision_log": str(state / "decisions.jsonl"),
            "legacy": {"bootstrap": legacy.bootstrap, "cluster_id": legacy.cluster_id},
            "target": {"bootstrap": target.bootstrap, "cluster_id": target.cluster_id},
            "sasl": {"mechanism": "SCRAM-SHA-512", "username": target.admin_user,
                     "password": target.users[target.admin_user]},
            "rules": RULES}
    (state / "stack.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2), flush=True)
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        proxy.terminate()
        proxy.wait(10)
        for node in (legacy, target):
            node.stop()


if __name__ == "__main__":
    main()
