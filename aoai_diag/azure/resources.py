"""What the Azure layer reads but never records as evidence: NSG rules (evaluated by azure/nsg_eval.py, whose
decisions are the evidence) and firewalls (they only place a DNS server). Every resource that is recorded is its
evidence type (aoai_diag/evidence/azure.py), built directly by azure/convert.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NsgRule:
    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    source_prefixes: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    destination_ports: tuple[str, ...]
    default: bool
    source_asgs: tuple[str, ...] = ()
    """sourceApplicationSecurityGroups ids: the rule matches members of these, not an address prefix."""
    destination_asgs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nsg:
    id: str
    rules: tuple[NsgRule, ...]


@dataclass(frozen=True)
class Firewall:
    id: str
    private_ips: tuple[str, ...]
    vnet_id: str | None
