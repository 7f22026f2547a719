"""Read the `arm_*` probes' evidence (docs/evidence.md, "Azure probes") into facts the Azure rules use.

Pure and tolerant: a probe that did not run, or evidence from an older bundle, reads as "unknown" — never as
"absent". Judgement (complete searches, known addresses, usable peerings) lives in diagnosis/azure_facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.model import Status


def _same(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and str(a).rstrip("/").lower() == str(b).rstrip("/").lower()


def short(resource_id: str | None) -> str:
    return str(resource_id or "?").rstrip("/").rsplit("/", 1)[-1]


def id_part(resource_id: str | None, key: str) -> str:
    parts = str(resource_id or "").strip("/").split("/")
    for i in range(len(parts) - 1):
        if parts[i].lower() == key.lower():
            return parts[i + 1]
    return "?"


class AzureView:
    def __init__(self, ev: Evidence) -> None:
        self.ev = ev
        self.target = ev.target
        self.label = ev.target.label
        self.zone_name = ev.target.cloud.privatelink_zone(ev.target.suffix)

    # --- raw pieces ------------------------------------------------------------------------------
    @property
    def account(self) -> Mapping[str, Any] | None:
        if not self.ev.has("arm_account", Status.PASS):
            return None
        acct = self.ev.get("arm_account").get("account")
        return acct if isinstance(acct, Mapping) else None

    @property
    def account_absent(self) -> bool:
        """Searched everything readable and the account is not there (fail, not error)."""
        return self.ev.has("arm_account", Status.FAIL) and not self.ev.get("arm_account").get("denied")

    @property
    def pes(self) -> list[Mapping[str, Any]]:
        if not self.ev.ran("arm_private_endpoints"):
            return []
        return [
            p for p in self.ev.get("arm_private_endpoints").get("private_endpoints") or () if isinstance(p, Mapping)
        ]

    @property
    def dns(self) -> Mapping[str, Any]:
        return self.ev.get("arm_dns_zones") if self.ev.ran("arm_dns_zones") else {}

    def copies(self, name: str | None = None) -> list[Mapping[str, Any]]:
        wanted = name or self.zone_name
        return [z for z in self.dns.get("zones") or () if isinstance(z, Mapping) and z.get("name") == wanted]

    @property
    def net(self) -> Mapping[str, Any]:
        return self.ev.get("arm_client_network") if self.ev.ran("arm_client_network") else {}

    @property
    def nic_id(self) -> str | None:
        nic = self.net.get("nic")
        return nic.get("id") if isinstance(nic, Mapping) else None

    @property
    def client_name(self) -> str:
        """Who the client is in a sentence: `this machine`, or the app host whose subnet is the client subnet
        (`--from`, arm_client_network source `host`)."""
        host_id = self.net.get("host_id") if self.net.get("source") == "host" else None
        return f"the host {short(host_id)}" if host_id else "this machine"

    @property
    def client_vnet_id(self) -> str | None:
        vnet = self.net.get("vnet")
        return vnet.get("id") if isinstance(vnet, Mapping) else None

    # --- derived ---------------------------------------------------------------------------------
    def resolver(self) -> tuple[str | None, str | None, Mapping[str, Any] | None]:
        """(kind, VNet whose zone links decide resolution, the DNS host entry) for this machine's DNS path.

        kind: "azure" (Azure-provided DNS: the client VNet's links), "custom" (a DNS server or Private Resolver
        inbound endpoint in some VNet: that VNet's links), "firewall" (Azure Firewall DNS proxy: the firewall's
        VNet), "unknown" (custom server outside any visible VNet), or None when the client VNet is unknown.
        """
        if not self.client_vnet_id:
            return None, None, None
        if self.net.get("dns_mode") == "azure":
            return "azure", self.client_vnet_id, None
        for host in self.net.get("dns_server_hosts") or ():
            if host.get("firewall_id"):
                return "firewall", host.get("vnet_id"), host
            if host.get("vnet_id"):
                return "custom", host.get("vnet_id"), host
        return "unknown", None, None

    def linked(self, zone: Mapping[str, Any], vnet_id: str | None) -> Mapping[str, Any] | None:
        for link in zone.get("links") or ():
            if isinstance(link, Mapping) and _same(link.get("vnet_id"), vnet_id):
                return link
        return None

    def relation(self, pe_id: str) -> Mapping[str, Any] | None:
        for entry in self.net.get("pe_vnets") or ():
            if isinstance(entry, Mapping) and _same(entry.get("pe_id"), pe_id):
                return entry
        return None

    def reachable_pes(self) -> list[Mapping[str, Any]]:
        return [p for p in self.pes if (self.relation(p["id"]) or {}).get("relation") in ("same", "peered")]

    def pe_for_dns(self) -> Mapping[str, Any] | None:
        """The PE a zone group / record should point at: one reachable from the client, else the first."""
        reachable = self.reachable_pes()
        return reachable[0] if reachable else (self.pes[0] if self.pes else None)
