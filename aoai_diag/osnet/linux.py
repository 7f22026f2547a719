"""Linux: systemd-resolved's per-link DNS servers and domains behind the 127.0.0.53 stub, and `ip route get`.

How systemd-resolved routes a name (systemd-resolved.service(8), "Protocols and Routing"; systemd.network(5)
`Domains=` and `DNSDefaultRoute=`):
- among the search and route-only (`~`) domains of every link and of the global settings, the matching one with the
  most labels wins, and the name goes to every link (or the global servers) carrying that domain;
- `~.` is a route-only domain matching every name with zero labels: a link carrying it gets every name no more
  specific domain claims, and the other links do not (what full-tunnel VPN scripts set);
- a name no domain matches goes to the links whose DefaultRoute is on, and to the global servers. Unset, DefaultRoute
  is on unless the link has a route-only domain other than `~.`. resolvectl shows it as `+DefaultRoute` among the
  protocols (v246+), `DefaultRoute setting: yes` (v240-245) or `Default Route: yes` (v257+);
- with no such link and no global server, the fallback servers answer.
resolv.conf then lists only the stub, so a direct query to "the nameserver" says nothing.

Readers (thin) and parsers (pure):
    `resolvectl status` -> parse_resolvectl_status
    `ip -force -json -batch -` with a `route get <ip>` line per address -> parse_ip_batch (parse_ip_route_get each)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import socket
from typing import Any

from aoai_diag.evidence.osnet import OsRoute
from aoai_diag.osnet import commands
from aoai_diag.osnet.dnsconfig import OsDnsConfig, ResolvedLink

STUB_ADDRESSES = ("127.0.0.53", "127.0.0.54")
_LINK = re.compile(r"^Link (?P<index>\d+) \((?P<name>[^)]+)\)")
# "Key: value" (a colon then a space or the end): an IPv6 continuation line ("abcd::1") is not a key.
_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z .]*?):(?: (?P<value>.*))?$")


def _domain(text: str) -> str:
    """`~Corp.Example.` -> `~corp.example`; `~.` stays `~.` (the catch-all), never `~`."""
    text = text.lower()
    bare = text.lstrip("~").strip(".")
    return ("~" if text.startswith("~") else "") + (bare or ".")


_YES = {"yes": True, "no": False}


@dataclasses.dataclass
class _Section:
    """A `resolvectl status` section while its lines are read."""

    kind: str
    interface: str | None
    servers: list[str] = dataclasses.field(default_factory=list)
    domains: list[str] = dataclasses.field(default_factory=list)
    default_route: bool | None = None
    fallback: list[str] = dataclasses.field(default_factory=list)


def parse_resolvectl_status(text: str) -> list[ResolvedLink]:
    """One entry per section with DNS servers (or, for Global, fallback servers), in resolvectl's order."""
    sections: list[_Section] = []
    current: _Section | None = None
    last: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        link = _LINK.match(raw)
        if raw.strip() == "Global" or link:
            current = _Section("link" if link else "global", link["name"] if link else None)
            sections.append(current)
            last = None
            continue
        if current is None:
            continue
        field = _FIELD.match(raw)
        if field:
            last = field["key"].strip()
            value = (field["value"] or "").strip()
        elif last is not None:
            value = raw.strip()  # a continuation line of a multi-value field
        else:
            continue
        if last == "DNS Servers":
            current.servers.extend(v.split("#", 1)[0] for v in value.split())
        elif last == "Fallback DNS Servers":
            current.fallback.extend(v.split("#", 1)[0] for v in value.split())
        elif last in ("DNS Domain", "DNS Domains"):
            current.domains.extend(_domain(d) for d in value.split())
        elif last == "Protocols" and "DefaultRoute" in value:
            current.default_route = "+DefaultRoute" in value.split()
        elif last in ("DefaultRoute setting", "Default Route") and value.lower() in _YES:
            current.default_route = _YES[value.lower()]
    return [
        ResolvedLink(
            kind=s.kind,
            interface=s.interface,
            servers=tuple(s.servers),
            domains=tuple(s.domains),
            default_route=s.default_route,
            fallback=tuple(s.fallback),
        )
        for s in sections
        if s.servers or s.fallback
    ]


def _labels(bare: str) -> int:
    return 0 if bare == "." else bare.count(".") + 1


def _matches(bare: str, name: str) -> bool:
    return bare == "." or name == bare or name.endswith("." + bare)


def default_route(section: ResolvedLink) -> bool:
    """Whether names no domain matches go to this section: the global servers always; a link by its DefaultRoute,
    which unset is on unless the link has a route-only domain other than `~.` (systemd-resolved.service(8))."""
    if section.kind == "global":
        return True
    if section.default_route is not None:
        return section.default_route
    return not any(d.startswith("~") and d != "~." for d in section.domains)


def choose(sections: list[ResolvedLink], name: str) -> tuple[str, str | None, list[ResolvedLink]]:
    """(kind, matched domain ("." for `~.`), chosen sections) for `name`, as systemd-resolved routes it."""
    name = name.lower().rstrip(".")
    serving = [s for s in sections if s.servers]
    best: int | None = None
    for section in serving:
        for domain in section.domains:
            bare = domain.lstrip("~")
            if _matches(bare, name) and (best is None or _labels(bare) > best):
                best = _labels(bare)
    if best is not None:
        winner = next(
            d.lstrip("~")
            for s in serving
            for d in s.domains
            if _matches(d.lstrip("~"), name) and _labels(d.lstrip("~")) == best
        )
        chosen = [s for s in serving if any(d.lstrip("~") == winner for d in s.domains)]
        return "link_domain", winner, chosen
    chosen = [s for s in serving if default_route(s)]
    if not chosen:
        fallback = [s for s in sections if s.kind == "global" and s.fallback]
        chosen = [dataclasses.replace(s, servers=s.fallback, interface="fallback") for s in fallback]
    return "default", None, chosen


def parse_ip_route_get(text: str) -> OsRoute:
    """`ip -j route get <ip>`: interface, next hop, source; `local` when the address is this machine's own."""
    try:
        routes = json.loads(text)
    except ValueError:
        return OsRoute(error=text.strip().splitlines()[0] if text.strip() else "no output")
    if not isinstance(routes, list) or not routes or not isinstance(routes[0], dict):
        return OsRoute(error="no route in ip's answer")
    route = routes[0]
    # `ip route get` names the result, not the table entry that matched: no prefix.
    return OsRoute(
        interface=_string(route.get("dev")),
        next_hop=_string(route.get("gateway")),
        source=_string(route.get("prefsrc")),
        local=route.get("type") == "local",
    )


def _string(value: Any) -> str | None:
    """A text field of ip's JSON; anything else (ip never writes one) is not known."""
    return value if isinstance(value, str) else None


def read_resolver_rules(timeout: float) -> OsDnsConfig:
    result = commands.run(["resolvectl", "status", "--no-pager"], timeout)
    if not result.ok:
        return OsDnsConfig(platform="linux", source="resolvectl", errors=(result.failure(),))
    return OsDnsConfig(platform="linux", source="resolvectl", links=tuple(parse_resolvectl_status(result.stdout)))


IP_BATCH = ["ip", "-force", "-json", "-batch", "-"]
"""One `ip` process for every route lookup: a `route get` line per address on stdin, a JSON array per answer on
stdout, and for a line the kernel refused its message then `Command failed -:<line>` on stderr (ip(8): -batch,
-force goes on after a failed line)."""
_FAILED_LINE = re.compile(r"^Command failed (?P<file>\S*):(?P<line>\d+)\s*$")


def batch_line(address: str) -> str:
    """`route get <ip>` for one address, its zone (`fe80::1%eth0`, `fe80::1%3`) as the output interface.

    Raises ValueError for anything but an IP address: a line of this batch never carries anything else.
    """
    ip = ipaddress.ip_address(commands.ip_literal(address))
    zone = getattr(ip, "scope_id", None)
    if not zone:
        return f"route get {ip}"
    if zone.isdigit():
        try:
            zone = socket.if_indextoname(int(zone))
        except (OSError, OverflowError):
            raise ValueError(f"no interface with index {zone}") from None
    return f"route get {str(ip).split('%', 1)[0]} oif {zone}"


def parse_ip_batch(addresses: list[str], stdout: str, stderr: str) -> dict[str, OsRoute]:
    """The answers of `ip -force -json -batch -` to one `route get` line per address, in that order.

    An answer is matched to its address by the `dst` it names (ip prints the address in its canonical form);
    a refused line by the line number on stderr. An address with neither (ip stopped early: it exits on an
    argument it cannot parse) is an error, never a route.
    """
    by_dst: dict[str, str] = {}
    for address in addresses:
        by_dst.setdefault(str(ipaddress.ip_address(address.split("%", 1)[0])), address)
    found: dict[str, OsRoute] = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        route = parse_ip_route_get(line)
        try:
            dst = json.loads(line)[0].get("dst")
            key = by_dst.get(str(ipaddress.ip_address(dst)))
        except (ValueError, LookupError, TypeError, AttributeError):
            key = None
        if key is not None and key not in found:
            found[key] = route
    message: list[str] = []
    for raw in stderr.splitlines():
        failed = _FAILED_LINE.match(raw.strip())
        if not failed:
            if raw.strip():
                message.append(raw.strip())
            continue
        index = int(failed["line"]) - 1
        if 0 <= index < len(addresses) and addresses[index] not in found:
            found[addresses[index]] = _refused(" ".join(message) or "ip refused the lookup")
        message = []
    leftover = " ".join(message)
    for address in addresses:
        if address not in found:
            found[address] = OsRoute(error=f"ip gave no answer ({leftover})" if leftover else "ip gave no answer")
    return found


def _refused(message: str) -> OsRoute:
    # "RTNETLINK answers: Network is unreachable": the kernel has no route at all, which is an answer.
    if "unreachable" in message.lower():
        return OsRoute(error="network unreachable", no_route=True)
    return OsRoute(error=message.removeprefix("RTNETLINK answers: "))


def read_routes(addresses: list[str], timeout: float) -> dict[str, OsRoute]:
    """The kernel's route toward each address, from one `ip` process (ValueError for a non-address)."""
    lines = [batch_line(a) for a in addresses]
    if not addresses:
        return {}
    result = commands.run(IP_BATCH, timeout, input="\n".join(lines) + "\n")
    if result.returncode is None:
        return {a: OsRoute(error=result.failure()) for a in addresses}
    return parse_ip_batch(addresses, result.stdout, result.stderr)
