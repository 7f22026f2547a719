"""Evaluate NSG rules for one flow, the way Azure does: lowest priority number first, first match decides.

Service tags: `VirtualNetwork` (the VNet's address space, peered and connected address spaces),
`Internet` (public space), `AzureLoadBalancer` (168.63.129.16), `*`. Other tags cannot be expanded offline
and are reported as unresolved rather than guessed.
https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
https://learn.microsoft.com/azure/virtual-network/service-tags-overview
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from aoai_diag.azure.resources import NsgRule
from aoai_diag.evidence.azure import Decision
from aoai_diag.net.addresses import classify


def _in_prefix(ip: str, prefix: str, vnet_prefixes: Sequence[str]) -> bool | None:
    p = prefix.strip()
    low = p.lower()
    if p in ("*", "0.0.0.0/0", "any"):
        return True
    if low == "virtualnetwork":
        return any(_in_prefix(ip, v, ()) for v in vnet_prefixes) if vnet_prefixes else classify(ip) == "private"
    if low == "internet":
        return classify(ip) == "public"
    if low == "azureloadbalancer":
        return ip == "168.63.129.16"
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(p, strict=False)
    except ValueError:
        return None


def _port_match(port: int, ranges: Sequence[str]) -> bool:
    for r in ranges:
        r = r.strip()
        if r in ("*", ""):
            return True
        low, _, high = r.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def _side(
    ip: str,
    prefixes: Sequence[str],
    rule_asgs: Sequence[str],
    member_of: Sequence[str] | None,
    vnet_prefixes: Sequence[str],
) -> list[bool | None]:
    """Does one side of a rule match? Application security groups match by membership of the NIC (or PE)
    holding the address; when that membership is not known the answer is None (unresolved), never `*`.
    https://learn.microsoft.com/azure/virtual-network/application-security-groups"""
    matches = [_in_prefix(ip, p, vnet_prefixes) for p in prefixes]
    if rule_asgs:
        if member_of is None:
            matches.append(None)
        else:
            wanted = {a.rstrip("/").lower() for a in rule_asgs}
            matches.append(any(a.rstrip("/").lower() in wanted for a in member_of))
    return matches


def evaluate(
    rules: Sequence[NsgRule],
    direction: str,
    source: str,
    destination: str,
    port: int,
    vnet_prefixes: Sequence[str] = (),
    source_asgs: Sequence[str] | None = None,
    destination_asgs: Sequence[str] | None = None,
) -> Decision:
    """The deciding rule for TCP `source` -> `destination:port`; `access` is Allow/Deny or None if undecided.

    `source_asgs` / `destination_asgs`: the application security groups the source / destination belong to, None
    when not known (rules naming groups are then unresolved, and a later rule may decide: `unresolved` lists them).
    """
    unresolved: list[str] = []
    for rule in sorted((r for r in rules if r.direction.lower() == direction.lower()), key=lambda r: r.priority):
        if rule.protocol.lower() not in ("*", "tcp", "all"):
            continue
        if not _port_match(port, rule.destination_ports):
            continue
        src = _side(source, rule.source_prefixes, rule.source_asgs, source_asgs, vnet_prefixes)
        dst = _side(destination, rule.destination_prefixes, rule.destination_asgs, destination_asgs, vnet_prefixes)
        if True in src and True in dst:
            return Decision(
                access=rule.access,
                rule=rule.name,
                priority=rule.priority,
                default=rule.default,
                unresolved=tuple(unresolved),
            )
        if None in src or None in dst:
            unresolved.append(rule.name)
    return Decision(unresolved=tuple(unresolved))


def effective_rules(groups: Sequence[dict[str, Any]]) -> list[tuple[str, list[NsgRule]]]:
    """Rules from the effective-NSG API (`EffectiveNetworkSecurityGroup` JSON), per associated NSG."""
    out: list[tuple[str, list[NsgRule]]] = []
    for group in groups:
        nsg_id = (group.get("networkSecurityGroup") or {}).get("id") or ""
        rules: list[NsgRule] = []
        for raw in group.get("effectiveSecurityRules") or ():
            name = str(raw.get("name", ""))
            # An ASG rule's prefix may be absent here: unresolvable (`?`), not `*`.
            src = (
                raw.get("expandedSourceAddressPrefix")
                or raw.get("sourceAddressPrefixes")
                or [raw.get("sourceAddressPrefix") or "?"]
            )
            dst = (
                raw.get("expandedDestinationAddressPrefix")
                or raw.get("destinationAddressPrefixes")
                or [raw.get("destinationAddressPrefix") or "?"]
            )
            rules.append(
                NsgRule(
                    name=name,
                    priority=int(raw.get("priority") or 65000),
                    direction=str(raw.get("direction") or ""),
                    access=str(raw.get("access") or ""),
                    protocol=str(raw.get("protocol") or "*"),
                    source_prefixes=tuple(str(s) for s in src),
                    source_ports=tuple(raw.get("sourcePortRanges") or [raw.get("sourcePortRange") or "*"]),
                    destination_prefixes=tuple(str(d) for d in dst),
                    destination_ports=tuple(
                        raw.get("destinationPortRanges") or [raw.get("destinationPortRange") or "*"]
                    ),
                    default=name.lower().startswith("defaultsecurityrules/"),
                )
            )
        out.append((nsg_id, rules))
    return out
