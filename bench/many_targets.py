"""50 targets vs 1 target, against real loopback servers: how well `check a b c ...` runs targets concurrently.

Run: `python -m bench.many_targets [--targets 50] [--max-parallel 50] [--delay-ms 40]` (50: the CLI's default).

Every target gets the full probe registry against a loopback DNS server (tests/servers/dns_server.py) that delays
each answer by --delay-ms, as a resolver across a VPN does; the OS resolver is the table-driven stand-in of
tests/monitoring_support.py with the same delay; the service port and IMDS are closed loopback ports. Prints the
wall time of each run and the ratio (50 sequential targets would be a ratio of 50).

The DNS server runs in its own process (as a real resolver does), so its CPU is not counted against the tool's.
By default it is bench/cached_resolver.py (the test server's answers, each built once and then served from a
cache, like a real resolver); `--resolver threaded` runs tests/servers/dns_server.py itself, which spends about
1 ms of CPU per query (more than the tool does since the fleet work) and on 2 cores competes with the tool;
`--dns-in-process` keeps the oldest set-up (one process, server and tool sharing the interpreter lock).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.monitoring_support import Site, closed_port, dns_config, fake_getaddrinfo, loopback_site

REPO = Path(__file__).resolve().parent.parent


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dns_process_site(labels: list[str], delay_ms: float, resolver: str = "cached") -> Iterator[Site]:
    """The loopback site of tests/monitoring_support.py with its DNS server in a child process."""
    config = dns_config(labels)
    for view in config["views"].values():
        view["delay_ms"] = delay_ms
    corp, public = ("127.0.0.1", _free_udp_port("127.0.0.1")), ("127.0.0.2", _free_udp_port("127.0.0.2"))
    config["bind"] = {f"{corp[0]}:{corp[1]}": "corp", f"{public[0]}:{public[1]}": "public"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(config, fh)
    module = "bench.cached_resolver" if resolver == "cached" else "tests.servers.dns_server"
    argv = [sys.executable, "-m", module, "--config", fh.name]
    for host, port in (corp, public):
        argv += ["--listen", f"{host}:{port}"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout is None or proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the DNS server did not start")
        yield Site(
            resolver=f"{corp[0]}:{corp[1]}",
            public_resolver=f"{public[0]}:{public[1]}",
            imds=f"http://127.0.0.1:{closed_port()}",
            port=closed_port(),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        Path(fh.name).unlink(missing_ok=True)


def measure(
    n_targets: int,
    max_parallel: int,
    delay_ms: float,
    repeat: int,
    dns_in_process: bool = False,
    resolver: str = "cached",
) -> dict[str, float]:
    """Best wall time (s) of 1 target, of `n_targets` (`max_parallel` at a time), and of 5 one at a time x n/5."""
    from aoai_diag.runner import run_check
    from aoai_diag.targets import parse_target

    labels = [f"acct{i:03d}" for i in range(n_targets)]
    delay_s = delay_ms / 1000.0
    original = socket.getaddrinfo
    socket.getaddrinfo = fake_getaddrinfo(slow=dict.fromkeys(labels, delay_s))  # type: ignore[assignment]
    try:
        site_cm = loopback_site(labels, delay_ms) if dns_in_process else dns_process_site(labels, delay_ms, resolver)
        with site_cm as site:
            settings = site.settings(timeout=2.0)
            targets = [parse_target(label) for label in labels]

            cpu: list[float] = []

            def best(n: int, parallel: int) -> float:
                times = []
                for _ in range(repeat):
                    c0, t0 = os.times(), time.perf_counter()
                    report = run_check(targets[:n], settings, max_parallel=parallel)
                    times.append(time.perf_counter() - t0)
                    c1 = os.times()
                    cpu.append(c1.user + c1.system - c0.user - c0.system)
                    assert len(report.targets) == n
                return min(times)

            best(1, 1)  # warm-up: first TLS context, imports
            one = best(1, 1)
            cpu.clear()
            many = best(n_targets, max_parallel)
            many_cpu = statistics.median(cpu)
            serial = best(min(5, n_targets), 1) * n_targets / min(5, n_targets)
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]
    return {"one": one, "many": many, "serial": serial, "many_cpu": many_cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50)
    from aoai_diag.runner import DEFAULT_MAX_PARALLEL_TARGETS

    parser.add_argument("--max-parallel", type=int, default=DEFAULT_MAX_PARALLEL_TARGETS)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dns-in-process", action="store_true", help="run the DNS server in this process")
    parser.add_argument(
        "--resolver", choices=("cached", "threaded"), default="cached", help="the DNS server process (see above)"
    )
    args = parser.parse_args(argv)
    got = measure(args.targets, args.max_parallel, args.delay_ms, args.repeat, args.dns_in_process, args.resolver)
    where = "in this process" if args.dns_in_process else f"{args.resolver} resolver process"
    print(f"probes per target: full registry; DNS ({where}) and OS-resolver delay {args.delay_ms:g} ms")
    print(f"1 target:                 {got['one'] * 1000:8.1f} ms")
    print(f"{args.targets} targets (parallel {args.max_parallel}):  {got['many'] * 1000:8.1f} ms")
    print(f"  CPU of the tool per {args.targets}-target run (median): {got['many_cpu'] * 1000:.0f} ms")
    print(f"{args.targets} targets one at a time (extrapolated from 5): {got['serial'] * 1000:8.1f} ms")
    print(
        f"ratio {args.targets} targets / 1 target: {got['many'] / got['one']:.2f} (sequential would be ~{args.targets})"
    )
    waves = -(-args.targets // max(1, args.max_parallel))
    print(f"floor: {waves} waves of {args.max_parallel} targets, each as long as one target: {waves}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
