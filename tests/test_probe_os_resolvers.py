"""os_resolvers: the OS's own per-name DNS choice (Windows NRPT stood in: the commands cannot run on Linux), and the
servers it picks asked for real on loopback; then the diagnosis from that evidence."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aoai_diag.checks import os_resolvers, vpn_profile
from aoai_diag.context import Endpoint, ProbeContext, Settings
from aoai_diag.diagnosis import diagnose
from aoai_diag.model import CheckResult, Status
from aoai_diag.osnet import commands
from aoai_diag.osnet.commands import CommandResult
from aoai_diag.osnet.windows import MARK
from tests.conftest import FIXTURES
from tests.pathprobe_support import TARGET, resolution
from tests.servers.dns_server import serve

HOST = TARGET.host
VPN = FIXTURES / "osnet" / "vpn"


def view(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "dns" / f"{name}.json").read_text())


@pytest.fixture
def servers() -> Iterator[Callable[..., list[Endpoint]]]:
    stack: list[Any] = []

    def start(**named: dict[str, Any]) -> list[Endpoint]:
        manager = serve({"views": named}, *named)
        stack.append(manager)
        return manager.__enter__()[1]

    yield start
    for manager in stack:
        manager.__exit__(None, None, None)


def windows(monkeypatch: pytest.MonkeyPatch, nrpt: str, interfaces: str) -> list[str]:
    """This machine answers as Windows would: `Get-DnsClientNrptPolicy` and `Get-DnsClientServerAddress` outputs."""
    ran: list[str] = []

    def powershell(script: str, timeout: float) -> CommandResult:
        # One PowerShell process prints both cmdlets' outputs, each after its marker line.
        ran.extend(word for word in ("Get-DnsClientNrptPolicy", "Get-DnsClientServerAddress") if word in script)
        out = f"{MARK}nrpt\r\n{nrpt}{MARK}servers\r\n{interfaces}"
        return CommandResult(("powershell.exe",), 0, out, "")

    monkeypatch.setattr(commands, "platform", lambda: "windows")
    monkeypatch.setattr(commands, "powershell", powershell)
    return ran


def nrpt_text(namespace: str, server: Endpoint) -> str:
    return f"\r\nNamespace                        : {namespace}\r\nNameServers                      : {{{server[0]}:{server[1]}}}\r\n\r\n"


def interfaces_text(server: Endpoint) -> str:
    return (
        "InterfaceAlias               Interface Address ServerAddresses\r\n"
        "--------------               --------- ------- ---------------\r\n"
        "vnet-hub                            27 IPv4    {}\r\n"
        f"Wi-Fi                               12 IPv4    {{{server[0]}:{server[1]}}}\r\n"
    )


def run(app: CheckResult) -> CheckResult:
    ctx = ProbeContext(settings=Settings(timeout=1.0), deadline=time.monotonic() + 5)
    outcome = asyncio.run(os_resolvers.run(TARGET, ctx, {"system_resolution": app}))
    return CheckResult("os_resolvers", outcome.status, outcome.summary, outcome.evidence, 1.0, outcome.reason)


def test_nrpt_rule_for_privatelink_only_sends_the_name_to_home_dns_and_names_split_dns(
    monkeypatch: pytest.MonkeyPatch, servers: Callable[..., list[Endpoint]]
) -> None:
    home, tunnel = servers(home=view("public_privatelink_3c"), tunnel=view("private_3d"))
    ran = windows(monkeypatch, nrpt_text(".privatelink.openai.azure.com", tunnel), interfaces_text(home))
    app = resolution("20.43.132.10")
    result = run(app)
    assert ran == ["Get-DnsClientNrptPolicy", "Get-DnsClientServerAddress"]
    primary = result.evidence.names[HOST]
    assert (primary.kind, primary.verdict, primary.app) == ("default", "public", "public")
    assert primary.servers == (f"{home[0]}:{home[1]}",) and "no NRPT rule" in str(primary.why)
    tunnel_answer = result.evidence.uncovered[HOST][f"{tunnel[0]}:{tunnel[1]}"]
    assert tunnel_answer.addresses == ("10.20.1.5",)
    assert result.status is Status.FAIL

    findings = diagnose(TARGET, [app, result])
    split = [f for f in findings if f.cause_id == "dns.split_dns_nrpt"]
    assert split, [f.cause_id for f in findings]
    assert ".privatelink.openai.azure.com" in split[0].detail and "10.20.1.5" in split[0].detail
    assert "Add-DnsClientNrptRule -Namespace '.openai.azure.com'" in str(split[0].remediation)
    assert "dns.resolves_public" not in {f.cause_id for f in findings}

    # With the Azure VPN Client profile that lists no <dnsservers>: the OS shows the VPN's DNS rules all the same
    # (the gateway pushed the VNet's servers), so the NRPT rule, not the file, is the story.
    ctx = ProbeContext(
        settings=Settings(vpn_profile=str(VPN / "azurevpnconfig_entra.xml")), deadline=time.monotonic() + 5
    )
    outcome = vpn_profile.collect(TARGET, ctx, {"system_resolution": app})
    profile = CheckResult("vpn_profile", outcome.status, outcome.summary, outcome.evidence, 1.0)
    with_profile = {f.cause_id for f in diagnose(TARGET, [app, result, profile])}
    assert "dns.split_dns_nrpt" in with_profile and "dns.p2s_client_dns" not in with_profile


def test_nrpt_exemption_sends_the_name_to_home_dns_and_the_finding_names_the_exemption(
    monkeypatch: pytest.MonkeyPatch, servers: Callable[..., list[Endpoint]]
) -> None:
    # An exemption (a rule with no DNS server, as DirectAccess writes them) for the account's zone beside the VPN's
    # rule for its own domain: Windows sends the name to the interfaces' servers, not "no server"
    # (https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/ee649207(v=ws.10)).
    home, tunnel = servers(home=view("public_privatelink_3c"), tunnel=view("private_3d"))
    nrpt = json.dumps(
        [
            {
                "Namespace": ".contoso.internal",
                "NameServers": [f"{tunnel[0]}:{tunnel[1]}"],
                "DirectAccessDnsServers": None,
            },
            {"Namespace": ".openai.azure.com", "NameServers": None, "DirectAccessDnsServers": None},
        ]
    )
    windows(monkeypatch, nrpt + "\r\n", interfaces_text(home))
    app = resolution("20.43.132.10")
    result = run(app)
    primary = result.evidence.names[HOST]
    assert (primary.kind, primary.match, primary.verdict) == ("default", ".openai.azure.com", "public")
    assert primary.servers == (f"{home[0]}:{home[1]}",) and "exemption" in str(primary.why)
    assert result.evidence.uncovered[HOST][f"{tunnel[0]}:{tunnel[1]}"].addresses == ("10.20.1.5",)
    (split,) = [f for f in diagnose(TARGET, [app, result]) if f.cause_id == "dns.split_dns_nrpt"]
    assert "an NRPT exemption for .openai.azure.com sends" in split.detail
    assert "Remove-DnsClientNrptRule" in str(split.remediation)


def test_nrpt_rule_covering_the_name_passes_and_no_split_dns(
    monkeypatch: pytest.MonkeyPatch, servers: Callable[..., list[Endpoint]]
) -> None:
    home, tunnel = servers(home=view("public_privatelink_3c"), tunnel=view("private_3d"))
    windows(monkeypatch, nrpt_text(".openai.azure.com", tunnel), interfaces_text(home))
    app = resolution("10.20.1.5")
    result = run(app)
    primary = result.evidence.names[HOST]
    assert (primary.kind, primary.match, primary.verdict) == ("nrpt", ".openai.azure.com", "private")
    assert result.status is Status.PASS and HOST not in result.evidence.uncovered
    assert "contoso.cognitiveservices.azure.com" in result.evidence.uncovered  # .openai.azure.com only
    assert "dns.split_dns_nrpt" not in {f.cause_id for f in diagnose(TARGET, [app, result])}


def test_application_view_disagreeing_with_the_os_dns_warns(
    monkeypatch: pytest.MonkeyPatch, servers: Callable[..., list[Endpoint]]
) -> None:
    # A hosts entry gives the application the private address; the DNS the OS would ask answers publicly.
    [home] = servers(home=view("public_privatelink_3c"))
    windows(monkeypatch, "", interfaces_text(home))
    result = run(resolution("10.1.2.4"))
    assert result.status is Status.WARN and result.evidence.names[HOST].disagree is True
    assert "getaddrinfo disagrees" in result.summary


def test_unreadable_os_configuration_is_an_error_not_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "platform", lambda: "windows")
    monkeypatch.setattr(
        commands, "powershell", lambda script, timeout: CommandResult(("powershell.exe",), None, "", "not found")
    )
    result = run(resolution("10.1.2.4"))
    assert result.status is Status.ERROR and result.evidence.errors


def test_switched_off_when_resolvers_are_given() -> None:
    assert os_resolvers.PROBE.disabled(Settings(resolvers=(("127.0.0.1", 53),)))
    assert os_resolvers.PROBE.disabled(Settings()) is None
