"""Read the `arm_*` probes' evidence (docs/evidence.md, "Azure probes") into facts the Azure rules use.

Pure: a probe that did not run reads as "unknown" (its evidence at the defaults), never as "absent". Judgement
(complete searches, known addresses, usable peerings) lives in diagnosis/azure_facts.
"""

from __future__ import annotations

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.evidence.azure import (
    Account,
    ArmAccount,
    ArmClientNetwork,
    ArmDnsZones,
    ArmPrivateEndpoints,
    BroadZone,
    DnsServerHost,
    PeVnet,
    PrivateEndpoint,
    VnetLink,
    Zone,
)
from aoai_diag.model import Status


def same_id(a: str | None, b: str | None) -> bool:
    """Two resource ids name the same resource (Resource Manager ids are case-insensitive)."""
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
    def account(self) -> Account | None:
        if not self.ev.has("arm_account", Status.PASS):
            return None
        return self.ev.of(ArmAccount).account

    @property
    def account_absent(self) -> bool:
        """Searched everything readable and the account is not there (fail, not error)."""
        return self.ev.has("arm_account", Status.FAIL) and not self.ev.of(ArmAccount).denied

    @property
    def pes(self) -> tuple[PrivateEndpoint, ...]:
        if not self.ev.ran("arm_private_endpoints"):
            return ()
        return self.ev.of(ArmPrivateEndpoints).private_endpoints

    @property
    def dns_read(self) -> bool:
        """The zone search observed something (pass, fail or warn)."""
        return self.ev.ran("arm_dns_zones")

    @property
    def dns(self) -> ArmDnsZones:
        """The zone search; at the defaults when it did not run (see `dns_read`)."""
        return self.ev.of(ArmDnsZones) if self.dns_read else ArmDnsZones()

    def copies(self, name: str | None = None) -> list[Zone]:
        wanted = name or self.zone_name
        return [z for z in self.dns.zones if z.name == wanted]

    @property
    def net_read(self) -> bool:
        """The client network read observed something (pass, fail or warn)."""
        return self.ev.ran("arm_client_network")

    @property
    def net(self) -> ArmClientNetwork:
        """This machine's network as Resource Manager shows it; at the defaults when it was not read (`net_read`)."""
        return self.ev.of(ArmClientNetwork) if self.net_read else ArmClientNetwork()

    @property
    def nic_id(self) -> str | None:
        nic = self.net.nic
        return (nic.id or None) if nic is not None else None

    @property
    def subnet_id(self) -> str | None:
        subnet = self.net.subnet
        return (subnet.id or None) if subnet is not None else None

    @property
    def client_name(self) -> str:
        """Who the client is in a sentence: `this machine`, or the app host whose subnet is the client subnet
        (`--from`, arm_client_network source `host`)."""
        host_id = self.net.host_id if self.net.source == "host" else None
        return f"the host {short(host_id)}" if host_id else "this machine"

    @property
    def client_vnet_id(self) -> str | None:
        vnet = self.net.vnet
        return (vnet.id or None) if vnet is not None else None

    # --- derived ---------------------------------------------------------------------------------
    def resolver(self) -> tuple[str | None, str | None, DnsServerHost | None]:
        """(kind, VNet whose zone links decide resolution, the DNS host entry) for this machine's DNS path.

        kind: "azure" (Azure-provided DNS: the client VNet's links), "custom" (a DNS server or Private Resolver
        inbound endpoint in some VNet: that VNet's links), "firewall" (Azure Firewall DNS proxy: the firewall's
        VNet), "unknown" (custom server outside any visible VNet), or None when the client VNet is unknown.
        """
        if not self.client_vnet_id:
            return None, None, None
        if self.net.dns_mode == "azure":
            return "azure", self.client_vnet_id, None
        for host in self.net.dns_server_hosts:
            if host.firewall_id:
                return "firewall", host.vnet_id, host
            if host.vnet_id:
                return "custom", host.vnet_id, host
        return "unknown", None, None

    def linked(self, zone: Zone | BroadZone, vnet_id: str | None) -> VnetLink | None:
        return next((link for link in zone.links if same_id(link.vnet_id, vnet_id)), None)

    def relation(self, pe_id: str | None) -> PeVnet | None:
        return next((entry for entry in self.net.pe_vnets if same_id(entry.pe_id, pe_id)), None)

    def pe(self, pe_id: str | None) -> PrivateEndpoint | None:
        """The private endpoint `pe_id` among those read."""
        return next((p for p in self.pes if same_id(p.id, pe_id)), None)

    def reachable_pes(self) -> list[PrivateEndpoint]:
        return [
            p for p in self.pes if (entry := self.relation(p.id)) is not None and entry.relation in ("same", "peered")
        ]

    def pe_for_dns(self) -> PrivateEndpoint | None:
        """The PE a zone group / record should point at: one reachable from the client, else the first."""
        reachable = self.reachable_pes()
        return reachable[0] if reachable else (self.pes[0] if self.pes else None)
