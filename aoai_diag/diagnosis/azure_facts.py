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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, is_unknown, known, unknown, why_failed, why_unread
from aoai_diag.model import Status


def scope_name(scope: str) -> str:
    """`subscription 6c1f...` for a subscription scope, else the last segments of the id."""
    parts = str(scope).strip("/").split("/")
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        return f"subscription {parts[1]}"
    return str(scope)


def _unread(denied: Sequence[Mapping[str, Any]], source: str, what: str, role: str = "Reader") -> Fact[Any]:
    first = denied[0]
    scopes = ", ".join(scope_name(str(d.get("scope"))) for d in denied)
    status = f"HTTP {first.get('status')}" if first.get("status") else str(first.get("code") or "error")
    return unknown(
        why_unread(first),
        source,
        detail=f"{scopes}: {status}",
        decide=f"{role} on {scopes} would show {what}",
    )


# --- private endpoints --------------------------------------------------------------------------


def pe_side_statuses(pe: Mapping[str, Any]) -> list[str]:
    """The statuses the private endpoint's own record gives its connections (privateLinkServiceConnections and
    manualPrivateLinkServiceConnections), in order, without repeats.
    https://learn.microsoft.com/rest/api/virtualnetwork/private-endpoints/get"""
    return list(dict.fromkeys(str(c.get("status")) for c in pe.get("connections") or () if c.get("status")))


def connection_statuses(pe: Mapping[str, Any]) -> set[str]:
    """Every status the PE's connection has, from the PE side and from the account side."""
    statuses = {str(c.get("status")) for c in pe.get("connections") or () if c.get("status")}
    side = pe.get("account_side") or {}
    if side.get("status"):
        statuses.add(str(side["status"]))
    return statuses


def pe_usable(pe: Mapping[str, Any]) -> bool:
    """Succeeded and Approved on both sides (a manual connection counts the same once approved); a PE the account
    does not list is not usable, whatever its own record says (the account was re-created or the connection removed)."""
    side = pe.get("account_side") or {}
    return (
        pe.get("listed_by_account", True) is not False
        and pe.get("provisioning_state") == "Succeeded"
        and "Approved" in {str(c.get("status")) for c in pe.get("connections") or ()}
        and side.get("status", "Approved") == "Approved"
    )


def pe_ips(pe: Mapping[str, Any], source: str = "arm_private_endpoints") -> Fact[tuple[str, ...]]:
    """The PE's private addresses. PEs that use a DNS zone group often list no customDnsConfigs and no static
    ipConfigurations: then the NIC (or the zone group's recordSets) is the only source, and a denied NIC read leaves
    the address unknown."""
    ips = tuple(str(ip) for ip in pe.get("ip_addresses") or ())
    if ips:
        return known(ips, source)
    denied = [d for d in pe.get("nic_denied") or () if isinstance(d, Mapping)]
    if denied:
        return _unread(denied, source, f"the address of private endpoint {pe.get('name')}")
    if not pe.get("nic_ids"):
        return known((), source)
    return unknown(
        Unknown.NOT_READ,
        source,
        detail=f"no address in customDnsConfigs, ipConfigurations or zone groups of {pe.get('name')}",
        decide=f"az network nic show --ids {(pe.get('nic_ids') or ['?'])[0]} --query ipConfigurations[].privateIPAddress",
    )


def all_pe_ips(pes: Iterable[Mapping[str, Any]]) -> Fact[dict[str, Mapping[str, Any]]]:
    """address -> PE for every PE; unknown as soon as one PE's address is unknown (a record may be that one)."""
    by_ip: dict[str, Mapping[str, Any]] = {}
    for pe in pes:
        fact = pe_ips(pe)
        if is_unknown(fact):
            return fact
        for ip in fact.value or ():
            by_ip.setdefault(ip, pe)
    return known(by_ip, "arm_private_endpoints")


# --- peerings, routes, NSG decisions ------------------------------------------------------------


def peering_usable(peering: Mapping[str, Any]) -> Fact[bool]:
    """Traffic can cross the peering: Connected, FullyInSync AND allowVirtualNetworkAccess.
    allowVirtualNetworkAccess on this VNet's peering says whether its VMs may reach the remote VNet: a Connected
    peering with it false carries no traffic from here.
    https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering"""
    state, sync = peering.get("state"), peering.get("sync_level") or "FullyInSync"
    if state != "Connected" or sync != "FullyInSync":
        return known(False, "arm_client_network")
    access = peering.get("allow_virtual_network_access")
    if access is None:
        return unknown(
            Unknown.NOT_READ,
            "arm_client_network",
            detail=f"peering {peering.get('name')}: allowVirtualNetworkAccess not in the evidence",
            decide=f"az network vnet peering show --ids {peering.get('id')} --query allowVirtualNetworkAccess",
        )
    return known(bool(access), "arm_client_network")


def peering_problem(peering: Mapping[str, Any]) -> str | None:
    """Why the peering carries no traffic, in words; None when it does (or when that is unknown)."""
    if not peering_usable(peering).is_false():
        return None
    if peering.get("state") == "Connected" and (peering.get("sync_level") or "FullyInSync") == "FullyInSync":
        return f"peering {peering.get('name')} is Connected but allowVirtualNetworkAccess is false"
    return f"peering {peering.get('name')} is {peering.get('state')}/{peering.get('sync_level')}"


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


def route_hop(route: Mapping[str, Any] | None) -> Hop:
    if not route:
        return Hop.NO_PATH
    hop = str(route.get("next_hop_type") or "")
    user = str(route.get("source") or "").lower() == "user"
    if hop in ("InterfaceEndpoint", "VnetLocal", "VNetPeering", "VNetGlobalPeering"):
        return Hop.DIRECT
    if hop == "VirtualAppliance":
        return Hop.APPLIANCE
    if hop == "VirtualNetworkGateway":
        return Hop.GATEWAY
    if hop == "None" and user:
        return Hop.USER_DROP
    return Hop.NO_PATH


def connected_addresses(tcp: Mapping[str, Any]) -> set[str]:
    """Addresses a TCP connect reached in this run (tcp_connect evidence): a path there exists, whatever the peerings
    look like (a hub firewall with user routes carries spoke-to-spoke traffic)."""
    attempts = tcp.get("attempts")
    return {
        str(a.get("address"))
        for a in (attempts if isinstance(attempts, list) else ())
        if isinstance(a, Mapping) and a.get("outcome") == "connected"
    }


def unpeered_without_path(entry: Mapping[str, Any], pe_addresses: Iterable[str], connected: set[str]) -> bool:
    """The PE's VNet is not peered with this one, and no connect to the PE's addresses got through (when one did,
    something routes the traffic: not peering is then no problem)."""
    return entry.get("relation") == "not_peered" and not (set(pe_addresses) & connected)


def nsg_deny_is_cause(decision: Mapping[str, Any]) -> bool:
    """A deny decides only when a rule someone wrote denies. The default DenyAllOutBound decides only when the PE
    lies outside the VirtualNetwork space, i.e. when there is no VNet path at all: a path cause, not an NSG one."""
    return decision.get("access") == "Deny" and not decision.get("default")


# --- account network rules ----------------------------------------------------------------------


def ip_rule_networks(rules: Iterable[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """networkAcls.ipRules values are addresses or CIDR ranges (`100.0.0.0/24`, `203.0.113.7`, `203.0.113.7/32`).
    https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks"""
    nets = []
    for rule in rules:
        try:
            nets.append(ipaddress.ip_network(str(rule).strip(), strict=False))
        except ValueError:
            continue
    return nets


def caller_allowed(caller: str | None, rules: Iterable[Any]) -> Fact[bool]:
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


def unlisted_subscriptions(searched: Iterable[Any], named: Iterable[tuple[Any, str]]) -> list[dict[str, str]]:
    """Subscriptions the evidence names (`named`: (resource id, what names it)) that are not among those searched,
    once each, in order: {subscription, named_by}. Resource Graph silently leaves out what the identity cannot read
    (https://learn.microsoft.com/azure/governance/resource-graph/overview#permissions-in-azure-resource-graph), so
    "every subscription listed was searched" is not "the search is complete" (issue 17, class 2)."""
    read = {str(s).lower() for s in searched}
    out: dict[str, dict[str, str]] = {}
    for resource_id, why in named:
        sub = _sub_of(str(resource_id or ""))
        if sub != "?" and sub.lower() not in read:
            out.setdefault(sub.lower(), {"subscription": sub, "named_by": why})
    return list(out.values())


def named_scopes(
    vnets: Iterable[Mapping[str, Any]] = (),
    links: Iterable[Mapping[str, Any]] = (),
    pes: Iterable[Mapping[str, Any]] = (),
    dns_hosts: Iterable[Mapping[str, Any]] = (),
) -> list[tuple[Any, str]]:
    """(resource id, what names it) for every resource the topology points at: peerings' remote VNets, links'
    VNets, the private endpoints' VNets and zone groups' zones, the VNets the DNS servers sit in."""
    named: list[tuple[Any, str]] = []
    for vnet in vnets:
        for peering in vnet.get("peerings") or ():
            named.append((peering.get("remote_vnet_id"), f"peering {peering.get('name')} of {_short(vnet.get('id'))}"))
    for link in links:
        named.append((link.get("vnet_id"), f"zone link {_short(link.get('id'))}"))
    for pe in pes:
        named.append((pe.get("vnet_id"), f"private endpoint {pe.get('name')}"))
        for group in pe.get("zone_groups") or ():
            for zone_id in group.get("zone_ids") or ():
                named.append((zone_id, f"the zone group of {pe.get('name')}"))
    for host in dns_hosts:
        named.append((host.get("vnet_id"), f"DNS server {host.get('ip')}"))
    return named


def _short(resource_id: Any) -> str:
    return str(resource_id or "?").rstrip("/").rsplit("/", 1)[-1]


def zone_search(
    dns: Mapping[str, Any], pes: Iterable[Mapping[str, Any]] = (), unlisted: Sequence[Mapping[str, Any]] = ()
) -> Fact[bool]:
    """Every scope that could hold a needed privatelink zone (and its record) was read. `dns` is arm_dns_zones
    evidence, `pes` the private endpoints. A zone a PE's zone group points at, that the search did not return, lives
    where this identity cannot read (Resource Graph silently leaves out what it may not see): incomplete. So does a
    subscription the topology names that was not searched (`unlisted`, with the evidence's own
    `unlisted_subscriptions`): the zone of a landing zone lives in the hub's."""
    if not dns:
        return unknown(Unknown.NOT_READ, "arm_dns_zones", decide="run with Azure access (arm_dns_zones)")
    denied = [d for d in dns.get("denied") or () if isinstance(d, Mapping)]
    if denied:
        scopes = ", ".join(dict.fromkeys(str(d.get("scope")) for d in denied))
        fact_ = _unread(denied, "arm_dns_zones", "")
        return unknown(
            fact_.why or Unknown.FAILED,
            "arm_dns_zones",
            detail=fact_.detail,
            decide=f"Reader on {scopes} would show whether the zone and its record exist there",
        )
    if dns.get("complete") is not True:
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
    missing = [*(u for u in dns.get("unlisted_subscriptions") or () if isinstance(u, Mapping)), *unlisted]
    if missing:
        subs = list(dict.fromkeys(str(u.get("subscription")) for u in missing))
        why = "; ".join(f"subscription {u.get('subscription')} (named by {u.get('named_by')})" for u in missing[:3])
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


def hidden_zones(dns: Mapping[str, Any], pes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Needed zones referenced by a PE's zone group but absent from what the search returned."""
    needed = {str(n).lower() for n in dns.get("needed_zones") or ()}
    seen = {str(z.get("id", "")).rstrip("/").lower() for z in dns.get("zones") or () if isinstance(z, Mapping)}
    out: list[str] = []
    for pe in pes:
        for group in pe.get("zone_groups") or ():
            for zone_id in group.get("zone_ids") or ():
                name = str(zone_id).rstrip("/").rsplit("/", 1)[-1].lower()
                if name in needed and str(zone_id).rstrip("/").lower() not in seen and zone_id not in out:
                    out.append(str(zone_id))
    return out


def link_in_progress(link: Mapping[str, Any] | None) -> bool:
    """virtualNetworkLinkState InProgress: the link is still being created; it neither resolves yet nor is missing.
    https://learn.microsoft.com/rest/api/dns/privatednszones/virtual-network-links/get"""
    return bool(link) and str((link or {}).get("state") or "").lower() == "inprogress"


def split_dns_servers(servers: Iterable[Any]) -> tuple[list[str], list[str]]:
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


def _arm(ev: Evidence, check: str) -> Mapping[str, Any]:
    return ev.get(check) if ev.ran(check) else {}


def _check_unknown(ev: Evidence, check: str, what: str) -> Fact[Any]:
    """Why a whole probe gave nothing: it errored on a read (scope named), was skipped, or did not run."""
    result = ev.checks.get(check)
    if result is None:
        return unknown(Unknown.NOT_READ, check, detail=f"{check} did not run", decide=f"run with Azure access ({what})")
    denied = [d for d in result.evidence.get("denied") or () if isinstance(d, Mapping)]
    if result.status is Status.ERROR and denied:
        return _unread(denied, check, what)
    why = Unknown.NOT_READ if result.status is Status.SKIP else why_failed(result)
    return unknown(why, check, detail=result.reason or result.summary)


@fact("arm.account")
def account_fact(ev: Evidence) -> Fact[Mapping[str, Any] | None]:
    """The account (known None when every scope was read and it is not there)."""
    if ev.has("arm_account", Status.PASS):
        acct = ev.get("arm_account").get("account")
        if isinstance(acct, Mapping):
            return known(acct, "arm_account")
    if ev.has("arm_account", Status.FAIL) and not ev.get("arm_account").get("denied"):
        return known(None, "arm_account")
    return _check_unknown(ev, "arm_account", "whether the account exists")


@fact("arm.zone_search_complete")
def zone_search_complete(ev: Evidence) -> Fact[bool]:
    """`arm.zone_search_complete`: true when every subscription and zone that could hold the zone was read."""
    result = ev.checks.get("arm_dns_zones")
    if result is None or not ({"zones", "complete"} & set(result.evidence)):
        return _check_unknown(ev, "arm_dns_zones", "whether a privatelink zone exists")
    fact = zone_search(result.evidence, _pes(ev), unlisted_scopes(ev))
    return fact if not fact.known or fact.value else unknown(Unknown.NOT_READ, "arm_dns_zones")


def unlisted_scopes(ev: Evidence) -> list[dict[str, str]]:
    """Subscriptions this target's evidence names (its VNet's peerings, the VNets its DNS servers sit in, the PEs'
    VNets and zone groups) that the inventory did not search (arm_account `subscriptions`)."""
    if not ev.ran("arm_account"):
        return []
    net = _arm(ev, "arm_client_network")
    vnet = net.get("vnet")
    named = named_scopes(
        vnets=[vnet] if isinstance(vnet, Mapping) else (),
        pes=_pes(ev),
        dns_hosts=[h for h in net.get("dns_server_hosts") or () if isinstance(h, Mapping)],
    )
    return unlisted_subscriptions(ev.get("arm_account").get("subscriptions") or (), named)


def _pe_addresses(ev: Evidence, pe_id: Any) -> set[str]:
    return {
        str(ip)
        for p in _pes(ev)
        if str(p.get("id")).lower() == str(pe_id).lower()
        for ip in p.get("ip_addresses") or ()
    }


def _pes(ev: Evidence) -> list[Mapping[str, Any]]:
    data = _arm(ev, "arm_private_endpoints")
    return [p for p in data.get("private_endpoints") or () if isinstance(p, Mapping)]


@fact("arm.pe_ip_known")
def pe_ip_known(ev: Evidence) -> Fact[bool]:
    """`arm.pe_ip_known`: the address of every private endpoint of the account is known (a record can then be
    called stale)."""
    if not ev.ran("arm_private_endpoints"):
        return _check_unknown(ev, "arm_private_endpoints", "the private endpoints' addresses")
    data = ev.get("arm_private_endpoints")
    pes = [p for p in data.get("private_endpoints") or () if isinstance(p, Mapping)]
    if not pes:
        return unknown(Unknown.NOT_APPLICABLE, "arm_private_endpoints", detail="no private endpoint")
    # A PE that could not be read at all may own the address a record holds.
    read = {str(p.get("id", "")).rstrip("/").lower() for p in pes}
    unread_pes = [
        d
        for d in data.get("denied") or ()
        if isinstance(d, Mapping)
        and "/privateendpoints/" in str(d.get("scope", "")).lower()
        and str(d.get("scope", "")).rstrip("/").lower() not in read
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
        return _check_unknown(ev, "arm_private_endpoints", "the private endpoint connections")
    data = ev.get("arm_private_endpoints")
    pes = [p for p in data.get("private_endpoints") or () if isinstance(p, Mapping)]
    if any(pe_usable(p) for p in pes):
        return known(True, "arm_private_endpoints")
    denied = [d for d in data.get("denied") or () if isinstance(d, Mapping)]
    if denied:
        return _unread(denied, "arm_private_endpoints", "the remaining private endpoints")
    return known(False, "arm_private_endpoints")


@fact("arm.pes_complete")
def pes_complete(ev: Evidence) -> Fact[bool]:
    """`arm.pes_complete`: every PE that points at the account was read (so "none" means none)."""
    if not ev.ran("arm_private_endpoints"):
        return _check_unknown(ev, "arm_private_endpoints", "the account's private endpoints")
    denied = [d for d in ev.get("arm_private_endpoints").get("denied") or () if isinstance(d, Mapping)]
    if denied:
        return _unread(denied, "arm_private_endpoints", "the account's private endpoints")
    inv_denied = [d for d in ev.get("arm_account").get("denied") or () if isinstance(d, Mapping)]
    if inv_denied:
        return _unread(inv_denied, "arm_account", "private endpoints that point at the account")
    return known(True, "arm_private_endpoints")


@fact("arm.pe_exists")
def pe_exists(ev: Evidence) -> Fact[bool]:
    """`arm.pe_exists`: Resource Manager's judgement of "a private endpoint exists for the account" (the one place it
    is made; local evidence has its own, `local.pe_exists`): true when the account lists a connection or a PE read
    points at it, false only when every PE that could point at it was read and none does."""
    acct = account_fact(ev)
    if acct.known and isinstance(acct.value, Mapping) and acct.value.get("connections"):
        return known(True, "arm_account")
    if _pes(ev):
        return known(True, "arm_private_endpoints")
    complete = pes_complete(ev)
    return known(False, *complete.sources) if complete.is_true() else complete


@fact("arm.client_vnet")
def client_vnet(ev: Evidence) -> Fact[str]:
    """`arm.client_vnet`: the VNet this machine sits in (IMDS) or was named with --vnet."""
    vnet = _arm(ev, "arm_client_network").get("vnet")
    if isinstance(vnet, Mapping) and vnet.get("id"):
        return known(str(vnet["id"]), "arm_client_network")
    return _check_unknown(ev, "arm_client_network", "this machine's VNet")


@fact("arm.peerings_usable")
def peerings_usable(ev: Evidence) -> Fact[bool]:
    """`arm.peerings_usable`: every peering toward a PE's VNet carries traffic (state and access flags)."""
    net = _arm(ev, "arm_client_network")
    if not net:
        return _check_unknown(ev, "arm_client_network", "the peerings")
    facts = [peering_usable(e.get("peering") or {}) for e in net.get("pe_vnets") or () if e.get("relation") == "peered"]
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
    net = _arm(ev, "arm_client_network")
    if not net:
        return _check_unknown(ev, "arm_client_network", "the path to the private endpoint")
    routes = [r for r in net.get("routes_to_pe") or () if isinstance(r, Mapping)]
    if routes:
        return known(any(route_hop(r.get("route")) is Hop.NO_PATH for r in routes), "arm_client_network")
    entries = [e for e in net.get("pe_vnets") or () if isinstance(e, Mapping)]
    tried = ev.get("tcp_connect") if ev.ran("tcp_connect") else {}
    failed = {
        str(a.get("address")) for a in tried.get("attempts") or () if isinstance(a, Mapping)
    } - connected_addresses(tried)
    addresses = {e.get("pe_id"): _pe_addresses(ev, e.get("pe_id")) for e in entries}
    if any(
        e.get("relation") == "not_peered" and not e.get("via_hubs") and addresses[e.get("pe_id")] & failed
        for e in entries
    ):
        return known(True, "arm_client_network", "tcp_connect")
    nic = (net.get("nic") or {}).get("id")
    return unknown(
        Unknown.NOT_READ,
        "arm_client_network",
        detail="the effective routes were not read",
        decide=f"az network nic show-effective-route-table --ids {nic or '<nicId>'} -o table would show the next hop",
    )


@fact("arm.routes_read")
def routes_read(ev: Evidence) -> Fact[bool]:
    """`arm.routes_read`: the effective routes of this machine's NIC were read."""
    net = _arm(ev, "arm_client_network")
    if not net:
        return _check_unknown(ev, "arm_client_network", "the effective routes")
    if net.get("routes_error"):
        denied = [d for d in net.get("denied") or () if isinstance(d, Mapping)]
        if denied:
            return _unread(denied, "arm_client_network", "the effective routes", role="Network Contributor")
        return unknown(Unknown.TIMED_OUT, "arm_client_network", detail=str(net["routes_error"]))
    if not net.get("routes_to_pe"):
        return unknown(Unknown.NOT_APPLICABLE, "arm_client_network", detail="no effective route read (not on a VM)")
    return known(True, "arm_client_network")


@fact("arm.caller_ip_allowed")
def caller_ip_allowed(ev: Evidence) -> Fact[bool]:
    """`arm.caller_ip_allowed`: the caller's egress address is inside one of the account's IP rules."""
    acct = account_fact(ev)
    if is_unknown(acct):
        return acct
    if not acct.value:
        return unknown(Unknown.NOT_APPLICABLE, "arm_account", detail="the account is in no readable subscription")
    if acct.value.get("default_action") == "Allow":
        # networkAcls.defaultAction Allow: IP rules refuse no caller.
        return known(True, "arm_account")
    https = ev.get("https_dataplane")
    attempt = next((a for a in https.get("attempts") or () if isinstance(a, Mapping) and a.get("caller_ip")), None)
    return caller_allowed((attempt or {}).get("caller_ip"), acct.value.get("ip_rules") or ())


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

    kind, vnet_id, _host = AzureView(ev).resolver()
    if kind is None:
        return _check_unknown(ev, "arm_client_network", "this machine's VNet and DNS servers")
    if vnet_id is None:
        servers = ", ".join(str(h.get("ip")) for h in _arm(ev, "arm_client_network").get("dns_server_hosts") or ())
        # A subscription the topology names but that was not searched (a peered hub's) is where to look first.
        subs = [u["subscription"] for u in unlisted_scopes(ev)]
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
    links = [link for z in view.copies() if (link := view.linked(z, vnet.value))]
    if not links:
        return known("none", "arm_dns_zones", "arm_client_network")
    states = {str(link.get("state") or "Completed") for link in links}
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
    linked = [z for z in view.copies() if view.linked(z, vnet)]
    unreadable = [z for z in linked if z.get("record_error")]
    with_record = [z for z in linked if z.get("record")]
    if with_record:
        return known(tuple(str(ip) for ip in with_record[0]["record"]), "arm_dns_zones")
    if unreadable:
        return unknown(Unknown.FAILED, "arm_dns_zones", detail=str(unreadable[0]["record_error"]))
    return known((), "arm_dns_zones")


@fact("arm.nsg_allows")
def nsg_allows(ev: Evidence) -> Fact[bool]:
    """`arm.nsg_allows`: no NSG rule someone wrote denies TCP to the PE (client outbound, or PE subnet inbound where
    its network policies let NSGs apply), with application security groups matched."""
    if not ev.ran("arm_nsg"):
        return _check_unknown(ev, "arm_nsg", "the NSG rules on the path")
    data = ev.get("arm_nsg")
    client = [d for d in (data.get("client") or {}).get("decisions") or () if isinstance(d, Mapping)]
    pe_side = [e for e in data.get("pe_side") or () if isinstance(e, Mapping)]
    if any(nsg_deny_is_cause(d) for d in client) or any(
        e.get("applies") and nsg_deny_is_cause(e.get("decision") or {}) for e in pe_side
    ):
        return known(False, "arm_nsg")
    unresolved = sorted({r for d in client for r in d.get("unresolved") or ()})
    if (data.get("client") or {}).get("access") is None or unresolved:
        return unknown(
            Unknown.NOT_READ,
            "arm_nsg",
            detail="rules not evaluable here: " + (", ".join(unresolved) or "client NSGs unread"),
            decide="az network nic list-effective-nsg on this VM's NIC would show the deciding rule",
        )
    return known(True, "arm_nsg")
