"""A full Azure-layer diagnosis (the six `arm_*` probes + the rules) against the ARM emulator with an injected
latency per request, as a jumpbox sees Resource Manager. Goal (issue 3): under 2 s at 150 ms per request.

Run: `python -m bench.arm_diagnosis [--latency-ms 150] [--repeat 3] [--topology healthy_jumpbox] [--no-graph]`.

Prints the SDK import time (paid once per process by the CLI), then for each run the wall time of the Azure
probes, the number of ARM requests and long-running operations, and how long the requests would take one after
another at that latency. The fixture's `local` evidence decides whether the operations are asked (none for
healthy_jumpbox: no local TCP evidence, so they are); `python -m bench.side_by_side` shows the healthy and broken
cases side by side.
Managed identity goes through the IMDS emulator (no latency: IMDS is link-local).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "netguard"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--topology", default="healthy_jumpbox")
    parser.add_argument("--no-graph", action="store_true", help="Resource Graph forbidden: per-subscription lists")
    args = parser.parse_args(argv)

    import netguard  # the bench, like the tests, may only talk to loopback

    netguard.install()
    t0 = time.perf_counter()
    import azure.identity
    import azure.mgmt.resourcegraph  # noqa: F401  (network, privatedns, cognitive: only with --no-graph)

    print(f"SDK imports: {(time.perf_counter() - t0) * 1000:.0f} ms (once per process)")

    from dataclasses import replace

    from tests.azure_harness import lab, topology

    topo = dict(topology(args.topology), latency_ms=args.latency_ms, graph=not args.no_graph)
    walls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, lab(topo, Path(tmp)) as env:
        settings = replace(env.settings, timeout=5.0, deadline=20.0)
        for i in range(args.repeat):
            before, lros_before = len(env.arm.requests), len(env.arm.lro_starts())
            report, elapsed = env.run(settings=settings)
            count = len(env.arm.requests) - before
            lros = len(env.arm.lro_starts()) - lros_before
            walls.append(elapsed)
            statuses = ", ".join(f"{c.id}={c.status.value}" for c in report.checks if c.id.startswith("arm_"))
            print(
                f"run {i + 1}: {elapsed * 1000:.0f} ms wall, {count} ARM requests, {lros} long-running operations "
                f"({count * args.latency_ms:.0f} ms if sequential); findings: "
                f"{[f.cause_id for f in report.findings] or 'none'}; {statuses}"
            )
    print(
        f"median {statistics.median(walls) * 1000:.0f} ms at {args.latency_ms:g} ms/request "
        f"(goal < 2000 ms; each run builds a new credential, session and TLS connections)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
