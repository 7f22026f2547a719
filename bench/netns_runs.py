"""Whole-run timings of the installed CLI inside a test-made network namespace (root + iproute2 + nftables).

1. healthy: the seed guide's jumpbox (fixtures/scenarios/jumpbox_azure_dns_healthy.json: Azure DNS, IMDS, managed
   identity, ARM emulator, the private endpoint answering 401) — with the Azure layer and with --no-azure.
   Target (issue 2): a healthy local run completes in under 1 s.
2. blackhole: every address the tool could reach (configured DNS, public resolvers, 168.63.129.16, IMDS, the
   private endpoint from a hosts entry, ARM and login) sits on the namespace's loopback and nftables drops every
   packet to it, so each connect and query times out. Target: the run ends within --timeout + 0.5 s.

All traffic stays inside the namespace, which has only a loopback interface. Usage:
    sudo python bench/netns_runs.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import namespace
from tests.e2e.harness import CLI, Pki, ScenarioRun, cli_env
from tests.e2e.namespace import Namespace
from tests.e2e.scenario import DEFAULT_ADDRESSES, SCENARIOS, load

BLACKHOLE_ADDRESSES = [DEFAULT_ADDRESSES[k] for k in ("custom_dns", "azure_dns", "public_dns1", "public_dns2", "imds")]
BLACKHOLE_ADDRESSES += [DEFAULT_ADDRESSES[k] for k in ("pe", "arm", "login")]


def healthy(runs: int, workdir: Path) -> None:
    scenario = load(SCENARIOS / "jumpbox_azure_dns_healthy.json")
    run = ScenarioRun(scenario, workdir / "healthy", Pki(workdir / "pki"))
    try:
        run.setup()
        env = cli_env(scenario, run.ca_bundle, workdir)
        for label, extra in (("with Azure layer", []), ("--no-azure", ["--no-azure"])):
            walls, verdicts = [], set()
            for _ in range(runs):
                t0 = time.monotonic()
                proc = run.ns.run([str(CLI), "check", "contoso", "-o", "json", *extra], env=env, timeout=60)
                walls.append(time.monotonic() - t0)
                verdicts.add(proc.returncode)
            print(
                f"healthy jumpbox {label:<18} median {statistics.median(walls):.3f} s  "
                f"min {min(walls):.3f}  max {max(walls):.3f}  exit codes {sorted(verdicts)}"
            )
    finally:
        run.close()


def blackhole(timeouts: list[float], workdir: Path) -> None:
    hosts = (
        "127.0.0.1 localhost\n"
        f"{DEFAULT_ADDRESSES['pe']} contoso.openai.azure.com\n"
        f"{DEFAULT_ADDRESSES['arm']} management.azure.com\n"
        f"{DEFAULT_ADDRESSES['login']} login.microsoftonline.com\n"
    )
    resolv = f"nameserver {DEFAULT_ADDRESSES['custom_dns']}\n"
    with Namespace("bench-blackhole") as ns:
        ns.create(BLACKHOLE_ADDRESSES, resolv, hosts)
        # Drop every packet to anything but 127.0.0.0/8: each connect and query to the addresses above times out.
        ns.nft(
            "table inet bench {\n  chain out {\n    type filter hook output priority 0; policy accept;\n"
            "    ip daddr != 127.0.0.0/8 drop\n  }\n}\n"
        )
        env = {"PATH": "/usr/bin:/bin:" + str(CLI.parent), "HOME": str(workdir), "NO_COLOR": "1"}
        for timeout in timeouts:
            t0 = time.monotonic()
            proc = ns.run([str(CLI), "check", "contoso", "-o", "json", "--timeout", str(timeout)], env=env, timeout=120)
            wall = time.monotonic() - t0
            verdict = "?"
            if proc.stdout:
                import json

                verdict = json.loads(proc.stdout)["verdict"]
            ok = "within" if wall <= timeout + 0.5 else "OVER"
            print(
                f"blackhole --timeout {timeout:<4} wall {wall:.3f} s ({ok} timeout + 0.5 s)  "
                f"exit {proc.returncode} verdict {verdict}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = namespace.unsupported_reason() or namespace.nft_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        healthy(args.runs, Path(tmp))
        blackhole([1.0, 2.0, 5.0], Path(tmp))


if __name__ == "__main__":
    main()
