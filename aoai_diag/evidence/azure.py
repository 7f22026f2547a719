"""Evidence of the Resource Manager probes (`arm_*`); shapes follow aoai_diag/azure/resources.py."""

from __future__ import annotations

from dataclasses import dataclass

from aoai_diag.evidence.base import Evidence


@dataclass(frozen=True, kw_only=True)
class Denied(Evidence):
    """A scope the credential could not read."""

    scope: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class Connection(Evidence):
    id: str | None = None
    private_endpoint_id: str | None = None
    target_id: str | None = None
    status: str | None = None
    description: str | None = None
    provisioning_state: str | None = None
    group_ids: tuple[str, ...] = ()
    manual: bool = False


@dataclass(frozen=True, kw_only=True)
class Account(Evidence):
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    kind: str | None = None
    location: str | None = None
    custom_subdomain: str | None = None
    endpoint: str | None = None
    endpoint_hosts: tuple[str, ...] = ()
    public_network_access: str | None = None
    default_action: str | None = None
    ip_rules: tuple[str, ...] = ()
    vnet_rules: tuple[str, ...] = ()
    bypass: str | None = None
    connections: tuple[Connection, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ArmAccess(Evidence):
    credential: str | None = None
    arm_endpoint: str | None = None
    subscriptions: tuple[str, ...] = ()
    from_option: bool = False
    denied: tuple[Denied, ...] = ()
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArmAccount(Evidence):
    label: str | None = None
    source: str | None = None
    subscriptions: tuple[str, ...] = ()
    graph_error: Denied | None = None
    denied: tuple[Denied, ...] = ()
    matches: tuple[str, ...] = ()
    account: Account | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustomDns(Evidence):
    fqdn: str | None = None
    ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ZoneGroup(Evidence):
    id: str = ""
    zone_ids: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    """Addresses of the A records the zone group keeps (recordSets), when recorded."""


@dataclass(frozen=True, kw_only=True)
class AccountSide(Evidence):
    status: str | None = None
    provisioning_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class PrivateEndpoint(Evidence):
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    location: str | None = None
    provisioning_state: str | None = None
    subnet_id: str | None = None
    vnet_id: str | None = None
    connections: tuple[Connection, ...] = ()
    nic_ids: tuple[str, ...] = ()
    custom_dns: tuple[CustomDns, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    zone_groups: tuple[ZoneGroup, ...] | None = None
    """None: the zone groups could not be read."""
    static_ips: tuple[str, ...] = ()
    nic_ips: tuple[str, ...] = ()
    nic_denied: tuple[Denied, ...] = ()
    """NIC reads that failed: an empty address list then does not mean "no address"."""
    asg_ids: tuple[str, ...] = ()
    account_side: AccountSide | None = None
    """The account's record of this PE's connection; None when the account does not list it."""
    listed_by_account: bool | None = None
    """None: not recorded (a bundle from before it was read): no sign the account dropped the connection."""


@dataclass(frozen=True, kw_only=True)
class ArmPrivateEndpoints(Evidence):
    account_id: str | None = None
    private_endpoints: tuple[PrivateEndpoint, ...] = ()
    denied: tuple[Denied, ...] = ()
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class VnetLink(Evidence):
    id: str = ""
    zone_id: str = ""
    vnet_id: str | None = None
    registration_enabled: bool = False
    state: str | None = None
    provisioning_state: str | None = None
    resolution_policy: str | None = None


@dataclass(frozen=True, kw_only=True)
class Zone(Evidence):
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    needed: bool = False
    record: tuple[str, ...] | None = None
    """None: no A record for the label (or it could not be read: see record_error)."""
    record_error: str | None = None
    links: tuple[VnetLink, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BroadZone(Evidence):
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    links: tuple[VnetLink, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UnlistedSubscription(Evidence):
    """A subscription the topology names that the search did not cover (issue 17, class 2)."""

    subscription: str | None = None
    named_by: str | None = None
    """What names it: a peering, a zone link, a private endpoint, its zone group, a DNS server."""


@dataclass(frozen=True, kw_only=True)
class ArmDnsZones(Evidence):
    label: str | None = None
    needed_zones: tuple[str, ...] = ()
    zones: tuple[Zone, ...] = ()
    broad_zones: tuple[BroadZone, ...] = ()
    denied: tuple[Denied, ...] = ()
    complete: bool | None = None
    """Every scope was read; None: no search recorded (the probe stopped before searching)."""
    hidden_zones: tuple[str, ...] = ()
    """Ids of needed zones a PE's zone group names that the search did not return (unreadable where they live)."""
    unlisted_subscriptions: tuple[UnlistedSubscription, ...] = ()
    """Subscriptions the topology names that were not searched: the zone search is then not complete."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Nic(Evidence):
    id: str = ""
    private_ips: tuple[str, ...] = ()
    subnet_id: str | None = None
    nsg_id: str | None = None
    vm_id: str | None = None
    asg_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Subnet(Evidence):
    id: str = ""
    prefixes: tuple[str, ...] = ()
    nsg_id: str | None = None
    route_table_id: str | None = None
    pe_network_policies: str | None = None
    service_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Peering(Evidence):
    id: str = ""
    name: str = ""
    remote_vnet_id: str | None = None
    state: str | None = None
    sync_level: str | None = None
    allow_gateway_transit: bool = False
    use_remote_gateways: bool = False
    allow_forwarded_traffic: bool = False
    allow_virtual_network_access: bool | None = None
    """None: not in the answer."""


@dataclass(frozen=True, kw_only=True)
class Vnet(Evidence):
    id: str = ""
    location: str | None = None
    address_prefixes: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    peerings: tuple[Peering, ...] = ()
    subnet_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DnsServerHost(Evidence):
    ip: str = ""
    vnet_id: str | None = None
    firewall_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class PeVnet(Evidence):
    pe_id: str = ""
    vnet_id: str | None = None
    relation: str | None = None
    """same | peered | not_peered | unknown."""
    peering: Peering | None = None
    via_hubs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Route(Evidence):
    source: str | None = None
    state: str | None = None
    prefixes: tuple[str, ...] = ()
    next_hop_type: str | None = None
    next_hop_ips: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RouteToPe(Evidence):
    pe_id: str = ""
    address: str = ""
    route: Route | None = None


@dataclass(frozen=True, kw_only=True)
class OnDemandRead(Evidence):
    """Whether a long-running read was asked (aoai_diag/azure/on_demand.py) and how it ended."""

    state: str | None = None
    """not_needed | done | unfinished (still running at the deadline: unknown) | failed; `asked` only while it runs."""
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArmClientNetwork(Evidence):
    source: str | None = None
    """imds | option | host (an app host's subnet: `--from`, or this run is inside the host)."""
    vm_id: str | None = None
    host_id: str | None = None
    """The app host whose subnet is the client subnet (source `host`)."""
    source_ip: str | None = None
    """For a host: an address its instances get in the host subnet (the NSG evaluation's source)."""
    dns_servers: tuple[str, ...] = ()
    """The DNS servers the client asks (empty: Azure-provided DNS)."""
    dns_source: str | None = None
    """Which setting chose them: `vnet`, or `site dnsConfiguration` for an App Service app."""
    nic: Nic | None = None
    subnet: Subnet | None = None
    vnet: Vnet | None = None
    dns_mode: str | None = None
    dns_server_hosts: tuple[DnsServerHost, ...] = ()
    pe_vnets: tuple[PeVnet, ...] = ()
    routes_to_pe: tuple[RouteToPe, ...] = ()
    routes_error: str | None = None
    effective_routes: OnDemandRead | None = None
    denied: tuple[Denied, ...] = ()
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Decision(Evidence):
    access: str | None = None
    """Allow | Deny | None (no rule decided)."""
    rule: str | None = None
    priority: int | None = None
    default: bool | None = None
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ClientDecision(Decision):
    nsg_id: str | None = None
    address: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClientSide(Evidence):
    method: str | None = None
    decisions: tuple[ClientDecision, ...] = ()
    access: str | None = None
    error: str | None = None
    effective: OnDemandRead | None = None
    """Whether the effective-NSG read was asked and how it ended, when recorded."""


@dataclass(frozen=True, kw_only=True)
class PeSide(Evidence):
    pe_id: str = ""
    address: str | None = None
    subnet_id: str | None = None
    network_policies: str | None = None
    nsg_id: str | None = None
    applies: bool = False
    decision: Decision | None = None


@dataclass(frozen=True, kw_only=True)
class ArmNsg(Evidence):
    port: int | None = None
    source_ip: str | None = None
    source_kind: str | None = None
    """Where source_ip comes from: "nic" (this VM's NIC), "option" (--source-ip: a VPN pool or on-premises address),
    "tunnel" (the source this machine's route to the private endpoint uses), "pool" (the first address of the VPN
    profile's client pool)."""
    client: ClientSide | None = None
    pe_side: tuple[PeSide, ...] = ()
    denied: tuple[Denied, ...] = ()
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentPool(Evidence):
    name: str = ""
    vnet_subnet_id: str | None = None
    pod_subnet_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AppHost(Evidence):
    """An app host as Resource Manager describes its network (aoai_diag/azure/resources.py AppHost)."""

    kind: str = ""
    """webapp | functionapp | containerapp | aks."""
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    location: str | None = None
    subnet_ids: tuple[str, ...] = ()
    route_all: bool | None = None
    route_all_source: str | None = None
    dns_servers: tuple[str, ...] = ()
    dns_alt_server: str | None = None
    environment_id: str | None = None
    internal: bool | None = None
    network_plugin: str | None = None
    network_plugin_mode: str | None = None
    dns_service_ip: str | None = None
    outbound_type: str | None = None
    node_resource_group: str | None = None
    agent_pools: tuple[AgentPool, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HostLink(Evidence):
    """One link of the host's path, judged from Resource Manager: `state` ok | broken | unknown."""

    link: str = ""
    """host | dns | zone_link | record | route | nsg."""
    state: str = ""
    detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArmAppHost(Evidence):
    ref: str | None = None
    """What named the host: `--from` as given (or the id found), or the id built from the host's own signals."""
    mode: str | None = None
    """`from`: the path is the host's, read from Resource Manager (nothing was sent from the host); `inside`: this
    run is on the host."""
    source: str | None = None
    """How the host was found: id | resource_graph | list_calls."""
    matches: tuple[str, ...] = ()
    host: AppHost | None = None
    path: tuple[HostLink, ...] = ()
    denied: tuple[Denied, ...] = ()
    error: str | None = None
