"""Our own frozen views of Azure resources. Probes and rules see these (as JSON), never SDK types.

Each type has `to_dict()` giving the JSON-compatible evidence shape documented in docs/evidence.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


def jsonable(value: Any) -> Any:
    """Tuples to lists, recursively, so evidence is plain JSON."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class _Json:
    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class ArmDenied(_Json):
    """A scope the credential could not read."""

    scope: str
    status: int | None
    code: str | None
    message: str


@dataclass(frozen=True)
class Connection(_Json):
    """A private-link connection, seen from the account or from the private endpoint."""

    id: str | None
    private_endpoint_id: str | None
    target_id: str | None
    """The resource the connection points at (PE side only)."""
    status: str | None
    """Approved | Pending | Rejected | Disconnected."""
    description: str | None
    provisioning_state: str | None
    group_ids: tuple[str, ...]
    manual: bool


@dataclass(frozen=True)
class Account(_Json):
    id: str
    name: str
    subscription_id: str
    resource_group: str
    kind: str | None
    location: str | None
    custom_subdomain: str | None
    endpoint: str | None
    endpoint_hosts: tuple[str, ...]
    """Host names from properties.endpoint(s)."""
    public_network_access: str | None
    default_action: str | None
    ip_rules: tuple[str, ...]
    vnet_rules: tuple[str, ...]
    """Subnet ids allowed by virtualNetworkRules."""
    bypass: str | None
    connections: tuple[Connection, ...]


@dataclass(frozen=True)
class ZoneGroup(_Json):
    id: str
    zone_ids: tuple[str, ...]
    ip_addresses: tuple[str, ...] = ()
    """Addresses of the A records the zone group keeps (privateDnsZoneConfigs[].recordSets[].ipAddresses)."""


@dataclass(frozen=True)
class PrivateEndpoint(_Json):
    id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str | None
    provisioning_state: str | None
    subnet_id: str | None
    connections: tuple[Connection, ...]
    nic_ids: tuple[str, ...]
    custom_dns: tuple[dict[str, Any], ...]
    """customDnsConfigs: [{fqdn, ip_addresses}]. Often empty on PEs that use a DNS zone group."""
    ip_addresses: tuple[str, ...]
    """Private IPs of the PE from every source read (customDnsConfigs, static ipConfigurations, zone-group
    recordSets, the NIC). Empty does not mean "no address": see `nic_denied` (a NIC that could not be read)."""
    zone_groups: tuple[ZoneGroup, ...] | None
    """None when they could not be read."""
    static_ips: tuple[str, ...] = ()
    """ipConfigurations[].properties.privateIPAddress (PEs created with static addresses)."""
    nic_ips: tuple[str, ...] = ()
    """privateIPAddress of the PE's NIC ipConfigurations (prefix length removed)."""
    nic_denied: tuple[ArmDenied, ...] = ()
    """NIC reads that failed: the address may be there."""
    asg_ids: tuple[str, ...] = ()
    """applicationSecurityGroups the PE's NIC is a member of (NSG rules may name them)."""


@dataclass(frozen=True)
class Zone(_Json):
    id: str
    name: str
    subscription_id: str
    resource_group: str


@dataclass(frozen=True)
class VnetLink(_Json):
    id: str
    zone_id: str
    vnet_id: str | None
    registration_enabled: bool
    state: str | None
    """virtualNetworkLinkState: Completed | InProgress."""
    provisioning_state: str | None
    resolution_policy: str | None
    """Default | NxDomainRedirect (fallback to internet)."""


@dataclass(frozen=True)
class Peering(_Json):
    id: str
    name: str
    remote_vnet_id: str | None
    state: str | None
    sync_level: str | None
    allow_gateway_transit: bool
    use_remote_gateways: bool
    allow_forwarded_traffic: bool
    allow_virtual_network_access: bool | None = None
    """allowVirtualNetworkAccess; False: the peering is Connected but no traffic may cross it. None: not in the answer."""


@dataclass(frozen=True)
class Subnet(_Json):
    id: str
    prefixes: tuple[str, ...]
    nsg_id: str | None
    route_table_id: str | None
    pe_network_policies: str | None
    """privateEndpointNetworkPolicies: Disabled (default) | Enabled | NetworkSecurityGroupEnabled | RouteTableEnabled."""
    service_endpoints: tuple[str, ...]


@dataclass(frozen=True)
class Vnet(_Json):
    id: str
    location: str | None
    address_prefixes: tuple[str, ...]
    dns_servers: tuple[str, ...]
    """Empty means Azure-provided DNS."""
    peerings: tuple[Peering, ...]
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class Nic(_Json):
    id: str
    private_ips: tuple[str, ...]
    """Addresses only: a `10.0.0.4/24` in the answer is kept as `10.0.0.4`."""
    subnet_id: str | None
    nsg_id: str | None
    vm_id: str | None
    asg_ids: tuple[str, ...] = ()
    """applicationSecurityGroups of the NIC's ipConfigurations."""


@dataclass(frozen=True)
class Route(_Json):
    source: str | None
    state: str | None
    prefixes: tuple[str, ...]
    next_hop_type: str | None
    next_hop_ips: tuple[str, ...]


@dataclass(frozen=True)
class NsgRule(_Json):
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
class Nsg(_Json):
    id: str
    rules: tuple[NsgRule, ...]


@dataclass(frozen=True)
class Firewall(_Json):
    id: str
    private_ips: tuple[str, ...]
    vnet_id: str | None


@dataclass(frozen=True)
class AgentPool(_Json):
    """One AKS agent pool: its nodes' (and, with Azure CNI, its pods') subnet."""

    name: str
    vnet_subnet_id: str | None
    """agentPoolProfiles[].vnetSubnetID; None: the cluster's managed VNet in the node resource group."""
    pod_subnet_id: str | None = None
    """agentPoolProfiles[].podSubnetID (Azure CNI with dynamic pod IPs): the pods' own subnet."""


@dataclass(frozen=True)
class AppHost(_Json):
    """Where an app runs, as Resource Manager describes its network: an App Service / Functions site, a Container
    Apps environment (for a container app) or an AKS cluster. Read with Reader; app settings are not read."""

    kind: str
    """webapp | functionapp | containerapp | aks."""
    id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str | None
    subnet_ids: tuple[str, ...]
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
