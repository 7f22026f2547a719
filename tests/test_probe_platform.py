"""azure_platform and azure_dns against the IMDS emulator and a loopback DNS server standing in for 168.63.129.16."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from aoai_diag.checks import azure_dns, azure_platform
from aoai_diag.checks.base import Probe
from aoai_diag.context import Settings
from aoai_diag.engine import run_probes
from aoai_diag.evidence.path import ImdsVm
from aoai_diag.model import CheckResult, Status
from aoai_diag.net.imds import fetch_instance
from aoai_diag.runner import new_context
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES
from tests.servers import imds
from tests.servers.dns_server import serve

TARGET = parse_target("contoso")
PROBES = [azure_platform.PROBE, azure_dns.PROBE]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "dns" / f"{name}.json").read_text())


def settings(imds_endpoint: str, azure_dns_server: tuple[str, int] = ("127.0.0.1", 9), **extra: Any) -> Settings:
    extra.setdefault("timeout", 1.0)
    return Settings(
        public_resolvers=(),
        azure_dns=azure_dns_server,
        imds_endpoint=imds_endpoint,
        imds_timeout=0.3,
        **extra,
    )


def run(s: Settings, probes: list[Probe] = PROBES) -> dict[str, CheckResult]:
    return {r.id: r for r in run_probes(TARGET, new_context(s), probes)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def imds_server() -> Iterator[imds.ImdsServer]:
    with imds.serve() as server:
        yield server


def test_on_azure_records_vm_and_azure_dns_private(imds_server: imds.ImdsServer) -> None:
    with serve(fixture("private_3d")) as (_, [dns_server]):
        results = run(settings(imds_server.endpoint, dns_server))
    platform = results["azure_platform"]
    assert platform.status is Status.PASS
    assert platform.evidence.on_azure is True
    assert platform.evidence.vm == ImdsVm(
        subscription_id=imds.SUBSCRIPTION,
        resource_group="rg-hub-jumpbox",
        name="jumpbox-01",
        vm_id="02aab8a4-74ef-476e-8182-f6d2ba4166a6",
        location="westeurope",
        resource_id=imds.DEFAULT_INSTANCE["compute"]["resourceId"],
        private_ip="10.20.0.4",
        subnet_prefix="10.20.0.0/24",
        mac="000D3A2B4C5D",
    )
    assert imds_server.requests == [
        {"path": "/metadata/instance", "query": {"api-version": "2021-02-01"}, "metadata": True}
    ]
    dns_result = results["azure_dns"]
    assert dns_result.status is Status.PASS
    assert dns_result.evidence.server == f"{dns_server[0]}:{dns_server[1]}"
    assert set(dns_result.evidence.answers) == {*TARGET.names, "contoso.privatelink.openai.azure.com"}


def test_azure_dns_nxdomain_from_private_zone_fails(imds_server: imds.ImdsServer) -> None:
    with serve(fixture("nxdomain_private_soa")) as (_, [dns_server]):
        result = run(settings(imds_server.endpoint, dns_server))["azure_dns"]
    assert result.status is Status.FAIL
    assert result.evidence.answers[TARGET.host].soa_mname == "azureprivatedns.net"


def test_azure_dns_silent_fails_within_timeout(imds_server: imds.ImdsServer) -> None:
    with serve({"default": "silent"}) as (_, [dns_server]):
        result = run(settings(imds_server.endpoint, dns_server, timeout=0.4))["azure_dns"]
    # FAIL with a timeout answer, not the engine's ERROR at the run's deadline (2 x 0.4 s): the probe's own bound.
    assert result.status is Status.FAIL
    assert result.evidence.answers[TARGET.host].outcome == "timeout"


def test_imds_absent_skips_at_the_refusal_and_azure_dns_is_skipped() -> None:
    with serve(fixture("private_3d")) as (dns_obj, [dns_server]):
        results = run(settings(f"http://127.0.0.1:{free_port()}", dns_server))
    # The refused connect is the answer (no wait for a timeout, no retry); bench/bounds.py times the silent case.
    platform = results["azure_platform"]
    assert platform.status is Status.SKIP
    assert platform.evidence.on_azure is False and platform.evidence.vm is None
    assert "refused" in platform.evidence.error.lower()
    assert results["azure_dns"].status is Status.SKIP
    assert dns_obj.queries == []


def test_imds_that_accepts_but_never_answers_is_bounded() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = run(settings(endpoint, timeout=0.4), [azure_platform.PROBE])["azure_platform"]
    # SKIP from the probe's own bound (IMDS did not answer), not the engine's ERROR at the run's deadline (0.8 s).
    assert result.status is Status.SKIP
    assert result.evidence.on_azure is False
    assert result.evidence.error == f"no answer from {endpoint} within 0.3 s"  # the IMDS bound, named


@pytest.mark.parametrize(
    ("config", "status", "on_azure"),
    [
        ({"instance_status": 404}, Status.SKIP, False),  # something else on the address, not Azure IMDS
        ({"instance_status": 429}, Status.ERROR, None),  # Azure IMDS throttling: cannot tell
        ({"instance_body": "<html>captive portal</html>"}, Status.ERROR, None),
        ({"instance": {"network": {}}}, Status.ERROR, None),
    ],
)
def test_unusable_imds_answers(config: dict[str, Any], status: Status, on_azure: bool | None) -> None:
    with imds.serve(config) as server:
        result = run(settings(server.endpoint), [azure_platform.PROBE])["azure_platform"]
    assert result.status is status
    assert result.evidence.on_azure is on_azure
    assert result.evidence.error and "\n" not in result.evidence.error


def test_partial_instance_document_gives_nulls_not_crash() -> None:
    with imds.serve({"instance": {"compute": {"name": "vm1", "location": "eastus"}}}) as server:
        result = run(settings(server.endpoint), [azure_platform.PROBE])["azure_platform"]
    assert result.status is Status.PASS
    assert result.evidence.vm.name == "vm1"
    assert result.evidence.vm.private_ip is None and result.evidence.vm.subnet_prefix is None


def test_imds_answer_is_cached_for_the_run(imds_server: imds.ImdsServer) -> None:
    ctx = new_context(settings(imds_server.endpoint))
    first = run_probes(TARGET, ctx, [azure_platform.PROBE])[0]
    second = run_probes(parse_target("fabrikam"), ctx, [azure_platform.PROBE])[0]
    assert first.status is second.status is Status.PASS
    assert len(imds_server.requests) == 1


# The emulator itself behaves like IMDS where clients depend on it ------------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_emulator_requires_metadata_header(imds_server: imds.ImdsServer) -> None:
    status, body = _get(f"{imds_server.endpoint}/metadata/instance?api-version=2021-02-01")
    assert status == 400 and "metadata header" in body["error"].lower()
    status, body = _get(
        f"{imds_server.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com"
    )
    assert status == 400


def test_emulator_token_shape(imds_server: imds.ImdsServer) -> None:
    url = f"{imds_server.endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com"
    status, body = _get(url, {"Metadata": "true"})
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["resource"] == "https://management.azure.com"
    assert body["access_token"].count(".") == 2
    assert int(body["expires_on"]) > time.time() + 3000


def test_managed_identity_credential_gets_token_from_emulator(
    imds_server: imds.ImdsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.identity import ManagedIdentityCredential

    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_server.endpoint)
    for var in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IDENTITY_HEADER", "MSI_SECRET", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    credential = ManagedIdentityCredential()
    token = credential.get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2
    assert token.expires_on > time.time() + 3000
    token_requests = [r for r in imds_server.requests if r["path"] == "/metadata/identity/oauth2/token"]
    assert token_requests[-1]["metadata"] is True
    assert token_requests[-1]["query"]["resource"] == "https://management.azure.com"


def test_default_azure_credential_probes_then_gets_token(
    imds_server: imds.ImdsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.identity import DefaultAzureCredential

    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_server.endpoint)
    for var in (
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_SECRET",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
    ):
        monkeypatch.delenv(var, raising=False)
    credential = DefaultAzureCredential(
        exclude_environment_credential=True,
        exclude_workload_identity_credential=True,
        exclude_cli_credential=True,
        exclude_powershell_credential=True,
        exclude_developer_cli_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
        exclude_interactive_browser_credential=True,
    )
    token = credential.get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2
    token_requests = [r for r in imds_server.requests if r["path"] == "/metadata/identity/oauth2/token"]
    # azure-identity 1.27 probes IMDS with a full token request (header included, retry_total=0); older
    # versions probed without the header, which the emulator answers 400 like IMDS (tested above).
    assert token_requests and all(r["metadata"] for r in token_requests)


def test_standalone_emulator_prints_ready_and_answers() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO, guarded_env

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.imds", "--listen", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=guarded_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        status, body = _get(f"http://127.0.0.1:{port}/metadata/instance?api-version=2021-02-01", {"Metadata": "true"})
    finally:
        proc.terminate()
        proc.wait(5)
    assert status == 200 and body["compute"]["name"] == "jumpbox-01"


@pytest.mark.parametrize("endpoint", ["http://[::1", "http://127.0.0.1:99999", "ftp://127.0.0.1", "http://"])
def test_malformed_imds_endpoint_is_evidence_not_a_probe_crash(endpoint: str) -> None:
    evidence = fetch_instance(endpoint, 0.2, 0.2)
    assert evidence.on_azure is None
    assert "must be http://host[:port]" in str(evidence.error)
