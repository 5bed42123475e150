"""Benchmark of the Kafka wire proxy against direct connections, side by side in one run.

Starts what it needs: a PLAINTEXT single-node Kafka 4.3.1 cluster (sandbox) and the proxy as a
real subprocess (`python -m compiler proxy`, uvloop when installed, decision log to a file as
in production). Then, each measured direct and through the proxy in the same run:

1. added bootstrap latency: connect -> ApiVersions v3 -> Metadata v4 -> close, one at a time,
   direct and proxied interleaved; p50 and p99 of each, and their differences;
2. bootstrap rate: the same bootstrap from many concurrent connections (asyncio client) for a
   fixed time, direct and proxied in alternating slices; proxied / direct;
3. pipe throughput: 1 MiB Fetch responses, several in flight, over one long-lived connection;
   proxied / direct (the proxy copies every byte; direct is the broker's sendfile);
4. reload-to-effect: rewrite the route file (atomic rename) so a client id flips between a live
   and a dead cluster; time until a new connection follows the new table;
5. memory: the proxy's RSS with 10,000 idle client connections (no first frame yet), and with
   idle established pipes.

The machine has 2 cores shared by the broker JVM, the proxy and this client, so absolute
numbers are modest; the ratios are the point. Last line, machine-readable:

    proxy_bench added_p99_ms=<f> bootstrap_ratio=<f> pipe_ratio=<f> idle10k_rss_mb=<f> reload_ms=<f>

Usage: .venv/bin/python bench/proxy_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from compiler.routing import Endpoint, RouteRule, RouteTable, build_table  # noqa: E402
from proxy.codec import encode_api_versions_request  # noqa: E402
from proxy.probe import KafkaConnection, fetch_request, metadata_request, parse_fetch  # noqa: E402

Address = tuple[str, int]

API_VERSIONS = encode_api_versions_request(3, 1, "bench.bootstrap")
METADATA = metadata_request(2, "bench.bootstrap", [])


# ------------------------------------------------------------------------------------------
# Route files and the proxy process.


def table(legacy: str, flip_to: str | None = None, dead: str = "127.0.0.1:1") -> RouteTable:
    clusters = {"legacy": Endpoint(bootstrap=(legacy,)), "void": Endpoint(bootstrap=(dead,))}
    rules = []
    if flip_to is not None:
        rules.append(RouteRule(match="flip.*", action="route", cluster=flip_to, migration="bench/flip",
                               entry="bench", source="bench:1"))
    return build_table("gw-bench", "127.0.0.1:0", "legacy", clusters, rules)


def write_routes(path: Path, t: RouteTable) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(t.model_dump(mode="json")))
    os.replace(tmp, path)


class ProxyProcess:
    LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+).*admin 127\.0\.0\.1:(\d+)")

    def __init__(self, routes: Path, workdir: Path, *extra: str) -> None:
        self.log = open(workdir / "proxy.err", "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compiler", "proxy", "--routes", str(routes), "--listen", "127.0.0.1:0",
             "--admin", "127.0.0.1:0", "--decision-log", str(workdir / "decisions.jsonl"), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log, cwd=REPO,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = self.LISTENING.search(self.log.read())
            if m:
                self.address: Address = ("127.0.0.1", int(m.group(1)))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError(f"proxy did not start:\n{self.log.read()}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time the proxy process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ------------------------------------------------------------------------------------------
# 1. Latency.


def _recv_frame(sock: socket.socket) -> None:
    need, got = 4, b""
    while len(got) < need:
        chunk = sock.recv(need - len(got))
        if not chunk:
            raise ConnectionError("closed")
        got += chunk
    (size,) = struct.unpack(">i", got)
    while size:
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            raise ConnectionError("closed")
        size -= len(chunk)


def bootstrap_once(address: Address) -> float:
    """Seconds for connect -> ApiVersions -> Metadata (the client's bootstrap)."""
    started = time.perf_counter()
    with socket.create_connection(address) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(API_VERSIONS)
        _recv_frame(s)
        s.sendall(METADATA)
        _recv_frame(s)
    return time.perf_counter() - started


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Latency:
    direct_p50: float
    direct_p99: float
    proxy_p50: float
    proxy_p99: float

    @property
    def added_p50_ms(self) -> float:
        return (self.proxy_p50 - self.direct_p50) * 1000

    @property
    def added_p99_ms(self) -> float:
        return (self.proxy_p99 - self.direct_p99) * 1000


def latency(direct: Address, proxied: Address, n: int) -> Latency:
    for _ in range(min(50, n)):  # warm both paths (JIT, page cache, proxy imports)
        bootstrap_once(direct)
        bootstrap_once(proxied)
    d, p = [], []
    for i in range(n):
        if i % 2:
            d.append(bootstrap_once(direct))
            p.append(bootstrap_once(proxied))
        else:
            p.append(bootstrap_once(proxied))
            d.append(bootstrap_once(direct))
    return Latency(_pct(d, 0.5), _pct(d, 0.99), _pct(p, 0.5), _pct(p, 0.99))


# ------------------------------------------------------------------------------------------
# 2. Bootstrap rate.


async def _read_frame(reader: asyncio.StreamReader) -> None:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    await reader.readexactly(size)


async def _bootstrap_worker(address: Address, deadline: float, counts: list[int]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            reader, writer = await asyncio.open_connection(*address)
            writer.write(API_VERSIONS)
            await _read_frame(reader)
            writer.write(METADATA)
            await _read_frame(reader)
            writer.close()
            counts[0] += 1
        except (OSError, asyncio.IncompleteReadError):
            counts[1] += 1


async def _rate(address: Address, concurrency: int, seconds: float) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    counts = [0, 0]
    started = loop.time()
    await asyncio.gather(*(_bootstrap_worker(address, started + seconds, counts) for _ in range(concurrency)))
    return counts[0] / (loop.time() - started), counts[1]


def bootstrap_rate(address: Address, concurrency: int, seconds: float) -> tuple[float, int]:
    """(bootstraps per second, failures) with ``concurrency`` clients for ``seconds``."""
    try:
        import uvloop  # type: ignore[import-not-found]

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_rate(address, concurrency, seconds))


# ------------------------------------------------------------------------------------------
# 3. Pipe throughput.


def fill_topic(bootstrap: str, topic: str, megabytes: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                         "compression.type": "none", "acks": "1"})
    value = os.urandom(100 * 1024)
    for _ in range(megabytes * 10):
        while True:
            try:
                producer.produce(topic, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def pipe_throughput(address: Address, topic: str, seconds: float, window: int = 4) -> float:
    """Bytes per second of Fetch responses (1 MiB each, ``window`` in flight) on one connection."""
    with KafkaConnection(address, timeout=30) as conn:
        conn.api_versions("bench.pipe")
        total = 0
        correlation = 0
        inflight = 0
        started = time.perf_counter()
        deadline = started + seconds
        while True:
            now = time.perf_counter()
            while inflight < window and now < deadline:
                correlation += 1
                conn.send(fetch_request(correlation, "bench.pipe", topic, 0, 0, max_bytes=1 << 20))
                inflight += 1
            if inflight == 0:
                break
            _, body = conn.receive()
            inflight -= 1
            result = parse_fetch(body, decode=False)
            if result.error:
                raise RuntimeError(f"fetch error {result.error}")
            total += len(body)
        return total / (time.perf_counter() - started)


# ------------------------------------------------------------------------------------------
# 4. Reload to effect.


def _reaches_cluster(address: Address) -> bool:
    try:
        bootstrap_once_as(address, "flip.client")
        return True
    except ConnectionError:
        return False


def bootstrap_once_as(address: Address, client_id: str) -> None:
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(encode_api_versions_request(3, 1, client_id))
        _recv_frame(s)


def reload_latency(address: Address, routes: Path, legacy: str, flips: int) -> list[float]:
    """Seconds from the rename of a new route file to the first new connection that follows it."""
    delays = []
    for i in range(flips):
        to_void = i % 2 == 0
        write_routes(routes, table(legacy, "void" if to_void else "legacy"))
        written = time.perf_counter()
        while _reaches_cluster(address) == to_void:
            if time.perf_counter() - written > 10:
                raise RuntimeError("reload not in effect after 10 s")
            time.sleep(0.002)
        delays.append(time.perf_counter() - written)
        time.sleep(0.05)
    write_routes(routes, table(legacy))
    return delays


# ------------------------------------------------------------------------------------------
# 5. Memory.


def raise_nofile(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_memory(proxy: ProxyProcess, count: int) -> tuple[float, float]:
    """(RSS MB before, RSS MB with ``count`` idle client connections open)."""
    before = proxy.rss_mb()
    socks = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(proxy.address))
        time.sleep(1.0)  # let the proxy accept them all
        with socket.create_connection(proxy.address) as probe:  # still serving?
            probe.sendall(API_VERSIONS)
            _recv_frame(probe)
        return before, proxy.rss_mb()
    finally:
        for s in socks:
            s.close()


def pipe_memory(proxy: ProxyProcess, count: int) -> tuple[float, float]:
    """(RSS MB before, RSS MB with ``count`` established, idle bootstrap pipes)."""
    before = proxy.rss_mb()
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(proxy.address)
            s.sendall(API_VERSIONS)
            _recv_frame(s)
            socks.append(s)
        time.sleep(0.5)
        return before, proxy.rss_mb()
    finally:
        for s in socks:
            s.close()


# ------------------------------------------------------------------------------------------


#: Direct and proxied throughput runs alternate in this many slices each.
ROUNDS = 5


@dataclass
class Sizes:
    latency_n: int = 2000
    rate_concurrency: int = 16
    rate_seconds: float = 5.0
    pipe_mb: int = 64
    pipe_seconds: float = 4.0
    flips: int = 20
    idle: int = 10_000
    pipes: int = 2000


QUICK = Sizes(latency_n=200, rate_concurrency=8, rate_seconds=1.5, pipe_mb=8, pipe_seconds=1.0, flips=4,
              idle=1000, pipes=200)


def run(sizes: Sizes, legacy_bootstrap: str, workdir: Path) -> dict[str, float]:
    host, port = legacy_bootstrap.rsplit(":", 1)
    direct: Address = (host, int(port))
    routes = workdir / "gw-bench.routes.yaml"
    write_routes(routes, table(legacy_bootstrap))
    raise_nofile(sizes.idle + 2048)
    proxy = ProxyProcess(routes, workdir, "--max-connections", str(sizes.idle + 1000),
                         "--first-frame-timeout", "300", "--reload-interval", "0.05", "--reload-debounce", "0.05")
    out: dict[str, float] = {}
    try:
        lat = latency(direct, proxy.address, sizes.latency_n)
        print(f"bootstrap latency (connect+ApiVersions+Metadata, n={sizes.latency_n}, sequential):")
        print(f"  direct  p50 {lat.direct_p50 * 1000:7.3f} ms  p99 {lat.direct_p99 * 1000:7.3f} ms")
        print(f"  proxied p50 {lat.proxy_p50 * 1000:7.3f} ms  p99 {lat.proxy_p99 * 1000:7.3f} ms")
        print(f"  added   p50 {lat.added_p50_ms:7.3f} ms  p99 {lat.added_p99_ms:7.3f} ms   (target p99 <= 1 ms)")
        out["added_p50_ms"], out["added_p99_ms"] = lat.added_p50_ms, lat.added_p99_ms

        # Alternating slices, so background load drifting during the run hits both sides alike.
        slice_s = sizes.rate_seconds / ROUNDS
        d_rates, p_rates, d_fail, p_fail, proxy_cpu = [], [], 0, 0, 0.0
        for _ in range(ROUNDS):
            rate, fail = bootstrap_rate(direct, sizes.rate_concurrency, slice_s)
            d_rates.append(rate)
            d_fail += fail
            cpu0 = proxy.cpu_seconds()
            rate, fail = bootstrap_rate(proxy.address, sizes.rate_concurrency, slice_s)
            proxy_cpu += proxy.cpu_seconds() - cpu0
            p_rates.append(rate)
            p_fail += fail
        d_rate, p_rate = statistics.mean(d_rates), statistics.mean(p_rates)
        per_bootstrap = proxy_cpu / (p_rate * sizes.rate_seconds)
        out["bootstrap_ratio"] = p_rate / d_rate
        print(f"bootstrap rate ({sizes.rate_concurrency} concurrent clients, {sizes.rate_seconds:g} s each, "
              f"in {ROUNDS} alternating slices):")
        print(f"  direct {d_rate:8.0f}/s  proxied {p_rate:8.0f}/s  ratio {out['bootstrap_ratio']:.2f}"
              f"  failures {d_fail}/{p_fail}   (target >= 0.80)")
        print(f"  proxy CPU (user+sys) per bootstrap {per_bootstrap * 1e6:.0f} us: about "
              f"{1 / per_bootstrap:.0f} bootstraps/s per proxy core")

        topic = f"bench-pipe-{time.monotonic_ns()}"
        fill_topic(legacy_bootstrap, topic, sizes.pipe_mb)
        pipe_throughput(direct, topic, 0.5)  # warm the page cache and the broker
        slice_s = sizes.pipe_seconds / ROUNDS
        d_list, p_list, proxy_cpu = [], [], 0.0
        for _ in range(ROUNDS):
            d_list.append(pipe_throughput(direct, topic, slice_s))
            cpu0 = proxy.cpu_seconds()
            p_list.append(pipe_throughput(proxy.address, topic, slice_s))
            proxy_cpu += proxy.cpu_seconds() - cpu0
        d_bps, p_bps = statistics.mean(d_list), statistics.mean(p_list)
        per_gb = proxy_cpu / (p_bps * sizes.pipe_seconds / 1e9)
        out["pipe_ratio"] = p_bps / d_bps
        print(f"pipe throughput (1 MiB Fetch responses, 4 in flight, one connection, {sizes.pipe_seconds:g} s each, "
              f"in {ROUNDS} alternating slices):")
        print(f"  direct {d_bps / 1e6:8.0f} MB/s  proxied {p_bps / 1e6:8.0f} MB/s  ratio {out['pipe_ratio']:.2f}"
              f"   (target >= 0.80)")
        print(f"  proxy CPU per GB piped {per_gb:.2f} s")

        delays = reload_latency(proxy.address, routes, legacy_bootstrap, sizes.flips)
        out["reload_ms"] = statistics.median(delays) * 1000
        print(f"reload to effect ({sizes.flips} flips, atomic rename, poll 50 ms + debounce 50 ms):")
        print(f"  median {out['reload_ms']:.0f} ms  max {max(delays) * 1000:.0f} ms   (target < 1000 ms)")

        # Pipes first: RSS rarely shrinks, so memory freed by the idle sockets would hide theirs.
        before, after = pipe_memory(proxy, sizes.pipes)
        print(f"memory, {sizes.pipes} idle established pipes (client + upstream socket each):")
        print(f"  RSS {before:.1f} MB -> {after:.1f} MB: {(after - before) * 1024 / sizes.pipes:.2f} KB each")
        before, after = idle_memory(proxy, sizes.idle)
        scale = 10_000 / sizes.idle
        out["idle10k_rss_mb"] = before + (after - before) * scale
        print(f"memory, {sizes.idle} idle client connections (no first frame):")
        print(f"  RSS {before:.1f} MB -> {after:.1f} MB: {(after - before) * 1024 / sizes.idle:.2f} KB each; "
              f"at 10,000: {out['idle10k_rss_mb']:.1f} MB   (target < 200 MB)")
    finally:
        proxy.stop()
    return out


def machine_line(out: dict[str, float]) -> str:
    return (f"proxy_bench added_p99_ms={out['added_p99_ms']:.3f} bootstrap_ratio={out['bootstrap_ratio']:.3f} "
            f"pipe_ratio={out['pipe_ratio']:.3f} idle10k_rss_mb={out['idle10k_rss_mb']:.1f} "
            f"reload_ms={out['reload_ms']:.1f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, ~20 s)")
    parser.add_argument("--bootstrap", help="use this running PLAINTEXT cluster instead of starting one")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    with tempfile.TemporaryDirectory(prefix="ferry-proxy-bench-") as tmp:
        workdir = Path(tmp)
        if args.bootstrap:
            out = run(sizes, args.bootstrap, workdir)
        else:
            from sandbox.cluster import KafkaNode, start_all

            node = KafkaNode("bench-proxy-legacy", base_dir=workdir / "kafka", heap="512m",
                             jvm_options=("-XX:+UseSerialGC", "-Djava.awt.headless=true"))
            start_all([node])
            try:
                print(f"cluster: single-node Kafka 4.3.1 (PLAINTEXT) at {node.bootstrap}")
                out = run(sizes, node.bootstrap, workdir)
            finally:
                node.stop()
    print(machine_line(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
