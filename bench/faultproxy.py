"""Overhead of the sandbox fault proxy: added latency, throughput, connection rate.

Run: ``.venv/bin/python bench/faultproxy.py [--rounds N] [--megabytes M]``.

Starts an upstream server (echo, plus a "source" that streams N bytes on
request) and the fault proxy as subprocesses on free ports of 127.0.0.1, then
measures, over the same kind of persistent connection, direct vs through the
proxy (no toxic, the fast path) vs through the proxy with a zero latency
toxic (the toxic path):

- round trips of a 64-byte request/response: p50 and p99, and what the proxy adds;
- bulk download throughput (MB/s, 10^6 bytes);
- new connections per second (connect, 1-byte round trip, close);
- under a 200 ms latency toxic (``--latency``): the latency added to the
  download of a 1 KB, a 2 MB and a 20 MB body (median of ``--repeats``
  downloads, with the toxic minus without; goal: each within 10 % of the
  latency, i.e. independent of the size), and bulk throughput once the
  first byte arrived (median of 3, alternated), with the toxic over without
  (goal >= 0.8).

Request counts are bounded; the whole run takes well under a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import requests

UPSTREAM = r"""
import asyncio, sys

async def echo(reader, writer):
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()

async def source(reader, writer):
    block = b"\0" * (1 << 20)
    try:
        size = int.from_bytes(await reader.readexactly(8), "big")
        while size > 0:
            writer.write(block[: min(size, len(block))])
            size -= len(block)
            await writer.drain()
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    writer.close()

async def main():
    await asyncio.start_server(echo, "127.0.0.1", int(sys.argv[1]))
    await asyncio.start_server(source, "127.0.0.1", int(sys.argv[2]))
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` for the duration of the block, then terminate it."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def connect(port: int) -> socket.socket:
    """A TCP_NODELAY connection to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(port: int, rounds: int) -> list[float]:
    """Seconds per 64-byte echo round trip on one persistent connection."""
    payload = b"x" * 64
    samples: list[float] = []
    with connect(port) as sock:
        for _ in range(rounds // 10):  # warm-up
            sock.sendall(payload)
            sock.recv(64)
        for _ in range(rounds):
            start = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < len(payload):
                got += len(sock.recv(64))
            samples.append(time.perf_counter() - start)
    return samples


def download(port: int, size: int) -> float:
    """MB/s (10^6 bytes) of a ``size``-byte download on one connection."""
    buffer = bytearray(1 << 20)
    with connect(port) as sock:
        start = time.perf_counter()
        sock.sendall(size.to_bytes(8, "big"))
        got = 0
        while got < size:
            n = sock.recv_into(buffer)
            if not n:
                raise EOFError(f"download ended after {got} of {size} bytes")
            got += n
        return size / (time.perf_counter() - start) / 1e6


def timed_download(port: int, size: int) -> tuple[float, float]:
    """Seconds to the first byte and to the last byte of a ``size``-byte download."""
    buffer = bytearray(1 << 20)
    with connect(port) as sock:
        start = time.perf_counter()
        sock.sendall(size.to_bytes(8, "big"))
        got, first = 0, 0.0
        while got < size:
            n = sock.recv_into(buffer)
            if not n:
                raise EOFError(f"download ended after {got} of {size} bytes")
            if not got:
                first = time.perf_counter() - start
            got += n
        return first, time.perf_counter() - start


def streaming_rate(port: int, size: int) -> float:
    """MB/s from the first byte to the last of a ``size``-byte download."""
    first, last = timed_download(port, size)
    return size / max(last - first, 1e-9) / 1e6


SIZES = {"1 KB": 1_000, "2 MB": 2_000_000, "20 MB": 20_000_000}


def latency_figures(
    api: str, source: int, latency_ms: int, repeats: int, megabytes: int
) -> dict[str, float]:
    """Added latency per body size and the throughput ratio under a latency toxic."""
    ports = {}
    for case in ("plain", "latency"):
        body = {"name": f"bench-{case}", "upstream": f"127.0.0.1:{source}"}
        created = requests.post(api + "/proxies", json=body, timeout=5).json()
        ports[case] = int(created["listen"].rsplit(":", 1)[1])
    toxic = {"type": "latency", "attributes": {"latency": latency_ms}}
    requests.post(f"{api}/proxies/bench-latency/toxics", json=toxic, timeout=5).raise_for_status()
    figures: dict[str, float] = {}
    for label, size in SIZES.items():
        plain = statistics.median(timed_download(ports["plain"], size)[1] for _ in range(repeats))
        slow = statistics.median(timed_download(ports["latency"], size)[1] for _ in range(repeats))
        figures[label] = (slow - plain) * 1000
    size = megabytes * 1_000_000
    rates: dict[str, list[float]] = {"plain": [], "latency": []}
    for _ in range(3):  # alternated, medians: a shared machine's drift favours neither
        for case in rates:
            rates[case].append(streaming_rate(ports[case], size))
    figures["plain MB/s"] = statistics.median(rates["plain"])
    figures["latency MB/s"] = statistics.median(rates["latency"])
    return figures


def connection_rate(port: int, count: int) -> float:
    """New connections per second: connect, 1-byte round trip, close."""
    start = time.perf_counter()
    for _ in range(count):
        with connect(port) as sock:
            sock.sendall(b"!")
            sock.recv(1)
    return count / (time.perf_counter() - start)


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) of samples, by the nearest-rank method."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def wait_until(check: Callable[[], object], what: str, timeout: float = 15) -> None:
    """Poll ``check`` until it returns without raising."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except (OSError, requests.RequestException):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up") from None
            time.sleep(0.05)


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000, help="round trips per case")
    parser.add_argument("--megabytes", type=int, default=1000, help="bulk download size (MB)")
    parser.add_argument("--connections", type=int, default=2000, help="connections per case")
    parser.add_argument("--latency", type=int, default=200, help="latency toxic (ms)")
    parser.add_argument("--repeats", type=int, default=5, help="downloads per body size")
    args = parser.parse_args()

    echo, source, api_port = free_port(), free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    faultproxy = [sys.executable, "-m", "chaosgate.sandbox.faultproxy", "--port", str(api_port)]
    with (
        process([sys.executable, "-c", UPSTREAM, str(echo), str(source)]) as upstream,
        process(faultproxy),
    ):
        assert upstream.stdout is not None
        upstream.stdout.readline()
        wait_until(lambda: requests.get(api + "/version", timeout=2).raise_for_status(), "API")
        ports = {"direct": (echo, source)}
        for case in ("proxy", "proxy+toxic"):
            pair = []
            for kind, port in (("echo", echo), ("source", source)):
                body = {"name": f"{case}-{kind}", "upstream": f"127.0.0.1:{port}"}
                created = requests.post(api + "/proxies", json=body, timeout=5).json()
                pair.append(int(created["listen"].rsplit(":", 1)[1]))
                if case == "proxy+toxic":
                    toxic = {"type": "latency", "attributes": {"latency": 0}}
                    url = f"{api}/proxies/{case}-{kind}/toxics"
                    requests.post(url, json=toxic, timeout=5).raise_for_status()
            ports[case] = (pair[0], pair[1])

        results: dict[str, dict[str, float]] = {}
        for case, (echo_port, source_port) in ports.items():
            samples = round_trips(echo_port, args.rounds)
            results[case] = {
                "p50": percentile(samples, 50) * 1e6,
                "p99": percentile(samples, 99) * 1e6,
                "mean": statistics.fmean(samples) * 1e6,
                "mbps": download(source_port, args.megabytes * 1_000_000),
                "conns": connection_rate(echo_port, args.connections),
            }
        latency = latency_figures(api, source, args.latency, args.repeats, args.megabytes)
    print_table(results, args)
    print_latency(latency, args)
    return 0


def print_latency(figures: dict[str, float], args: argparse.Namespace) -> None:
    """Added latency per body size and the throughput ratio, against their goals."""
    print(f"\nunder a {args.latency} ms latency toxic (median of {args.repeats} downloads)")
    for label in SIZES:
        added = figures[label]
        ok = abs(added - args.latency) <= 0.1 * args.latency
        print(f"  added latency, {label:>6} body: {added:8.1f} ms  {'ok' if ok else 'MISSED'}")
    ratio = figures["latency MB/s"] / figures["plain MB/s"]
    print(
        f"  throughput after the first byte ({args.megabytes} MB, median of 3): "
        f"{figures['latency MB/s']:.0f} MB/s with the toxic, "
        f"{figures['plain MB/s']:.0f} MB/s without: {ratio:.2f}  "
        f"{'ok' if ratio >= 0.8 else 'MISSED'} (goal >= 0.8)"
    )


def print_table(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    """Print one row per figure, one column per case, plus what the proxy adds."""
    cases = list(results)
    direct = results["direct"]
    print(
        f"fault proxy overhead on 127.0.0.1 (Python {sys.version.split()[0]}; "
        f"{args.rounds} round trips, {args.megabytes} MB, {args.connections} connections)"
    )
    header = f"{'':28}" + "".join(f"{c:>14}" for c in cases) + f"{'added':>10}{'+toxic':>10}"
    print(header)
    print("-" * len(header))
    rows = [
        ("round trip p50 (us)", "p50", True),
        ("round trip p99 (us)", "p99", True),
        ("round trip mean (us)", "mean", True),
        ("bulk download (MB/s)", "mbps", False),
        ("new connections (/s)", "conns", False),
    ]
    for label, key, additive in rows:
        line = f"{label:28}" + "".join(f"{results[c][key]:>14.1f}" for c in cases)
        if additive:
            line += f"{results['proxy'][key] - direct[key]:>10.1f}"
            line += f"{results['proxy+toxic'][key] - direct[key]:>10.1f}"
        print(line)
    print("'added': proxy minus direct; '+toxic': proxy with a latency 0 toxic minus direct")


if __name__ == "__main__":
    sys.exit(main())
