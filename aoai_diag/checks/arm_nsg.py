"""NSG evaluation for TCP 443 from this machine to each private endpoint address.

Client side (outbound): the NIC's and subnet's NSG rules; the effective-NSG API on the VM's NIC (it merges NIC and
subnet NSGs and expands service tags, but is a long-running operation) only when TCP to a private address failed
and nothing static explains it; traffic must be allowed by every NSG on the path. PE side (inbound):
the PE subnet's NSG applies only when the subnet's privateEndpointNetworkPolicies is `Enabled` or
`NetworkSecurityGroupEnabled` (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
effective rules are not shown for PE NICs, so those rules are evaluated here. Rules are taken in priority
order, the first match decides (azure/nsg_eval.py). Rules naming application security groups are matched against
the client NIC's and the PE's groups (https://learn.microsoft.com/azure/virtual-network/application-security-groups);
a rule that cannot be matched is listed as unresolved, never read as `*`. A deny by a default rule is no NSG cause
(diagnosis/azure_facts.nsg_deny_is_cause, which the rules read too).

Evidence: `ArmNsg` (aoai_diag/evidence/azure.py).

pass = allowed on both sides; fail = a rule someone wrote, that applies, denies (named); warn = could not evaluate
a side, or a rule could not be matched; skip = no client address (off Azure without --source-ip). Off Azure only
the PE side is evaluated: no NSG sits on this machine's side. An NSG deny on a PE subnet whose
network policies are disabled is reported in the summary as not applied: it is not a cause.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body, skip
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.diagnosis import azure_facts
from aoai_diag.evidence.azure import (
    ArmClientNetwork,
    ArmNsg,
    ArmPrivateEndpoints,
    ClientDecision,
    ClientSide,
    Decision,
    Denied,
    Nic,
    OnDemandRead,
    PeSide,
    PrivateEndpoint,
)
from aoai_diag.evidence.osnet import VpnProfile
from aoai_diag.evidence.path import RouteLookup
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

if TYPE_CHECKING:
    from aoai_diag.azure.arm_clients import ArmSession
    from aoai_diag.azure.resources import NsgRule

NSG_POLICIES = ("enabled", "networksecuritygroupenabled")


@dataclass
class Flow:
    """TCP `port` from `source` (with its NIC's groups) to each PE address, and what was found on the way."""

    source: str
    source_kind: str | None
    port: int
    prefixes: list[str]
    """The VirtualNetwork tag's address space: this VNet and the PE VNets it reaches."""
    client_asgs: Sequence[str] | None
    addresses: list[tuple[PrivateEndpoint, str]]
    client: ClientSide = field(default_factory=ClientSide)
    pe_side: list[PeSide] = field(default_factory=list)
    denied: list[Denied] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def decide(self, rules: Sequence[NsgRule], direction: str, pe: PrivateEndpoint, address: str) -> Decision:
        from aoai_diag.azure import nsg_eval

        prefixes = list(self.prefixes)
        if self.source_kind not in (None, *ON_VNET):
            # Off Azure the traffic arrives over a gateway (point-to-site pool, site-to-site, ExpressRoute), and the
            # VirtualNetwork tag holds the connected on-premises address spaces: this source is inside it.
            # https://learn.microsoft.com/azure/virtual-network/service-tags-overview
            prefixes.append(self.source)
        return nsg_eval.evaluate(
            rules, direction, self.source, address, self.port, prefixes, self.client_asgs, pe.asg_ids
        )

    def evidence(self) -> ArmNsg:
        return ArmNsg(
            port=self.port,
            source_ip=self.source,
            source_kind=self.source_kind,
            client=self.client,
            pe_side=tuple(self.pe_side),
            denied=tuple(self.denied),
        )


ON_VNET = ("nic", "host")
"""Sources inside the VNet, whose own subnet's NSG (outbound) the traffic meets first: a VM's NIC, an app host's
integration subnet."""


def client_source(
    settings: Settings, deps: Mapping[str, CheckResult], nic: Nic | None, net: ArmClientNetwork | None = None
) -> tuple[str | None, str | None]:
    """The address the private endpoint sees this machine's TCP come from, and where it was learnt: this VM's NIC
    ("nic"); off Azure `--source-ip` ("option": a point-to-site or on-premises address arrives with its own source
    over the gateway or ExpressRoute); the source this machine's route toward the private endpoint uses when it goes
    through a tunnel ("tunnel", route_lookup's evidence); else the first address of the VPN profile's client pool
    ("pool": the gateway hands every client one of them), when those checks ran before this one. An app host has no
    NIC of its own: an address its instances get in the host subnet ("host", azure/app_hosts.py)."""
    if nic is not None and nic.private_ips:
        return nic.private_ips[0], "nic"
    if net is not None and net.source == "host" and net.source_ip:
        return net.source_ip, "host"
    if settings.source_ip:
        return str(settings.source_ip), "option"
    route = deps.get("route_lookup")
    for entry in route.typed(RouteLookup).routes if route is not None else ():
        if entry.tunnel is True and entry.source:
            return entry.source, "tunnel"
    profile = deps.get("vpn_profile")
    content = profile.typed(VpnProfile).profile if profile is not None else None
    for prefix in content.client_address_pool if content is not None else ():
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        return str(next(iter(network.hosts()), network.network_address)), "pool"
    return None, None


def _vnet_prefixes(
    ctx: ProbeContext, on_azure: bool, net: ArmClientNetwork, pes: Sequence[PrivateEndpoint]
) -> list[str]:
    from aoai_diag.azure import snapshot

    prefixes = list(net.vnet.address_prefixes) if net.vnet is not None else []
    for pe in pes:
        remote = next((e for e in net.pe_vnets if e.pe_id == pe.id), None)
        if remote is not None and remote.relation in ("same", "peered"):
            known = {v.id.lower(): v for v in snapshot.inventory(ctx, on_azure).vnets}
            other = known.get(str(remote.vnet_id).lower())
            prefixes += list(other.address_prefixes) if other is not None else []
    return prefixes


def _pe_side(ctx: ProbeContext, sess: ArmSession, flow: Flow, pes: Sequence[PrivateEndpoint]) -> None:
    """The PE subnet's NSG, inbound, where privateEndpointNetworkPolicies lets it apply."""
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.evidence.azure import Subnet

    subnet_ids = {pe.subnet_id for pe in pes if pe.subnet_id}
    subnets = sess.parallel({s: partial(snapshot.subnet, ctx, sess, s) for s in subnet_ids})
    for pe, address in flow.addresses:
        sub = subnets.get(str(pe.subnet_id))
        entry = PeSide(pe_id=pe.id, address=address, subnet_id=pe.subnet_id)
        if isinstance(sub, Denied):
            flow.denied.append(sub)
        if not isinstance(sub, Subnet):
            flow.pe_side.append(entry)
            continue
        applies = (sub.pe_network_policies or "Disabled").lower() in NSG_POLICIES
        entry = replace(entry, network_policies=sub.pe_network_policies, nsg_id=sub.nsg_id, applies=applies)
        # The PE's own subnet is inside the VirtualNetwork tag whatever was read of the client's VNet (off Azure
        # without --vnet nothing was): the PE's address matches a rule that names the tag.
        flow.prefixes.extend(p for p in sub.prefixes if p not in flow.prefixes)
        if not sub.nsg_id:
            flow.pe_side.append(entry)
            continue
        try:
            decision = flow.decide(list(snapshot.nsg(ctx, sess, sub.nsg_id).rules), "Inbound", pe, address)
        except ArmFailure as exc:
            flow.denied.append(exc.denied)
            flow.pe_side.append(entry)
            continue
        flow.pe_side.append(replace(entry, decision=decision))
        name = sub.nsg_id.rsplit("/", 1)[-1]
        if azure_facts.nsg_deny_is_cause(decision) and applies:
            flow.problems.append(
                f"inbound {address}:{flow.port} denied by {name} rule {decision.rule} on the PE subnet"
            )
        elif decision.access == "Deny" and not applies:
            flow.notes.append(
                f"{name} rule {decision.rule} would deny, but privateEndpointNetworkPolicies="
                f"{sub.pe_network_policies or 'Disabled'} so NSGs do not apply to the private endpoint"
            )


def _static_client(
    ctx: ProbeContext, sess: ArmSession, ids: list[str]
) -> tuple[list[tuple[str, list[NsgRule]]], list[Denied]]:
    """The client NIC's and subnet's NSGs as read (rules), and the reads that failed."""
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.resources import Nsg

    read = sess.parallel({i: partial(snapshot.nsg, ctx, sess, i) for i in ids})
    static = [(nsg_id, list(v.rules)) for nsg_id, v in read.items() if isinstance(v, Nsg)]
    failed = [v for v in read.values() if isinstance(v, Denied)]
    return static, failed


def _static_explanations(flow: Flow, static: list[tuple[str, list[NsgRule]]], net: ArmClientNetwork) -> list[str]:
    """What already explains a failed connect without the long-running operation: the PE-side denies found, client
    rules someone wrote that deny, and peerings that carry no traffic (the same facts the rules read)."""
    explained = list(flow.problems)
    for pe, address in flow.addresses:
        for nsg_id, rules in static:
            if azure_facts.nsg_deny_is_cause(flow.decide(rules, "Outbound", pe, address)):
                explained.append(f"NSG {nsg_id.rsplit('/', 1)[-1]} denies outbound {address}:{flow.port}")
    for entry in net.pe_vnets:
        if entry.relation == "not_peered":
            explained.append(f"this VNet is not peered with {str(entry.vnet_id).rsplit('/', 1)[-1]}")
        elif (
            entry.relation == "peered"
            and entry.peering is not None
            and (problem := azure_facts.peering_problem(entry.peering))
        ):
            explained.append(problem)
    return explained


def _client_decisions(flow: Flow, groups: list[tuple[str, list[NsgRule]]]) -> ClientSide:
    """Evaluate every client NSG for every PE address: the client side with its decisions and its access (None: not
    evaluated)."""
    access: str | None = "Allow" if flow.client.method else None
    decisions: list[ClientDecision] = []
    for pe, address in flow.addresses:
        for nsg_id, rules in groups:
            found = flow.decide(rules, "Outbound", pe, address)
            decision = ClientDecision(
                access=found.access,
                rule=found.rule,
                priority=found.priority,
                default=found.default,
                unresolved=found.unresolved,
                nsg_id=nsg_id,
                address=address,
            )
            decisions.append(decision)
            if azure_facts.nsg_deny_is_cause(decision):
                access = "Deny"
                flow.problems.append(
                    f"outbound {address}:{flow.port} denied by {nsg_id.rsplit('/', 1)[-1]} rule {decision.rule}"
                )
            elif decision.access == "Deny":
                flow.notes.append(f"{address}: default rule {decision.rule} denies (no VNet path, not an NSG cause)")
    return replace(flow.client, decisions=tuple(decisions), access=access)


def _judge(flow: Flow, pes: Sequence[PrivateEndpoint]) -> Outcome:
    evidence, port = flow.evidence(), flow.port
    unaddressed = [pe.name for pe in pes if not azure_facts.pe_ips(pe).value]
    if unaddressed:
        # Never "allowed" for an address nobody knows (a PE whose NIC could not be read).
        flow.notes.append(f"address unknown for {', '.join(unaddressed)}: not evaluated")
    unresolved = sorted({r for d in flow.client.decisions for r in d.unresolved})
    if unresolved:
        flow.notes.append("not evaluable here: " + ", ".join(unresolved))
    note = ("; note: " + "; ".join(flow.notes)) if flow.notes else ""
    if flow.problems:
        return Outcome(Status.FAIL, "; ".join(flow.problems) + note, evidence)
    # Off Azure no NSG sits on this machine's side: only the PE subnet's inbound rules meet its traffic.
    client_open = flow.client.access is None and flow.source_kind in ON_VNET
    if client_open or flow.denied or unresolved or unaddressed:
        return Outcome(
            Status.WARN, f"TCP {port} not fully evaluated ({len(flow.denied)} read(s) failed){note}", evidence
        )
    return Outcome(Status.PASS, f"TCP {port} from {flow.source} to the private endpoint allowed{note}", evidence)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import nsg_eval, on_demand, snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        client_net = deps.get("arm_client_network")
        if client_net is None or client_net.status in (Status.SKIP, Status.ERROR):
            # Off Azure without --vnet the client's VNet is not read, and the PE subnet's NSG still meets this
            # machine's traffic (issue 17, class 5); on a VM or an app host, the client side is needed.
            state = client_net.status.value if client_net is not None else "not run"
            if on_azure or probe_support.on_app_host(deps) or ctx.settings.from_host:
                return skip(f"skipped: needs arm_client_network ({state})", f"needs arm_client_network ({state})")
            net = ArmClientNetwork()
        else:
            net = client_net.typed(ArmClientNetwork)
        sess = snapshot.session(ctx, on_azure)
        pes = deps["arm_private_endpoints"].typed(ArmPrivateEndpoints).private_endpoints
        port = ctx.settings.port
        source, source_kind = client_source(ctx.settings, deps, net.nic, net)
        if not source:
            return Outcome(
                Status.SKIP,
                "no client NIC (off Azure) and no --source-ip: NSGs cannot be evaluated for this machine",
                ArmNsg(
                    port=port,
                    source_kind=source_kind,
                    client=ClientSide(effective=OnDemandRead(state=on_demand.NOT_NEEDED, reason="not evaluated")),
                ),
                "no client address",
            )
        flow = Flow(
            source=source,
            source_kind=source_kind,
            port=port,
            prefixes=_vnet_prefixes(ctx, on_azure, net, pes),
            # Rules naming application security groups match by membership: the client NIC's and the PE's groups.
            client_asgs=net.nic.asg_ids if net.nic is not None else None,
            addresses=[(pe, a) for pe in pes for a in pe.ip_addresses],
            client=ClientSide(effective=OnDemandRead(state=on_demand.NOT_NEEDED, reason="not evaluated")),
        )
        _pe_side(ctx, sess, flow, pes)
        if source_kind not in ON_VNET:
            return _judge(flow, pes)
        # Client side: the NIC's and subnet's NSG rules, evaluated here; the effective-NSG operation (long-running)
        # only when a failed connect leaves the path open (azure/on_demand.py).
        nic_id = net.nic.id if net.nic is not None else None
        ids = [
            i
            for i in (
                net.nic.nsg_id if net.nic is not None else None,
                net.subnet.nsg_id if net.subnet is not None else None,
            )
            if i
        ]
        static, static_denied = _static_client(ctx, sess, ids)
        effective = on_demand.plan(deps, "effective NSGs", _static_explanations(flow, static, net))
        groups: list[tuple[str, list[NsgRule]]] = []
        if effective.state == on_demand.ASKED and nic_id:  # an app host has no NIC whose effective NSGs could be asked
            try:
                groups = nsg_eval.effective_rules(snapshot.effective_nsgs(ctx, sess, nic_id))
                flow.client = replace(flow.client, method="effective")
                effective = replace(effective, state=on_demand.DONE)
            except ArmFailure as exc:
                flow.client = replace(flow.client, error=probe_support.describe(exc.denied))
                effective = replace(effective, state=on_demand.outcome_state(exc.denied.code))
                flow.denied.append(exc.denied)
        flow.client = replace(flow.client, effective=effective)
        if flow.client.method is None:
            groups = static
            flow.denied += static_denied
            flow.client = replace(flow.client, method="rules" if static or not ids else None)
        flow.client = _client_decisions(flow, groups)
        return _judge(flow, pes)

    return probe_support.guarded(body, ArmNsg)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_nsg",
    title="NSG rules for TCP 443 to the private endpoint",
    evidence=ArmNsg,
    run=run,
    requires=("arm_private_endpoints",),
    # tcp_connect: the effective NSGs are asked only when a connect to a private address failed. route_lookup and
    # vpn_profile: off Azure, the source address the PE subnet's NSG sees (the tunnel's, or the client pool's).
    after=("app_host", "azure_platform", "tcp_connect", "arm_client_network", "route_lookup", "vpn_profile"),
    layer="azure",
    disabled=probe_support.disabled,
)
