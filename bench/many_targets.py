"""50 targets vs 1 target, against real loopback servers: how well `check a b c ...` runs targets concurrently.

Run: `python -m bench.many_targets [--targets 50] [--max-parallel 8] [--delay-ms 40]`.

Every target gets the full probe registry against a loopback DNS server (tests/servers/dns_server.py) that delays
each answer by --delay-ms, as a resolver across a VPN does; the OS resolver is the table-driven stand-in of
tests/monitoring_support.py with the same delay; the service port and IMDS are closed loopback ports. Prints the
wall time of each run and the ratio (50 sequential targets would be a ratio of 50).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.monitoring_support import fake_getaddrinfo, loopback_site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--max-parallel", type=int, default=8)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from aoai_diag.runner import run_check
    from aoai_diag.targets import parse_target

    labels = [f"acct{i:03d}" for i in range(args.targets)]
    delay_s = args.delay_ms / 1000.0
    socket.getaddrinfo = fake_getaddrinfo(slow=dict.fromkeys(labels, delay_s))  # type: ignore[assignment]
    with loopback_site(labels, delay_ms=args.delay_ms) as site:
        settings = site.settings(timeout=2.0)
        targets = [parse_target(label) for label in labels]

        def best(n: int, parallel: int) -> float:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                report = run_check(targets[:n], settings, max_parallel=parallel)
                times.append(time.perf_counter() - t0)
                assert len(report.targets) == n
            return min(times)

        one = best(1, 1)
        many = best(args.targets, args.max_parallel)
        serial = best(min(5, args.targets), 1) * args.targets / min(5, args.targets)
    print(f"probes per target: full registry; DNS/OS-resolver delay {args.delay_ms:g} ms")
    print(f"1 target:                 {one * 1000:8.1f} ms")
    print(f"{args.targets} targets (parallel {args.max_parallel}):  {many * 1000:8.1f} ms")
    print(f"{args.targets} targets one at a time (extrapolated from 5): {serial * 1000:8.1f} ms")
    print(f"ratio {args.targets} targets / 1 target: {many / one:.2f} (sequential would be ~{args.targets})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
