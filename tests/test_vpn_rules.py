"""P2S VPN diagnosis from the profile, the OS's routing table and TCP: routes missing, tunnel down, profile DNS.

The laptop is stood in for where Linux cannot be that laptop: `ip -j route get` answers (real output shapes, see
fixtures/osnet/linux) and the kernel's source-address choice. The profile files, the probes and the rules are real;
tests/e2e proves the same causes inside network namespaces.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.checks import route_lookup, vpn_profile
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.diagnosis import diagnose
from aoai_diag.evidence.path import RouteLookup
from aoai_diag.model import CheckResult, Finding, Status
from aoai_diag.osnet import commands
from aoai_diag.osnet.commands import CommandResult
from tests.conftest import FIXTURES
from tests.pathprobe_support import TARGET, resolution

VPN = FIXTURES / "osnet" / "vpn"
PE = "10.1.2.4"
HOME = {"dev": "wlp2s0", "gateway": "192.168.1.1", "prefsrc": "192.168.1.23"}
TUNNEL = {"dev": "tun0", "gateway": "172.16.201.1", "prefsrc": "172.16.201.2"}


def laptop(monkeypatch: pytest.MonkeyPatch, tunnel_up: bool, carries: tuple[str, ...] = ("10.0.", "10.1.")) -> None:
    """`ip -j route get` and the kernel's source choice of a laptop whose VPN, when up, carries `carries`."""

    def in_tunnel(address: str) -> bool:
        return tunnel_up and address.startswith(carries)

    def run(argv: list[str], timeout: float, input: str | None = None, encoding: str | None = None) -> CommandResult:
        # `ip -json -batch -`: a `route get <address>` line per address in, a JSON array per answer out.
        addresses = [line.split()[2] for line in (input or "").splitlines()]
        routes = [TUNNEL if in_tunnel(a) else HOME for a in addresses]
        out = "".join(
            json.dumps([{"dst": a, **r, "flags": [], "uid": 1000, "cache": []}]) + "\n"
            for a, r in zip(addresses, routes, strict=True)
        )
        return CommandResult(tuple(argv), 0, out, "")

    def source_for(address: str, port: int) -> tuple[str | None, str | None]:
        return (TUNNEL if in_tunnel(address) else HOME)["prefsrc"], None

    monkeypatch.setattr(commands, "platform", lambda: "linux")
    monkeypatch.setattr(commands, "run", run)
    monkeypatch.setattr(route_lookup, "source_for", source_for)


def settings_for(path: Path) -> Settings:
    return Settings(vpn_profile=str(path), public_resolvers=(("1.1.1.1", 53),))


def result(probe: Any, ctx: ProbeContext, deps: dict[str, CheckResult]) -> CheckResult:
    outcome = asyncio.run(probe.run(TARGET, ctx, deps))
    # As the engine does: nothing observed (evidence None) is the probe's type at its defaults.
    evidence = outcome.evidence if outcome.evidence is not None else probe.PROBE.evidence()
    return CheckResult(probe.PROBE.id, outcome.status, outcome.summary, evidence, 1.0, outcome.reason)


def tcp(outcome: str, address: str = PE) -> CheckResult:
    attempt = {"address": address, "class": "private", "outcome": outcome, "error": None, "connect_ms": None}
    status = Status.PASS if outcome == "connected" else Status.FAIL
    return CheckResult("tcp_connect", status, "", {"port": 443, "attempts": [attempt]}, 1.0)


def evidence(profile: Path, tcp_outcome: str, *addresses: str) -> list[CheckResult]:
    ctx = ProbeContext(settings=settings_for(profile), deadline=time.monotonic() + 5)
    app = resolution(*addresses)
    vpn = result(vpn_profile, ctx, {"system_resolution": app})
    routes = result(route_lookup, ctx, {"system_resolution": app, "vpn_profile": vpn})
    return [app, vpn, routes, tcp(tcp_outcome, addresses[0])]


def causes(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.cause_id: f for f in findings}


def vpnsettings(tmp_path: Path, routes: str) -> Path:
    path = tmp_path / "VpnSettings.xml"
    path.write_text((VPN / "VpnSettings.xml").read_text().replace("10.0.0.0/16,10.1.0.0/16", routes))
    return path


def test_profile_without_the_pe_vnet_route_is_routes_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    laptop(monkeypatch, tunnel_up=True, carries=("10.0.",))
    checks = evidence(vpnsettings(tmp_path, "10.0.0.0/16"), "timeout", PE)
    found = causes(diagnose(TARGET, checks))
    assert "net.vpn_routes_missing" in found and "net.vpn_disconnected" not in found
    assert "net.not_on_private_network" not in found  # superseded: the specific cause stands alone
    detail = found["net.vpn_routes_missing"].detail
    assert "10.0.0.0/16" in detail and PE in detail and "VpnSettings.xml" in detail
    (route,) = checks[2].typed(RouteLookup).routes
    assert route.os_route is not None
    assert (route.os_route.interface, route.tunnel) == ("wlp2s0", False)


def test_exclude_route_keeps_the_pe_out(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True, carries=("10.3.",))  # the client honours the exclusion
    found = causes(diagnose(TARGET, evidence(VPN / "azurevpnconfig_custom.xml", "timeout", PE)))
    assert "excluderoutes" in found["net.vpn_routes_missing"].detail
    assert "10.1.2.0/28" in found["net.vpn_routes_missing"].detail


def test_azure_vpn_client_profile_alone_does_not_know_the_advertised_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True)
    found = causes(diagnose(TARGET, evidence(VPN / "azurevpnconfig_entra.xml", "timeout", PE)))
    assert "net.vpn_routes_missing" not in found and "net.vpn_disconnected" not in found


def test_route_in_profile_but_not_in_the_os_table_is_tunnel_down(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=False)
    checks = evidence(VPN / "VpnSettings.xml", "timeout", PE)
    found = causes(diagnose(TARGET, checks))
    assert "net.vpn_disconnected" in found and "net.vpn_routes_missing" not in found
    assert "10.1.0.0/16" in found["net.vpn_disconnected"].detail
    profile_routes = {r.prefix: r for r in checks[2].typed(RouteLookup).profile_routes}
    assert profile_routes["10.1.0.0/16"].tunnel is False and profile_routes["10.1.0.0/16"].address == "10.1.0.1"


def test_tunnel_up_and_tcp_blocked_is_not_a_vpn_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True)
    checks = evidence(VPN / "VpnSettings.xml", "timeout", PE)
    assert checks[2].typed(RouteLookup).routes[0].tunnel is True
    found = causes(diagnose(TARGET, checks))
    assert not {"net.vpn_disconnected", "net.vpn_routes_missing"} & set(found)


def test_tcp_that_connects_names_no_route_cause(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    laptop(monkeypatch, tunnel_up=False)
    found = causes(diagnose(TARGET, evidence(vpnsettings(tmp_path, "10.0.0.0/16"), "connected", PE)))
    assert not {"net.vpn_disconnected", "net.vpn_routes_missing"} & set(found)


def test_public_answer_with_a_profile_without_dns_servers_is_p2s_client_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True)
    checks = evidence(VPN / "azurevpnconfig_entra.xml", "connected", "20.43.132.10")
    found = causes(diagnose(TARGET, checks))
    finding = found["dns.p2s_client_dns"]
    assert "no <dnsservers>" in finding.detail
    assert "<dnsserver><private-resolver-inbound-ip></dnsserver>" in str(finding.remediation)
    assert "dns.resolves_public" not in found


def test_suffixes_that_skip_the_account_name_give_the_suffix_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True)
    found = causes(diagnose(TARGET, evidence(VPN / "azurevpnconfig_custom.xml", "connected", "20.43.132.10")))
    remediation = str(found["dns.p2s_client_dns"].remediation)
    assert "<dnssuffix>.openai.azure.com</dnssuffix>" in remediation
    assert "<dnssuffix>.cognitiveservices.azure.com</dnssuffix>" in remediation
    assert "<dnsservers>" not in remediation  # the servers are there already


def test_private_answer_names_no_profile_dns_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=True)
    found = causes(diagnose(TARGET, evidence(VPN / "azurevpnconfig_entra.xml", "connected", PE)))
    assert "dns.p2s_client_dns" not in found


def test_tunnel_up_without_the_pe_route_is_routes_missing_observed_in_the_os_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The package lists both prefixes, but the connected client got only the hub's: the gateway stopped advertising
    # the spoke (peering without gateway transit), which the OS's routing table shows.
    laptop(monkeypatch, tunnel_up=True, carries=("10.0.",))
    checks = evidence(VPN / "VpnSettings.xml", "timeout", PE)
    found = causes(diagnose(TARGET, checks))
    assert "net.vpn_disconnected" not in found
    detail = found["net.vpn_routes_missing"].detail
    assert "the tunnel is up (the OS routes 10.0.0.0/16 into it)" in detail and "default route (wlp2s0" in detail
    assert "route_lookup" in found["net.vpn_routes_missing"].checks


def test_a_stale_package_is_not_believed_over_the_os_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The package predates the spoke, but the connected client routes the PE into the tunnel: routes are not missing.
    laptop(monkeypatch, tunnel_up=True)
    found = causes(diagnose(TARGET, evidence(vpnsettings(tmp_path, "10.0.0.0/16"), "timeout", PE)))
    assert not {"net.vpn_disconnected", "net.vpn_routes_missing"} & set(found)


def test_no_dnsservers_in_the_file_is_not_blamed_when_the_os_shows_vpn_dns_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The gateway can push the VNet's DNS servers at connect time; the OS's NRPT then shows them.
    laptop(monkeypatch, tunnel_up=True)
    checks = evidence(VPN / "azurevpnconfig_entra.xml", "connected", "20.43.132.10")
    nrpt = {"kind": "nrpt", "match": ".", "servers": ["10.0.0.4"], "interface": None}
    os_dns = CheckResult(
        "os_resolvers",
        Status.FAIL,
        "",
        {"platform": "windows", "split_rules": [nrpt], "names": {}, "uncovered": {}},
        1.0,
    )
    assert "dns.p2s_client_dns" not in causes(diagnose(TARGET, [*checks, os_dns]))


def test_route_readers_that_fail_leave_the_tunnel_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    laptop(monkeypatch, tunnel_up=False)
    monkeypatch.setattr(
        commands, "run", lambda argv, timeout, **_: CommandResult(tuple(argv), None, "", "ip not found")
    )
    checks = evidence(VPN / "VpnSettings.xml", "timeout", PE)
    assert all(r.error == "ip not found" and not r.no_route for r in checks[2].typed(RouteLookup).profile_routes)
    assert "net.vpn_disconnected" not in causes(diagnose(TARGET, checks))


def test_forced_tunnel_with_an_unrecognised_interface_is_not_called_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 0/1 + 128/1 through a tunnel whose interface name and pool are unknown: the public reference leaves the same
    # way, so "same as the default route" proves nothing about the tunnel.
    tunnel = {"dev": "corpvpn", "gateway": "10.250.0.1", "prefsrc": "10.250.0.7"}

    def run(argv: list[str], timeout: float, input: str | None = None, encoding: str | None = None) -> CommandResult:
        addresses = [line.split()[2] for line in (input or "").splitlines()]
        return CommandResult(tuple(argv), 0, "".join(json.dumps([{"dst": a, **tunnel}]) + "\n" for a in addresses), "")

    monkeypatch.setattr(commands, "platform", lambda: "linux")
    monkeypatch.setattr(commands, "run", run)
    monkeypatch.setattr(route_lookup, "source_for", lambda address, port: (tunnel["prefsrc"], None))
    profile = tmp_path / "azurevpnconfig.xml"
    forced = "<includeroutes><route><destination>0.0.0.0</destination><mask>1</mask></route>"
    forced += "<route><destination>128.0.0.0</destination><mask>1</mask></route></includeroutes>"
    text = (VPN / "azurevpnconfig_entra.xml").read_text()
    profile.write_text(text.replace('<clientconfig i:nil="true" />', f"<clientconfig>{forced}</clientconfig>"))
    checks = evidence(profile, "timeout", PE)
    assert checks[2].typed(RouteLookup).routes[0].via_default is True  # the comparison alone would say "default"
    assert not {"net.vpn_disconnected", "net.vpn_routes_missing"} & set(causes(diagnose(TARGET, checks)))
