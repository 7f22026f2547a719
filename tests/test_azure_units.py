"""Pure pieces of the Azure layer: NSG evaluation, route selection, SDK-model conversion, discovery, the
emulator run standalone."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from aoai_diag.azure import convert, nsg_eval
from aoai_diag.azure.resources import NsgRule
from aoai_diag.blocking import run_sync
from aoai_diag.checks.arm_client_network import best_route
from aoai_diag.evidence.azure import ArmAccount, Route
from tests.azure_harness import ARM_FIXTURES, lab, topology
from tests.conftest import REPO, guarded_env


def rule(name: str, priority: int, access: str, dst: str = "*", port: str = "*", direction: str = "Outbound", src: str = "*",
         default: bool = False, protocol: str = "*") -> NsgRule:  # fmt: skip
    return NsgRule(name, priority, direction, access, protocol, (src,), ("*",), (dst,), (port,), default)


def test_lowest_priority_number_decides() -> None:
    rules = [rule("AllowAll", 200, "Allow"), rule("Deny443", 100, "Deny", "10.1.0.0/16", "443")]
    assert nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443).rule == "Deny443"
    assert nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 80).rule == "AllowAll"


@pytest.mark.parametrize(
    ("dst", "port", "protocol", "matches"),
    [
        ("VirtualNetwork", "443", "*", True),
        ("Internet", "443", "*", False),
        ("10.1.2.4", "400-500", "Tcp", True),
        ("10.1.2.4", "443", "Udp", False),
        ("10.1.2.0/24", "80", "*", False),
    ],
)
def test_prefixes_tags_ports_and_protocols(dst: str, port: str, protocol: str, matches: bool) -> None:
    rules = [rule("R", 100, "Deny", dst, port, protocol=protocol)]
    decision = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443, ["10.1.0.0/16", "10.2.0.0/16"])
    assert (decision.rule == "R") is matches


def test_unknown_service_tag_is_unresolved_not_guessed() -> None:
    rules = [rule("ToStorage", 100, "Deny", "Storage.WestEurope", "443"), rule("Allow", 200, "Allow")]
    decision = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443)
    assert decision.rule == "Allow" and decision.unresolved == ("ToStorage",)


def test_effective_rules_from_the_api_shape() -> None:
    groups = json.loads((ARM_FIXTURES / "broken" / "net.client_nsg_outbound.json").read_text())["patches"][0]["value"]
    (nsg_id, rules), = nsg_eval.effective_rules(next(iter(groups.values())))  # fmt: skip
    decision = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443, ["10.1.0.0/16", "10.2.0.0/16"])
    assert nsg_id.endswith("/nsg-jumpbox") and decision.rule == "securityRules/DenyHttpsOut"
    assert (
        nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 8443, ["10.1.0.0/16", "10.2.0.0/16"]).access
        == "Allow"
    )


def test_longest_prefix_wins_and_invalid_routes_are_ignored() -> None:
    routes = [
        Route(prefixes=("0.0.0.0/0",), next_hop_type="Internet", state="Active"),
        Route(prefixes=("10.1.0.0/16",), next_hop_type="VNetPeering", state="Active"),
        Route(prefixes=("10.1.2.4/32",), next_hop_type="InterfaceEndpoint", state="Invalid"),
        Route(prefixes=("garbage",), next_hop_type="None", state="Active"),
    ]
    assert best_route(routes, "10.1.2.4") == routes[1]
    assert best_route(routes, "192.0.2.1") == routes[0]
    assert best_route(routes[1:], "192.0.2.1") is None


def test_sdk_models_convert_to_our_types() -> None:
    from azure.mgmt.cognitiveservices.models import Account, AccountProperties, NetworkRuleSet
    from azure.mgmt.network.models import EffectiveRoute

    sdk = Account(
        kind="OpenAI",
        location="westeurope",
        properties=AccountProperties(
            custom_sub_domain_name="contoso",
            public_network_access="Disabled",
            network_acls=NetworkRuleSet(default_action="Deny"),
        ),
    )
    acct = convert.account(convert.sdk_json(sdk))
    assert (acct.custom_subdomain, acct.public_network_access, acct.default_action) == ("contoso", "Disabled", "Deny")
    # next_hop_type is an enum for some values and a plain string for others: kept as a string
    route = convert.route(
        convert.sdk_json(EffectiveRoute(next_hop_type="VirtualAppliance", address_prefix=["10.1.0.0/16"]))
    )
    assert route.next_hop_type == "VirtualAppliance" and route.prefixes == ("10.1.0.0/16",)


def test_list_accounts_returns_visible_openai_hosts(tmp_path: Path) -> None:
    from aoai_diag.azure.discovery import list_accounts

    topo = topology("healthy_jumpbox")
    extra = json.loads(json.dumps(next(r for r in topo["resources"] if r["name"] == "contoso")))
    extra["id"] = extra["id"].replace("/contoso", "/fabrikam")
    extra["name"], extra["properties"]["customSubDomainName"] = "fabrikam", "fabrikam"
    speech = json.loads(json.dumps(extra))
    speech["id"], speech["kind"], speech["properties"]["customSubDomainName"] = (
        extra["id"] + "-speech",
        "SpeechServices",
        "speechy",
    )
    topo["resources"] += [extra, speech]
    with lab(topo, tmp_path) as env:
        hosts = run_sync(list_accounts, 30.0, env.settings)
    assert hosts == ["contoso.openai.azure.com", "fabrikam.openai.azure.com"]


def test_emulator_runs_standalone(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ca = tmp_path / "ca.pem"
    cmd = [sys.executable, "-m", "tests.servers.arm_emulator", "--listen", f"127.0.0.1:{port}",
           "--config", str(ARM_FIXTURES / "broken" / "svc.pe_pending.json"), "--ca-out", str(ca)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=guarded_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        ctx = ssl.create_default_context(cafile=str(ca))
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/subscriptions?api-version=2022-12-01", headers={"Authorization": "Bearer x"}
        )
        with urllib.request.urlopen(request, context=ctx, timeout=5) as response:
            assert len(json.load(response)["value"]) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_subscription_option_limits_the_search(tmp_path: Path) -> None:
    from tests.azure_harness import status

    central_dns = "8e3f5c74-2f60-4dac-9043-5b7c9d1e3f03"
    with lab(topology("hub_spoke_third_sub"), tmp_path, subscriptions=(central_dns,)) as env:
        report, _ = env.run()
    account = next(c for c in report.checks if c.id == "arm_account")
    assert account.typed(ArmAccount).subscriptions == (central_dns,)
    assert status(report)["arm_account"] == "fail"  # the account lives in another subscription
    assert not any(m.startswith("GET") and p == "/subscriptions" for m, p in env.arm.requests)


@pytest.mark.parametrize(
    ("cloud", "base", "scope"),
    [
        ("AzureCloud", "https://management.azure.com", "https://management.azure.com/.default"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"),
        ("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"),
    ],
)
def test_cloud_picks_the_arm_endpoint_and_scope(cloud: str, base: str, scope: str) -> None:
    import time

    from aoai_diag.azure.arm_clients import ArmSession
    from aoai_diag.azure.credential import CachingCredential
    from aoai_diag.context import Settings

    session = ArmSession(Settings(cloud=cloud, env={}), CachingCredential(object(), "none"), time.monotonic() + 1)
    assert (session.base_url, session.scope) == (base, scope)
