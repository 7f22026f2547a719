"""Faults Resource Manager really produces, against the emulator with the real SDK clients: paging, long-running
operations, 403 on one subscription, 404, 429 + Retry-After bounded by the deadline, malformed JSON, a hanging
endpoint, no credential, --no-azure."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.model import Status
from tests.azure_harness import DEAD_IMDS, causes, lab, status, topology
from tests.conftest import REPO, guarded_env

SB = "7d2e4b63-1e5f-4c9b-8f32-4a6b8c0d2e02"
SA = "6c1f3a52-0d4e-4b8a-9e21-3f5a7b9c1d01"


def _check(report: Any, check_id: str) -> Any:
    return next(c for c in report.checks if c.id == check_id)


def _sdk_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the SDK's retry policy asks its transport for (Retry-After or backoff), in order; they still happen."""
    from azure.core.pipeline.transport import RequestsTransport

    waits: list[float] = []

    def sleep(self: Any, duration: float) -> None:
        waits.append(float(duration))
        time.sleep(duration)

    monkeypatch.setattr(RequestsTransport, "sleep", sleep)
    return waits


def _count(env: Any, method: str, fragment: str) -> int:
    return sum(1 for m, p in env.arm.requests if m == method and fragment.lower() in p.lower())


def test_resource_graph_pages_with_skip_token(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), page_size=2)
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        graph_posts = _count(env, "POST", "/providers/Microsoft.ResourceGraph/resources")
    assert _check(report, "arm_account").evidence.source == "resource_graph"
    assert graph_posts > 3  # every row found only because every page was followed
    # arm_app_host skips: the run is for no app host (no --from).
    assert all(s == "pass" for k, s in status(report).items() if k.startswith("arm_") and k != "arm_app_host")


def test_list_calls_follow_next_link_when_graph_is_forbidden(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), graph=False, page_size=1)
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        vnet_pages = _count(env, "GET", f"/subscriptions/{SA}/providers/Microsoft.Network/virtualNetworks")
    account = _check(report, "arm_account").evidence
    assert account.source == "list_calls"
    assert account.graph_error.status == 403
    assert vnet_pages == 2  # two VNets in SA, one per page
    # arm_app_host skips: the run is for no app host (no --from).
    assert all(s == "pass" for k, s in status(report).items() if k.startswith("arm_") and k != "arm_app_host")
    assert causes(report) == set()


def test_long_running_operations_poll_until_done(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), lro_polls=3)
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        polls = _count(env, "GET", "/operations/")
    net = _check(report, "arm_client_network").evidence
    # Done within the run's 6 s deadline: at the SDK's default 30 s interval both would still be unfinished.
    assert net.effective_routes.state == "done"
    assert net.routes_to_pe[0].route.next_hop_type == "InterfaceEndpoint"
    assert _check(report, "arm_nsg").evidence.client.method == "effective"
    assert polls >= 2 * 3  # both operations polled (status + result), following Retry-After: 0


def test_403_on_one_subscription_is_named_and_the_rest_is_used(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), graph=False, faults=[{"match": f"/subscriptions/{SB}/", "status": 403}])
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
    zones = _check(report, "arm_dns_zones")
    assert zones.status is Status.WARN  # the record was found, but a scope stayed unread: not a pass
    assert any(d.scope == f"/subscriptions/{SB}" and d.status == 403 for d in zones.evidence.denied)
    assert _check(report, "arm_account").status is Status.PASS
    assert causes(report) == set()


def test_403_never_turns_a_missing_zone_into_a_conclusion(tmp_path: Path) -> None:
    topo = dict(
        topology("broken/dns.zone_missing"), graph=False, faults=[{"match": f"/subscriptions/{SB}/", "status": 403}]
    )
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
    zones = _check(report, "arm_dns_zones")
    assert zones.status is Status.ERROR
    assert f"/subscriptions/{SB}" in (zones.reason or "")
    assert "dns.zone_missing" not in causes(report)


def test_404_on_the_vm_is_an_error_naming_it(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), faults=[{"match": "/virtualMachines/jumpbox-01", "status": 404}])
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
    net = _check(report, "arm_client_network")
    assert net.status is Status.ERROR
    assert "virtualMachines/jumpbox-01" in (net.reason or "") and "404" in (net.reason or "")
    assert status(report)["arm_nsg"] == "skip"


def test_429_retry_after_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topo = dict(
        topology("healthy_jumpbox"),
        faults=[{"match": "ResourceGraph/resources", "status": 429, "retry_after": 1, "times": 1}],
    )
    waits = _sdk_waits(monkeypatch)
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
        posts = _count(env, "POST", "ResourceGraph/resources")
    assert _check(report, "arm_account").evidence.source == "resource_graph"
    assert posts == 2
    assert waits == [1.0]  # the retry waited the Retry-After the service sent, once


def test_429_retry_after_past_the_deadline_gives_up_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topo = dict(
        topology("healthy_jumpbox"), faults=[{"match": "ResourceGraph/resources", "status": 429, "retry_after": 60}]
    )
    waits = _sdk_waits(monkeypatch)
    with lab(topo, tmp_path, deadline=3.0) as env:
        report, _ = env.run()
    account = _check(report, "arm_account").evidence
    assert account.graph_error.status == 429
    assert account.source == "list_calls"  # fell back instead of sleeping 60 s
    assert waits == []  # no wait was started: 60 s would pass the 3 s deadline


def test_malformed_json_is_evidence_not_a_crash(tmp_path: Path) -> None:
    topo = dict(
        topology("healthy_jumpbox"),
        graph=False,
        faults=[{"match": f"/subscriptions/{SA}/providers/Microsoft.CognitiveServices/accounts", "kind": "malformed"}],
    )
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
    account = _check(report, "arm_account")
    assert account.status is Status.ERROR
    assert any(d.code == "MalformedResponse" and d.scope == f"/subscriptions/{SA}" for d in account.evidence.denied)


def test_hanging_long_running_operation_is_bounded(tmp_path: Path) -> None:
    topo = dict(topology("healthy_jumpbox"), faults=[{"match": "/effectiveRouteTable", "kind": "hang", "seconds": 10}])
    with lab(topo, tmp_path, timeout=0.5, deadline=3.0) as env:
        report, _ = env.run()
    net = _check(report, "arm_client_network")
    # WARN from the probe (routes unread), not the engine's ERROR at the 3 s deadline: the 0.5 s read timeout ended
    # the 10 s hang (bench/bounds.py times it).
    assert net.status is Status.WARN and net.evidence.routes_error
    assert net.evidence.effective_routes.state == "failed"
    assert [d.code for d in net.evidence.denied if d.scope.endswith("/effectiveRouteTable")] == ["Timeout"]


def test_no_credential_skips_without_asking_anything(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path, imds_endpoint=DEAD_IMDS, env={"PATH": ""}) as env:
        report, _ = env.run()
        requests = list(env.arm.requests)
    access = _check(report, "arm_access")
    assert access.status is Status.SKIP
    assert "no usable Azure credential" in access.summary and "az not on PATH" in access.summary
    assert all(s == "skip" for k, s in status(report).items() if k.startswith("arm_"))
    assert requests == []  # no token and no ARM request (the emulator is also the authority); timed in bench/bounds.py


def test_rejected_client_secret_is_an_error(tmp_path: Path) -> None:
    topo = topology("vpn_client")
    with lab(topo, tmp_path) as env:
        bad = dict(env.settings.env, AZURE_CLIENT_SECRET="wrong")
        from dataclasses import replace

        report, _ = env.run(settings=replace(env.settings, env=bad))
    access = _check(report, "arm_access")
    assert access.status is Status.ERROR
    assert "token" in (access.reason or "")


def test_no_azure_option_skips_the_layer(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path, azure=False) as env:
        report, _ = env.run()
        requests = list(env.arm.requests)
    assert all(s == "skip" for k, s in status(report).items() if k.startswith("arm_"))
    assert _check(report, "arm_access").reason == "--no-azure"
    assert requests == []


def test_help_does_not_import_the_azure_sdk() -> None:
    code = (
        "import sys\n"
        "from aoai_diag.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "import aoai_diag.checks\n"
        "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=guarded_env(), timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
