"""macOS: the resolvers `scutil --dns` lists (VPN clients add supplemental, per-domain ones that /etc/resolv.conf
never shows), the `/etc/resolver/<domain>` files, and the route `route -n get` picks.

The system resolver sends a name to the resolver whose `domain` is the longest suffix of it (lowest `order` on a
tie), else to the first, default resolver; the "for scoped queries" section only serves queries bound to one
interface (resolver(5), scutil(8)).

Readers (thin) and parsers (pure):
    `scutil --dns` -> parse_scutil_dns
    /etc/resolver/* -> parse_resolver_file
    `route -n get <ip>` -> parse_route_get
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re

from aoai_diag.evidence.osnet import OsRoute
from aoai_diag.osnet import commands
from aoai_diag.osnet.dnsconfig import OsDnsConfig, ResolverRule

RESOLVER_DIR = "/etc/resolver"


@dataclasses.dataclass
class _Resolver:
    """A `resolver #n` block of `scutil --dns` while its lines are read."""

    match: str | None = None
    servers: list[str] = dataclasses.field(default_factory=list)
    interface: str | None = None
    order: int | None = None
    options: str = ""


def parse_scutil_dns(text: str) -> list[ResolverRule]:
    """The resolvers of the main section (not the scoped one), in order; mDNS ones left out."""
    resolvers: list[_Resolver] = []
    current: _Resolver | None = None
    scoped_section = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("DNS configuration"):
            scoped_section = "scoped" in line
            current = None
            continue
        if line.startswith("resolver #"):
            current = None
            if not scoped_section:
                current = _Resolver()
                resolvers.append(current)
            continue
        if current is None or ":" not in line:
            continue
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "domain":
            current.match = value.lower().rstrip(".")
        elif key.startswith("nameserver["):
            current.servers.append(value)
        elif key == "if_index":
            found = re.search(r"\((?P<name>[^)]+)\)", value)
            current.interface = found["name"] if found else value
        elif key == "order":
            current.order = int(value) if value.isdigit() else None
        elif key == "options":
            current.options = value
    return [
        ResolverRule(
            kind="default" if r.match is None else "scoped",
            match=r.match,
            servers=tuple(r.servers),
            interface=r.interface,
            order=r.order,
        )
        for r in resolvers
        if "mdns" not in r.options
    ]


def parse_resolver_file(domain: str, text: str) -> ResolverRule:
    """One /etc/resolver/<domain> file (resolver(5)): its nameservers for that domain."""
    servers: list[str] = []
    port = 53
    order = None
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        if fields[0] == "nameserver":
            servers.append(fields[1])
        elif fields[0] == "domain":
            domain = fields[1]
        elif fields[0] == "port" and fields[1].isdigit():
            port = int(fields[1])
        elif fields[0] == "search_order" and fields[1].isdigit():
            order = int(fields[1])
    return ResolverRule(
        kind="scoped",
        match=domain.lower().rstrip("."),
        servers=tuple(s if port == 53 else f"{s}:{port}" for s in servers),
        order=order,
        file=os.path.join(RESOLVER_DIR, domain),
    )


def _network(destination: str, mask: str | None) -> str | None:
    """`10.1.0.0` + `255.255.0.0`, `fd00::` + `ffff:ffff::` (route(8) prints IPv6 masks as addresses) -> a prefix."""
    try:
        if mask and ":" in mask:
            bits = int(ipaddress.IPv6Address(mask))
            length = 128 - ((bits ^ (2**128 - 1)).bit_length())
            return str(ipaddress.ip_network(f"{destination}/{length}", strict=False))
        return str(ipaddress.ip_network(f"{destination}/{mask}" if mask else destination, strict=False))
    except ValueError:
        return None  # a destination or mask we cannot read: which route matched is unknown


def parse_route_get(text: str) -> OsRoute:
    """`route -n get <ip>`: interface, gateway (next hop) and the destination/mask of the route that matched."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key in ("route to", "destination", "mask", "gateway", "interface", "flags"):
            fields[key] = value.strip()
    if "interface" not in fields:
        # "route: writing to routing socket: not in table": the kernel's answer that no route matches.
        first = text.strip().splitlines()[0] if text.strip() else "no route in the output"
        return OsRoute(error=first, no_route="not in table" in text)
    destination, mask = fields.get("destination"), fields.get("mask")
    prefix = None
    if mask == "default":
        mask = "0"  # route(8) prints the all-zero mask as `default`
    if destination == "default":
        # `destination: default` names any route whose destination is all zeros: with `mask: 128.0.0.0` it is
        # 0.0.0.0/1, the half of the default a VPN client installs (netstat shows it as 0/1), not 0.0.0.0/0.
        six = ":" in fields.get("route to", "") or ":" in (fields.get("gateway") or "") or ":" in (mask or "")
        prefix = _network("::" if six else "0.0.0.0", mask or "0")
    elif destination:
        prefix = _network(destination, mask)
    return OsRoute(interface=fields["interface"], next_hop=fields.get("gateway") or None, prefix=prefix)


def read_resolver_rules(timeout: float) -> OsDnsConfig:
    errors: list[str] = []
    result = commands.run(["scutil", "--dns"], timeout)
    rules = parse_scutil_dns(result.stdout) if result.ok else []
    if not result.ok:
        errors.append(result.failure())
        try:
            for name in sorted(os.listdir(RESOLVER_DIR)):
                with open(os.path.join(RESOLVER_DIR, name), encoding="utf-8", errors="replace") as fh:
                    rules.append(parse_resolver_file(name, fh.read(65536)))
        except OSError:
            pass  # no /etc/resolver: no per-domain resolver files
    return OsDnsConfig(platform="macos", source="scutil", rules=tuple(rules), errors=tuple(errors))


def read_routes(addresses: list[str], timeout: float) -> dict[str, OsRoute]:
    """`route -n get` for every address, the processes started together (route(8) asks one address at a time)."""
    argvs = []
    for address in addresses:
        ip = ipaddress.ip_address(commands.ip_literal(address))
        argvs.append(["route", "-n", "get", "-inet6" if ip.version == 6 else "-inet", address])
    found: dict[str, OsRoute] = {}
    for address, result in zip(addresses, commands.run_all(argvs, timeout), strict=True):
        # `route get` exits non-zero with "not in table" on stderr when nothing matches: that is an answer.
        found[address] = (
            OsRoute(error=result.failure())
            if result.returncode is None
            else parse_route_get(result.stdout + result.stderr)
        )
    return found
