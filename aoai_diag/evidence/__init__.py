"""Typed evidence: one frozen dataclass per probe (docs/evidence.md), and the registry check id -> type.

`normalize(check_id, evidence, path)` is what a bundle's evidence goes through before the diagnosis sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aoai_diag.evidence.azure import (
    ArmAccess,
    ArmAccount,
    ArmAppHost,
    ArmClientNetwork,
    ArmDnsZones,
    ArmNsg,
    ArmPrivateEndpoints,
)
from aoai_diag.evidence.base import Evidence, EvidenceError, json_value
from aoai_diag.evidence.dns import (
    AzureDns,
    DnsAnswer,
    DnsNameservers,
    HostsFile,
    PublicDns,
    ResolverConfig,
    SystemResolution,
)
from aoai_diag.evidence.osnet import OsResolvers, VpnProfile
from aoai_diag.evidence.path import (
    AzurePlatform,
    HttpsDataplane,
    ProxySettings,
    RouteLookup,
    TcpConnect,
    TlsHandshake,
)

EVIDENCE_TYPES: Mapping[str, type[Evidence]] = {
    "hosts_file": HostsFile,
    "resolver_config": ResolverConfig,
    "system_resolution": SystemResolution,
    "vpn_profile": VpnProfile,
    "dns_nameservers": DnsNameservers,
    "os_resolvers": OsResolvers,
    "public_dns": PublicDns,
    "azure_platform": AzurePlatform,
    "azure_dns": AzureDns,
    "proxy_settings": ProxySettings,
    "tcp_connect": TcpConnect,
    "route_lookup": RouteLookup,
    "tls_handshake": TlsHandshake,
    "https_dataplane": HttpsDataplane,
    "arm_access": ArmAccess,
    "arm_account": ArmAccount,
    "arm_private_endpoints": ArmPrivateEndpoints,
    "arm_dns_zones": ArmDnsZones,
    "arm_client_network": ArmClientNetwork,
    "arm_nsg": ArmNsg,
    "arm_app_host": ArmAppHost,
}


def parse(check_id: str, evidence: Any, path: str = "evidence", *, strict: bool = False) -> Evidence | None:
    """The typed evidence of `check_id`, or None for a check this version does not know. Raises EvidenceError."""
    kind = EVIDENCE_TYPES.get(check_id)
    if kind is None:
        return None
    return kind.from_dict(evidence, path, strict=strict)


def normalize(check_id: str, evidence: Any, path: str = "evidence") -> dict[str, Any]:
    """Evidence as the diagnosis may read it: every declared key present with its declared type.

    A check this version does not know keeps its evidence as it is (checked to be plain finite JSON).
    """
    typed = parse(check_id, evidence, path)
    if typed is not None:
        return typed.to_dict()
    if not isinstance(evidence, Mapping):
        raise EvidenceError(path, "must be an object")
    return dict(json_value(evidence, path))


__all__ = [
    "EVIDENCE_TYPES",
    "DnsAnswer",
    "Evidence",
    "EvidenceError",
    "normalize",
    "parse",
]
