"""The OS parsers on outputs as people published them (issue 20): split-tunnel DNS, half-default routes, NRPT
exemptions and host rules, PowerShell's display limits, ProxyOverride as each client library reads it.

Each fixture in fixtures/osnet/ reproduces the shape of a published output (addresses and names changed where the
case needed them); each test names its public source.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from aoai_diag.checks.proxy_settings import evaluate
from aoai_diag.evidence.osnet import OsRoute, SplitRule
from aoai_diag.evidence.path import WindowsProxy, WinHttpProxy, WinInetProxy
from aoai_diag.osnet import commands, linux, macos, resolvers, routes, windows, winproxy
from aoai_diag.osnet.commands import CommandResult
from aoai_diag.osnet.dnsconfig import InterfaceServers, OsDnsConfig, ResolvedLink, ResolverRule
from tests.conftest import FIXTURES

OSNET = FIXTURES / "osnet"
HOST = "contoso.openai.azure.com"
PRIVATELINK = "contoso.privatelink.openai.azure.com"


def text(path: str) -> str:
    return (OSNET / path).read_text(encoding="utf-8")


def links(sections: list[ResolvedLink]) -> OsDnsConfig:
    return OsDnsConfig(platform="linux", source="resolvectl", links=tuple(sections))


def resolved(fixture: str) -> OsDnsConfig:
    return links(linux.parse_resolvectl_status(text(fixture)))


# Linux: systemd-resolved ------------------------------------------------------------------------------------------


def test_full_tunnel_route_only_domain_takes_every_name_from_the_default_route_link() -> None:
    # Shape: `resolvectl status` with `DNS Domain: ~.` on tun0 set by a VPN client
    # (https://github.com/SagerNet/sing-box/issues/477) beside a +DefaultRoute Wi-Fi link
    # (https://github.com/systemd/systemd/issues/18855). Rule: systemd-resolved.service(8), "Protocols and Routing":
    # a link with "~." gets the names no more specific domain matches, and other links are not considered.
    sections = linux.parse_resolvectl_status(text("linux/resolvectl_full_tunnel.txt"))
    assert [(s.interface, s.domains, s.default_route) for s in sections] == [
        ("wlp2s0", ("lan",), True),
        ("tun0", ("~.",), False),
    ]
    public = resolvers.choose(resolved("linux/resolvectl_full_tunnel.txt"), HOST, ["127.0.0.53:53"])
    assert (public.kind, public.match, public.servers, public.interface) == (
        "link_domain",
        ".",
        ("172.19.0.2",),
        "tun0",
    )
    assert "~." in public.why
    # a name under the Wi-Fi link's search domain has more labels than "." and goes there only
    printer = resolvers.choose(resolved("linux/resolvectl_full_tunnel.txt"), "printer.lan", [])
    assert (printer.interface, printer.servers) == ("wlp2s0", ("192.168.1.1", "fdb8:7b34:b3d9::1"))
    # `~.` is the catch-all, not a per-domain rule
    assert resolvers.split_rules(resolved("linux/resolvectl_full_tunnel.txt")) == [
        SplitRule(kind="link_domain", match="lan", servers=("192.168.1.1", "fdb8:7b34:b3d9::1"), interface="wlp2s0")
    ]


def test_systemd_245_defaultroute_setting_lines_and_two_catch_all_links() -> None:
    # Shape: systemd 240-245 print `DefaultRoute setting: yes|no` per link; two links carrying `~.`, one with a
    # link-local IPv6 server, trailing blanks kept (https://documentation.ubuntu.com/lxd/en/latest/howto/network_bridge_resolved/
    # shows the per-link block; https://github.com/jonathanio/update-systemd-resolved/issues/59 the Global block
    # with Fallback DNS Servers and DNSSEC NTA lists).
    sections = linux.parse_resolvectl_status(text("linux/resolvectl_v245_catchall.txt"))
    by = {s.interface: s for s in sections}
    assert by[None].fallback == ("1.1.1.1", "9.9.9.10", "2606:4700:4700::1111") and by[None].servers == ()
    assert (by["tun0"].default_route, by["tun0"].domains) == (False, ("~privatelink.openai.azure.com",))
    assert by["enx16d00deaa81b"].servers == ("172.20.10.1", "fe80::c4f:4431:880b:18ca")
    assert (by["wlp3s0"].default_route, by["wlp3s0"].domains) == (False, ("~.",))
    assert "enp0s25" not in by  # no DNS server: nothing to route to
    config = resolved("linux/resolvectl_v245_catchall.txt")
    private = resolvers.choose(config, PRIVATELINK, [])
    assert (private.match, private.interface) == ("privatelink.openai.azure.com", "tun0")
    # both ~. links take the public name, whatever their DefaultRoute (it only governs unmatched names)
    public = resolvers.choose(config, HOST, [])
    assert (public.match, public.interface) == (".", "enx16d00deaa81b, wlp3s0")


def test_systemd_257_default_route_lines_and_the_fallback_servers() -> None:
    # Shape: systemd 257 adds `Default Route: yes|no` below the servers (https://github.com/systemd/systemd/issues/40183).
    config = resolved("linux/resolvectl_v257.txt")
    chosen = resolvers.choose(config, HOST, [])
    assert (chosen.kind, chosen.interface, chosen.servers) == (
        "default",
        "eno1",
        ("10.64.0.254", "fd64::fffe"),
    )
    # the same output without the Protocols lines: the `Default Route:` lines alone decide
    bare = "\n".join(line for line in text("linux/resolvectl_v257.txt").splitlines() if "Protocols:" not in line)
    sections = linux.parse_resolvectl_status(bare)
    assert [(s.interface, s.default_route) for s in sections] == [(None, None), ("eno2", False), ("eno1", True)]
    # no default-route link and no global server: the fallback servers answer
    off = linux.parse_resolvectl_status(bare.replace("Default Route: yes", "Default Route: no"))
    fallback = resolvers.choose(links(off), HOST, [])
    assert fallback.interface == "fallback" and fallback.servers[:2] == ("1.1.1.1", "8.8.8.8")


def test_longest_domain_counts_labels_and_unset_defaultroute_follows_the_route_only_domains() -> None:
    # systemd.network(5) DNSDefaultRoute=: unset, a link is a default route unless it has a route-only domain other
    # than "~."; systemd-resolved.service(8): the matching domain with the most labels wins.
    sections = [
        ResolvedLink(kind="link", interface="eth0", servers=("192.168.1.1",), domains=("corp",)),
        ResolvedLink(kind="link", interface="tun0", servers=("10.1.0.4",), domains=("~a.b.corp",)),
        ResolvedLink(kind="link", interface="wg0", servers=("10.9.0.1",), domains=("~x.corp",)),
    ]
    assert linux.choose(sections, "h.a.b.corp")[1:] == ("a.b.corp", [sections[1]])
    assert linux.choose(sections, "h.x.corp")[2] == [sections[2]]
    assert linux.choose(sections, HOST)[2] == [sections[0]]  # tun0 and wg0 carry route-only domains


# macOS --------------------------------------------------------------------------------------------------------------


def test_half_default_route_is_a_tunnel_route_not_the_default() -> None:
    # Shape: `route get 1` on macOS with a VPN up prints `destination: default` with `mask: 128.0.0.0`
    # (https://github.com/dylanaraps/neofetch/pull/2361); 0/1 + 128/1 is how VPN clients take every address
    # (https://git.zx2c4.com/wireguard-windows/about/docs/netquirk.md).
    lower = macos.parse_route_get(text("macos/route_get_half_default.txt"))
    assert (lower.prefix, lower.interface, lower.next_hop) == ("0.0.0.0/1", "utun3", "192.168.12.1")
    upper = macos.parse_route_get(text("macos/route_get_upper_half.txt"))
    assert upper.prefix == "128.0.0.0/1"
    for half in (lower, upper):
        assert routes.via_default(half, None) is False
        assert routes.tunnel(half, None, None)[0] is True
    assert routes.tunnel(lower, None, None)[1].startswith("half-default route 0.0.0.0/1")
    # the real default stays the default
    assert macos.parse_route_get(text("macos/route_get_default.txt")).prefix == "0.0.0.0/0"


def test_ipv6_default_and_masks_written_as_addresses() -> None:
    # Shape: an IPv6 default through a utun interface with a scoped link-local gateway
    # (https://github.com/gravitational/teleport/pull/66851 lists such `default fe80::%utun0` routes).
    v6 = macos.parse_route_get(text("macos/route_get_default_v6.txt"))
    assert (v6.prefix, v6.next_hop, v6.interface) == ("::/0", "fe80::%utun0", "utun0")
    half = "   route to: 2001:db8::1\ndestination: default\n       mask: 8000::\n  interface: utun4\n"
    assert macos.parse_route_get(half).prefix == "::/1"
    unreadable = "   route to: 10.1.2.4\ndestination: 10.1.0.0\n       mask: 255.x\n  interface: utun4\n"
    assert macos.parse_route_get(unreadable).prefix is None  # unknown, never a made-up prefix


def test_scutil_without_a_default_nameserver_does_not_borrow_the_scoped_one() -> None:
    # Shape: Tunnelblick's report (https://github.com/Tunnelblick/Tunnelblick/pull/452): the main section's
    # resolver #1 has no server and reachability printed on a bare line; only the scoped section lists servers.
    rules = macos.parse_scutil_dns(text("macos/scutil_dns_scoped_only.txt"))
    assert rules == [ResolverRule(kind="default")]
    chosen = resolvers.choose(scutil(rules), HOST, ["8.8.8.8:53"])
    assert chosen.servers == ()  # the probe then says it has no server to ask, not "8.8.8.8"


def test_scutil_split_vpn_with_ipv6_and_zone_ids() -> None:
    # Shape: a split-tunnel VPN's supplemental resolver before the Wi-Fi one, IPv6 servers
    # (https://github.com/eduvpn/apple/issues/250), plus a per-domain resolver for the private zone.
    rules = macos.parse_scutil_dns(text("macos/scutil_dns_split_vpn.txt"))
    assert [(r.match, r.servers, r.interface) for r in rules] == [
        (None, ("10.83.200.1", "fdbf:5677:c5d:e515::1"), "utun2"),
        (None, ("192.168.178.1", "fe80::1%en0"), "en0"),
        ("privatelink.openai.azure.com", ("10.83.200.1",), "utun2"),
    ]
    chosen = resolvers.choose(scutil(rules), PRIVATELINK, [])
    assert (chosen.kind, chosen.servers, chosen.interface) == ("scoped", ("10.83.200.1",), "utun2")


def scutil(rules: list[ResolverRule]) -> OsDnsConfig:
    return OsDnsConfig(platform="macos", source="scutil", rules=tuple(rules))


# Windows: NRPT and interface servers ---------------------------------------------------------------------------------


def windows_config(nrpt: str, servers: str) -> OsDnsConfig:
    return OsDnsConfig(
        platform="windows",
        source="nrpt",
        rules=tuple(windows.parse_nrpt_policy(text(nrpt))),
        interfaces=tuple(windows.parse_server_addresses(text(servers))),
    )


def test_nrpt_json_host_rules_exemptions_and_directaccess() -> None:
    # Shapes: `Get-DnsClientNrptPolicy | Select-Object ... | ConvertTo-Json`; a DirectAccess rule served by the
    # DNS64 on the DirectAccess server and a host exempted from it
    # (https://directaccess.richardhicks.com/2014/01/13/troubleshooting-name-resolution-issues-on-directaccess-clients/);
    # host rules have no leading dot (https://learn.microsoft.com/powershell/module/dnsclient/add-dnsclientnrptrule).
    rules = windows.parse_nrpt_policy(text("windows/nrpt_policy.json"))
    assert [(r.match, r.servers, r.exempt) for r in rules] == [
        (".corp.contoso.com", ("2002:62bd:d898:3333::1",), False),
        ("nls.corp.contoso.com", (), True),
        (".privatelink.openai.azure.com", ("10.1.0.4", "10.1.0.5"), False),
        ("contoso.openai.azure.com", ("10.1.0.4",), False),
        (".openai.azure.com", (), True),
    ]
    config = windows_config("windows/nrpt_policy.json", "windows/dns_server_addresses.json")
    host_rule = resolvers.choose(config, HOST, [])
    assert (host_rule.kind, host_rule.match, host_rule.servers) == ("nrpt", HOST, ("10.1.0.4",))
    # the host rule is not a suffix: a name under it falls to the exemption for .openai.azure.com
    below = resolvers.choose(config, "x." + HOST, [])
    assert (below.kind, below.match) == ("default", ".openai.azure.com")
    assert below.servers[:2] == ("192.168.1.1", "10.1.0.4") and "exemption" in below.why
    assert resolvers.choose(config, PRIVATELINK, []).servers == ("10.1.0.4", "10.1.0.5")
    assert resolvers.choose(config, "intranet.corp.contoso.com", []).servers == ("2002:62bd:d898:3333::1",)
    nls = resolvers.choose(config, "nls.corp.contoso.com", [])
    assert (nls.kind, nls.match) == ("default", "nls.corp.contoso.com")


def test_interface_servers_json_keeps_every_server_non_english_names_and_zone_ids() -> None:
    # Shapes: `Get-DnsClientServerAddress` on a Chinese-language Windows (https://github.com/PowerShell/PowerShell/issues/10987),
    # AddressFamily as the numbers ConvertTo-Json writes (2, 23), the site-local defaults with zone ids.
    rows = windows.parse_server_addresses(text("windows/dns_server_addresses.json"))
    by = {(r.interface, r.family): r for r in rows}
    assert by[("乙太網路", "IPv4")].servers == (
        "10.1.0.4",
        "10.1.0.5",
        "10.1.0.6",
        "10.1.0.7",
        "10.1.0.8",
        "10.1.0.9",
    )
    assert by[("乙太網路", "IPv6")].servers[0] == "fec0:0:0:ffff::1%1"
    assert by[("區域連線* 9", "IPv4")].servers == () and by[("Ethernet-Verbindung 2", "IPv4")].servers == ()
    assert not any(r.truncated for r in rows)
    # one object (ConvertTo-Json without @()) reads the same
    single = '{"InterfaceAlias":"Wi-Fi","InterfaceIndex":4,"AddressFamily":"IPv4","ServerAddresses":"192.168.1.1"}'
    assert windows.parse_server_addresses(single) == [
        InterfaceServers(interface="Wi-Fi", index=4, family="IPv4", servers=("192.168.1.1",))
    ]


def test_default_width_table_cut_values_are_unknown_never_addresses() -> None:
    # Shape: the default table of `Get-DnsClientServerAddress` (https://github.com/PowerShell/PowerShell/issues/10987:
    # wide characters shift the columns), lists cut after $FormatEnumerationLimit items and cells cut at the column
    # width with "..." or, in PowerShell 7, "…"
    # (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_preference_variables).
    rows = windows.parse_server_addresses(text("windows/dns_server_addresses_default_width.txt"))
    by = {(r.interface, r.family): r for r in rows}
    assert len(rows) == 8  # no cut row dropped
    assert by[("乙太網路", "IPv4")].servers == ("10.1.0.4", "10.1.0.5", "10.1.0.6")
    assert by[("乙太網路", "IPv6")].servers == ("fec0:0:0:ffff::1%1", "fec0:0:0:ffff::2%1")
    assert by[("vEthernet (WSL)", "IPv4")].servers == ("172.24.96.1", "172.24.96.2", "172.24.96.3")
    assert all(by[k].truncated for k in [("乙太網路", "IPv4"), ("乙太網路", "IPv6"), ("vEthernet (WSL)", "IPv4")])
    assert by[("Bluetooth Network Connecti...", "IPv4")].truncated is True  # the alias itself was cut
    assert by[("Wi-Fi", "IPv4")].truncated is False
    # every server kept is a whole address
    assert all(ipaddress.ip_address(s.split("%", 1)[0]) for r in rows for s in r.servers)


def test_formatted_nrpt_fallback_marks_a_cut_list_and_reads_an_empty_one_as_exemption() -> None:
    # Shape: `Get-DnsClientNrptPolicy | Format-List *` (https://github.com/OpenVPN/openvpn/issues/1047), a rule with
    # more servers than $FormatEnumerationLimit shows, and a WPAD exemption.
    rules = windows.parse_nrpt_policy(text("windows/nrpt_policy_cut.txt"))
    assert rules[0].servers == ("10.20.0.10", "10.20.0.11", "10.20.0.12") and rules[0].truncated is True
    assert rules[0].exempt is False  # a cut list is not "no server"
    assert rules[1].match == "wpad.corp.fabrikam.com" and rules[1].exempt is True
    config = OsDnsConfig(platform="windows", source="nrpt", rules=tuple(rules))
    assert "cut" in resolvers.choose(config, "app.corp.fabrikam.com", []).why


def test_reader_asks_for_json_and_reports_a_cut_text_output_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts: list[str] = []

    def powershell(script: str, timeout: float) -> CommandResult:
        scripts.append(script)
        out = f"{windows.MARK}nrpt\r\n{text('windows/nrpt_policy_cut.txt')}{windows.MARK}servers\r\n"
        out += text("windows/dns_server_addresses_default_width.txt")
        return CommandResult(("powershell.exe",), 0, out, "")

    monkeypatch.setattr(commands, "powershell", powershell)
    config = windows.read_resolver_rules(2.0)
    assert scripts[0].count("ConvertTo-Json") == 2 and "Format-" not in scripts[0]
    (cut,) = config.errors
    assert "cut the DNS server lists of .corp.fabrikam.com, 乙太網路" in cut and "unknown" in cut

    def garbled(script: str, timeout: float) -> CommandResult:
        out = f'{windows.MARK}nrpt\r\n[{{"Namespace": \r\n{windows.MARK}servers\r\n{text("windows/dns_server_addresses.json")}'
        return CommandResult(("powershell.exe",), 0, out, "")

    monkeypatch.setattr(commands, "powershell", garbled)
    monkeypatch.setattr(commands, "run", lambda argv, timeout, **_: CommandResult(tuple(argv), 1, "", "no key"))
    config = windows.read_resolver_rules(2.0)
    assert config.errors == ("Get-DnsClientNrptPolicy printed nothing readable",) and config.rules == ()
    assert len(config.interfaces) == 7


def test_powershell_output_is_read_as_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(argv: list[str], timeout: float, input: str | None = None, encoding: str | None = None) -> CommandResult:
        seen.update(argv=argv, encoding=encoding)
        return CommandResult(tuple(argv), 0, "", "")

    monkeypatch.setattr(commands, "run", run)
    commands.powershell("Get-Date", 1.0)
    assert seen["encoding"] == "utf-8" and seen["argv"][-1].startswith("[Console]::OutputEncoding")
    # a byte-order mark before the first marker line does not hide that part
    assert windows.split_marked(f"\ufeff{windows.MARK}nrpt\r\n[]\r\n") == {"nrpt": "[]\n\n"}


# WinINET ProxyOverride as each client library reads it ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # the Internet Options default plus the account's zone: every Python library that reads it bypasses
        (
            "*.openai.azure.com;<local>",
            {"requests": "*.openai.azure.com", "httpx": None, "urllib": "*.openai.azure.com"},
        ),
        # an entry without a wildcard is matched at the start of the name (requests, urllib), or as the whole name
        ("openai.azure.com", {"requests": None, "httpx": None, "urllib": None}),
        # a blank after ";" (the CPython docstring's own example "www.example.com;*.example.net; 192.168.0.1"):
        # requests keeps it and so never matches; urllib 3.13+ strips it
        ("intranet;  *.openai.azure.com", {"requests": None, "httpx": None, "urllib": "*.openai.azure.com"}),
    ],
)
def test_proxy_override_per_library(override: str, expected: dict[str, str | None]) -> None:
    # requests: https://github.com/psf/requests/blob/main/src/requests/utils.py (proxy_bypass_registry);
    # urllib: https://github.com/python/cpython/blob/main/Lib/urllib/request.py (_proxy_bypass_winreg_override);
    # httpx: https://github.com/encode/httpx/blob/master/httpx/_utils.py (only NO_PROXY is read).
    assert winproxy.bypass_by_stack(HOST, override, [], new_urllib=True) == expected


def test_old_urllib_reads_an_empty_entry_as_every_host_and_tries_the_address() -> None:
    # CPython up to 3.12 (proxy_bypass_registry): no empty entry dropped, re.match("") matches anything; the host's
    # address is tried too.
    assert winproxy.bypass_by_stack(HOST, "*.corp.contoso.com;", [], new_urllib=False)["urllib"] == ""
    assert winproxy.bypass_by_stack(HOST, "*.corp.contoso.com;", [], new_urllib=True)["urllib"] is None
    assert winproxy.bypass_by_stack(HOST, "10.1.*", ["10.1.2.4"], new_urllib=False)["urllib"] == "10.1.*"
    assert winproxy.bypass_by_stack(HOST, "10.1.*", ["10.1.2.4"], new_urllib=False)["requests"] is None


def test_winhttp_bypass_list_rules() -> None:
    # https://learn.microsoft.com/windows/win32/winhttp/netsh-exe-commands#set-proxy: `;` or blanks, whole names.
    assert winproxy.winhttp_bypass(HOST, "<local> *.OpenAI.azure.com") == "*.OpenAI.azure.com"
    assert winproxy.winhttp_bypass(HOST, "openai.azure.com;azure.com") is None
    assert winproxy.winhttp_bypass("intranet", "<local>") == "<local>"


def test_wininet_evidence_names_the_stack_that_still_uses_the_proxy() -> None:
    system = WindowsProxy(
        wininet=WinInetProxy(enabled=True, server="proxy.corp:8080", bypass="*.openai.azure.com;<local>"), winhttp=None
    )
    ev = evaluate(HOST, 443, {}, system)
    # requests and urllib bypass; httpx (the openai SDK) takes the proxy anyway
    assert (ev.applies, ev.bypass_rules, ev.bypassed_by) == (True, "httpx", None)
    assert ev.bypass_by_stack["requests"] == "*.openai.azure.com" and ev.bypass_by_stack["httpx"] is None
    assert ev.no_proxy == "*.openai.azure.com;<local>"
    winhttp = evaluate(
        HOST,
        443,
        {},
        WindowsProxy(
            wininet=WinInetProxy(enabled=False), winhttp=WinHttpProxy(server="p:1", bypass="openai.azure.com")
        ),
    )
    # NO_PROXY's rules would have matched the parent domain; WinHTTP's whole-name rule does not
    assert (winhttp.applies, winhttp.bypass_rules, winhttp.bypass_by_stack) == (True, "winhttp", {})
    env = evaluate(HOST, 443, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "openai.azure.com"}, system)
    assert (env.applies, env.bypass_rules, env.bypassed_by) == (False, "no_proxy", "openai.azure.com")


def test_find_netroute_json_half_default_and_no_route() -> None:
    # Shape: `Find-NetRoute | Select-Object ... | ConvertTo-Json`: the source address object, then the route object
    # (https://learn.microsoft.com/powershell/module/nettcpip/find-netroute); OpenVPN installs 0.0.0.0/1 and
    # 128.0.0.0/1 through the tunnel (`route ADD 0.0.0.0 MASK 128.0.0.0`, https://github.com/OpenVPN/openvpn/issues/1024).
    found = windows.parse_find_netroute(
        '[{"IPAddress":"10.139.240.7","DestinationPrefix":null,"InterfaceAlias":"OpenVPN Data Channel Offload #2",'
        '"NextHop":null},{"IPAddress":null,"DestinationPrefix":"0.0.0.0/1",'
        '"InterfaceAlias":"OpenVPN Data Channel Offload #2","NextHop":"10.139.240.1"}]'
    )
    assert found == OsRoute(
        interface="OpenVPN Data Channel Offload #2", next_hop="10.139.240.1", prefix="0.0.0.0/1", source="10.139.240.7"
    )
    assert routes.tunnel(found, None, None)[0] is True and routes.via_default(found, None) is False
    assert windows.parse_find_netroute("[]") == OsRoute(error="no route", no_route=True)
