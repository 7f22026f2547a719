"""Evidence of the Resource Manager probes (`arm_*`), and the resources they record.

The Azure layer (aoai_diag/azure/convert.py) builds these types directly from the REST JSON of Resource Manager:
a resource as read and as recorded is one type. Only what is never written to evidence (NSG rules, firewalls) has
its own type, in aoai_diag/azure/resources.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from aoai_diag.evidence.base import Evidence


@dataclass(frozen=True, kw_only=True)
class Denied(Evidence):
    """A scope the credential could not read."""

    scope: str | None = None
    """The resource id (or `Resource Graph`, `token for ...`) whose read failed."""
    status: int | None = None
    """HTTP status, when the service answered."""
    code: str | None = None
    """The service's error code, or ours: Timeout, Truncated, MalformedResponse, Unfinished, ..."""
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class Connection(Evidence):
    """A private-link connection, seen from the account or from the private endpoint."""

    id: str | None = None
    private_endpoint_id: str | None = None
    target_id: str | None = None
    """The resource the connection points at (PE side only)."""
    status: str | None = None
    """Approved | Pending | Rejected | Disconnected."""
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
    """Host names from properties.endpoint(s)."""
    public_network_access: str | None = None
    default_action: str | None = None
    ip_rules: tuple[str, ...] = ()
    vnet_rules: tuple[str, ...] = ()
    """Subnet ids allowed by virtualNetworkRules."""
    bypass: str | None = None
    connections: tuple[Connection, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ArmAccess(Evidence):
    credential: str | None = None
    """The sources in the credential chain, joined by `+`: e.g. `managed_identity`, `environment+azure_cli`."""
    arm_endpoint: str | None = None
    """The Resource Manager base URL used."""
    subscriptions: tuple[str, ...] = ()
    """Ids of the subscriptions searched (`--subscription`, or every Enabled one listed)."""
    from_option: bool = False
    """The list came from `--subscription`."""
    denied: tuple[Denied, ...] = ()
    """Reads that failed."""
    error: str | None = None
    """Why nothing could be read."""


@dataclass(frozen=True, kw_only=True)
class ArmAccount(Evidence):
    label: str | None = None
    """The custom subdomain searched."""
    source: str | None = None
    """How the run-wide inventory was read: resource_graph | list_calls."""
    subscriptions: tuple[str, ...] = ()
    """The subscriptions searched."""
    graph_error: Denied | None = None
    """Why Resource Graph was not used."""
    denied: tuple[Denied, ...] = ()
    """Scopes that could not be read."""
    matches: tuple[str, ...] = ()
    """Ids of every account that matched (more than one is odd but possible across tenants)."""
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
    """Addresses of the A records the zone group keeps (privateDnsZoneConfigs[].recordSets[].ipAddresses)."""


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
    """The VNet of `subnet_id`."""
    connections: tuple[Connection, ...] = ()
    nic_ids: tuple[str, ...] = ()
    custom_dns: tuple[CustomDns, ...] = ()
    """customDnsConfigs. Often empty on PEs that use a DNS zone group."""
    ip_addresses: tuple[str, ...] = ()
    """Private IPs of the PE from every source read (customDnsConfigs, static ipConfigurations, zone-group
    recordSets, the NIC). Empty does not mean "no address": see `nic_denied` (a NIC that could not be read)."""
    zone_groups: tuple[ZoneGroup, ...] | None = None
    """None: the zone groups could not be read."""
    static_ips: tuple[str, ...] = ()
    """ipConfigurations[].properties.privateIPAddress (PEs created with static addresses)."""
    nic_ips: tuple[str, ...] = ()
    """privateIPAddress of the PE's NIC ipConfigurations (prefix length removed)."""
    nic_denied: tuple[Denied, ...] = ()
    """NIC reads that failed: an empty address list then does not mean "no address"."""
    asg_ids: tuple[str, ...] | None = None
    """applicationSecurityGroups the PE and its NIC are members of (NSG rules may name them). None: not recorded (a
    bundle older than this field), so a rule naming a group is unresolved, never "not a member"."""
    account_side: AccountSide | None = None
    """The account's record of this PE's connection; None when the account does not list it."""
    listed_by_account: bool | None = None
    """None: not recorded (a bundle from before it was read): no sign the account dropped the connection."""


@dataclass(frozen=True, kw_only=True)
class ArmPrivateEndpoints(Evidence):
    account_id: str | None = None
    private_endpoints: tuple[PrivateEndpoint, ...] = ()
    """The PEs the account lists, and every PE whose connection points at the account."""
    denied: tuple[Denied, ...] = ()
    """PEs (or parts of them, NICs included) that could not be read."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class VnetLink(Evidence):
    id: str = ""
    zone_id: str = ""
    vnet_id: str | None = None
    registration_enabled: bool = False
    state: str | None = None
    """virtualNetworkLinkState: Completed | InProgress."""
    provisioning_state: str | None = None
    resolution_policy: str | None = None
    """Default | NxDomainRedirect (fallback to internet)."""


@dataclass(frozen=True, kw_only=True)
class Zone(Evidence):
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    needed: bool = False
    """One of the zones the target needs (arm_dns_zones sets it, and `record`, `record_error`, `links`)."""
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
    """The record name looked up."""
    needed_zones: tuple[str, ...] = ()
    zones: tuple[Zone, ...] = ()
    """Every copy the credential can see of any privatelink zone of the cloud."""
    broad_zones: tuple[BroadZone, ...] = ()
    """Zones named like a public suffix (`openai.azure.com`, `azure.com`)."""
    denied: tuple[Denied, ...] = ()
    """Unread scopes (a zone may hide there)."""
    complete: bool | None = None
    """Every scope (subscription and zone) was read; None: no search recorded (the probe stopped before searching)."""
    hidden_zones: tuple[str, ...] = ()
    """Ids of needed zones a PE's zone group names that the search did not return: they live where this identity
    cannot read (Resource Graph leaves such scopes out silently)."""
    unlisted_subscriptions: tuple[UnlistedSubscription, ...] = ()
    """Subscriptions the topology names that were not searched: the zone search is then not complete."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Nic(Evidence):
    id: str = ""
    private_ips: tuple[str, ...] = ()
    """Addresses only: a `10.0.0.4/24` in the answer is kept as `10.0.0.4`."""
    subnet_id: str | None = None
    nsg_id: str | None = None
    vm_id: str | None = None
    asg_ids: tuple[str, ...] | None = None
    """applicationSecurityGroups of the NIC's ipConfigurations. None: not recorded (a bundle older than this field):
    a rule naming a group is then unresolved."""


@dataclass(frozen=True, kw_only=True)
class Subnet(Evidence):
    id: str = ""
    prefixes: tuple[str, ...] = ()
    nsg_id: str | None = None
    route_table_id: str | None = None
    pe_network_policies: str | None = None
    """privateEndpointNetworkPolicies: Disabled (default) | Enabled | NetworkSecurityGroupEnabled | RouteTableEnabled."""
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
    """allowVirtualNetworkAccess; False: the peering is Connected but no traffic may cross it. None: not in the
    answer."""


@dataclass(frozen=True, kw_only=True)
class Vnet(Evidence):
    id: str = ""
    location: str | None = None
    address_prefixes: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    """Empty means Azure-provided DNS."""
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
    """Ids of VNets peered with both this VNet and the PE's."""


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
    """None: no matching route."""


@dataclass(frozen=True, kw_only=True)
class OnDemandRead(Evidence):
    """Whether a long-running read was asked (aoai_diag/azure/on_demand.py) and how it ended."""

    state: str | None = None
    """not_needed | done | unfinished (still running at the deadline: unknown) | failed; `asked` only while it runs."""
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArmClientNetwork(Evidence):
    source: str | None = None
    """How the client VNet was found: imds | option | host (an app host's subnet: `--from`, or this run is inside the
    host)."""
    vm_id: str | None = None
    host_id: str | None = None
    """The app host whose subnet is the client subnet (source `host`)."""
    source_ip: str | None = None
    """For a host: an address its instances get in the host subnet (the NSG evaluation's source)."""
    dns_servers: tuple[str, ...] = ()
    """The DNS servers the client asks (empty: Azure-provided DNS)."""
    dns_source: str | None = None
    """Which setting chose them: `vnet`, or for an App Service app `site dnsConfiguration` or (inside the app)
    `app setting WEBSITE_DNS_SERVER`."""
    nic: Nic | None = None
    subnet: Subnet | None = None
    vnet: Vnet | None = None
    dns_mode: str | None = None
    """azure | custom."""
    dns_server_hosts: tuple[DnsServerHost, ...] = ()
    """For custom servers: where each lives (the VNet whose address space holds it, or the Azure Firewall it is)."""
    pe_vnets: tuple[PeVnet, ...] = ()
    routes_to_pe: tuple[RouteToPe, ...] = ()
    """On a VM: the NIC's effective route toward each private endpoint address."""
    routes_error: str | None = None
    effective_routes: OnDemandRead | None = None
    """Whether the long-running effective-routes read was asked (only when TCP to a private address failed and no
    peering problem explains it: aoai_diag/azure/on_demand.py) and how it ended; unfinished: the routes are unknown."""
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
    """effective (the effective-NSG read of the VM's NIC) | rules (the NIC's and subnet's NSGs' own rules) | null."""
    decisions: tuple[ClientDecision, ...] = ()
    access: str | None = None
    """Allow | Deny | null."""
    error: str | None = None
    effective: OnDemandRead | None = None
    """Whether the effective-NSG read was asked (only when TCP to a private address failed and no static read explains
    it: aoai_diag/azure/on_demand.py) and how it ended, when recorded."""


@dataclass(frozen=True, kw_only=True)
class PeSide(Evidence):
    pe_id: str = ""
    address: str | None = None
    subnet_id: str | None = None
    network_policies: str | None = None
    nsg_id: str | None = None
    applies: bool = False
    """The PE subnet's NSG applies: its privateEndpointNetworkPolicies is Enabled or NetworkSecurityGroupEnabled."""
    decision: Decision | None = None


@dataclass(frozen=True, kw_only=True)
class ArmNsg(Evidence):
    port: int | None = None
    """The TCP port evaluated."""
    source_ip: str | None = None
    """The client address the rules are evaluated for: this VM's private address, an address of the app host's
    subnet, or off Azure `--source-ip` / the tunnel's source address (a VPN pool or on-premises address meets the PE
    subnet's NSG with it)."""
    source_kind: str | None = None
    """Where source_ip comes from: "nic" (this VM's NIC), "host" (an app host's integration subnet), "option"
    (--source-ip: a VPN pool or on-premises address), "tunnel" (the source this machine's route to the private
    endpoint uses), "pool" (the first address of the VPN profile's client pool); null: no client address."""
    client: ClientSide | None = None
    pe_side: tuple[PeSide, ...] = ()
    denied: tuple[Denied, ...] = ()
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentPool(Evidence):
    """One AKS agent pool: its nodes' (and, with Azure CNI, its pods') subnet."""

    name: str = ""
    vnet_subnet_id: str | None = None
    """agentPoolProfiles[].vnetSubnetID; None: the cluster's managed VNet in the node resource group."""
    pod_subnet_id: str | None = None
    """agentPoolProfiles[].podSubnetID (Azure CNI with dynamic pod IPs): the pods' own subnet."""


@dataclass(frozen=True, kw_only=True)
class AppHost(Evidence):
    """Where an app runs, as Resource Manager describes its network: an App Service / Functions site, a Container
    Apps environment (for a container app) or an AKS cluster. Read with Reader; app settings are not read."""

    kind: str = ""
    """webapp | functionapp | containerapp | aks."""
    id: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    location: str | None = None
    subnet_ids: tuple[str, ...] = ()
    """The subnets the app's outbound traffic leaves from: the site's integration subnet, the environment's
    infrastructure subnet, the agent pools' (pod) subnets. Empty: no VNet of the customer's."""
    route_all: bool | None = None
    """App Service / Functions: every outbound packet enters the VNet (vnetRouteAllEnabled, or
    outboundVnetRouting.applicationTraffic / allTraffic). None: not an App Service host, or not in the answer."""
    route_all_source: str | None = None
    """Which property decided route_all: `outboundVnetRouting`, `vnetRouteAllEnabled` or `config/web`."""
    dns_servers: tuple[str, ...] = ()
    """App Service dnsConfiguration.dnsServers: they replace the VNet's DNS servers for the app."""
    dns_alt_server: str | None = None
    environment_id: str | None = None
    """Container Apps: the managed environment the app runs in."""
    internal: bool | None = None
    """Container Apps: vnetConfiguration.internal."""
    network_plugin: str | None = None
    """AKS networkProfile.networkPlugin (azure | kubenet | none) and mode (overlay)."""
    network_plugin_mode: str | None = None
    dns_service_ip: str | None = None
    """AKS networkProfile.dnsServiceIP: the CoreDNS service pods ask."""
    outbound_type: str | None = None
    node_resource_group: str | None = None
    agent_pools: tuple[AgentPool, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HostLink(Evidence):
    """One link of the host's path, judged from Resource Manager: `state` ok | broken | unknown."""

    link: str = ""
    """host | vnet | route_all | dns | zone_link | record | route | nsg."""
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
    """Ids of the hosts that matched."""
    host: AppHost | None = None
    path: tuple[HostLink, ...] = ()
    denied: tuple[Denied, ...] = ()
    error: str | None = None


RECORDS_DENIED = (ArmAccess, ArmAccount, ArmPrivateEndpoints, ArmDnsZones, ArmClientNetwork, ArmNsg, ArmAppHost)
"""The evidence types that name the reads Resource Manager refused in `denied`."""
