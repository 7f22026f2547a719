"""What each kind of DNS server answers for the account, as tests.servers.dns_server views.

Chains: from a VNet linked to the privatelink zone the public CNAME
lands in the private zone (https://learn.microsoft.com/azure/private-link/private-endpoint-dns); from anywhere
else the same CNAME continues to the regional VNet proxy's public address (documented nslookup in
https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link).
"""

from __future__ import annotations

from typing import Any

SUFFIXES = ("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com")
VNET_PROXY_TM = "westeurope.prod.vnet.cog.trafficmanager.net"
VNET_PROXY_HOST = "vnetproxyv1-weu-prod.westeurope.cloudapp.azure.com"
PRIVATE_SOA = {"mname": "azureprivatedns.net", "rname": "azureprivatedns-host.microsoft.com", "minimum": 10}
PUBLIC_SOA = {"mname": "ns1-01.azure-dns.com", "rname": "azuredns-hostmaster.microsoft.com", "minimum": 10}

VIEW_NAMES = (
    "private",
    "public",
    "nxdomain_private",
    "no_private_endpoint",
    "silent",
    "servfail",
    "no_account",
    "private_openai_only",
    "pe_disconnected_forwarder",
    "private_search_wildcard",
)
SEARCH_WILDCARD_DOMAIN = "corp.example"
"""A search domain with a wildcard record: with ndots:5 it answers `<account host>.corp.example` first."""
# An account without private endpoint resolves through the regional API Management chain (the Speech private-link
# page above documents the chain).
REGIONAL_API = "westeurope.api.cognitive.microsoft.com"
REGIONAL_TM = "cognitiveweprod.trafficmanager.net"
REGIONAL_APIM_HOST = "cognitiveweprod-westeurope-01.regional.azure-api.net"


def view(kind: str, label: str, pe_ip: str, front_door_ip: str) -> dict[str, Any]:
    """One dns_server view: `private` (linked zone: 3d), `public` (3c), `nxdomain_private` (zone linked, record
    missing), `no_private_endpoint` (3a: no privatelink hop anywhere), `silent` (a dead server)."""
    records: dict[str, Any] = {}
    zones: dict[str, Any] = {}
    if kind == "silent":
        return {"records": {}, "default": "silent"}
    if kind == "servfail":
        # A recursive server whose forwarder target is gone: it takes every question and answers SERVFAIL.
        return {"records": {}, "default": "servfail"}
    if kind == "no_account":
        # No account has this subdomain: public DNS answers NXDOMAIN from the public zone.
        return {"records": {}, "zones": {suffix: PUBLIC_SOA for suffix in SUFFIXES}, "default": "nxdomain"}
    if kind == "private_openai_only":
        # Only privatelink.openai.azure.com is linked: the other names' CNAMEs continue to the VNet proxy (3c).
        private_part = view("private", label, pe_ip, front_door_ip)
        public_part = view("public", label, pe_ip, front_door_ip)
        records = dict(public_part["records"])
        records[f"{label}.privatelink.{SUFFIXES[0]}"] = private_part["records"][f"{label}.privatelink.{SUFFIXES[0]}"]
        zones = {f"privatelink.{SUFFIXES[0]}": PRIVATE_SOA}
        return {"records": records, "zones": zones, "default": "nxdomain"}
    if kind == "pe_disconnected_forwarder":
        # A forwarder for the privatelink zone after the endpoint's connection went Disconnected: the public names
        # lost their privatelink CNAME, the privatelink record itself still answers.
        records = dict(view("no_private_endpoint", label, pe_ip, front_door_ip)["records"])
        records[f"{label}.privatelink.{SUFFIXES[0]}"] = {"a": [pe_ip], "ttl": 10}
        return {"records": records, "zones": {f"privatelink.{SUFFIXES[0]}": PRIVATE_SOA}, "default": "nxdomain"}
    if kind == "private_search_wildcard":
        # A pod's cluster DNS: the account resolves privately, and a search domain's wildcard answers any name under
        # it with a public web front (resolv.conf(5): with ndots:5 the expansion is tried first).
        wildcard = view("private", label, pe_ip, front_door_ip)
        wildcard["records"][f"*.{SEARCH_WILDCARD_DOMAIN}"] = {"a": [front_door_ip], "ttl": 60}
        return wildcard
    if kind == "no_private_endpoint":
        for suffix in SUFFIXES:
            records[f"{label}.{suffix}"] = {"cname": REGIONAL_API, "ttl": 900}
        records[REGIONAL_API] = {"cname": REGIONAL_TM, "ttl": 300}
        records[REGIONAL_TM] = {"cname": REGIONAL_APIM_HOST, "ttl": 300}
        records[REGIONAL_APIM_HOST] = {"a": [front_door_ip], "ttl": 60}
        return {"records": records, "zones": zones, "default": "nxdomain"}
    for suffix in SUFFIXES:
        public_name, private_name = f"{label}.{suffix}", f"{label}.privatelink.{suffix}"
        # The public zone's CNAME into privatelink exists whenever the account has a private endpoint.
        records[public_name] = {"cname": private_name, "ttl": 300}
        if kind == "private":
            records[private_name] = {"a": [pe_ip], "ttl": 10}
            zones[f"privatelink.{suffix}"] = PRIVATE_SOA
        elif kind == "public":
            records[private_name] = {"cname": VNET_PROXY_TM, "ttl": 300}
        elif kind == "nxdomain_private":
            zones[f"privatelink.{suffix}"] = PRIVATE_SOA
        else:
            raise ValueError(f"unknown DNS view {kind!r} (choose from {', '.join(VIEW_NAMES)})")
    if kind == "public":
        records[VNET_PROXY_TM] = {"cname": VNET_PROXY_HOST, "ttl": 60}
        records[VNET_PROXY_HOST] = {"a": [front_door_ip], "ttl": 10}
    return {"records": records, "zones": zones, "default": "nxdomain"}


def public_addresses(kind: str, label: str, pe_ip: str, front_door_ip: str) -> dict[str, str]:
    """host -> address as a resolver with this view would give it (for a proxy's own upstream lookups)."""
    if kind == "private":
        return {f"{label}.{s}": pe_ip for s in SUFFIXES}
    if kind in ("public", "no_private_endpoint"):
        return {f"{label}.{s}": front_door_ip for s in SUFFIXES}
    if kind == "private_openai_only":
        return {f"{label}.{s}": pe_ip if s == SUFFIXES[0] else front_door_ip for s in SUFFIXES}
    return {}
