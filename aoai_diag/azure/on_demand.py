"""Evidence on demand: which Azure reads the local evidence leaves open.

The NIC's effective routes and effective NSGs are long-running operations (POST, 202, poll): seconds on the real
service. They answer one question, "does the VNet carry TCP from this VM to the private endpoint?", and a packet
that got through already answers it. So they are asked only when a TCP connect to a private address failed and
the static reads (peerings, NSG rules evaluated here) do not already explain the failure.

Each plan is recorded in the evidence as an OnDemandRead (`state`, `reason`):
    state "not_needed": not asked, `reason` says what made it unnecessary;
    "done": asked and answered; "unfinished": still running at the deadline (an unknown, never a longer wait);
    "failed": the read was refused or failed (the Denied is in `denied`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aoai_diag.context import ProbeContext
from aoai_diag.evidence.azure import OnDemandRead, PrivateEndpoint
from aoai_diag.evidence.path import TcpConnect
from aoai_diag.model import CheckResult

if TYPE_CHECKING:
    from aoai_diag.azure.arm_clients import ArmSession
    from aoai_diag.azure.resources import NsgRule

# Outcomes of a TCP attempt that leave the VNet path in question.
FAILED_CONNECTS = ("timeout", "refused", "unreachable")
NOT_NEEDED = "not_needed"
ASKED = "asked"
"""Set while the read runs; the probe records how it ended (done, unfinished, failed)."""
DONE = "done"
UNFINISHED = "unfinished"
FAILED = "failed"
# privateEndpointNetworkPolicies values under which the PE subnet's NSG applies to the private endpoint.
PE_NSG_POLICIES = ("enabled", "networksecuritygroupenabled")


def _plan(ask: bool, reason: str) -> OnDemandRead:
    return OnDemandRead(state=ASKED if ask else NOT_NEEDED, reason=reason)


def _private(deps: Mapping[str, CheckResult], outcomes: Sequence[str]) -> list[str] | None:
    """Private addresses whose TCP connect ended in one of `outcomes`; None when tcp_connect was not part of the run."""
    result = deps.get("tcp_connect")
    if result is None:
        return None
    attempts = result.typed(TcpConnect).attempts
    return [a.address for a in attempts if a.address_class == "private" and a.outcome in outcomes]


def failed_private_connects(deps: Mapping[str, CheckResult]) -> list[str] | None:
    """Private addresses whose TCP connect failed in this run; None when the local TCP probe was not part of it."""
    return _private(deps, FAILED_CONNECTS)


def plan(deps: Mapping[str, CheckResult], what: str, explained_by: Sequence[str] = ()) -> OnDemandRead:
    """Whether to ask the long-running operation `what` (state `asked` or `not_needed`, and why), given the local
    evidence and the static explanations."""
    failed = failed_private_connects(deps)
    if failed is None:
        # Only the Azure probes ran (no local TCP evidence): nothing proves the path, so it is asked.
        return _plan(True, f"no local TCP evidence in this run: {what} asked")
    if not failed:
        connected = _private(deps, ("connected",)) or []
        if connected:
            return _plan(False, f"TCP to {', '.join(connected)} connected: the VNet path is proven, {what} not asked")
        return _plan(False, f"no TCP connect to a private address failed: {what} not asked")
    if explained_by:
        return _plan(
            False,
            f"TCP to {', '.join(failed)} failed, already explained by {'; '.join(explained_by)}: {what} not asked",
        )
    return _plan(True, f"TCP to {', '.join(failed)} failed and the static reads do not explain it: {what} asked")


def outcome_state(denied_code: str | None) -> str:
    """`unfinished` for an operation cut by the deadline, `failed` for any other failed read."""
    return UNFINISHED if denied_code == "Unfinished" else FAILED


def static_nsg_denies(
    ctx: ProbeContext,
    sess: ArmSession,
    source: str | None,
    client_nsg_ids: Sequence[str],
    pes: Sequence[PrivateEndpoint],
    port: int,
    prefixes: Sequence[str],
    client_asgs: Sequence[str] | None = None,
) -> list[str]:
    """NSG rules read from the NSGs themselves that deny TCP `port` from `source` to a private endpoint address.

    Client side: the NIC's and subnet's NSGs (outbound). PE side: the PE subnet's NSG (inbound), only when the
    subnet's privateEndpointNetworkPolicies lets NSGs apply
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy). A default
    DenyAllOutBound is left out: it only says the address is outside the VNet space known here. Unreadable NSGs
    explain nothing (their reads are reported by arm_nsg). A deny counts exactly when arm_nsg would name it
    (azure_facts.nsg_deny_is_cause), with the application security groups of both sides.
    """
    from aoai_diag.azure import nsg_eval, snapshot
    from aoai_diag.diagnosis.azure_facts import nsg_deny_is_cause

    if not source:
        return []
    addresses = [a for pe in pes for a in pe.ip_addresses]
    found: list[str] = []

    def rules_of(nsg_id: str) -> list[NsgRule] | None:
        try:
            return list(snapshot.nsg(ctx, sess, nsg_id).rules)
        except Exception:  # unreadable: no explanation from it
            return None

    for nsg_id in client_nsg_ids:
        rules = rules_of(nsg_id)
        for address in addresses if rules else ():
            pe_groups = next((pe.asg_ids for pe in pes if address in pe.ip_addresses), None)
            decision = nsg_eval.evaluate(
                rules or [], "Outbound", source, address, port, list(prefixes), client_asgs, pe_groups
            )
            if nsg_deny_is_cause(decision):
                found.append(f"NSG {nsg_id.rsplit('/', 1)[-1]} denies outbound {address}:{port}")
    for pe in pes:
        try:
            subnet = snapshot.subnet(ctx, sess, pe.subnet_id) if pe.subnet_id else None
        except Exception:
            continue
        if subnet is None or not subnet.nsg_id:
            continue
        if (subnet.pe_network_policies or "Disabled").lower() not in PE_NSG_POLICIES:
            continue
        rules = rules_of(subnet.nsg_id)
        for address in pe.ip_addresses if rules else ():
            decision = nsg_eval.evaluate(
                rules or [], "Inbound", source, address, port, list(prefixes), client_asgs, pe.asg_ids
            )
            if nsg_deny_is_cause(decision):
                found.append(f"NSG {subnet.nsg_id.rsplit('/', 1)[-1]} denies inbound {address}:{port} on the PE subnet")
    return found
