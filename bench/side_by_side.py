"""One command, one run, every figure of "ask Azure only what the local evidence leaves open", side by side.

Run: `sudo python -m bench.side_by_side [--runs 7] [--latency-ms 150] [--targets 50] [--baseline DIR]`.

1. Whole process, the seed guide's healthy jumpbox inside a test-made network namespace (root, iproute2, nftables;
   see bench/netns_runs.py): `check contoso --no-azure` against `check contoso` with the Azure layer (IMDS, managed
   identity, the ARM emulator), median of --runs each, and the long-running operations the Azure run asked (read
   from its evidence). Without namespace support this part says why and is skipped.
2. The Azure layer against the ARM emulator in this process (the SDK imported once beforehand, as the CLI pays it
   once): ARM requests and long-running operations per run, healthy and broken, with 0 ms and with --latency-ms
   added to every ARM request. "broken, route" is a failed TCP connect explained only by the effective routes
   (an NVA UDR); "broken, unexplained" is a failed connect nothing static explains (both operations needed).
3. --targets targets against 1 (bench/many_targets.py): full registry, loopback DNS with a 40 ms delay.

Targets: healthy Azure run <= 3x the local-only run; 0 long-running operations when healthy; broken diagnosis at
150 ms per request <= 1.5 s plus the operations it needs; 50 targets <= 3x one. Traffic stays on loopback or in
the namespace.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "netguard"))

PE_ADDRESS = "10.1.2.4"


def whole_process(runs: int, baseline: Path | None = None) -> None:
    from tests.e2e import namespace

    reason = namespace.unsupported_reason() or namespace.nft_reason()
    if reason:
        print(f"  skipped: {reason}")
        return
    from tests.e2e.harness import CLI, Pki, ScenarioRun, cli_env
    from tests.e2e.scenario import SCENARIOS, load

    scenario = load(SCENARIOS / "jumpbox_azure_dns_healthy.json")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run = ScenarioRun(scenario, workdir / "healthy", Pki(workdir / "pki"))
        try:
            run.setup()
            env = cli_env(scenario, run.ca_bundle, workdir)
            trees = [("", env)]
            if baseline is not None:
                # Another checkout of the code, first on the path: before and after measured under the same load.
                trees.append((" (baseline)", dict(env, PYTHONPATH=str(baseline))))
            variants = [
                (f"{label}{tree}", extra, tree_env)
                for tree, tree_env in trees
                for label, extra in (("--no-azure", ["--no-azure"]), ("Azure layer", []))
            ]
            walls: dict[str, list[float]] = {name: [] for name, _, _ in variants}
            codes: dict[str, set[int]] = {name: set() for name, _, _ in variants}
            lros: dict[str, set[int]] = {name: set() for name, _, _ in variants}
            for _ in range(runs):  # interleaved, so every variant sees the same load
                for name, extra, variant_env in variants:
                    t0 = time.monotonic()
                    argv = [str(CLI), "check", "contoso", "-o", "json", *extra]
                    proc = run.ns.run(argv, env=variant_env, timeout=60)
                    walls[name].append(time.monotonic() - t0)
                    codes[name].add(proc.returncode)
                    lros[name].add(_asked_operations(json.loads(proc.stdout)) if proc.stdout else -1)
            for name, _, _ in variants:
                w = walls[name]
                print(
                    f"  {name:<24} median {statistics.median(w):.3f} s (min {min(w):.3f}, max {max(w):.3f}, "
                    f"n={runs})  exit {sorted(codes[name])}  long-running operations per run {sorted(lros[name])}"
                )
            for tree, _ in trees:
                ratio = statistics.median(walls[f"Azure layer{tree}"]) / statistics.median(walls[f"--no-azure{tree}"])
                print(f"  ratio Azure / local-only{tree}: {ratio:.2f}x (target <= 3x)")
        finally:
            run.close()


def _asked_operations(report: dict[str, Any]) -> int:
    """Long-running operations a CLI run asked, from its evidence (the emulator runs in another process)."""
    count = 0
    for target in report.get("targets") or ():
        for check in target.get("checks") or ():
            ev = check.get("evidence") or {}
            # Code without the on-demand plan (a --baseline) records no state: its routes or method tell. Since schema
            # 1.3 every field is written: null (the check did not get that far) is not asked either.
            if check.get("id") == "arm_client_network":
                if "effective_routes" in ev:
                    count += (ev["effective_routes"] or {}).get("state") not in (None, "not_needed")
                else:
                    count += bool(ev.get("routes_to_pe") or ev.get("routes_error"))
            if check.get("id") == "arm_nsg":
                client = ev.get("client") or {}
                if "effective" in client:
                    count += (client["effective"] or {}).get("state") not in (None, "not_needed")
                else:
                    count += (
                        client.get("method") == "effective" or "effective" in str(client.get("error") or "").lower()
                    )
    return count


def _tcp(outcome: str) -> dict[str, Any]:
    attempt = {"address": PE_ADDRESS, "class": "private", "outcome": outcome, "error": None, "connect_ms": None}
    status = "pass" if outcome == "connected" else "fail"
    return {"tcp_connect": {"status": status, "evidence": {"port": 443, "attempts": [attempt]}}}


def azure_layer(latencies: list[float], repeat: int) -> None:
    import netguard  # like the tests, the bench may only talk to loopback

    netguard.install()
    t0 = time.perf_counter()
    import azure.identity
    import azure.mgmt.resourcegraph  # noqa: F401

    print(f"  (SDK imports paid once per process: {(time.perf_counter() - t0) * 1000:.0f} ms)")
    from tests.azure_harness import causes, lab, topology

    cases = {
        "healthy": dict(copy.deepcopy(topology("healthy_jumpbox")), local=_tcp("connected")),
        "broken, route": topology("broken/net.udr_nva_drop"),
        "broken, unexplained": dict(copy.deepcopy(topology("healthy_jumpbox")), local=_tcp("timeout")),
        "healthy, Graph forbidden": dict(
            copy.deepcopy(topology("healthy_jumpbox")), local=_tcp("connected"), graph=False
        ),
    }
    print(
        f"  {'case':<26} {'latency':>8} {'wall (median)':>14} {'ARM requests':>13} {'in LROs':>8} {'LROs':>5}  causes"
    )
    for latency in latencies:
        for name, topo in cases.items():
            with tempfile.TemporaryDirectory() as tmp, lab(dict(topo, latency_ms=latency), Path(tmp)) as env:
                settings = replace(env.settings, timeout=5.0, deadline=20.0)
                walls, found = [], set()
                for _ in range(repeat):
                    before, lros_before = len(env.arm.requests), len(env.arm.lro_starts())
                    report, elapsed = env.run(settings=settings)
                    walls.append(elapsed)
                    found = causes(report)
                    requests = env.arm.requests[before:]
                    lros = len(env.arm.lro_starts()) - lros_before
                in_lros = sum(
                    1
                    for m, p in requests
                    if p.startswith("/operations/")
                    or p.lower().endswith(("/effectiveroutetable", "/effectivenetworksecuritygroups"))
                )
                wall = statistics.median(walls)
                note = ""
                if name.startswith("broken") and latency:
                    budget = 1.5 + in_lros * latency / 1000.0
                    note = f"  (target <= 1.5 s + {in_lros} LRO requests = {budget:.2f} s: {'ok' if wall <= budget else 'OVER'})"
                print(
                    f"  {name:<26} {latency:>6g}ms {wall * 1000:>12.0f}ms {len(requests):>13} {in_lros:>8} {lros:>5}  "
                    f"{sorted(found) or '-'}{note}"
                )


def fleet(n_targets: int, repeat: int) -> None:
    import math

    from aoai_diag.runner import DEFAULT_MAX_PARALLEL_TARGETS
    from bench.many_targets import measure

    for parallel in (16, DEFAULT_MAX_PARALLEL_TARGETS):
        got = measure(n_targets, parallel, 40.0, repeat)
        waves = math.ceil(n_targets / parallel)
        print(
            f"  1 target {got['one'] * 1000:.0f} ms; {n_targets} targets ({parallel} at a time) "
            f"{got['many'] * 1000:.0f} ms: {got['many'] / got['one']:.2f}x (target <= 3x; {waves} waves of targets "
            f"make {waves}x the floor); one at a time ~{got['serial'] * 1000:.0f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="whole-process runs per variant (median)")
    parser.add_argument("--repeat", type=int, default=3, help="in-process runs per Azure case and fleet size")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of the code (e.g. `git archive` of main): measured alongside in (1)",
    )
    args = parser.parse_args(argv)
    print("1. whole process, healthy jumpbox (network namespace)")
    whole_process(args.runs, args.baseline)
    print(f"2. Azure layer against the ARM emulator (0 ms and {args.latency_ms:g} ms per ARM request)")
    azure_layer([0.0, args.latency_ms], args.repeat)
    print(f"3. fleet: {args.targets} targets vs 1")
    fleet(args.targets, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
