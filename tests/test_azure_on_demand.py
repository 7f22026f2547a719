"""Evidence on demand: the ARM requests a run issues, counted by the emulator (no timings asserted).

A healthy run (TCP to the private address connected) starts no long-running operation; a failed connect that no
static read explains starts the effective-routes and effective-NSG operations, each once; a static NSG deny or a
missing peering explains it without either; an operation still running at the deadline is an unknown, not a wait; Resource Graph forbidden
falls back to concurrent list calls.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

from aoai_diag.model import Status
from tests.azure_harness import causes, lab, topology
from tests.conftest import REPO, guarded_env

SA = "6c1f3a52-0d4e-4b8a-9e21-3f5a7b9c1d01"
NSG_JUMPBOX = (
    f"/subscriptions/{SA}/resourceGroups/rg-jumpbox/providers/Microsoft.Network/networkSecurityGroups/nsg-jumpbox"
)
PE_ADDRESS = "10.1.2.4"


def _tcp(outcome: str) -> dict[str, Any]:
    attempt = {"address": PE_ADDRESS, "class": "private", "outcome": outcome, "error": None, "connect_ms": None}
    return {
        "tcp_connect": {
            "status": "pass" if outcome == "connected" else "fail",
            "evidence": {"port": 443, "attempts": [attempt]},
        }
    }


def _with_local(topo: dict[str, Any], outcome: str) -> dict[str, Any]:
    return dict(copy.deepcopy(topo), local=_tcp(outcome))


def _check(report: Any, check_id: str) -> Any:
    return next(c for c in report.checks if c.id == check_id)


def test_healthy_run_starts_no_long_running_operation(tmp_path: Path) -> None:
    with lab(_with_local(topology("healthy_jumpbox"), "connected"), tmp_path) as env:
        report, _ = env.run()
        lros = env.arm.lro_starts()
        requests = list(env.arm.requests)
    assert lros == []
    assert not any(p.startswith("/operations/") for _, p in requests)
    net = _check(report, "arm_client_network")
    nsg = _check(report, "arm_nsg")
    assert net.status is Status.PASS and nsg.status is Status.PASS, (net.summary, nsg.summary)
    assert net.evidence.effective_routes.state == "not_needed"
    assert PE_ADDRESS in net.evidence.effective_routes.reason
    assert nsg.evidence.client.effective.state == "not_needed"
    assert nsg.evidence.client.method == "rules"  # the NSG rules themselves were still evaluated
    # One Graph query, no per-provider list call: the inventory came in one round trip.
    assert sum(1 for m, p in requests if m == "POST" and "ResourceGraph" in p) == 1
    assert not any(
        "/providers/Microsoft.Network/privateDnsZones?" in p or p.endswith("/privateDnsZones") for _, p in requests
    )
    assert causes(report) == set()


def test_failed_connect_asks_each_operation_once(tmp_path: Path) -> None:
    # net.udr_nva_drop: TCP to the PE times out; peerings and NSG rules are fine: only the operations can tell.
    with lab(topology("broken/net.udr_nva_drop"), tmp_path) as env:
        report, _ = env.run()
        lros = sorted(p.rsplit("/", 1)[-1] for p in env.arm.lro_starts())
    assert lros == ["effectiveNetworkSecurityGroups", "effectiveRouteTable"]  # each once, though two probes read them
    assert _check(report, "arm_client_network").evidence.effective_routes.state == "done"
    assert _check(report, "arm_nsg").evidence.client.effective.state == "done"
    assert "net.udr_nva_drop" in causes(report)


def test_failed_connect_unexplained_asks_both_operations(tmp_path: Path) -> None:
    with lab(_with_local(topology("healthy_jumpbox"), "timeout"), tmp_path) as env:
        report, _ = env.run()
        lros = sorted(p.rsplit("/", 1)[-1] for p in env.arm.lro_starts())
    assert lros == ["effectiveNetworkSecurityGroups", "effectiveRouteTable"]
    assert _check(report, "arm_nsg").evidence.client.method == "effective"


def test_static_nsg_deny_explains_the_failure_without_operations(tmp_path: Path) -> None:
    topo = _with_local(topology("healthy_jumpbox"), "timeout")
    nsg = next(r for r in topo["resources"] if r["id"] == NSG_JUMPBOX)
    nsg["properties"]["securityRules"] = [
        {
            "id": f"{NSG_JUMPBOX}/securityRules/DenyHttpsOut",
            "name": "DenyHttpsOut",
            "properties": {
                "priority": 100,
                "direction": "Outbound",
                "access": "Deny",
                "protocol": "Tcp",
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "VirtualNetwork",
                "destinationPortRange": "443",
            },
        }
    ]
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        lros = env.arm.lro_starts()
    assert lros == []
    net = _check(report, "arm_client_network")
    assert "nsg-jumpbox" in net.evidence.effective_routes.reason
    assert _check(report, "arm_nsg").status is Status.FAIL
    assert "net.client_nsg_outbound" in causes(report)


def test_missing_peering_explains_the_failure_without_operations(tmp_path: Path) -> None:
    topo = _with_local(topology("broken/net.peering_not_connected"), "timeout")
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        lros = env.arm.lro_starts()
    assert lros == []
    assert _check(report, "arm_client_network").status is Status.FAIL


def test_unfinished_operation_is_unknown_and_the_deadline_holds(tmp_path: Path) -> None:
    # The service keeps answering 202 with Retry-After 1 s; the run's deadline is 1.5 s.
    topo = dict(_with_local(topology("healthy_jumpbox"), "timeout"), lro_polls=100, lro_retry_after=1)
    with lab(topo, tmp_path, timeout=1.0, deadline=1.5) as env:
        report, _ = env.run()
        polls = sum(1 for m, p in env.arm.requests if m == "GET" and "/operations/" in p)
    net = _check(report, "arm_client_network")
    # WARN from the probe, not the engine's ERROR at the deadline: it stopped polling by itself, after at most one
    # poll per advised second and operation (the service would have gone on for 100).
    assert net.status is Status.WARN
    assert net.evidence.effective_routes.state == "unfinished"
    assert any(d.code == "Unfinished" for d in net.evidence.denied)
    assert polls <= 2 * len(env.arm.lro_starts())


def test_a_long_retry_after_still_gets_one_poll_before_the_deadline(tmp_path: Path) -> None:
    # The service advises 30 s but is done at the first poll: one poll just before the 2 s deadline gets the answer.
    topo = dict(_with_local(topology("broken/net.udr_nva_drop"), "timeout"), lro_polls=0, lro_retry_after=30)
    with lab(topo, tmp_path, timeout=1.0, deadline=2.0) as env:
        report, _ = env.run()
        polls = sum(1 for m, p in env.arm.requests if m == "GET" and "/operations/" in p)
        lros = env.arm.lro_starts()
    net = _check(report, "arm_client_network")
    # Done before the 2 s deadline although 30 s were advised: one early poll per operation got the answer.
    assert net.evidence.effective_routes.state == "done"
    assert "net.udr_nva_drop" in causes(report)
    assert lros and polls == len(lros)


def test_forbidden_graph_falls_back_to_list_calls(tmp_path: Path) -> None:
    topo = dict(_with_local(topology("healthy_jumpbox"), "connected"), graph=False)
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        requests = list(env.arm.requests)
        lros = env.arm.lro_starts()
    assert _check(report, "arm_account").evidence.source == "list_calls"
    assert any(p.endswith("/providers/Microsoft.Network/privateDnsZones") for _, p in requests)
    assert lros == []
    assert causes(report) == set()


def test_a_resource_graph_run_does_not_import_azure_mgmt_network(tmp_path: Path) -> None:
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from tests.azure_harness import lab, topology\n"
        "from tests.test_azure_on_demand import _with_local\n"
        "with tempfile.TemporaryDirectory() as tmp, lab(_with_local(topology('healthy_jumpbox'), 'connected'), Path(tmp)) as env:\n"
        "    report, _ = env.run()\n"
        # arm_app_host skips: the run is for no app host (no --from).
        "print(sorted({c.status.value for c in report.checks if c.id.startswith('arm_') and c.id != 'arm_app_host'}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('azure.mgmt.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=guarded_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    statuses, modules = out.stdout.strip().splitlines()[-2:]
    assert statuses == "['pass']"
    assert "azure.mgmt.network" not in modules and "azure.mgmt.privatedns" not in modules, modules
