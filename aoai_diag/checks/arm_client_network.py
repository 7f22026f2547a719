"""Where this machine stands in Azure: VM -> NIC -> subnet -> VNet (from IMDS), or the VNet given by `--vnet`
off Azure; the VNet's DNS servers, its peerings with each private endpoint's VNet, and (on a VM) the NIC's
effective route toward each private endpoint address (a long-running operation).

PE /32 routes reach only the PE's own VNet and directly peered VNets, next hop `InterfaceEndpoint`
(https://learn.microsoft.com/azure/private-link/troubleshoot-private-endpoint-connectivity).

Evidence: `ArmClientNetwork` (aoai_diag/evidence/azure.py).

pass = every PE VNet is this VNet or peered (Connected, FullyInSync, allowVirtualNetworkAccess) and routes lead
there directly; fail = peering missing, not connected or closed to VNet traffic, or no VNet path (next hop None
from a system route, or no route); warn = next hop is a virtual appliance, or a read was incomplete;
skip = off Azure without `--vnet`. The judgement is diagnosis/azure_facts' (the rules read the same facts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import replace

from aoai_diag.azure import probe_support
from aoai_diag.azure.resources import Firewall
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.diagnosis import azure_facts
from aoai_diag.evidence.azure import (
    ArmClientNetwork,
    ArmPrivateEndpoints,
    Denied,
    DnsServerHost,
    OnDemandRead,
    PeVnet,
    PrivateEndpoint,
    Route,
    RouteToPe,
    Subnet,
    Vnet,
)
from aoai_diag.evidence.path import TcpConnect
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target


def best_route(routes: Sequence[Route], address: str) -> Route | None:
    """Longest-prefix match among Active effective routes (as Azure selects them)."""
    from aoai_diag.azure.app_hosts import longest_match

    best = longest_match([r for r in routes if (r.state or "Active") == "Active"], address)
    return best[1] if best else None


def _contains(prefixes: Sequence[str], ip: str) -> bool:
    for p in prefixes:
        try:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def _dns_server_hosts(
    servers: Sequence[str], firewalls: Sequence[Firewall], known_vnets: Mapping[str, Vnet]
) -> tuple[DnsServerHost, ...]:
    """Where each DNS server the client asks lives: the VNet whose address space holds it, or an Azure Firewall
    (DNS proxy) with that private address. A server in no visible VNet (on-premises, public) has neither."""
    hosts = []
    for ip in servers:
        fw = next((f for f in firewalls if ip in f.private_ips), None)
        host = next((v for v in known_vnets.values() if _contains(v.address_prefixes, ip)), None)
        hosts.append(
            DnsServerHost(
                ip=ip,
                vnet_id=host.id if host is not None else (fw.vnet_id if fw else None),
                firewall_id=fw.id if fw else None,
            )
        )
    return tuple(hosts)


def _pe_relation(pe: PrivateEndpoint, vnet: Vnet, known_vnets: Mapping[str, Vnet]) -> PeVnet:
    """How this machine's VNet relates to the PE's: same, peered (with the peering), not peered (with the hubs
    both are peered with), or unknown."""
    from aoai_diag.azure import convert

    pe_vnet = pe.vnet_id
    if pe_vnet and convert.same_id(pe_vnet, vnet.id):
        return PeVnet(pe_id=pe.id, vnet_id=pe_vnet, relation="same")
    if not pe_vnet:
        return PeVnet(pe_id=pe.id, vnet_id=pe_vnet, relation="unknown")
    peering = next((p for p in vnet.peerings if convert.same_id(p.remote_vnet_id, pe_vnet)), None)
    if peering is not None:
        return PeVnet(pe_id=pe.id, vnet_id=pe_vnet, relation="peered", peering=peering)
    remote = known_vnets.get(pe_vnet.lower())
    mine = {p.remote_vnet_id.lower() for p in vnet.peerings if p.remote_vnet_id}
    theirs = {p.remote_vnet_id.lower() for p in remote.peerings if p.remote_vnet_id} if remote is not None else set()
    return PeVnet(pe_id=pe.id, vnet_id=pe_vnet, relation="not_peered", via_hubs=tuple(sorted(mine & theirs)))


def _relation_problems(entry: PeVnet, vnet_id: str, pe: PrivateEndpoint, connected: set[str]) -> list[str]:
    pe_vnet = str(entry.vnet_id or "?").rsplit("/", 1)[-1]
    if entry.relation == "peered":
        problem = azure_facts.peering_problem(entry.peering) if entry.peering is not None else None
        return [f"{problem} (to {pe_vnet})"] if problem else []
    if azure_facts.unpeered_without_path(entry, pe.ip_addresses, connected):
        return [f"VNet {vnet_id.rsplit('/', 1)[-1]} is not peered with {pe_vnet}"]
    return []


def _route_problems(address: str, route: Route | None) -> list[str]:
    hop = azure_facts.route_hop(route)
    if hop is azure_facts.Hop.NO_PATH:
        got = f"{route.next_hop_type} from a {route.source or 'system'} route" if route is not None else "no route"
        return [f"no VNet path to {address} ({got})"]
    if hop is azure_facts.Hop.USER_DROP:
        return [f"a user route drops traffic to {address} (next hop None)"]
    return []


def _judge(vnet: Vnet, evidence: ArmClientNetwork, problems: list[str], pes: Sequence[PrivateEndpoint]) -> Outcome:
    hops = {azure_facts.route_hop(r.route) for r in evidence.routes_to_pe}
    named = sorted({str(r.route.next_hop_type if r.route is not None else None) for r in evidence.routes_to_pe})
    dns = "custom " + ", ".join(vnet.dns_servers) if vnet.dns_servers else "Azure-provided"
    if evidence.dns_source not in (None, "vnet") and evidence.dns_servers:
        dns = f"{', '.join(evidence.dns_servers)} from the {evidence.dns_source}"
    where = f"VNet {vnet.id.rsplit('/', 1)[-1]}, DNS {dns}"
    if evidence.host_id:
        where = f"host {evidence.host_id.rsplit('/', 1)[-1]}: {where}"
    on_demand = evidence.effective_routes if evidence.effective_routes is not None else OnDemandRead()
    if problems:
        return Outcome(Status.FAIL, f"{where}: " + "; ".join(problems), evidence)
    if azure_facts.Hop.APPLIANCE in hops:
        return Outcome(
            Status.WARN, f"{where}: traffic to the private endpoint goes through a virtual appliance", evidence
        )
    if evidence.routes_error:
        return Outcome(Status.WARN, f"{where}; effective routes unreadable: {evidence.routes_error}", evidence)
    unaddressed = [pe.name for pe in pes if not azure_facts.pe_ips(pe).value]
    if unaddressed and on_demand.state != "not_needed":
        return Outcome(Status.WARN, f"{where}; no route judged for {', '.join(unaddressed)}: address unknown", evidence)
    private, public = azure_facts.split_dns_servers(vnet.dns_servers)
    if private and public:
        return Outcome(
            Status.WARN, f"{where}: the list mixes private and public resolvers ({', '.join(public)})", evidence
        )
    unknown = [
        f for e in evidence.pe_vnets if e.relation == "peered" and e.peering is not None
        if not (f := azure_facts.peering_usable(e.peering)).known
    ]  # fmt: skip
    if unknown:
        return Outcome(Status.WARN, f"{where}; peering not fully read: {unknown[0].describe()}", evidence)
    if on_demand.state == "not_needed":
        return Outcome(Status.PASS, f"{where}; {on_demand.reason}", evidence)
    return Outcome(Status.PASS, f"{where}; next hops: {', '.join(named) or 'not read'}", evidence)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import app_hosts, convert, on_demand, snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        sess = snapshot.session(ctx, on_azure)
        inv = snapshot.inventory(ctx, on_azure)
        vm_id = probe_support.vm_id(deps)
        seen = ArmClientNetwork(
            effective_routes=OnDemandRead(state=on_demand.NOT_NEEDED, reason="no client NIC or no private endpoint")
        )
        nic = None
        subnet: Subnet | None = None
        inside = app_hosts.inside_settings(deps)
        # A run for an app host (`--from`, or inside one): the host's subnet is the client subnet (azure/app_hosts.py).
        host = app_hosts.read(ctx, sess, on_azure, deps)
        client = app_hosts.host_client(ctx, sess, inv.vnets, host) if host is not None else None
        if client is not None:
            seen = replace(app_hosts.host_evidence(client, inside), effective_routes=seen.effective_routes)
            subnet = client.subnet
            if client.vnet_id is None:
                return Outcome(Status.FAIL, str(client.problem), seen, "no VNet")
            vnet_id = client.vnet_id
        elif vm_id:
            seen = replace(seen, source="imds", vm_id=vm_id)
            nic_ids = snapshot.vm_nic_ids(ctx, sess, vm_id)
            if not nic_ids:
                return Outcome(Status.ERROR, f"VM {vm_id} lists no network interface", seen, "no NIC")
            nic = snapshot.nic(ctx, sess, nic_ids[0])
            seen = replace(seen, nic=nic)
            if not nic.subnet_id:
                return Outcome(Status.ERROR, f"NIC {nic.id} has no subnet", seen, "no subnet")
            subnet = snapshot.subnet(ctx, sess, nic.subnet_id)
            seen = replace(seen, subnet=subnet)
            vnet_id = convert.parent_id(subnet.id)
        elif ctx.settings.vnet_id:
            seen = replace(seen, source="option")
            vnet_id = ctx.settings.vnet_id
        else:
            return Outcome(
                Status.SKIP,
                "not an Azure VM and no --vnet given: the client VNet is unknown",
                seen,
                "client VNet unknown",
            )
        vnet = snapshot.vnet(ctx, sess, vnet_id)
        servers, dns_source = app_hosts.effective_dns_servers(client.read.host if client else None, vnet, inside)
        known_vnets = {v.id.lower(): v for v in inv.vnets}
        known_vnets.setdefault(vnet.id.lower(), vnet)
        pes = (
            deps["arm_private_endpoints"].typed(ArmPrivateEndpoints).private_endpoints
            if "arm_private_endpoints" in deps
            else ()
        )
        problems: list[str] = []
        tcp = deps["tcp_connect"].typed(TcpConnect) if "tcp_connect" in deps else TcpConnect()
        connected = azure_facts.connected_addresses(tcp)
        pe_vnets = tuple(_pe_relation(pe, vnet, known_vnets) for pe in pes)
        for entry, pe in zip(pe_vnets, pes, strict=True):
            problems.extend(_relation_problems(entry, vnet.id, pe, connected))
        routes_to_pe: list[RouteToPe] = []
        denied: list[Denied] = []
        routes_error: str | None = None
        effective = seen.effective_routes
        # Evidence on demand (azure/on_demand.py): the long-running read only when a failed connect leaves it open.
        if client is not None and client.subnet is not None and pes:
            # No NIC to ask for effective routes: the host subnet's route table and the system routes.
            routes_to_pe, failed = app_hosts.host_routes(ctx, sess, client.subnet, vnet, pes, pe_vnets)
            effective = OnDemandRead(
                state=on_demand.NOT_NEEDED, reason="routes from the host subnet's route table and the system routes"
            )
            denied += failed
            routes_error = probe_support.describe(failed[0]) if failed else None
            for item in routes_to_pe:
                problems.extend(_route_problems(item.address, item.route))
        if nic is not None and pes:
            # What explains a failed connect is the probe's own judgement (azure_facts): state and access flags.
            explained = list(problems)
            if not explained and on_demand.failed_private_connects(deps):
                prefixes = list(vnet.address_prefixes)
                for entry in pe_vnets:
                    other = known_vnets.get(str(entry.vnet_id).lower())
                    if entry.relation in ("same", "peered") and other is not None:
                        prefixes += list(other.address_prefixes)
                client_nsgs = sorted({i for i in (nic.nsg_id, subnet.nsg_id if subnet is not None else None) if i})
                source = nic.private_ips[0] if nic.private_ips else None
                explained = on_demand.static_nsg_denies(
                    ctx, sess, source, client_nsgs, pes, ctx.settings.port, prefixes, nic.asg_ids
                )
            effective = on_demand.plan(deps, "effective routes", explained)
            routes: list[Route] | None = None
            if effective.state == on_demand.ASKED:
                # The same rule asks the effective NSGs (arm_nsg): both operations run at once, not one after the other.
                sess.submit(snapshot.effective_nsgs, ctx, sess, nic.id)
                try:
                    routes = [convert.route(r) for r in snapshot.effective_routes(ctx, sess, nic.id)]
                    effective = replace(effective, state=on_demand.DONE)
                except ArmFailure as exc:
                    routes_error = probe_support.describe(exc.denied)
                    denied.append(exc.denied)
                    effective = replace(effective, state=on_demand.outcome_state(exc.denied.code))
            if routes is not None:
                for pe in pes:
                    for address in pe.ip_addresses:
                        route = best_route(routes, address)
                        routes_to_pe.append(RouteToPe(pe_id=pe.id, address=address, route=route))
                        problems.extend(_route_problems(address, route))
        evidence = replace(
            seen,
            vnet=vnet,
            dns_servers=servers,
            dns_source=dns_source,
            dns_mode=app_hosts.dns_mode(servers),
            dns_server_hosts=_dns_server_hosts(servers, inv.firewalls, known_vnets),
            pe_vnets=pe_vnets,
            routes_to_pe=tuple(routes_to_pe),
            routes_error=routes_error,
            effective_routes=effective,
            denied=tuple(denied),
        )
        return _judge(vnet, evidence, problems, pes)

    return probe_support.guarded(body, ArmClientNetwork)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_client_network",
    title="This machine's VNet, DNS, peerings and routes",
    evidence=ArmClientNetwork,
    run=run,
    requires=("arm_access",),
    # tcp_connect: the effective routes are asked only when a connect to a private address failed.
    after=("app_host", "azure_platform", "tcp_connect", "arm_private_endpoints"),
    layer="azure",
    disabled=probe_support.disabled,
)
