"""Point-to-site VPN rules: the profile the user imported (vpn_profile), the OS's own route (route_lookup) and the
DNS server the OS picks per name (os_resolvers), compared with what failed.

Each cause is named only on proof: the profile's routes or DNS lines as read, the OS's routing table as looked up,
the answers of the servers the OS would (and would not) use. A failed read leaves the rule silent.
Profile shapes: https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import replace

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import LocalView, answer_addresses, fill, fmt_addresses
from aoai_diag.evidence.answers import split_addresses
from aoai_diag.evidence.osnet import OsResolvers, VpnProfile, VpnProfileContent
from aoai_diag.evidence.path import KernelRoute, ProfileRoute, RouteLookup
from aoai_diag.model import Finding
from aoai_diag.osnet.vpnprofile import covering_route, suffix_covers

_FAILED = ("timeout", "unreachable", "refused")


def _profile(ev: Evidence) -> tuple[VpnProfileContent, str] | None:
    if not ev.ran("vpn_profile"):
        return None
    data = ev.of(VpnProfile)
    return (data.profile, data.file or "the VPN profile") if data.profile is not None else None


def _networks(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """The prefixes that are networks: a hand-edited bundle may hold any string, which covers nothing."""
    out = []
    for prefix in prefixes:
        try:
            ipaddress.ip_network(prefix)
        except ValueError:
            continue
        out.append(prefix)
    return tuple(out)


def _covering(profile: VpnProfileContent, address: str) -> tuple[str | None, str | None]:
    """`covering_route` over the profile's routes that are networks."""
    routes = replace(
        profile,
        advertised_routes=_networks(profile.advertised_routes),
        include_routes=_networks(profile.include_routes),
        exclude_routes=_networks(profile.exclude_routes),
    )
    return covering_route(routes, address)


def _blocked_private(view: LocalView) -> tuple[list[str], str] | None:
    """The private addresses TCP was tried on, when every attempt failed (none connected)."""
    attempts = [a for a in view.tcp_attempts() if split_addresses([a.address])[0]]
    if not attempts or any(a.outcome not in _FAILED for a in attempts):
        return None
    shown = ", ".join(f"{a.address} {a.outcome}" for a in attempts)
    return list(dict.fromkeys(a.address for a in attempts)), shown


def _routes_text(profile: VpnProfileContent) -> str:
    return ", ".join([*profile.advertised_routes, *profile.include_routes]) or "no route"


def _forced_tunnel(profile: VpnProfileContent) -> bool:
    """The profile sends everything into the tunnel (0/0, or 0/1 + 128/1 as documented for forced tunnelling): then
    "leaves like the public reference address" proves nothing, the reference goes through the tunnel too."""
    return any(r.endswith(("/0", "/1")) for r in (*profile.advertised_routes, *profile.include_routes))


def _route_out_of_tunnel(route: KernelRoute | ProfileRoute, forced: bool = False) -> str | None:
    """How the OS carries this address other than through the tunnel, or None when it does not know that."""
    if route.local:
        return None
    # A resolved address's entry carries the UDP connect's answer in `error` and the reader's in `os_route`; a
    # profile route's entry is the reader's answer itself (its `prefix` the table entry looked up).
    kernel_error: str | None = None
    no_route, reader_error, prefix, interface, next_hop = False, route.error, None, None, None
    if isinstance(route, ProfileRoute):
        no_route, prefix, interface, next_hop = route.no_route, route.prefix, route.interface, route.next_hop
    elif route.os_route is not None:
        os_route = route.os_route
        kernel_error, no_route, reader_error = route.error, os_route.no_route, os_route.error
        prefix, interface, next_hop = os_route.prefix, os_route.interface, os_route.next_hop
    address = route.address
    # The kernel's own "no route" answers are facts; a reader that failed to run is not.
    if kernel_error or no_route:
        return f"the OS has no route to {address} at all ({kernel_error or reader_error})"
    if route.tunnel is True:
        return None
    if (route.via_default is True and not forced) or prefix in ("0.0.0.0/0", "::/0"):
        source = route.source if isinstance(route, KernelRoute) else None
        via = interface or f"source {source}"
        hop = f" via {next_hop}" if next_hop else ""
        return f"the OS sends {address} down the default route ({via}{hop})"
    if route.tunnel is False:
        return f"the OS sends {address} out of {interface}, not the tunnel"
    return None


def _pe_routes_out(view: LocalView, addresses: list[str], forced: bool) -> list[str] | None:
    """For each address, how the OS sends it outside the tunnel; None when one of them is not known to be outside."""
    routes = view.routes()
    outside = [_route_out_of_tunnel(routes[a], forced) if a in routes else None for a in addresses]
    return None if any(o is None for o in outside) else [str(o) for o in outside]


def _tunnel_routes(ev: Evidence, forced: bool) -> tuple[list[str], bool]:
    """(profile routes the OS sends into the tunnel, whether every profile route is known to be outside it)."""
    entries = ev.of(RouteLookup).profile_routes
    inside = [e.prefix for e in entries if e.tunnel is True]
    return inside, bool(entries) and all(_route_out_of_tunnel(e, forced) for e in entries)


def routes_missing(ev: Evidence) -> Iterator[Finding]:
    """TCP to the private address fails, and either the profile carries no route to it (or excludes it), or the
    tunnel is up (the OS routes other profile prefixes into it) while the address goes elsewhere."""
    found = _profile(ev)
    view = LocalView(ev)
    blocked = _blocked_private(view)
    if not found or not blocked:
        return
    profile, name = found
    addresses, outcomes = blocked
    routes = view.routes()
    if any(routes[a].tunnel is True for a in addresses if a in routes):
        return  # the OS does send it into the tunnel: whatever the profile file says, the route is there
    coverage = {a: _covering(profile, a) for a in addresses}
    excluded = {a: ex for a, (_, ex) in coverage.items() if ex}
    uncarried = [a for a, (route, _) in coverage.items() if not route] if profile.routes_known else []
    pe = addresses[0]
    checks: tuple[str, ...] = ("vpn_profile", "tcp_connect", "system_resolution")
    all_excluded = bool(excluded) and len(excluded) == len(addresses)
    if all_excluded:
        ex = ", ".join(f"{a} by {p}" for a, p in excluded.items())
        why = f"its <excluderoutes> keep {ex} out of the tunnel"
    elif len(set(uncarried) | set(excluded)) == len(addresses):
        why = (
            f"the routes it carries into the tunnel ({_routes_text(profile)}, as the gateway advertised them when "
            f"the package was generated) do not contain {fmt_addresses(addresses)}"
        )
    else:
        forced = _forced_tunnel(profile)
        inside, _ = _tunnel_routes(ev, forced) if ev.ran("route_lookup") else ([], False)
        outside = _pe_routes_out(view, addresses, forced) if inside else None
        if not outside:
            return
        why = (
            f"the tunnel is up (the OS routes {', '.join(inside)} into it), but {'; '.join(outside)}: the client "
            f"was not given a route to {fmt_addresses(addresses)} when it connected"
        )
        checks = (*checks, "route_lookup")
    yield Finding(
        cause_id="net.vpn_routes_missing",
        checks=checks,
        detail=(
            f"{view.host} resolves to the private {fmt_addresses(addresses)} but TCP fails ({outcomes}); in {name} "
            f"(gateway {profile.gateway or 'unknown'}) {why}."
        ),
        # Otherwise the catalogue text: the gateway resource name is not in the profile.
        remediation=fill(
            "net.vpn_routes_missing", variant="excluded" if all_excluded else None, pe_ip=pe, profile=name
        ),
    )


def tunnel_down(ev: Evidence) -> Iterator[Finding]:
    """The profile routes the address into the tunnel, none of the profile's routes is in the OS's table on the
    tunnel, and TCP fails."""
    found = _profile(ev)
    view = LocalView(ev)
    blocked = _blocked_private(view)
    if not found or not blocked or not ev.ran("route_lookup"):
        return
    profile, name = found
    addresses, outcomes = blocked
    carried = {a: _covering(profile, a)[0] for a in addresses}
    if any(not route or _covering(profile, a)[1] for a, route in carried.items()):
        return
    forced = _forced_tunnel(profile)
    outside = _pe_routes_out(view, addresses, forced)
    inside, all_out = _tunnel_routes(ev, forced)
    if not outside or inside or not all_out:
        return
    prefixes = ", ".join(sorted({str(p) for p in carried.values()}))
    yield Finding(
        cause_id="net.vpn_disconnected",
        checks=("vpn_profile", "route_lookup", "tcp_connect"),
        detail=(
            f"{name} carries {prefixes} into the tunnel (gateway {profile.gateway or 'unknown'}), but none "
            f"of its routes is on a tunnel interface: {'; '.join(outside)}, and TCP fails ({outcomes}). The VPN is "
            "not connected."
        ),
        remediation=fill(
            "net.vpn_disconnected",
            variant="profile",
            vpn=profile.name or profile.gateway or name,
            prefixes=prefixes,
        ),
    )


def _vpn_dns_installed(ev: Evidence, host: str) -> bool:
    """The OS has per-domain DNS rules (NRPT, scoped resolvers, link domains), or one of them (NRPT `.`) takes
    this very name: a VPN client installed DNS servers, whatever the profile file lists."""
    if not ev.ran("os_resolvers"):
        return False
    data = ev.of(OsResolvers)
    choice = data.names.get(host)
    taken = choice is not None and choice.kind in ("nrpt", "scoped", "link_domain")
    return bool(data.split_rules) or taken


def profile_dns(ev: Evidence) -> Iterator[Finding]:
    """The name resolves publicly on a VPN whose profile pushes no DNS server, or whose suffixes skip the name."""
    found = _profile(ev)
    view = LocalView(ev)
    if not found or view.hosts_entries():
        return
    addresses = view.app_addresses()
    private, public = split_addresses(addresses)
    if not public or private:
        return
    profile, name = found
    suffixes = profile.dns_suffixes
    uncovered = [n for n in view.target.names if suffixes and not any(suffix_covers(s, n) for s in suffixes)]
    installed = _vpn_dns_installed(ev, view.host)
    add: list[str] = []  # the suffixes the profile lacks (none: it pushes no DNS server at all)
    if view.host in uncovered and (profile.dns_servers or installed):
        missing = f"lists DNS suffixes {', '.join(suffixes)}, none of which covers {', '.join(uncovered)}"
        add = list(dict.fromkeys(f".{n.split('.', 1)[1]}" for n in uncovered))
    elif not profile.dns_servers and not installed:
        # The file lists no DNS server, and the OS shows no VPN DNS rule (NRPT, scoped resolver, link domain).
        missing = "pushes no DNS server (no <dnsservers>)"
    else:
        return
    yield Finding(
        cause_id="dns.p2s_client_dns",
        checks=("vpn_profile", "system_resolution"),
        detail=(
            f"{view.host} resolves to the public {fmt_addresses(public)} on this machine, and {name} "
            f"{missing}: names go to the home or office DNS, which does not see the private zone."
        ),
        remediation=fill(
            "dns.p2s_client_dns",
            variant="suffixes" if add else "no_server",
            # One <dnssuffix> line per missing suffix: the template says where they go.
            dnssuffix_lines="\n".join(f"    <dnssuffix>{s}</dnssuffix>" for s in add),
        ),
    )


def split_rule_lacks_suffix(ev: Evidence) -> Iterator[Finding]:
    """Per-domain DNS rules send the VPN's names to its DNS server, but not this one: it goes to the default DNS,
    which answers publicly, while the VPN's server would have answered privately."""
    if not ev.ran("os_resolvers"):
        return
    found = _profile(ev)
    view = LocalView(ev)
    if found:
        suffixes = found[0].dns_suffixes
        if suffixes and not any(suffix_covers(s, view.host) for s in suffixes):
            return  # the profile's own suffix list is the root: profile_dns names it, with the lines to add
    data = ev.of(OsResolvers)
    choice = data.names.get(view.host)
    rules = data.split_rules
    tunnel_answers = data.uncovered.get(view.host, {})
    if choice is None or choice.kind != "default" or not rules:
        return
    if choice.app not in ("public", "mixed") or choice.verdict == "private":
        return
    private = {s: a for s, a in tunnel_answers.items() if split_addresses(answer_addresses(a))[0]}
    if not private:
        return
    server, answer = next(iter(private.items()))
    platform = data.platform or "windows"
    kind = {"windows": "NRPT namespaces", "macos": "scoped resolvers", "linux": "link domains"}.get(platform, "rules")
    matches = ", ".join(sorted({str(r.match) for r in rules}))
    suffix = "." + view.host.split(".", 1)[1]
    asks = f"{', '.join(choice.servers) or 'the default DNS'} ({choice.verdict})"
    exemption = choice.match  # a `default` choice names the NRPT exemption that sent the name there
    covered = (
        f"an NRPT exemption for {exemption} sends {view.host} to" if exemption else f"none covers {view.host}: it asks"
    )
    yield Finding(
        cause_id="dns.split_dns_nrpt",
        checks=("os_resolvers", "system_resolution"),
        detail=(
            f"The OS has {kind} for {matches} but {covered} {asks}, and applications get a public address, while "
            f"the VPN's DNS server {server} answers {fmt_addresses(answer_addresses(answer))}."
        ),
        remediation=fill(
            "dns.split_dns_nrpt",
            # An NRPT exemption only exists on Windows; an unknown platform gets the Windows text.
            variant="nrpt_exemption" if exemption else platform if platform in ("macos", "linux") else "windows",
            exemption=exemption,
            suffix=suffix,
            domain=suffix.strip("."),
            server=server.rsplit(":", 1)[0].strip("[]"),
        ),
    )


RULES = (routes_missing, tunnel_down, profile_dns, split_rule_lacks_suffix)
