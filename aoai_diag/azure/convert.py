"""The one place where Azure answers become our types.

SDK models are first turned into their REST JSON (`sdk_json`: the SDK's own serializer, so the keys are the
official camelCase ones), Resource Graph rows already are REST JSON; both then go through the same parsers.
Lookups are case-insensitive on ids because ARM itself is (ids come back in mixed case from different APIs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aoai_diag.azure.resources import Firewall, Nsg, NsgRule
from aoai_diag.evidence.azure import (
    Account,
    AgentPool,
    AppHost,
    Connection,
    CustomDns,
    Denied,
    Nic,
    Peering,
    PrivateEndpoint,
    Route,
    Subnet,
    Vnet,
    VnetLink,
    Zone,
    ZoneGroup,
)

Json = Mapping[str, Any]

# Top-level fields every parser below reads as text: a number or a list there is a peer misbehaving, not data.
_ROW_TEXT = ("id", "name", "type", "kind", "location", "subscriptionId", "resourceGroup")


def checked_row(data: Any, scope: str) -> dict[str, Any]:
    """A Resource Manager / Resource Graph row as it enters, checked (issue 19): an object of plain JSON with finite
    numbers and bounded strings and nesting, text where the parsers read text, an object (or null) as `properties`.
    Raises PeerValueError naming the row's field; the caller turns it into MalformedResponse evidence."""
    from aoai_diag import peer

    if not isinstance(data, Mapping):
        raise peer.PeerValueError(f"{scope}: a row is {type(data).__name__}, not an object")
    peer.check_json(data, scope)
    for key in _ROW_TEXT:
        peer.text(data.get(key), f"{scope}.{key}", 4096)
    if data.get("properties") is not None and not isinstance(data["properties"], Mapping):
        raise peer.PeerValueError(f"{scope}.properties is not an object")
    return dict(data)


def sdk_json(model: Any) -> dict[str, Any]:
    """REST JSON of an SDK model (or a dict passed through)."""
    if isinstance(model, Mapping):
        return dict(model)
    serialize = getattr(model, "serialize", None)
    if serialize is not None:
        return dict(serialize(keep_readonly=True))
    return dict(model.as_dict())


def id_part(resource_id: str, key: str) -> str:
    """`subscriptions` / `resourceGroups` / ... segment value of an ARM id, '' if absent."""
    parts = resource_id.strip("/").split("/")
    for i in range(0, len(parts) - 1):
        if parts[i].lower() == key.lower():
            return parts[i + 1]
    return ""


def same_id(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.rstrip("/").lower() == b.rstrip("/").lower()  # type: ignore[union-attr]


def parent_id(resource_id: str, levels: int = 2) -> str:
    """`/.../virtualNetworks/v/subnets/s` -> `/.../virtualNetworks/v` (levels=2)."""
    return "/".join(resource_id.rstrip("/").split("/")[:-levels])


def _props(data: Json) -> Json:
    return data.get("properties") or {}


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _ref(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return value.get("id")
    return None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:  # an unbalanced bracket: not a URL we can take a host from
        return None


def connection(data: Json, target_side: bool = False, manual: bool = False) -> Connection:
    props = _props(data)
    state = props.get("privateLinkServiceConnectionState") or {}
    return Connection(
        id=data.get("id"),
        private_endpoint_id=_ref(props.get("privateEndpoint")),
        target_id=props.get("privateLinkServiceId") if target_side else None,
        status=_str(state.get("status")),
        description=state.get("description"),
        provisioning_state=_str(props.get("provisioningState")),
        group_ids=tuple(props.get("groupIds") or ()),
        manual=manual,
    )


def account(data: Json) -> Account:
    props = _props(data)
    acls = props.get("networkAcls") or {}
    hosts: list[str] = []
    for url in [props.get("endpoint"), *(props.get("endpoints") or {}).values()]:
        host = _host(url) if isinstance(url, str) else None
        if host and host not in hosts:
            hosts.append(host)
    rid = str(data.get("id", ""))
    return Account(
        id=rid,
        name=str(data.get("name", "")),
        subscription_id=id_part(rid, "subscriptions"),
        resource_group=id_part(rid, "resourceGroups"),
        kind=data.get("kind"),
        location=data.get("location"),
        custom_subdomain=props.get("customSubDomainName") or None,
        endpoint=props.get("endpoint"),
        endpoint_hosts=tuple(hosts),
        public_network_access=_str(props.get("publicNetworkAccess")),
        default_action=_str(acls.get("defaultAction")),
        ip_rules=tuple(str(r.get("value")) for r in acls.get("ipRules") or () if r.get("value")),
        vnet_rules=tuple(str(r.get("id")) for r in acls.get("virtualNetworkRules") or () if r.get("id")),
        bypass=_str(acls.get("bypass")),
        connections=tuple(connection(c) for c in props.get("privateEndpointConnections") or ()),
    )


def bare_ip(value: Any) -> str | None:
    """`10.0.0.4` from `10.0.0.4` or `10.0.0.4/24` (some answers carry the prefix length); None if not an address."""
    text = str(value or "").strip().split("/", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _unique(values: Any) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        ip = bare_ip(value)
        if ip and ip not in out:
            out.append(ip)
    return tuple(out)


def private_endpoint(
    data: Json,
    nic_ips: tuple[str, ...] = (),
    zone_groups: tuple[ZoneGroup, ...] | None = None,
    nic_denied: tuple[Denied, ...] = (),
    asg_ids: tuple[str, ...] = (),
) -> PrivateEndpoint:
    """A PE's address may sit in four places: customDnsConfigs (often empty when a zone group is used), static
    ipConfigurations, the zone group's recordSets, and the NIC. All are kept.
    https://learn.microsoft.com/rest/api/virtualnetwork/private-endpoints/get"""
    props = _props(data)
    rid = str(data.get("id", ""))
    subnet_id = _ref(props.get("subnet"))
    custom = tuple(
        CustomDns(fqdn=c.get("fqdn"), ip_addresses=_unique(c.get("ipAddresses") or ()))
        for c in props.get("customDnsConfigs") or ()
    )
    static = _unique(_props(c).get("privateIPAddress") for c in props.get("ipConfigurations") or ())
    group_ips = tuple(ip for g in zone_groups or () for ip in g.ip_addresses)
    ips = _unique([*(a for c in custom for a in c.ip_addresses), *static, *group_ips, *nic_ips])
    own_asgs = tuple(
        a["id"] for a in props.get("applicationSecurityGroups") or () if isinstance(a, Mapping) and a.get("id")
    )
    return PrivateEndpoint(
        id=rid,
        name=str(data.get("name", "")),
        subscription_id=id_part(rid, "subscriptions"),
        resource_group=id_part(rid, "resourceGroups"),
        location=data.get("location"),
        provisioning_state=_str(props.get("provisioningState")),
        subnet_id=subnet_id,
        vnet_id=parent_id(subnet_id) if subnet_id else None,
        connections=(
            *(connection(c, True) for c in props.get("privateLinkServiceConnections") or ()),
            *(connection(c, True, manual=True) for c in props.get("manualPrivateLinkServiceConnections") or ()),
        ),
        nic_ids=tuple(n["id"] for n in props.get("networkInterfaces") or () if n.get("id")),
        custom_dns=custom,
        ip_addresses=ips,
        zone_groups=zone_groups,
        static_ips=static,
        nic_ips=_unique(nic_ips),
        nic_denied=nic_denied,
        asg_ids=tuple(dict.fromkeys([*own_asgs, *asg_ids])),
    )


def zone_group(data: Json) -> ZoneGroup:
    configs = _props(data).get("privateDnsZoneConfigs") or ()
    return ZoneGroup(
        id=str(data.get("id", "")),
        zone_ids=tuple(z for c in configs if (z := _props(c).get("privateDnsZoneId"))),
        ip_addresses=_unique(
            ip for c in configs for rs in _props(c).get("recordSets") or () for ip in rs.get("ipAddresses") or ()
        ),
    )


def zone(data: Json) -> Zone:
    rid = str(data.get("id", ""))
    return Zone(
        id=rid,
        name=str(data.get("name", "")).lower(),
        subscription_id=id_part(rid, "subscriptions"),
        resource_group=id_part(rid, "resourceGroups"),
    )


def vnet_link(data: Json) -> VnetLink:
    props = _props(data)
    rid = str(data.get("id", ""))
    return VnetLink(
        id=rid,
        zone_id=parent_id(rid),
        vnet_id=_ref(props.get("virtualNetwork")),
        registration_enabled=bool(props.get("registrationEnabled")),
        state=_str(props.get("virtualNetworkLinkState")),
        provisioning_state=_str(props.get("provisioningState")),
        resolution_policy=_str(props.get("resolutionPolicy")),
    )


def a_record_ips(data: Json) -> tuple[str, ...]:
    props = _props(data)
    records = props.get("aRecords") or props.get("ARecords") or ()
    return tuple(r["ipv4Address"] for r in records if r.get("ipv4Address"))


def peering(data: Json) -> Peering:
    props = _props(data)
    return Peering(
        id=str(data.get("id", "")),
        name=str(data.get("name", "")),
        remote_vnet_id=_ref(props.get("remoteVirtualNetwork")),
        state=_str(props.get("peeringState")),
        sync_level=_str(props.get("peeringSyncLevel")),
        allow_gateway_transit=bool(props.get("allowGatewayTransit")),
        use_remote_gateways=bool(props.get("useRemoteGateways")),
        allow_forwarded_traffic=bool(props.get("allowForwardedTraffic")),
        allow_virtual_network_access=(
            None if props.get("allowVirtualNetworkAccess") is None else bool(props.get("allowVirtualNetworkAccess"))
        ),
    )


def subnet(data: Json) -> Subnet:
    props = _props(data)
    prefixes = list(props.get("addressPrefixes") or ())
    if props.get("addressPrefix"):
        prefixes.insert(0, props["addressPrefix"])
    return Subnet(
        id=str(data.get("id", "")),
        prefixes=tuple(prefixes),
        nsg_id=_ref(props.get("networkSecurityGroup")),
        route_table_id=_ref(props.get("routeTable")),
        pe_network_policies=_str(props.get("privateEndpointNetworkPolicies")),
        service_endpoints=tuple(s.get("service", "") for s in props.get("serviceEndpoints") or ()),
    )


def vnet(data: Json) -> Vnet:
    props = _props(data)
    return Vnet(
        id=str(data.get("id", "")),
        location=data.get("location"),
        address_prefixes=tuple((props.get("addressSpace") or {}).get("addressPrefixes") or ()),
        dns_servers=tuple((props.get("dhcpOptions") or {}).get("dnsServers") or ()),
        peerings=tuple(peering(p) for p in props.get("virtualNetworkPeerings") or ()),
        # A subnet listed twice (a body and a reference to it) is one subnet.
        subnet_ids=tuple(dict.fromkeys(s["id"] for s in props.get("subnets") or () if s.get("id"))),
    )


def nic(data: Json) -> Nic:
    props = _props(data)
    configs = props.get("ipConfigurations") or ()
    subnet_ids = [s for c in configs if (s := _ref(_props(c).get("subnet")))]
    asgs = [a["id"] for c in configs for a in _props(c).get("applicationSecurityGroups") or () if a.get("id")]
    return Nic(
        id=str(data.get("id", "")),
        private_ips=_unique(_props(c).get("privateIPAddress") for c in configs),
        subnet_id=subnet_ids[0] if subnet_ids else None,
        nsg_id=_ref(props.get("networkSecurityGroup")),
        vm_id=_ref(props.get("virtualMachine")),
        asg_ids=tuple(dict.fromkeys(asgs)),
    )


def route(data: Json) -> Route:
    # Effective routes are not wrapped in `properties`; the SDK gives next_hop_type as an enum for some values and a
    # plain string for others, so it is kept as a string.
    return Route(
        source=_str(data.get("source")),
        state=_str(data.get("state")),
        prefixes=tuple(data.get("addressPrefix") or ()),
        next_hop_type=_str(data.get("nextHopType")),
        next_hop_ips=tuple(data.get("nextHopIpAddress") or ()),
    )


def _list(props: Json, single: str, plural: str, asgs: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A rule's prefixes or ports; none given means any (`*`), unless the rule names application security groups,
    which then stand in for the prefix and must not be read as `*`."""
    values = list(props.get(plural) or ())
    if props.get(single):
        values.insert(0, props[single])
    if not values and asgs:
        return ()
    return tuple(str(v) for v in values) or ("*",)


def _asgs(props: Json, key: str) -> tuple[str, ...]:
    return tuple(str(a["id"]) for a in props.get(key) or () if isinstance(a, Mapping) and a.get("id"))


def nsg_rule(data: Json, default: bool = False) -> NsgRule:
    props = _props(data) or data
    source_asgs = _asgs(props, "sourceApplicationSecurityGroups")
    destination_asgs = _asgs(props, "destinationApplicationSecurityGroups")
    return NsgRule(
        name=str(data.get("name", "")),
        priority=int(props.get("priority") or 65000),
        direction=str(_str(props.get("direction")) or ""),
        access=str(_str(props.get("access")) or ""),
        protocol=str(_str(props.get("protocol")) or "*"),
        source_prefixes=_list(props, "sourceAddressPrefix", "sourceAddressPrefixes", source_asgs),
        source_ports=_list(props, "sourcePortRange", "sourcePortRanges"),
        destination_prefixes=_list(props, "destinationAddressPrefix", "destinationAddressPrefixes", destination_asgs),
        destination_ports=_list(props, "destinationPortRange", "destinationPortRanges"),
        default=default,
        source_asgs=source_asgs,
        destination_asgs=destination_asgs,
    )


def nsg(data: Json) -> Nsg:
    props = _props(data)
    rules = [nsg_rule(r) for r in props.get("securityRules") or ()]
    rules += [nsg_rule(r, default=True) for r in props.get("defaultSecurityRules") or ()]
    return Nsg(id=str(data.get("id", "")), rules=tuple(rules))


def firewall(data: Json) -> Firewall:
    props = _props(data)
    ips: list[str] = []
    vnet_id = None
    for cfg in props.get("ipConfigurations") or ():
        cprops = _props(cfg)
        if ip := bare_ip(cprops.get("privateIPAddress")):
            ips.append(ip)
        sid = _ref(cprops.get("subnet"))
        if sid:
            vnet_id = parent_id(sid)
    return Firewall(id=str(data.get("id", "")), private_ips=tuple(ips), vnet_id=vnet_id)


# --- app hosts (Microsoft.Web/sites, Microsoft.App, Microsoft.ContainerService) ---------------------------------


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _base(kind: str, data: Json) -> AppHost:
    """The identity of a host (kind, id, name, scope, location); each reader adds its network with `replace`."""
    rid = str(data.get("id", ""))
    return AppHost(
        kind=kind,
        id=rid,
        name=str(data.get("name") or rid.rsplit("/", 1)[-1]),
        subscription_id=id_part(rid, "subscriptions"),
        resource_group=id_part(rid, "resourceGroups"),
        location=data.get("location"),
    )


def site_kind(data: Json) -> str:
    """`functionapp` for a Functions site (kind `functionapp[,linux]`), else `webapp`."""
    return "functionapp" if "functionapp" in str(data.get("kind") or "").lower() else "webapp"


def site(data: Json, web_config: Json | None = None) -> AppHost:
    """A Microsoft.Web/sites answer (and its `config/web`, when read) as an AppHost.

    Regional VNet integration is `virtualNetworkSubnetId`; route-all was `vnetRouteAllEnabled` (on the site and in
    `siteConfig` / `config/web`) and is `outboundVnetRouting.applicationTraffic` (or `allTraffic`) in newer API
    versions (https://learn.microsoft.com/azure/app-service/configure-vnet-integration-routing). `dnsConfiguration`
    (`dnsServers`, `dnsAltServer`) replaces the VNet's DNS servers for the app
    (https://learn.microsoft.com/azure/app-service/overview-name-resolution).
    """
    props = _props(data)
    route_all, source = None, None
    outbound = props.get("outboundVnetRouting")
    if isinstance(outbound, Mapping) and any(
        isinstance(outbound.get(k), bool) for k in ("applicationTraffic", "allTraffic")
    ):
        route_all, source = (
            bool(outbound.get("applicationTraffic") or outbound.get("allTraffic")),
            "outboundVnetRouting",
        )
    for value, where in (
        (props.get("vnetRouteAllEnabled"), "vnetRouteAllEnabled"),
        ((props.get("siteConfig") or {}).get("vnetRouteAllEnabled"), "vnetRouteAllEnabled"),
        (_props(web_config or {}).get("vnetRouteAllEnabled"), "config/web"),
    ):
        # Either property turns route-all on: the portal sets both, older templates only one.
        if isinstance(value, bool) and (route_all is None or (value and not route_all)):
            route_all, source = value, where
    raw_dns = props.get("dnsConfiguration")
    dns: Json = raw_dns if isinstance(raw_dns, Mapping) else {}
    subnet_id = _str(props.get("virtualNetworkSubnetId"))
    return replace(
        _base(site_kind(data), data),
        subnet_ids=(subnet_id,) if subnet_id else (),
        route_all=route_all,
        route_all_source=source,
        dns_servers=_unique(dns.get("dnsServers") or ()),
        dns_alt_server=_str(dns.get("dnsAltServer")) or None,
    )


def managed_environment(data: Json, app: Json | None = None) -> AppHost:
    """A Container Apps environment (vnetConfiguration.infrastructureSubnetId, internal) as the host of `app`
    (https://learn.microsoft.com/azure/container-apps/networking)."""
    props = _props(data)
    raw_config = props.get("vnetConfiguration")
    vnet_config: Json = raw_config if isinstance(raw_config, Mapping) else {}
    subnet_id = _str(vnet_config.get("infrastructureSubnetId"))
    base = _base("containerapp", app if app is not None else data)
    return replace(
        base,
        location=base.location or (data.get("location") if app is not None else None),
        subnet_ids=(subnet_id,) if subnet_id else (),
        environment_id=str(data.get("id", "")) or None,
        internal=_flag(vnet_config.get("internal")),
    )


def managed_cluster(data: Json) -> AppHost:
    """An AKS cluster: the agent pools' vnetSubnetID / podSubnetID and the networkProfile
    (https://learn.microsoft.com/azure/aks/concepts-network)."""
    props = _props(data)
    raw_network = props.get("networkProfile")
    network: Json = raw_network if isinstance(raw_network, Mapping) else {}
    pools = tuple(
        AgentPool(
            name=str(p.get("name", "")),
            vnet_subnet_id=_str(p.get("vnetSubnetID")),
            pod_subnet_id=_str(p.get("podSubnetID")),
        )
        for p in props.get("agentPoolProfiles") or ()
        if isinstance(p, Mapping)
    )
    # Pods leave from their own subnet when they have one (Azure CNI dynamic IP), else from the node's.
    subnets = tuple(dict.fromkeys(s for p in pools if (s := p.pod_subnet_id or p.vnet_subnet_id)))
    return replace(
        _base("aks", data),
        subnet_ids=subnets,
        network_plugin=_str(network.get("networkPlugin")),
        network_plugin_mode=_str(network.get("networkPluginMode")),
        dns_service_ip=_str(network.get("dnsServiceIP")),
        outbound_type=_str(network.get("outboundType")),
        node_resource_group=_str(props.get("nodeResourceGroup")),
        agent_pools=pools,
    )
