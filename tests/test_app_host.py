"""The app_host and app_dns probes: each platform's signals, and the host's DNS path against loopback DNS servers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aoai_diag.checks import app_dns, app_host
from aoai_diag.context import Settings, format_endpoint
from aoai_diag.evidence.base import Evidence
from aoai_diag.evidence.host import AppDns, AppHost
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.osnet import apphost, hostdns
from aoai_diag.runner import new_context
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES
from tests.servers.dns_server import serve

TARGET = parse_target("contoso")
HOST = TARGET.host
SECRET = "s3cr3t-identity-header-value"
TOKEN = "eyJhbGciOi.federated-token.body"


def private_view() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "dns" / "private_3d.json").read_text()))


def public_view() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "dns" / "public_plain_3a.json").read_text()))


def resolv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    return str(path)


def app_service_env(tmp_path: Path, nameserver: str = "127.0.0.11", **extra: str) -> dict[str, str]:
    env = {
        "WEBSITE_SITE_NAME": "app-contoso",
        "WEBSITE_RESOURCE_GROUP": "rg-app",
        "WEBSITE_OWNER_NAME": "00000000-1111-2222-3333-444444444444+rg-app-WestEuropewebspace-Linux",
        "WEBSITE_INSTANCE_ID": "4f2a9c0e1b7d",
        "WEBSITE_PRIVATE_IP": "10.30.1.4",
        "IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token",
        "IDENTITY_HEADER": SECRET,
        apphost.RESOLV_CONF_VARIABLE: resolv(tmp_path, f"nameserver {nameserver}\noptions ndots:0\n"),
        apphost.SERVICE_ACCOUNT_VARIABLE: str(tmp_path / "no-such-dir"),
    }
    env.update(extra)
    return env


def pod_env(tmp_path: Path, nameserver: str, search: str, ndots: int = 5) -> dict[str, str]:
    sa = tmp_path / "sa"
    sa.mkdir(exist_ok=True)
    (sa / "token").write_text(TOKEN)
    (sa / "namespace").write_text("payments\n")
    token = tmp_path / "azure-identity-token"
    token.write_text(TOKEN)
    return {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "HOSTNAME": "api-7d9f-xk2p",
        "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "AZURE_TENANT_ID": "99999999-8888-7777-6666-555555555555",
        "AZURE_FEDERATED_TOKEN_FILE": str(token),
        "AZURE_AUTHORITY_HOST": "https://127.0.0.1:9/",
        apphost.RESOLV_CONF_VARIABLE: resolv(
            tmp_path, f"search {search}\nnameserver {nameserver}\noptions ndots:{ndots}\n"
        ),
        apphost.SERVICE_ACCOUNT_VARIABLE: str(sa),
    }


E = TypeVar("E", bound=Evidence)


def typed(outcome: Outcome, kind: type[E]) -> E:
    """The outcome's evidence as `kind`, checked to write only declared fields (read back strictly, the same)."""
    assert isinstance(outcome.evidence, kind), outcome.evidence
    assert kind.from_dict(outcome.evidence.to_dict(), strict=True) == outcome.evidence
    return outcome.evidence


def flat(outcome: Outcome) -> str:
    assert isinstance(outcome.evidence, Evidence)
    return json.dumps(outcome.evidence.to_dict())


def probe_host(env: dict[str, str], **settings: Any) -> Outcome:
    ctx = new_context(Settings(env=env, timeout=1.0, **settings))
    return asyncio.run(app_host.run(TARGET, ctx, {}))


def probe_dns(env: dict[str, str], azure_dns: tuple[str, int] = ("127.0.0.1", 9)) -> Outcome:
    ctx = new_context(Settings(env=env, timeout=1.0, azure_dns=azure_dns))
    host = asyncio.run(app_host.run(TARGET, ctx, {}))
    dep = CheckResult("app_host", host.status, host.summary, host.evidence, 0.0)
    return asyncio.run(app_dns.run(TARGET, ctx, {"app_host": dep}))


# --- app_host: each platform's signals ---------------------------------------------------------------------


def test_app_service_is_named_with_its_instance_and_integration_and_the_header_is_never_copied(tmp_path: Path) -> None:
    outcome = probe_host(app_service_env(tmp_path, WEBSITE_DNS_SERVER="10.30.0.4"))
    ev = typed(outcome, AppHost)
    assert outcome.status is Status.PASS
    assert ev.kind == "app_service" and ev.on_azure is True
    assert ev.app_service is not None
    assert ev.app_service.subscription_id == "00000000-1111-2222-3333-444444444444"
    assert ev.app_service.webspace == "rg-app-WestEuropewebspace-Linux" and ev.app_service.os == "linux"
    assert ev.app_service.vnet_integration and ev.app_service.private_ip == "10.30.1.4"
    assert ev.identity is not None and ev.identity.source == "app_service" and ev.identity.secret_present
    assert outcome.summary.startswith("App Service app app-contoso, instance 4f2a9c0e…, VNet integration 10.30.1.4")
    assert "WEBSITE_DNS_SERVER 10.30.0.4" in outcome.summary
    assert SECRET not in flat(outcome)


def test_functions_app_without_integration_says_so(tmp_path: Path) -> None:
    env = app_service_env(tmp_path, FUNCTIONS_EXTENSION_VERSION="~4")
    del env["WEBSITE_PRIVATE_IP"]
    outcome = probe_host(env)
    ev = typed(outcome, AppHost)
    assert ev.kind == "function_app"
    assert ev.app_service is not None and ev.app_service.vnet_integration is False
    assert "Functions app app-contoso" in outcome.summary and "no VNet integration" in outcome.summary


def test_container_app_and_its_identity_endpoint(tmp_path: Path) -> None:
    env = {
        "CONTAINER_APP_NAME": "ca-contoso",
        "CONTAINER_APP_REVISION": "ca-contoso--20mh1s9",
        "CONTAINER_APP_ENV_DNS_SUFFIX": "blue-sky-1234.westeurope.azurecontainerapps.io",
        "IDENTITY_ENDPOINT": "http://localhost:42356/msi/token",
        "IDENTITY_HEADER": SECRET,
        apphost.RESOLV_CONF_VARIABLE: resolv(tmp_path, "nameserver 127.0.0.11\n"),
        apphost.SERVICE_ACCOUNT_VARIABLE: str(tmp_path / "none"),
    }
    outcome = probe_host(env)
    ev = typed(outcome, AppHost)
    assert outcome.status is Status.PASS and ev.kind == "container_app"
    assert outcome.summary == (
        "Container App ca-contoso, revision ca-contoso--20mh1s9, environment blue-sky-1234.westeurope.azurecontainerapps.io"
    )
    assert ev.identity is not None and ev.identity.endpoint == "http://localhost:42356/msi/token"
    assert SECRET not in flat(outcome)


def test_pod_with_workload_identity_reads_search_list_ndots_and_mount_but_no_token(tmp_path: Path) -> None:
    search = "payments.svc.cluster.local svc.cluster.local cluster.local abc.bx.internal.cloudapp.net"
    outcome = probe_host(pod_env(tmp_path, "10.0.0.10", search))
    ev = typed(outcome, AppHost)
    assert ev.kind == "kubernetes" and ev.on_azure is True  # the node's Azure-provided DNS suffix
    assert ev.kubernetes is not None and ev.kubernetes.namespace == "payments" and ev.kubernetes.service_account_mounted
    assert ev.resolver is not None and ev.resolver.ndots == 5 and ev.resolver.nameservers == ("10.0.0.10",)
    assert ev.resolver.search == tuple(search.split())
    assert ev.identity is not None and ev.identity.source == "workload_identity" and ev.identity.token_file_readable
    assert (
        outcome.summary == "Kubernetes pod api-7d9f-xk2p, namespace payments, DNS 10.0.0.10 ndots:5, workload identity"
    )
    assert TOKEN not in flat(outcome)


def test_pod_off_azure_is_not_called_on_azure_nor_off_it(tmp_path: Path) -> None:
    outcome = probe_host(pod_env(tmp_path, "10.0.0.10", "default.svc.cluster.local"))
    assert typed(outcome, AppHost).on_azure is None


def test_azure_ml_compute(tmp_path: Path) -> None:
    env = {
        "MSI_ENDPOINT": "http://127.0.0.1:9/token",
        "MSI_SECRET": SECRET,
        apphost.RESOLV_CONF_VARIABLE: resolv(tmp_path, "nameserver 168.63.129.16\n"),
        apphost.SERVICE_ACCOUNT_VARIABLE: str(tmp_path / "none"),
    }
    outcome = probe_host(env)
    ev = typed(outcome, AppHost)
    assert ev.kind == "azure_ml" and ev.identity is not None and ev.identity.source == "azure_ml"
    assert SECRET not in flat(outcome)


def test_a_plain_machine_is_skipped_with_the_reason(tmp_path: Path) -> None:
    outcome = probe_host({apphost.SERVICE_ACCOUNT_VARIABLE: str(tmp_path), "PATH": "/usr/bin"})
    assert outcome.status is Status.SKIP and "not an app host" in outcome.summary
    assert typed(outcome, AppHost).kind is None


def test_an_unreadable_resolv_conf_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    env = app_service_env(tmp_path)
    env[apphost.RESOLV_CONF_VARIABLE] = str(tmp_path / "missing.conf")
    resolver = typed(probe_host(env), AppHost).resolver
    assert resolver is not None and resolver.error is not None
    assert resolver.error.startswith("cannot read") and resolver.nameservers == ()


def test_resolv_conf_last_search_line_wins_and_ndots_is_capped(tmp_path: Path) -> None:
    path = resolv(
        tmp_path, "search a.example\ndomain b.example\nnameserver 10.0.0.10 # cluster DNS\noptions ndots:40\n"
    )
    got = apphost.read_resolv_conf(path)
    assert got.search == ("b.example",) and got.ndots == 15 and got.nameservers == ("10.0.0.10",)


# --- the resolver's walk ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ndots", "expected"),
    [
        (HOST, 5, [f"{HOST}.ns.svc.cluster.local", f"{HOST}.cluster.local", HOST]),
        (HOST, 1, [HOST, f"{HOST}.ns.svc.cluster.local", f"{HOST}.cluster.local"]),
        (HOST, 3, [HOST, f"{HOST}.ns.svc.cluster.local", f"{HOST}.cluster.local"]),
        (HOST + ".", 5, [HOST]),
    ],
)
def test_search_expansions_follow_ndots(name: str, ndots: int, expected: list[str]) -> None:
    got = hostdns.search_expansions(name, ["ns.svc.cluster.local", "cluster.local"], ndots)
    assert [q for q, _ in got] == expected


def test_pod_resolves_the_name_itself_after_the_cluster_domains(tmp_path: Path) -> None:
    with serve(private_view()) as (_, [coredns]):
        search = "payments.svc.cluster.local svc.cluster.local cluster.local"
        outcome = probe_dns(pod_env(tmp_path, format_endpoint(coredns), search))
    ev = typed(outcome, AppDns)
    assert outcome.status is Status.PASS, outcome.summary
    assert ev.walk is not None and ev.walk.answered_by == HOST and ev.walk.hijacked_by is None
    assert [e.query for e in ev.walk.expansions] == [f"{HOST}.{d}" for d in search.split()] + [HOST]
    assert [e.answer.outcome for e in ev.walk.expansions if e.answer is not None] == ["nxdomain"] * 3 + ["answer"]
    assert ev.source == "resolv.conf"


def test_a_wildcard_search_domain_answers_first_and_is_named(tmp_path: Path) -> None:
    view = private_view()
    view["records"]["*.corp.example"] = {"a": ["10.9.9.9"], "ttl": 60}
    with serve(view) as (_, [coredns]):
        search = "payments.svc.cluster.local corp.example cluster.local"
        outcome = probe_dns(pod_env(tmp_path, format_endpoint(coredns), search))
    walk = typed(outcome, AppDns).walk
    assert outcome.status is Status.FAIL and walk is not None
    assert walk.hijacked_by == "corp.example" and walk.answered_by == f"{HOST}.corp.example"
    assert len(walk.expansions) == 2  # the walk stops where the resolver stops
    assert "search domain corp.example is tried before" in outcome.summary


def test_with_ndots_1_the_wildcard_is_never_reached(tmp_path: Path) -> None:
    view = private_view()
    view["records"]["*.corp.example"] = {"a": ["10.9.9.9"], "ttl": 60}
    with serve(view) as (_, [coredns]):
        outcome = probe_dns(pod_env(tmp_path, format_endpoint(coredns), "corp.example", ndots=1))
    walk = typed(outcome, AppDns).walk
    assert outcome.status is Status.PASS and walk is not None and walk.answered_by == HOST


def test_the_next_server_is_asked_only_when_the_first_is_silent(tmp_path: Path) -> None:
    config = {"views": {"dead": {"default": "silent"}, "good": private_view()}}
    with serve(config, "dead", "good") as (_, [dead, good]):
        env = pod_env(tmp_path, format_endpoint(dead), "cluster.local")
        path = env[apphost.RESOLV_CONF_VARIABLE]
        Path(path).write_text(
            f"search cluster.local\nnameserver {format_endpoint(dead)}\nnameserver {format_endpoint(good)}\n"
            "options ndots:5 timeout:1\n"
        )
        outcome = probe_dns(env)
    walk = typed(outcome, AppDns).walk
    assert outcome.status is Status.PASS and walk is not None
    assert {e.server for e in walk.expansions} == {format_endpoint(good)}


def test_app_service_setting_to_a_public_resolver_breaks_where_azure_dns_answers_private(tmp_path: Path) -> None:
    config = {"views": {"forwarder": public_view(), "setting": public_view(), "azure": private_view()}}
    with serve(config, "forwarder", "setting", "azure") as (_, [forwarder, setting, azure]):
        env = app_service_env(tmp_path, format_endpoint(forwarder), WEBSITE_DNS_SERVER=format_endpoint(setting))
        outcome = probe_dns(env, azure_dns=azure)
    ev = typed(outcome, AppDns)
    assert outcome.status is Status.FAIL
    assert ev.source == "WEBSITE_DNS_SERVER"
    assert [(s.chosen_by, s.role) for s in ev.servers] == [
        ("resolv.conf", "resolver"),
        ("WEBSITE_DNS_SERVER", "upstream"),
    ]
    assert ev.forwarding_break == format_endpoint(setting)
    assert ev.azure_dns is not None and ev.verdicts[format_endpoint(setting)] == "public"
    assert "its forwarding breaks the path" in outcome.summary


def test_app_service_healthy_behind_the_forwarder(tmp_path: Path) -> None:
    config = {"views": {"forwarder": private_view(), "azure": private_view()}}
    with serve(config, "forwarder", "azure") as (_, [forwarder, azure]):
        outcome = probe_dns(app_service_env(tmp_path, format_endpoint(forwarder)), azure_dns=azure)
    assert outcome.status is Status.PASS, outcome.summary
    ev = typed(outcome, AppDns)
    assert ev.source == "vnet" and ev.forwarding_break is None
    assert "servers chosen by vnet" in outcome.summary


def test_without_integration_azure_dns_is_not_asked_and_says_why(tmp_path: Path) -> None:
    with serve(public_view()) as (_, [forwarder]):
        env = app_service_env(tmp_path, format_endpoint(forwarder))
        del env["WEBSITE_PRIVATE_IP"]
        outcome = probe_dns(env)
    ev = typed(outcome, AppDns)
    assert outcome.status is Status.FAIL and ev.azure_dns is None
    assert "no VNet integration" in str(ev.azure_dns_skipped)
    assert "public" in outcome.summary


def test_nothing_known_to_ask_is_a_skip_with_the_reason(tmp_path: Path) -> None:
    env = app_service_env(tmp_path)
    env[apphost.RESOLV_CONF_VARIABLE] = resolv(tmp_path, "# empty\n")
    outcome = probe_dns(env)
    assert outcome.status is Status.SKIP and "VNet's DNS servers" in outcome.summary


def test_no_imds_on_an_app_host_is_never_called_not_an_azure_vm(tmp_path: Path) -> None:
    host = typed(probe_host(app_service_env(tmp_path)), AppHost)
    said = apphost.no_imds_summary(host, "timed out")
    assert "not an Azure VM" not in said and said.startswith("no IMDS answer (timed out); the platform says Azure: ")
    assert apphost.no_imds_summary(None, "timed out") == "not an Azure VM (IMDS did not answer)"


def test_a_dns_setting_that_is_not_an_address_is_named_not_dropped_silently(tmp_path: Path) -> None:
    config = {"views": {"forwarder": private_view(), "azure": private_view()}}
    with serve(config, "forwarder", "azure") as (_, [forwarder, azure]):
        env = app_service_env(tmp_path, format_endpoint(forwarder), WEBSITE_DNS_SERVER="dns.corp.example")
        outcome = probe_dns(env, azure_dns=azure)
    ev = typed(outcome, AppDns)
    assert ev.unusable_settings == ("WEBSITE_DNS_SERVER=dns.corp.example",)
    assert [s.chosen_by for s in ev.servers] == ["resolv.conf"]
    assert "not an address: WEBSITE_DNS_SERVER=dns.corp.example" in outcome.summary
