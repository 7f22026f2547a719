"""The OS readers' pure parsers, fed with real command outputs of Windows, macOS and Linux (fixtures/osnet)."""

from __future__ import annotations

import sys

import pytest

from aoai_diag.evidence.osnet import OsRoute, VpnProfileContent
from aoai_diag.osnet import commands, linux, macos, resolvers, routes, windows
from aoai_diag.osnet.commands import CommandResult
from aoai_diag.osnet.dnsconfig import OsDnsConfig, ResolvedLink, ResolverRule
from tests.conftest import FIXTURES

OSNET = FIXTURES / "osnet"
HOST = "contoso.openai.azure.com"


def text(path: str, encoding: str = "utf-8") -> str:
    return (OSNET / path).read_text(encoding=encoding)


# Windows ---------------------------------------------------------------------------------------------------------


def test_nrpt_policy_lists_each_namespace_with_its_servers() -> None:
    rules = windows.parse_nrpt_policy(text("windows/nrpt_policy.txt"))
    assert [(r.match, r.servers) for r in rules] == [
        (".contoso.internal", ("10.1.0.4", "10.1.0.5")),
        (".privatelink.openai.azure.com", ("10.1.0.4", "10.1.0.5")),
    ]


def test_nrpt_registry_export_decodes_multi_string_names_and_tells_policy_from_local() -> None:
    rules = windows.parse_nrpt_registry(text("windows/nrpt_registry.reg", encoding="utf-16"))
    assert [(r.match, r.servers, r.source) for r in rules] == [
        (".contoso.internal", ("10.1.0.4", "10.1.0.5"), "local"),
        (".privatelink.openai.azure.com", ("10.1.0.4", "10.1.0.5"), "local"),
        ("corp.fabrikam.com", ("10.20.0.10",), "group policy"),
    ]


def test_interface_server_table_keeps_aliases_with_spaces_and_empty_lists() -> None:
    rows = windows.parse_server_addresses(text("windows/dns_server_addresses.txt"))
    by = {(r.interface, r.family): r for r in rows}
    assert by[("Wi-Fi", "IPv4")].servers == ("192.168.1.1",) and by[("Wi-Fi", "IPv4")].index == 12
    assert by[("contoso-vnet", "IPv4")].servers == ()
    assert by[("Loopback Pseudo-Interface 1", "IPv6")].servers[0] == "fec0:0:0:ffff::1"
    assert len(rows) == 7


def test_find_netroute_tunnel_and_default() -> None:
    tunnel = windows.parse_find_netroute(text("windows/find_netroute_tunnel.txt"))
    assert tunnel == OsRoute(interface="contoso-vnet", next_hop=None, prefix="10.1.0.0/16", source="172.16.201.2")
    default = windows.parse_find_netroute(text("windows/find_netroute_default.txt"))
    assert (default.interface, default.next_hop, default.prefix) == ("Wi-Fi", "192.168.1.1", "0.0.0.0/0")
    assert routes.via_default(default, None) is True and routes.via_default(tunnel, None) is False


def test_find_netroute_garbage_is_an_error_not_a_route() -> None:
    garbage = windows.parse_find_netroute("Find-NetRoute : The term is not recognized")
    assert garbage.error and garbage.no_route is False
    # nothing printed for the address (errors silenced): Windows has no route to it, which is an answer
    assert windows.parse_find_netroute("\r\n") == OsRoute(error="no route", no_route=True)


def resolved(links: list[ResolvedLink]) -> OsDnsConfig:
    return OsDnsConfig(platform="linux", source="resolvectl", links=tuple(links))


def windows_config() -> OsDnsConfig:
    return OsDnsConfig(
        platform="windows",
        source="nrpt",
        rules=tuple(windows.parse_nrpt_policy(text("windows/nrpt_policy.txt"))),
        interfaces=tuple(windows.parse_server_addresses(text("windows/dns_server_addresses.txt"))),
    )


def test_nrpt_choice_privatelink_rule_does_not_catch_the_public_name() -> None:
    config = windows_config()
    public = resolvers.choose(config, HOST, [])
    assert public.kind == "default" and public.servers[0] == "192.168.1.1"
    assert "no NRPT rule" in public.why
    private = resolvers.choose(config, "contoso.privatelink.openai.azure.com", [])
    assert (private.kind, private.match, private.servers) == (
        "nrpt",
        ".privatelink.openai.azure.com",
        ("10.1.0.4", "10.1.0.5"),
    )
    assert {r.match for r in resolvers.split_rules(config)} == {".contoso.internal", ".privatelink.openai.azure.com"}


def test_nrpt_longest_namespace_wins_and_dot_catches_everything() -> None:
    config = OsDnsConfig(
        platform="windows",
        source="nrpt",
        rules=(
            ResolverRule(kind="nrpt", match=".", servers=("10.9.9.9",)),
            ResolverRule(kind="nrpt", match=".azure.com", servers=("10.2.2.2",)),
            ResolverRule(kind="nrpt", match=".openai.azure.com", servers=("10.1.0.4",)),
        ),
    )
    assert resolvers.choose(config, HOST, []).servers == ("10.1.0.4",)
    assert resolvers.choose(config, "example.org", []).servers == ("10.9.9.9",)


# macOS -----------------------------------------------------------------------------------------------------------


def test_scutil_keeps_main_section_drops_mdns_and_scoped() -> None:
    rules = macos.parse_scutil_dns(text("macos/scutil_dns.txt"))
    assert [(r.match, r.servers, r.interface) for r in rules] == [
        (None, ("192.168.1.1", "fd00::1"), "en0"),
        ("contoso.internal", ("10.1.0.4",), "utun4"),
        ("privatelink.openai.azure.com", ("10.1.0.4",), "utun4"),
    ]


def test_scutil_choice_default_resolver_for_uncovered_name() -> None:
    config = OsDnsConfig(
        platform="macos", source="scutil", rules=tuple(macos.parse_scutil_dns(text("macos/scutil_dns.txt")))
    )
    assert resolvers.choose(config, HOST, []).why == "default resolver #1 (en0)"
    chosen = resolvers.choose(config, "contoso.privatelink.openai.azure.com", [])
    assert chosen.kind == "scoped" and chosen.servers == ("10.1.0.4",) and chosen.interface == "utun4"


def test_resolver_file() -> None:
    rule = macos.parse_resolver_file("openai.azure.com", text("macos/resolver_openai.azure.com"))
    assert (rule.match, rule.servers, rule.order) == ("openai.azure.com", ("10.1.0.4", "10.1.0.5"), 1)
    odd_port = macos.parse_resolver_file("corp", "nameserver 10.0.0.1\nport 5353\n")
    assert odd_port.servers == ("10.0.0.1:5353",)


def test_route_get_tunnel_and_default() -> None:
    tunnel = macos.parse_route_get(text("macos/route_get_tunnel.txt"))
    assert (tunnel.interface, tunnel.next_hop, tunnel.prefix) == ("utun4", None, "10.1.0.0/16")
    default = macos.parse_route_get(text("macos/route_get_default.txt"))
    assert (default.interface, default.next_hop, default.prefix) == ("en0", "192.168.1.1", "0.0.0.0/0")
    no_route = macos.parse_route_get("route: writing to routing socket: not in table\n")
    assert no_route.error and no_route.no_route is True
    assert macos.parse_route_get("route: bad address: x\n").no_route is False


# Linux -----------------------------------------------------------------------------------------------------------


def test_resolvectl_links_with_servers_domains_and_default_route() -> None:
    sections = linux.parse_resolvectl_status(text("linux/resolvectl_status.txt"))
    assert [(s.interface, s.servers, s.domains, s.default_route) for s in sections] == [
        ("wlp2s0", ("192.168.1.1", "fd00::1"), ("home.arpa",), True),
        ("tun0", ("10.1.0.4", "10.1.0.5"), ("~contoso.internal", "~privatelink.openai.azure.com"), False),
    ]


def test_resolved_routing_sends_public_name_to_default_link_and_privatelink_to_tunnel() -> None:
    config = resolved(linux.parse_resolvectl_status(text("linux/resolvectl_status.txt")))
    public = resolvers.choose(config, HOST, ["127.0.0.53:53"])
    assert (public.kind, public.servers) == ("default", ("192.168.1.1", "fd00::1"))
    private = resolvers.choose(config, "contoso.privatelink.openai.azure.com", [])
    assert (private.kind, private.match, private.servers) == (
        "link_domain",
        "privatelink.openai.azure.com",
        ("10.1.0.4", "10.1.0.5"),
    )


def test_resolved_without_default_route_flag_uses_links_without_routing_domains() -> None:
    sections = [
        ResolvedLink(kind="link", interface="eth0", servers=("192.168.1.1",)),
        ResolvedLink(kind="link", interface="tun0", servers=("10.1.0.4",), domains=("~corp",)),
    ]
    assert linux.choose(sections, HOST)[2] == [sections[0]]


def test_ip_route_get() -> None:
    tunnel = linux.parse_ip_route_get(text("linux/ip_route_get_tunnel.json"))
    assert (tunnel.interface, tunnel.next_hop, tunnel.source) == ("tun0", "172.16.201.1", "172.16.201.2")
    assert tunnel.prefix is None  # `ip route get` does not name the table entry that matched
    local = linux.parse_ip_route_get(text("linux/ip_route_get_local.json"))
    assert local.local is True and routes.via_default(local, None) is None
    # a field of ip's JSON that is not text is not known, never carried into the evidence as something else
    odd = linux.parse_ip_route_get('[{"dst": "10.1.2.4", "dev": 7, "gateway": ["x"], "prefsrc": "10.0.0.2"}]')
    assert odd == OsRoute(source="10.0.0.2")


def test_resolv_conf_when_no_stub() -> None:
    config = resolvers.read("linux", 1.0, ["10.0.0.4:53"])
    assert config.source == "resolv.conf"
    assert resolvers.choose(config, HOST, ["10.0.0.4:53"]).servers == ("10.0.0.4:53",)


# The tunnel judgement --------------------------------------------------------------------------------------------

PROFILE = VpnProfileContent(client_address_pool=("172.16.201.0/24",), name="vnet-hub")


@pytest.mark.parametrize(
    ("route", "source", "profile", "expected"),
    [
        (OsRoute(interface="tun0", source="172.16.201.2"), None, PROFILE, True),
        (OsRoute(interface="tun0", source="192.168.1.23"), None, PROFILE, False),
        (OsRoute(interface="tun0"), "172.16.201.2", PROFILE, True),  # the UDP connect's source when the OS names none
        (OsRoute(interface="vnet-hub"), None, VpnProfileContent(name="vnet-hub"), True),
        (OsRoute(interface="utun4"), None, None, True),
        (OsRoute(interface="en0"), None, None, None),
        (OsRoute(error="network unreachable"), None, PROFILE, None),
    ],
)
def test_tunnel(route: OsRoute, source: str | None, profile: VpnProfileContent | None, expected: bool | None) -> None:
    assert routes.tunnel(route, source, profile)[0] is expected


def test_via_default_by_comparison_with_the_reference_when_no_prefix_is_known() -> None:
    reference = OsRoute(interface="wlp2s0", next_hop="192.168.1.1")
    assert routes.via_default(OsRoute(interface="wlp2s0", next_hop="192.168.1.1"), reference) is True
    assert routes.via_default(OsRoute(interface="tun0", next_hop="172.16.201.1"), reference) is False
    assert routes.via_default(OsRoute(interface="tun0"), OsRoute(error="x")) is None


# The thin adapters, for real where this machine allows ------------------------------------------------------------


def test_command_runner_reports_missing_and_slow_commands() -> None:
    missing = commands.run(["aoai-diag-no-such-command"], 1.0)
    assert missing.returncode is None and "not found" in missing.failure()
    slow = commands.run([sys.executable, "-c", "import time; time.sleep(5)"], 0.2)
    assert slow.returncode is None and "did not finish within 0.2 s" in slow.failure()
    failed = commands.run([sys.executable, "-c", "import sys; sys.exit('boom')"], 5.0)
    assert failed.returncode == 1 and "boom" in failed.failure()


def test_nrpt_falls_back_to_reg_export_when_powershell_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    exported = (OSNET / "windows/nrpt_registry.reg").read_bytes()

    def run(argv: list[str], timeout: float) -> CommandResult:
        assert argv[:2] == ["reg", "export"]
        if argv[2] != windows.LOCAL_KEY:
            return CommandResult(tuple(argv), 1, "", "ERROR: The system was unable to find the specified registry key")
        with open(argv[3], "wb") as fh:
            fh.write(exported)
        return CommandResult(tuple(argv), 0, "The operation completed successfully.", "")

    monkeypatch.setattr(commands, "powershell", lambda s, t: CommandResult(("powershell.exe",), None, "", "not found"))
    monkeypatch.setattr(commands, "run", run)
    config = windows.read_resolver_rules(2.0)
    assert config.errors == ("not found",) and config.interfaces == ()
    assert {r.match for r in config.rules} == {
        ".contoso.internal",
        ".privatelink.openai.azure.com",
        "corp.fabrikam.com",
    }
