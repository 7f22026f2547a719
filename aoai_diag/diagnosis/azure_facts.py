"""Facts derived once from the Azure Resource Manager reads; the `arm_*` probes' statuses and the Azure rules both
read them, so no judgement is written twice.

Two layers:
- item facts take one piece of evidence (a PE, a peering, a route, an NSG decision, the zone search) as the probes
  record it; a probe calls them on the evidence it has just built, to choose its status and summary;
- target facts take the whole `Evidence` of a target (what the rules see, live or from a bundle).

A read that was denied, throttled or timed out gives an *unknown* fact naming the scope and what would decide it,
never an absent resource: "no zone" is known only when every scope that could hold it was read.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, is_unknown, known, unknown, why_failed, why_unread
from aoai_diag.evidence import check_of
from aoai_diag.evidence.azure import (
    Account,
    ArmAccount,
    ArmClientNetwork,
    ArmDnsZones,
    ArmNsg,
    ArmPrivateEndpoints,
    Decision,
    Denied,
    DnsServerHost,
    Peering,
    PeVnet,
    PrivateEndpoint,
    Route,
    UnlistedSubscription,
    Vnet,
    VnetLink,
)
from aoai_diag.evidence.path import HttpsDataplane, TcpConnect
from aoai_diag.model import Status

if TYPE_CHECKING:
    # Only the type checker reads it (`typing.Never` is 3.11+).
    from typing_extensions import Never

ArmRead = TypeVar("ArmRead", ArmAccount, ArmPrivateEndpoints, ArmDnsZones, ArmClientNetwork, ArmNsg)
"""The Resource Manager probes whose failed reads are named in `denied`."""


def scope_name(scope: str) -> str:
    """`subscription 6c1f...` for a subscription scope, else the last segments of the id."""
    parts = str(scope).strip("/").split("/")
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        return f"subscription {parts[1]}"
    return str(scope)


def _unread(denied: Sequence[Denied], source: str, what: str, role: str = "Reader") -> Fact[Never]:
    first = denied[0]
    scopes = ", ".join(scope_name(str(d.scope)) for d in denied)
    status = f"HTTP {first.status}" if first.status else str(first.code or "error")
    return unknown(
        why_unread(first),
        source,
        detail=f"{scopes}: {status}",
        decide=f"{role} on {scopes} would show {what}",
    )


# --- private endpoints --------------------------------------------------------------------------


def pe_side_statuses(pe: PrivateEndpoint) -> list[str]:
    """The statuses the private endpoint's own record gives its connections (privateLinkServiceConnections and
    manualPrivateLinkServiceConnections), in order, without repeats.
    https://learn.microsoft.com/rest/api/virtualnetwork/private-endpoints/get"""
    return list(dict.fromkeys(c.status for c in pe.connections if c.status))


def connection_statuses(pe: PrivateEndpoint) -> set[str]:
    """Every status the PE's connection has, from the PE side and from the account side."""
    statuses = {c.status for c in pe.connections if c.status}
    if pe.account_side is not None and pe.account_side.status:
        statuses.add(pe.account_side.status)
    return statuses


def pe_usable(pe: PrivateEndpoint) -> bool:
    """Succeeded and Approved on both sides (a manual connection counts the same once approved); a PE the account
    does not list is not usable, whatever its own record says (the account was re-created or the connection removed).
    What was not recorded (an older bundle: no `listed_by_account`, no account-side status) raises no objection."""
    side = pe.account_side
    return (
        pe.listed_by_account is not False
        and pe.provisioning_state == "Succeeded"
        and "Approved" in {c.status for c in pe.connections}
        and (side is None or side.status in (None, "Approved"))
    )


def pe_ips(pe: PrivateEndpoint, source: str = "arm_private_endpoints") -> Fact[tuple[str, ...]]:
    """The PE's private addresses. PEs that use a DNS zone group often list no customDnsConfigs and no static
    ipConfigurations: then the NIC (or the zone group's recordSets) is the only source, and a denied NIC read leaves
    the address unknown."""
    if pe.ip_addresses:
        return known(pe.ip_addresses, source)
    if pe.nic_denied:
        return _unread(pe.nic_denied, source, f"the address of private endpoint {pe.name}")
    if not pe.nic_ids:
        return known((), source)
    return unknown(
        Unknown.NOT_READ,
        source,
        detail=f"no address in customDnsConfigs, ipConfigurations or zone groups of {pe.name}",
        decide=f"az network nic show --ids {pe.nic_ids[0]} --query ipConfigurations[].privateIPAddress",
    )


def all_pe_ips(pes: Iterable[PrivateEndpoint]) -> Fact[dict[str, PrivateEndpoint]]:
    """address -> PE for every PE; unknown as soon as one PE's address is unknown (a record may be that one)."""
    by_ip: dict[str, PrivateEndpoint] = {}
    for pe in pes:
        fact = pe_ips(pe)
        if is_unknown(fact):
            return fact
        for ip in fact.value or ():
            by_ip.setdefault(ip, pe)
    return known(by_ip, "arm_private_endpoints")


# --- peerings, routes, NSG decisions ------------------------------------------------------------


def peering_usable(peering: Peering) -> Fact[bool]:
    """Traffic can cross the peering: Connected, FullyInSync AND allowVirtualNetworkAccess.
    allowVirtualNetworkAccess on this VNet's peering says whether its VMs may reach the remote VNet: a Connected
    peering with it false carries no traffic from here.
    https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering"""
    if peering.state != "Connected" or (peering.sync_level or "FullyInSync") != "FullyInSync":
        return known(False, "arm_client_network")
    access = peering.allow_virtual_network_access
    if access is None:
        return unknown(
            Unknown.NOT_READ,
            "arm_client_network",
            detail=f"peering {peering.name}: allowVirtualNetworkAccess not in the evidence",
            decide=f"az network vnet peering show --ids {peering.id} --query allowVirtualNetworkAccess",
        )
    return known(access, "arm_client_network")


def peering_problem(peering: Peering) -> str | None:
    """Why the peering carries no traffic, in words; None when it does (or when that is unknown)."""
    if not peering_usable(peering).is_false():
        return None
    if peering.state == "Connected" and (peering.sync_level or "FullyInSync") == "FullyInSync":
        return f"peering {peering.name} is Connected but allowVirtualNetworkAccess is false"
    return f"peering {peering.name} is {peering.state}/{peering.sync_level}"


class Hop(str, enum.Enum):
    """What the effective route toward a PE address does with the traffic.
    https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"""

    DIRECT = "direct"
    """InterfaceEndpoint, VnetLocal or VNetPeering: the VNet fabric delivers it."""
    GATEWAY = "gateway"
    APPLIANCE = "appliance"
    """A user route to a VirtualAppliance (NVA or firewall)."""
    USER_DROP = "user_drop"
    """A user route with next hop None: dropped on purpose."""
    NO_PATH = "no_path"
    """No route, a system route with next hop None (e.g. 10.0.0.0/8 when the VNets are not peered, or the peering is
    down), or only the Internet default route: there is no VNet path."""


def route_hop(route: Route | None) -> Hop:
    if route is None:
        return Hop.NO_PATH
    hop = route.next_hop_type or ""
    user = (route.source or "").lower() == "user"
    if hop in ("InterfaceEndpoint", "VnetLocal", "VNetPeering", "VNetGlobalPeering"):
        return Hop.DIRECT
    if hop == "VirtualAppliance":
        return Hop.APPLIANCE
    if hop == "VirtualNetworkGateway":
        return Hop.GATEWAY
    if hop == "None" and user:
        return Hop.USER_DROP
    return Hop.NO_PATH


def connected_addresses(tcp: TcpConnect) -> set[str]:
    """Addresses a TCP connect reached in this run (tcp_connect evidence): a path there exists, whatever the peerings
    look like (a hub firewall with user routes carries spoke-to-spoke traffic)."""
    return {a.address for a in tcp.attempts if a.outcome == "connected"}


def unpeered_without_path(entry: PeVnet, pe_addresses: Iterable[str], connected: set[str]) -> bool:
    """The PE's VNet is not peered with this one, and no connect to the PE's addresses got through (when one did,
    something routes the traffic: not peering is then no problem)."""
    return entry.relation == "not_peered" and not (set(pe_addresses) & connected)


def nsg_deny_is_cause(decision: Decision) -> bool:
    """A deny decides only when a rule someone wrote denies. The default DenyAllOutBound decides only when the PE
    lies outside the VirtualNetwork space, i.e. when there is no VNet path at all: a path cause, not an NSG one."""
    return decision.access == "Deny" and not decision.default


# --- account network rules ----------------------------------------------------------------------


def ip_rule_networks(rules: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """networkAcls.ipRules values are addresses or CIDR ranges (`100.0.0.0/24`, `203.0.113.7`, `203.0.113.7/32`).
    https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks"""
    nets = []
    for rule in rules:
        try:
            nets.append(ipaddress.ip_network(str(rule).strip(), strict=False))
        except ValueError:
            continue
    return nets


def caller_allowed(caller: str | None, rules: Iterable[str]) -> Fact[bool]:
    """Whether the caller's egress address falls inside an IP rule (containment, not spelling)."""
    if not caller:
        # Nothing failed to be read (no source): the service's answer simply did not name the address.
        return unknown(
            Unknown.NOT_READ,
            detail="the service did not say which address it saw",
            decide="curl -s https://api.ipify.org shows this machine's egress address",
        )
    try:
        ip = ipaddress.ip_address(str(caller).strip())
    except ValueError:
        return unknown(Unknown.FAILED, "https_dataplane", detail=f"caller address {caller!r} is not an address")
    return known(any(ip.version == n.version and ip in n for n in ip_rule_networks(rules)), "arm_account")


# --- DNS ----------------------------------------------------------------------------------------


def unlisted_subscriptions(
    searched: Iterable[str], named: Iterable[tuple[str | None, str]]
) -> list[UnlistedSubscription]:
    """Subscriptions the evidence names (`named`: (resource id, what names it)) that are not among those searched,
    once each, in order. Resource Graph silently leaves out what the identity cannot read
    (https://learn.microsoft.com/azure/governance/resource-graph/overview#permissions-in-azure-resource-graph), so
    "every subscription listed was searched" is not "the search is complete" (issue 17, class 2)."""
    read = {s.lower() for s in searched}
    out: dict[str, UnlistedSubscription] = {}
    for resource_id, why in named:
        sub = _sub_of(resource_id or "")
        if sub != "?" and sub.lower() not in read:
            out.setdefault(sub.lower(), UnlistedSubscription(subscription=sub, named_by=why))
    return list(out.values())


def named_scopes(
    vnets: Iterable[Vnet] = (),
    links: Iterable[VnetLink] = (),
    pes: Iterable[PrivateEndpoint] = (),
    dns_hosts: Iterable[DnsServerHost] = (),
) -> list[tuple[str | None, str]]:
    """(resource id, what names it) for every resource the topology points at: peerings' remote VNets, links'
    VNets, the private endpoints' VNets and zone groups' zones, the VNets the DNS servers sit in."""
    named: list[tuple[str | None, str]] = []
    for vnet in vnets:
        for peering in vnet.peerings:
            named.append((peering.remote_vnet_id, f"peering {peering.name} of {_short(vnet.id)}"))
    for link in links:
        named.append((link.vnet_id, f"zone link {_short(link.id)}"))
    for pe in pes:
        named.append((pe.vnet_id, f"private endpoint {pe.name}"))
        for group in pe.zone_groups or ():
            for zone_id in group.zone_ids:
                named.append((zone_id, f"the zone group of {pe.name}"))
    for host in dns_hosts:
        named.append((host.vnet_id, f"DNS server {host.ip}"))
    return named


def _short(resource_id: str | None) -> str:
    return str(resource_id or "?").rstrip("/").rsplit("/", 1)[-1]


def zone_search(
    dns: ArmDnsZones | None,
    pes: Iterable[PrivateEndpoint] = (),
    unlisted: Sequence[UnlistedSubscription] = (),
) -> Fact[bool]:
    """Every scope that could hold a needed privatelink zone (and its record) was read. `dns` is arm_dns_zones
    evidence (None: not read), `pes` the private endpoints. A zone a PE's zone group points at, that the search did
    not return, lives where this identity cannot read (Resource Graph silently leaves out what it may not see):
    incomplete. So does a subscription the topology names that was not searched (`unlisted`, with the evidence's own
    `unlisted_subscriptions`): the zone of a landing zone lives in the hub's."""
    if dns is None:
        return unknown(Unknown.NOT_READ, "arm_dns_zones", decide="run with Azure access (arm_dns_zones)")
    if dns.denied:
        scopes = ", ".join(dict.fromkeys(str(d.scope) for d in dns.denied))
        fact_ = _unread(dns.denied, "arm_dns_zones", "")
        return unknown(
            fact_.why or Unknown.FAILED,
            "arm_dns_zones",
            detail=fact_.detail,
            decide=f"Reader on {scopes} would show whether the zone and its record exist there",
        )
    if dns.complete is not True:
        return unknown(Unknown.NOT_READ, "arm_dns_zones", detail="the zone search did not finish")
    unseen = hidden_zones(dns, pes)
    if unseen:
        subs = sorted({_sub_of(z) for z in unseen})
        where = ", ".join(f"subscription {s}" for s in subs)
        return unknown(
            Unknown.FORBIDDEN,
            "arm_dns_zones",
            "arm_private_endpoints",
            detail=f"a zone group points at {unseen[0]}, which the search did not return",
            decide=f"Reader on {where} would show whether the zone exists",
        )
    missing = [*dns.unlisted_subscriptions, *unlisted]
    if missing:
        subs = list(dict.fromkeys(str(u.subscription) for u in missing))
        why = "; ".join(f"subscription {u.subscription} (named by {u.named_by})" for u in missing[:3])
        return unknown(
            Unknown.FORBIDDEN,
            "arm_dns_zones",
            detail=f"not among the subscriptions this identity lists: {why}",
            decide=f"Reader on {', '.join(f'subscription {s}' for s in subs)} would show whether the zone exists there",
        )
    return known(True, "arm_dns_zones")


def _sub_of(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else "?"


def hidden_zones(dns: ArmDnsZones, pes: Iterable[PrivateEndpoint]) -> list[str]:
    """Needed zones referenced by a PE's zone group but absent from what the search returned."""
    needed = {n.lower() for n in dns.needed_zones}
    seen = {z.id.rstrip("/").lower() for z in dns.zones}
    out: list[str] = []
    for pe in pes:
        for group in pe.zone_groups or ():
            for zone_id in group.zone_ids:
                name = zone_id.rstrip("/").rsplit("/", 1)[-1].lower()
                if name in needed and zone_id.rstrip("/").lower() not in seen and zone_id not in out:
                    out.append(zone_id)
    return out


def link_in_progress(link: VnetLink | None) -> bool:
    """virtualNetworkLinkState InProgress: the link is still being created; it neither resolves yet nor is missing.
    https://learn.microsoft.com/rest/api/dns/privatednszones/virtual-network-links/get"""
    return link is not None and (link.state or "").lower() == "inprogress"


def split_dns_servers(servers: Iterable[str]) -> tuple[list[str], list[str]]:
    """(private, public) addresses of a VNet's DNS server list (168.63.129.16 counts as private: Azure DNS)."""
    private: list[str] = []
    public: list[str] = []
    for server in servers:
        try:
            ip = ipaddress.ip_address(str(server).strip())
        except ValueError:
            continue
        (private if ip.is_private or str(ip) == "168.63.129.16" else public).append(str(ip))
    return private, public


# --- target facts (what the rules read; names are the catalogue's premise names) -----------------


def _net(ev: Evidence) -> ArmClientNetwork | None:
    """This machine's network as read, or None when arm_client_network observed nothing."""
    return ev.of(ArmClientNetwork) if ev.ran("arm_client_network") else None


def _check_unknown(ev: Evidence, kind: type[ArmRead], what: str) -> Fact[Never]:
    """Why a whole probe gave nothing: it errored on a read (scope named), was skipped, or did not run."""
    check = check_of(kind)
    result = ev.checks.get(check)
    if result is None:
        return unknown(Unknown.NOT_READ, check, detail=f"{check} did not run", decide=f"run with Azure access ({what})")
    denied = result.typed(kind).denied
    if result.status is Status.ERROR and denied:
        return _unread(denied, check, what)
    why = Unknown.NOT_READ if result.status is Status.SKIP else why_failed(result)
    return unknown(why, check, detail=result.reason or result.summary)


@fact("arm.account")
def account_fact(ev: Evidence) -> Fact[Account | None]:
    """The account (known None when every scope was read and it is not there)."""
    if ev.has("arm_account", Status.PASS):
        acct = ev.of(ArmAccount).account
        if acct is not None:
            return known(acct, "arm_account")
    if ev.has("arm_account", Status.FAIL) and not ev.of(ArmAccount).denied:
        return known(None, "arm_account")
    return _check_unknown(ev, ArmAccount, "whether the account exists")


@fact("arm.zone_search_complete")
def zone_search_complete(ev: Evidence) -> Fact[bool]:
    """`arm.zone_search_complete`: true when every subscription and zone that could hold the zone was read."""
    result = ev.checks.get("arm_dns_zones")
    # `complete` is recorded by the search itself: without it the probe failed before searching (a denied list
    # of subscriptions, a skip, the deadline), and the probe's status says why.
    if result is None or result.typed(ArmDnsZones).complete is None:
        return _check_unknown(ev, ArmDnsZones, "whether a privatelink zone exists")
    fact = zone_search(result.typed(ArmDnsZones), _pes(ev), unlisted_scopes(ev))
    return fact if not fact.known or fact.value else unknown(Unknown.NOT_READ, "arm_dns_zones")


def unlisted_scopes(ev: Evidence) -> list[UnlistedSubscription]:
    """Subscriptions this target's evidence names (its VNet's peerings, the VNets its DNS servers sit in, the PEs'
    VNets and zone groups) that the inventory did not search (arm_account `subscriptions`)."""
    if not ev.ran("arm_account"):
        return []
    net = _net(ev)
    named = named_scopes(
        vnets=[net.vnet] if net is not None and net.vnet is not None else (),
        pes=_pes(ev),
        dns_hosts=net.dns_server_hosts if net is not None else (),
    )
    return unlisted_subscriptions(ev.of(ArmAccount).subscriptions, named)


def _pe_addresses(ev: Evidence, pe_id: str) -> set[str]:
    return {ip for p in _pes(ev) if p.id.lower() == pe_id.lower() for ip in p.ip_addresses}


def _pes(ev: Evidence) -> tuple[PrivateEndpoint, ...]:
    return ev.of(ArmPrivateEndpoints).private_endpoints if ev.ran("arm_private_endpoints") else ()


@fact("arm.pe_ip_known")
def pe_ip_known(ev: Evidence) -> Fact[bool]:
    """`arm.pe_ip_known`: the address of every private endpoint of the account is known (a record can then be
    called stale)."""
    if not ev.ran("arm_private_endpoints"):
        return _check_unknown(ev, ArmPrivateEndpoints, "the private endpoints' addresses")
    data = ev.of(ArmPrivateEndpoints)
    pes = data.private_endpoints
    if not pes:
        return unknown(Unknown.NOT_APPLICABLE, "arm_private_endpoints", detail="no private endpoint")
    # A PE that could not be read at all may own the address a record holds.
    read = {p.id.rstrip("/").lower() for p in pes}
    unread_pes = [
        d
        for d in data.denied
        if "/privateendpoints/" in str(d.scope or "").lower() and str(d.scope or "").rstrip("/").lower() not in read
    ]
    if unread_pes:
        return _unread(unread_pes, "arm_private_endpoints", "the address of that private endpoint")
    fact = all_pe_ips(pes)
    if is_unknown(fact):
        return fact
    return known(True, "arm_private_endpoints") if fact.value else unknown(Unknown.NOT_READ, "arm_private_endpoints")


@fact("arm.pe_connection_approved")
def pe_connection_approved(ev: Evidence) -> Fact[bool]:
    """`arm.pe_connection_approved`: at least one PE of the account is Succeeded and Approved."""
    if not ev.ran("arm_private_endpoints"):
        return _check_unknown(ev, ArmPrivateEndpoints, "the private endpoint connections")
    data = ev.of(ArmPrivateEndpoints)
    if any(pe_usable(p) for p in data.private_endpoints):
        return known(True, "arm_private_endpoints")
    if data.denied:
        return _unread(data.denied, "arm_private_endpoints", "the remaining private endpoints")
    return known(False, "arm_private_endpoints")


@fact("arm.pes_complete")
def pes_complete(ev: Evidence) -> Fact[bool]:
    """`arm.pes_complete`: every PE that points at the account was read (so "none" means none)."""
    if not ev.ran("arm_private_endpoints"):
        return _check_unknown(ev, ArmPrivateEndpoints, "the account's private endpoints")
    denied = ev.of(ArmPrivateEndpoints).denied
    if denied:
        return _unread(denied, "arm_private_endpoints", "the account's private endpoints")
    inv_denied = ev.of(ArmAccount).denied
    if inv_denied:
        return _unread(inv_denied, "arm_account", "private endpoints that point at the account")
    return known(True, "arm_private_endpoints")


@fact("arm.pe_exists")
def pe_exists(ev: Evidence) -> Fact[bool]:
    """`arm.pe_exists`: Resource Manager's judgement of "a private endpoint exists for the account" (the one place it
    is made; local evidence has its own, `local.pe_exists`): true when the account lists a connection or a PE read
    points at it, false only when every PE that could point at it was read and none does."""
    acct = account_fact(ev)
    if acct.known and acct.value is not None and acct.value.connections:
        return known(True, "arm_account")
    if _pes(ev):
        return known(True, "arm_private_endpoints")
    complete = pes_complete(ev)
    return known(False, *complete.sources) if complete.is_true() else complete


@fact("arm.client_vnet")
def client_vnet(ev: Evidence) -> Fact[str]:
    """`arm.client_vnet`: the VNet this machine sits in (IMDS) or was named with --vnet."""
    net = _net(ev)
    if net is not None and net.vnet is not None and net.vnet.id:
        return known(net.vnet.id, "arm_client_network")
    return _check_unknown(ev, ArmClientNetwork, "this machine's VNet")


@fact("arm.peerings_usable")
def peerings_usable(ev: Evidence) -> Fact[bool]:
    """`arm.peerings_usable`: every peering toward a PE's VNet carries traffic (state and access flags)."""
    net = _net(ev)
    if net is None:
        return _check_unknown(ev, ArmClientNetwork, "the peerings")
    facts = [
        peering_usable(e.peering if e.peering is not None else Peering())
        for e in net.pe_vnets
        if e.relation == "peered"
    ]
    if any(f.is_false() for f in facts):
        return known(False, "arm_client_network")
    pending = [f for f in facts if not f.known]
    return pending[0] if pending else known(True, "arm_client_network")


@fact("arm.peering_blocked")
def peering_blocked(ev: Evidence) -> Fact[bool]:
    """`arm.peering_blocked`: a peering toward a PE's VNet is known to carry no traffic (state or access flag)."""
    fact_ = peerings_usable(ev)
    return known(not fact_.value, *fact_.sources) if fact_.known else fact_


@fact("arm.no_vnet_path")
def no_vnet_path(ev: Evidence) -> Fact[bool]:
    """`arm.no_vnet_path`: nothing carries traffic from this VNet to a PE's: the effective route is a system route
    with next hop None (or none), or, routes unread, the VNets are not peered and share no peered hub."""
    net = _net(ev)
    if net is None:
        return _check_unknown(ev, ArmClientNetwork, "the path to the private endpoint")
    if net.routes_to_pe:
        return known(any(route_hop(r.route) is Hop.NO_PATH for r in net.routes_to_pe), "arm_client_network")
    tried = ev.of(TcpConnect) if ev.ran("tcp_connect") else TcpConnect()
    failed = {a.address for a in tried.attempts} - connected_addresses(tried)
    if any(e.relation == "not_peered" and not e.via_hubs and _pe_addresses(ev, e.pe_id) & failed for e in net.pe_vnets):
        return known(True, "arm_client_network", "tcp_connect")
    nic = net.nic.id if net.nic is not None else None
    return unknown(
        Unknown.NOT_READ,
        "arm_client_network",
        detail="the effective routes were not read",
        decide=f"az network nic show-effective-route-table --ids {nic or '<nicId>'} -o table would show the next hop",
    )


@fact("arm.routes_read")
def routes_read(ev: Evidence) -> Fact[bool]:
    """`arm.routes_read`: the effective routes of this machine's NIC were read."""
    net = _net(ev)
    if net is None:
        return _check_unknown(ev, ArmClientNetwork, "the effective routes")
    if net.routes_error:
        if net.denied:
            return _unread(net.denied, "arm_client_network", "the effective routes", role="Network Contributor")
        return unknown(Unknown.TIMED_OUT, "arm_client_network", detail=net.routes_error)
    if not net.routes_to_pe:
        return unknown(Unknown.NOT_APPLICABLE, "arm_client_network", detail="no effective route read (not on a VM)")
    return known(True, "arm_client_network")


@fact("arm.caller_ip_allowed")
def caller_ip_allowed(ev: Evidence) -> Fact[bool]:
    """`arm.caller_ip_allowed`: the caller's egress address is inside one of the account's IP rules."""
    acct = account_fact(ev)
    if is_unknown(acct):
        return acct
    if acct.value is None:
        return unknown(Unknown.NOT_APPLICABLE, "arm_account", detail="the account is in no readable subscription")
    if acct.value.default_action == "Allow":
        # networkAcls.defaultAction Allow: IP rules refuse no caller.
        return known(True, "arm_account")
    attempt = next((a for a in ev.of(HttpsDataplane).attempts if a.caller_ip), None)
    return caller_allowed(attempt.caller_ip if attempt is not None else None, acct.value.ip_rules)


@fact("arm.caller_ip_not_allowed")
def caller_ip_not_allowed(ev: Evidence) -> Fact[bool]:
    """`arm.caller_ip_not_allowed`: the negation, known only when the containment test ran."""
    fact = caller_ip_allowed(ev)
    return known(not fact.value, *fact.sources) if fact.known else fact


# --- the DNS link, as facts: the zone, the resolver's VNet, its link, the record; the NSG verdict ----------------


@fact("arm.resolver_vnet")
def resolver_vnet(ev: Evidence) -> Fact[str]:
    """`arm.resolver_vnet`: the VNet whose zone links decide this machine's answers (its own VNet with Azure DNS,
    the DNS server's or firewall's VNet with custom DNS)."""
    from aoai_diag.diagnosis.azure_view import AzureView

    view = AzureView(ev)
    kind, vnet_id, _host = view.resolver()
    if kind is None:
        return _check_unknown(ev, ArmClientNetwork, "this machine's VNet and DNS servers")
    if vnet_id is None:
        servers = ", ".join(h.ip for h in view.net.dns_server_hosts)
        # A subscription the topology names but that was not searched (a peered hub's) is where to look first.
        subs = [str(u.subscription) for u in unlisted_scopes(ev)]
        where = ", ".join(f"subscription {s}" for s in subs) or "the subscription holding the DNS server's VNet"
        return unknown(
            Unknown.NOT_APPLICABLE,
            "arm_client_network",
            detail=f"the DNS server(s) {servers} are in no VNet this identity can see",
            decide=f"Reader on {where} would show which zone links it sees",
        )
    return known(vnet_id, "arm_client_network")


@fact("arm.zone_exists")
def zone_exists(ev: Evidence) -> Fact[bool]:
    """`arm.zone_exists`: a copy of the target's privatelink zone was seen (true as soon as one was found; false
    only after a complete search)."""
    from aoai_diag.diagnosis.azure_view import AzureView

    view = AzureView(ev)
    if view.copies():
        return known(True, "arm_dns_zones")
    search = zone_search_complete(ev)
    return known(False, "arm_dns_zones") if search.is_true() else search


@fact("arm.resolver_link")
def resolver_link(ev: Evidence) -> Fact[str]:
    """`arm.resolver_link`: the state of the zone's link to the resolver's VNet: "Completed", "InProgress" (still
    being created: neither linked nor missing) or "none"."""
    from aoai_diag.diagnosis.azure_view import AzureView

    vnet = resolver_vnet(ev)
    if not vnet.known:
        return vnet
    exists = zone_exists(ev)
    if is_unknown(exists):
        return exists
    if not exists.is_true():
        return known("none", "arm_dns_zones")
    view = AzureView(ev)
    links = [link for z in view.copies() if (link := view.linked(z, vnet.value)) is not None]
    if not links:
        return known("none", "arm_dns_zones", "arm_client_network")
    states = {link.state or "Completed" for link in links}
    return known("Completed" if "Completed" in states else sorted(states)[0], "arm_dns_zones", "arm_client_network")


@fact("arm.record")
def record(ev: Evidence) -> Fact[tuple[str, ...]]:
    """`arm.record`: the addresses of the account's A record in the zone copy linked to the resolver's VNet (empty:
    no record there)."""
    from aoai_diag.diagnosis.azure_view import AzureView

    link = resolver_link(ev)
    if is_unknown(link):
        return link
    if link.value == "none":
        return unknown(Unknown.NOT_APPLICABLE, "arm_dns_zones", detail="no linked zone")
    view = AzureView(ev)
    vnet = resolver_vnet(ev).value
    linked = [z for z in view.copies() if view.linked(z, vnet) is not None]
    unreadable = [z.record_error for z in linked if z.record_error]
    with_record = [z.record for z in linked if z.record]
    if with_record:
        return known(with_record[0] or (), "arm_dns_zones")
    if unreadable:
        return unknown(Unknown.FAILED, "arm_dns_zones", detail=unreadable[0])
    return known((), "arm_dns_zones")


@fact("arm.nsg_allows")
def nsg_allows(ev: Evidence) -> Fact[bool]:
    """`arm.nsg_allows`: no NSG rule someone wrote denies TCP to the PE (client outbound, or PE subnet inbound where
    its network policies let NSGs apply), with application security groups matched."""
    if not ev.ran("arm_nsg"):
        return _check_unknown(ev, ArmNsg, "the NSG rules on the path")
    data = ev.of(ArmNsg)
    client = data.client.decisions if data.client is not None else ()
    if any(nsg_deny_is_cause(d) for d in client) or any(
        e.applies and e.decision is not None and nsg_deny_is_cause(e.decision) for e in data.pe_side
    ):
        return known(False, "arm_nsg")
    unresolved = sorted({r for d in client for r in d.unresolved})
    if data.client is None or data.client.access is None or unresolved:
        return unknown(
            Unknown.NOT_READ,
            "arm_nsg",
            detail="rules not evaluable here: " + (", ".join(unresolved) or "client NSGs unread"),
            decide="az network nic list-effective-nsg on this VM's NIC would show the deciding rule",
        )
    return known(True, "arm_nsg")
