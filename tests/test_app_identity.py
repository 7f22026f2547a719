"""The app host's identity: the real azure-identity against loopback endpoints that speak each platform's protocol
(App Service's 2019-08-01 X-IDENTITY-HEADER, Azure ML's MSI_ENDPOINT + secret, workload identity's token exchange at
an emulated authority), and the Azure layer running on it without IMDS."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError

from aoai_diag.azure.credential import build_credential
from aoai_diag.context import Settings
from tests.azure_harness import lab, status, topology
from tests.servers import arm_emulator, identity_endpoint

SECRET = "platform-header-value"
ARM_SCOPE = "https://management.azure.com/.default"
DEAD_IMDS = "http://127.0.0.1:9"
PLATFORM_VARIABLES = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
)


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean process environment: azure-identity and MSAL read the platform's variables from os.environ."""
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def settings_from_process(**overrides: object) -> Settings:
    env = {k: v for k, v in os.environ.items() if k in PLATFORM_VARIABLES or k == "REQUESTS_CA_BUNDLE"}
    env["PATH"] = ""  # no az: the platform's identity is the only source
    return Settings(env=env, imds_endpoint=DEAD_IMDS, timeout=2.0, **overrides)  # type: ignore[arg-type]


def test_app_service_identity_endpoint_2019_08_01(platform_env: pytest.MonkeyPatch) -> None:
    with identity_endpoint.serve(SECRET) as server:
        platform_env.setenv("IDENTITY_ENDPOINT", server.endpoint)
        platform_env.setenv("IDENTITY_HEADER", SECRET)
        credential = build_credential(settings_from_process(), on_azure=False, timeout=2.0)
        token = credential.get_token(ARM_SCOPE)
    assert credential.source == "managed_identity(app_service)"
    assert token.token in server.tokens
    (request,) = server.requests
    assert request["api_version"] == "2019-08-01" and request["header"] == "X-IDENTITY-HEADER"
    assert request["header_ok"] and request["resource"] == "https://management.azure.com"


def test_app_service_wrong_header_is_an_authentication_error_not_a_token(platform_env: pytest.MonkeyPatch) -> None:
    with identity_endpoint.serve(SECRET) as server:
        platform_env.setenv("IDENTITY_ENDPOINT", server.endpoint)
        platform_env.setenv("IDENTITY_HEADER", "stale-header")
        credential = build_credential(settings_from_process(), on_azure=False, timeout=2.0)
        with pytest.raises(ClientAuthenticationError):
            credential.get_token(ARM_SCOPE)
    assert server.tokens == [] and server.requests and not server.requests[0]["header_ok"]


def test_azure_ml_msi_endpoint_and_secret(platform_env: pytest.MonkeyPatch) -> None:
    with identity_endpoint.serve(SECRET) as server:
        platform_env.setenv("MSI_ENDPOINT", server.endpoint)
        platform_env.setenv("MSI_SECRET", SECRET)
        credential = build_credential(settings_from_process(), on_azure=False, timeout=2.0)
        token = credential.get_token(ARM_SCOPE)
    assert credential.source == "managed_identity(azure_ml)"
    assert token.token in server.tokens
    assert server.requests[0]["api_version"] == "2017-09-01" and server.requests[0]["header"] == "secret"


@pytest.mark.parametrize(("file_token", "works"), [("federated-token", True), ("someone-elses-token", False)])
def test_workload_identity_exchanges_the_token_file_at_the_authority(
    platform_env: pytest.MonkeyPatch, tmp_path: Path, file_token: str, works: bool
) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(file_token)
    ca = tmp_path / "ca.pem"
    with arm_emulator.serve({"subscriptions": [], "resources": []}, ca) as authority:
        platform_env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
        platform_env.setenv("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
        platform_env.setenv("AZURE_TENANT_ID", "tenant-1")
        platform_env.setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/")  # overridden below
        platform_env.setenv("REQUESTS_CA_BUNDLE", str(ca))
        credential = build_credential(
            settings_from_process(authority_host=authority.endpoint), on_azure=False, timeout=2.0
        )
        assert credential.source == "workload_identity"
        if works:
            token = credential.get_token(ARM_SCOPE)
            assert token.token in authority.tokens
        else:
            with pytest.raises(ClientAuthenticationError):
                credential.get_token(ARM_SCOPE)
        assert ("POST", "/tenant-1/oauth2/v2.0/token") in authority.requests


def test_the_azure_layer_runs_on_an_app_service_identity_without_imds(
    platform_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    topo = topology("healthy_jumpbox")
    topo.pop("imds", None)
    with identity_endpoint.serve(SECRET) as server, lab(topo, tmp_path) as azure:
        platform_env.setenv("IDENTITY_ENDPOINT", server.endpoint)
        platform_env.setenv("IDENTITY_HEADER", SECRET)
        env = {k: v for k, v in azure.settings.env.items() if not k.startswith("AZURE_")}
        env.update({"IDENTITY_ENDPOINT": server.endpoint, "IDENTITY_HEADER": SECRET})
        report, _ = azure.run(settings=replace(azure.settings, env=env))
    checks = {c.id: c for c in report.checks}
    assert status(report)["arm_access"] == "pass", checks["arm_access"].summary
    assert checks["arm_access"].evidence.credential == "managed_identity(app_service)"
    assert server.tokens and all(r["header_ok"] for r in server.requests)
