"""An experiment, not a test: which first answer to a fenced client makes each library tell its
application something clear, and what it does to the reconnect rate.

    .venv/bin/python tests/clients/fence_answers.py BROKER [SECONDS] [ROLE]

A small server plays the fence five ways; every library's driver (README.md here) runs an
``observe`` ROLE (consumer) against each for SECONDS (default 20), all libraries at once:

* ``close``  - close at once (the proxy before the hold);
* ``hold``   - keep the connection, answer nothing (the proxy's fence today);
* ``auth``   - answer the first request (ApiVersions) with CLUSTER_AUTHORIZATION_FAILED, then hold;
* ``broker`` - answer it with BROKER_NOT_AVAILABLE, then hold;
* ``versions`` - answer ApiVersions as a broker does (the real BROKER's answer, relayed), then
  hold everything after it.

It prints, per library and way, connections a second and the first thing the application saw.
docs/clients.md records a run and the decision taken from it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import struct
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE)]

import toolchain_go  # noqa: E402
import toolchain_java  # noqa: E402
import toolchain_node  # noqa: E402
import toolchain_python  # noqa: E402
from driver import Driver, request  # noqa: E402

from proxy.codec import FirstFrame, NeedMoreData, parse_first_frame  # noqa: E402
from proxy.errors import ProtocolError  # noqa: E402

WAYS = {"close": None, "hold": None, "auth": 31, "broker": 8, "versions": None}


def api_versions_error(frame: FirstFrame, code: int) -> bytes:
    """An ApiVersions response carrying only an error, in the version the client asked for
    (v3+ are flexible: compact array, tagged fields; the response header stays v0)."""
    v = frame.api_version
    if v >= 3:
        body = struct.pack(">hBi", code, 1, 0) + b"\x00"  # error, empty compact array, throttle, no tags
    else:
        body = struct.pack(">hi", code, 0) + (struct.pack(">i", 0) if v >= 1 else b"")
    payload = struct.pack(">i", frame.correlation_id) + body
    return struct.pack(">i", len(payload)) + payload


class FenceServer:
    def __init__(self, way: str, broker: str) -> None:
        self.way = way
        self.broker = broker
        self.connections: Counter[str] = Counter()
        self.address = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buf += chunk
                try:
                    parsed = parse_first_frame(buf)
                except ProtocolError:
                    return
                if isinstance(parsed, NeedMoreData):
                    continue
                self.connections[parsed.client_id or ""] += 1
                code = WAYS[self.way]
                if self.way == "close":
                    return
                if code is not None and parsed.api_name == "ApiVersions":
                    writer.write(api_versions_error(parsed, code))
                if self.way == "versions" and parsed.api_name == "ApiVersions":
                    writer.write(await self._relay(buf[:parsed.frame_length]))
                while await reader.read(65536):  # hold: read and discard
                    pass
                return
        finally:
            writer.close()

    async def _relay(self, frame: bytes) -> bytes:
        host, port = self.broker.rsplit(":", 1)
        r, w = await asyncio.open_connection(host, int(port))
        try:
            w.write(frame)
            size = await r.readexactly(4)
            return size + await r.readexactly(struct.unpack(">i", size)[0])
        finally:
            w.close()

    def __enter__(self) -> FenceServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def main() -> None:
    broker = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    role = sys.argv[3] if len(sys.argv) > 3 else "consumer"
    drivers: list[Driver] = [*toolchain_python.drivers(), *toolchain_java.drivers(), *toolchain_node.drivers(),
                             *toolchain_go.drivers()]
    report: dict[str, dict[str, Any]] = {}
    for way in WAYS:
        with FenceServer(way, broker) as server, concurrent.futures.ThreadPoolExecutor(len(drivers)) as pool:
            futures = {
                d.library: pool.submit(d.run, request(
                    "observe", bootstrap=server.address, client_id=f"fence.{way}.{i}", role=role,
                    topic="t", group=f"g{i}", timeout_s=seconds))
                for i, d in enumerate(drivers)
            }
            for i, d in enumerate(drivers):
                result = futures[d.library].result()
                report.setdefault(d.library, {})[way] = {
                    "rate": round(server.connections[f"fence.{way}.{i}"] / seconds, 2),
                    "sees": (result.get("errors") or ["nothing"])[0][:200],
                    "fatal": result.get("fatal"),
                }
        print(f"{way}: done", file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
