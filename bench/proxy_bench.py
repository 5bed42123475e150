"""Benchmark of the Kafka wire proxy against direct connections, side by side in one run.

Starts what it needs: a PLAINTEXT single-node Kafka 4.3.1 cluster (sandbox) and the proxy as a
real subprocess (`python -m proxy` via `sandbox.proxyproc`, uvloop when installed, decision log to a file as
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

CPU layout. In production the proxy runs in its own pods, never on the brokers' cores. When the
bench starts the broker itself it reproduces that on this machine: the broker and this load
generator are pinned to one half of the CPUs and the proxy to the other ("isolated"), so direct
and proxied runs give the broker the same CPU and the proxy's own cost cannot slow the broker
down. Figures 1-3 are measured that way; 2 and 3 are then measured again with every process on
every CPU ("shared": the proxy, the broker and the client compete for the same two cores), and
printed too. With ``--bootstrap`` (someone else's broker) everything runs shared. Last line,
machine-readable, preceded by one naming the layout its ratios come from:

    proxy_bench_layout layout=<isolated|shared> bootstrap_ratio_shared=<f> pipe_ratio_shared=<f>
    proxy_bench added_p99_ms=<f> bootstrap_ratio=<f> pipe_ratio=<f> idle10k_rss_mb=<f> reload_ms=<f>

Usage: .venv/bin/python bench/proxy_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from proxy.routetable import Endpoint, RouteRule, RouteTable, build_table, route_file_text  # noqa: E402
from sandbox.proxyproc import start_proxy  # noqa: E402
from tests.tools.kafka_frames import encode_api_versions_request  # noqa: E402
from tests.tools.probe import KafkaConnection, fetch_request, metadata_request, parse_fetch  # noqa: E402

Address = tuple[str, int]
T = TypeVar("T")

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
    tmp.write_text(route_file_text(t))
    os.replace(tmp, path)


class ProxyProcess:
    def __init__(self, routes: Path, workdir: Path, *extra: str) -> None:
        self.running = start_proxy(routes, log=workdir / "proxy.err", decision_log=workdir / "decisions.jsonl",
                                   extra=extra)
        self.proc = self.running.proc
        self.address: Address = self.running.listen

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
        self.running.stop(30)


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
        import uvloop

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
    socks: list[socket.socket] = []
    try:
        socks.extend(socket.create_connection(proxy.address) for _ in range(count))  # kept as made
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


#: Direct and proxied throughput runs alternate in this many slices each (after a warm-up pair).
ROUNDS = 5


@dataclass
class Sizes:
    latency_n: int = 5000
    rate_concurrency: int = 16
    rate_seconds: float = 5.0
    pipe_mb: int = 64
    pipe_seconds: float = 4.0
    flips: int = 20
    idle: int = 10_000
    pipes: int = 2000
    warm_up_seconds: float = 5.0


QUICK = Sizes(latency_n=200, rate_concurrency=8, rate_seconds=1.5, pipe_mb=8, pipe_seconds=1.0, flips=4,
              idle=1000, pipes=200, warm_up_seconds=0.5)


@dataclass(frozen=True)
class CpuLayout:
    """Where each process may run: the broker and the load generator on ``clients``, the proxy on
    ``proxy``. Applied to every thread the processes have; threads they start later inherit it."""

    name: str
    clients: frozenset[int]
    proxy: frozenset[int]

    @classmethod
    def shared(cls, cpus: frozenset[int]) -> CpuLayout:
        return cls("shared", cpus, cpus)

    @classmethod
    def isolated(cls, cpus: frozenset[int]) -> CpuLayout | None:
        """Half of the CPUs for the broker and the client, the rest for the proxy; None on one CPU."""
        ordered = sorted(cpus)
        if len(ordered) < 2:
            return None
        half = len(ordered) // 2
        return cls("isolated", frozenset(ordered[:half]), frozenset(ordered[half:]))

    def apply(self, broker_pid: int, proxy_pid: int) -> None:
        pin(broker_pid, self.clients)
        pin(os.getpid(), self.clients)
        pin(proxy_pid, self.proxy)

    def describe(self) -> str:
        if self.clients == self.proxy:
            return f"shared: broker, client and proxy on CPUs {sorted(self.clients)}"
        return f"isolated: broker and client on CPUs {sorted(self.clients)}, proxy on CPUs {sorted(self.proxy)}"


def pin(pid: int, cpus: frozenset[int]) -> None:
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(tid), cpus)


@dataclass
class Rates:
    direct: float
    proxied: float
    failures: tuple[int, int]
    proxy_cpu_s: float  # proxy CPU per unit (one bootstrap, or one GB)

    @property
    def ratio(self) -> float:
        return self.proxied / self.direct


def _alternate(measure_direct: Callable[[], T], measure_proxied: Callable[[], T],
               proxy: ProxyProcess) -> tuple[list[T], list[T], float]:
    """One discarded warm-up pair, then ROUNDS direct/proxied slices alternating, so background
    load drifting during the run hits both sides alike. Returns the slices and the proxy's CPU
    seconds during the proxied ones."""
    measure_direct()
    measure_proxied()
    direct: list[T] = []
    proxied: list[T] = []
    cpu = 0.0
    for _ in range(ROUNDS):
        direct.append(measure_direct())
        cpu0 = proxy.cpu_seconds()
        proxied.append(measure_proxied())
        cpu += proxy.cpu_seconds() - cpu0
    return direct, proxied, cpu


def measure_rate(direct: Address, proxy: ProxyProcess, sizes: Sizes) -> Rates:
    slice_s = sizes.rate_seconds / ROUNDS
    d, p, cpu = _alternate(lambda: bootstrap_rate(direct, sizes.rate_concurrency, slice_s),
                           lambda: bootstrap_rate(proxy.address, sizes.rate_concurrency, slice_s), proxy)
    d_rate, p_rate = statistics.mean(r for r, _ in d), statistics.mean(r for r, _ in p)
    failures = (sum(f for _, f in d), sum(f for _, f in p))
    return Rates(d_rate, p_rate, failures, cpu / (p_rate * sizes.rate_seconds))


def measure_pipe(direct: Address, proxy: ProxyProcess, topic: str, sizes: Sizes) -> Rates:
    slice_s = sizes.pipe_seconds / ROUNDS
    d, p, cpu = _alternate(lambda: pipe_throughput(direct, topic, slice_s),
                           lambda: pipe_throughput(proxy.address, topic, slice_s), proxy)
    d_bps, p_bps = statistics.mean(d), statistics.mean(p)
    return Rates(d_bps, p_bps, (0, 0), cpu / (p_bps * sizes.pipe_seconds / 1e9))


def print_rate(r: Rates, sizes: Sizes, layout: CpuLayout) -> None:
    print(f"bootstrap rate ({sizes.rate_concurrency} concurrent clients, {sizes.rate_seconds:g} s each, "
          f"in {ROUNDS} alternating slices; {layout.name}):")
    print(f"  direct {r.direct:8.0f}/s  proxied {r.proxied:8.0f}/s  ratio {r.ratio:.2f}"
          f"  failures {r.failures[0]}/{r.failures[1]}   (target >= 0.80)")
    print(f"  proxy CPU (user+sys) per bootstrap {r.proxy_cpu_s * 1e6:.0f} us: about "
          f"{1 / r.proxy_cpu_s:.0f} bootstraps/s per proxy core")


def print_pipe(r: Rates, sizes: Sizes, layout: CpuLayout) -> None:
    print(f"pipe throughput (1 MiB Fetch responses, 4 in flight, one connection, {sizes.pipe_seconds:g} s each, "
          f"in {ROUNDS} alternating slices; {layout.name}):")
    print(f"  direct {r.direct / 1e6:8.0f} MB/s  proxied {r.proxied / 1e6:8.0f} MB/s  ratio {r.ratio:.2f}"
          f"   (target >= 0.80)")
    print(f"  proxy CPU per GB piped {r.proxy_cpu_s:.2f} s")


def run(sizes: Sizes, legacy_bootstrap: str, workdir: Path, broker_pid: int | None = None) -> dict[str, float]:
    """Every measurement against the broker at ``legacy_bootstrap``. With ``broker_pid`` (a broker
    this process started) the CPUs are split as the module docstring says; without, shared."""
    host, port = legacy_bootstrap.rsplit(":", 1)
    direct: Address = (host, int(port))
    routes = workdir / "gw-bench.routes.json"
    write_routes(routes, table(legacy_bootstrap))
    raise_nofile(sizes.idle + 2048)
    proxy = ProxyProcess(routes, workdir, "--max-connections", str(sizes.idle + 1000),
                         "--first-frame-timeout", "300", "--reload-interval", "0.05", "--reload-debounce", "0.05")
    all_cpus = frozenset(os.sched_getaffinity(0))
    shared = CpuLayout.shared(all_cpus)
    main_layout = (CpuLayout.isolated(all_cpus) if broker_pid is not None else None) or shared
    out: dict[str, float] = {}
    try:
        # Warm the broker's JIT on every CPU first: compiled on the one CPU it shares with the
        # load, its hot paths take long to settle, and until then the p99 of a sequential
        # bootstrap is ~5 ms instead of ~0.5 ms.
        for address in (direct, proxy.address):
            bootstrap_rate(address, sizes.rate_concurrency, sizes.warm_up_seconds)
        if main_layout is not shared:
            assert broker_pid is not None
            main_layout.apply(broker_pid, proxy.proc.pid)
        print(f"CPU layout for 1-3: {main_layout.describe()}")
        out["isolated"] = float(main_layout is not shared)
        lat = latency(direct, proxy.address, sizes.latency_n)
        print(f"bootstrap latency (connect+ApiVersions+Metadata, n={sizes.latency_n}, sequential):")
        print(f"  direct  p50 {lat.direct_p50 * 1000:7.3f} ms  p99 {lat.direct_p99 * 1000:7.3f} ms")
        print(f"  proxied p50 {lat.proxy_p50 * 1000:7.3f} ms  p99 {lat.proxy_p99 * 1000:7.3f} ms")
        print(f"  added   p50 {lat.added_p50_ms:7.3f} ms  p99 {lat.added_p99_ms:7.3f} ms   (target p99 <= 1 ms)")
        out["added_p50_ms"], out["added_p99_ms"] = lat.added_p50_ms, lat.added_p99_ms

        rate = measure_rate(direct, proxy, sizes)
        print_rate(rate, sizes, main_layout)
        out["bootstrap_ratio"] = out["bootstrap_ratio_shared"] = rate.ratio
        out["rate_failures"] = float(sum(rate.failures))

        topic = f"bench-pipe-{time.monotonic_ns()}"
        fill_topic(legacy_bootstrap, topic, sizes.pipe_mb)
        pipe_throughput(direct, topic, 0.5)  # warm the page cache and the broker
        pipe = measure_pipe(direct, proxy, topic, sizes)
        print_pipe(pipe, sizes, main_layout)
        out["pipe_ratio"] = out["pipe_ratio_shared"] = pipe.ratio

        if main_layout is not shared:
            assert broker_pid is not None
            shared.apply(broker_pid, proxy.proc.pid)
            print(f"again with every process on every CPU ({shared.describe()}):")
            rate = measure_rate(direct, proxy, sizes)
            print_rate(rate, sizes, shared)
            out["bootstrap_ratio_shared"] = rate.ratio
            out["rate_failures"] += sum(rate.failures)
            pipe = measure_pipe(direct, proxy, topic, sizes)
            print_pipe(pipe, sizes, shared)
            out["pipe_ratio_shared"] = pipe.ratio

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
        if broker_pid is not None and main_layout is not shared:
            pin(os.getpid(), all_cpus)
    return out


def layout_line(out: dict[str, float]) -> str:
    """The line before the last: which layout the last line's ratios come from, and the shared ones."""
    return (f"proxy_bench_layout layout={'isolated' if out['isolated'] else 'shared'} "
            f"bootstrap_ratio_shared={out['bootstrap_ratio_shared']:.3f} "
            f"pipe_ratio_shared={out['pipe_ratio_shared']:.3f}")


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
                out = run(sizes, node.bootstrap, workdir, broker_pid=node.pid)
            finally:
                node.stop()
    print(layout_line(out))
    print(machine_line(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
