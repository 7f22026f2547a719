"""Linux: systemd-resolved's per-link DNS servers and domains behind the 127.0.0.53 stub, and `ip route get`.

systemd-resolved sends a name to the links whose search or routing (`~`) domains are its longest matching suffix;
a name no domain matches goes to the links marked DefaultRoute (or, on versions that do not show that flag, the
links without routing-only domains) and to the global servers (systemd-resolved.service(8), "Protocols and
Routing"). resolv.conf then lists only the stub, so a direct query to "the nameserver" says nothing.

Readers (thin) and parsers (pure):
    `resolvectl status` -> parse_resolvectl_status
    `ip -j route get <ip>` -> parse_ip_route_get
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from aoai_diag.osnet import commands

STUB_ADDRESSES = ("127.0.0.53", "127.0.0.54")
_LINK = re.compile(r"^Link (?P<index>\d+) \((?P<name>[^)]+)\)")
# "Key: value" (a colon then a space or the end): an IPv6 continuation line ("abcd::1") is not a key.
_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z .]*?):(?: (?P<value>.*))?$")


def parse_resolvectl_status(text: str) -> list[dict[str, Any]]:
    """One entry per section with DNS servers: {kind ("global"|"link"), interface, servers, domains, default_route}."""
    sections: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    last: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        link = _LINK.match(raw)
        if raw.strip() == "Global" or link:
            current = {
                "kind": "link" if link else "global",
                "interface": link["name"] if link else None,
                "servers": [],
                "domains": [],
                "default_route": None,
            }
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
            current["servers"].extend(v.split("#", 1)[0] for v in value.split())
        elif last in ("DNS Domain", "DNS Domains"):
            current["domains"].extend(d.lower().rstrip(".") or "." for d in value.split())
        elif last == "Protocols" and "DefaultRoute" in value:
            current["default_route"] = "+DefaultRoute" in value.split()
    return [s for s in sections if s["servers"]]


def choose(sections: list[dict[str, Any]], name: str) -> tuple[str, str | None, list[dict[str, Any]]]:
    """(kind, matched domain, chosen sections) for `name`, as systemd-resolved routes it."""
    name = name.lower().rstrip(".")
    best: tuple[int, str] | None = None
    for section in sections:
        for domain in section["domains"]:
            bare = domain.lstrip("~").strip(".")
            if bare and (name == bare or name.endswith("." + bare)) and (best is None or len(bare) > best[0]):
                best = (len(bare), bare)
    if best is not None:
        chosen = [s for s in sections if any(d.lstrip("~").strip(".") == best[1] for d in s["domains"])]
        return "link_domain", best[1], chosen

    def default(section: dict[str, Any]) -> bool:
        if section["kind"] == "global" or "~." in section["domains"]:
            return True
        if section["default_route"] is not None:
            return bool(section["default_route"])
        return not any(d.startswith("~") for d in section["domains"])

    return "default", None, [s for s in sections if default(s)]


def parse_ip_route_get(text: str) -> dict[str, Any]:
    """`ip -j route get <ip>`: interface, next hop, source; `local` when the address is this machine's own."""
    try:
        routes = json.loads(text)
    except ValueError:
        return {"error": text.strip().splitlines()[0] if text.strip() else "no output"}
    if not routes:
        return {"error": "no route"}
    route = routes[0]
    return {
        "interface": route.get("dev"),
        "next_hop": route.get("gateway"),
        "prefix": None,  # `ip route get` names the result, not the table entry that matched
        "source": route.get("prefsrc"),
        "local": route.get("type") == "local",
        "error": None,
    }


def read_resolver_rules(timeout: float) -> dict[str, Any]:
    result = commands.run(["resolvectl", "status", "--no-pager"], timeout)
    if not result.ok:
        return {"rules": [], "interfaces": [], "errors": [result.failure()]}
    return {"rules": parse_resolvectl_status(result.stdout), "interfaces": [], "errors": []}


def read_route(address: str, timeout: float) -> dict[str, Any]:
    ipaddress.ip_address(address)
    result = commands.run(["ip", "-j", "route", "get", address], timeout)
    if not result.ok:
        text = (result.stderr or result.stdout).strip()
        # "RTNETLINK answers: Network is unreachable": the kernel has no route at all.
        if "unreachable" in text.lower():
            return {"error": "network unreachable", "no_route": True}
        return {"error": result.failure()}
    return parse_ip_route_get(result.stdout)
