"""NSG evaluation for TCP 443 from this machine to each private endpoint address.

Client side (outbound): the effective-NSG API on the VM's NIC when available (it merges NIC and subnet NSGs),
else the NIC's and subnet's NSG rules; traffic must be allowed by every NSG on the path. PE side (inbound):
the PE subnet's NSG applies only when the subnet's privateEndpointNetworkPolicies is `Enabled` or
`NetworkSecurityGroupEnabled` (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
effective rules are not shown for PE NICs, so those rules are evaluated here. Rules are taken in priority
order, the first match decides (azure/nsg_eval.py). Rules naming application security groups are matched against
the client NIC's and the PE's groups (https://learn.microsoft.com/azure/virtual-network/application-security-groups);
a rule that cannot be matched is listed as unresolved, never read as `*`. A deny by a default rule is no NSG cause
(diagnosis/azure_facts.nsg_deny_is_cause, which the rules read too).

Evidence:
    port (int); source_ip (str | null): this VM's private address.
    client: {method: "effective" | "rules" | null, decisions: [{nsg_id, address, access, rule, priority, default,
        unresolved}], access: "Allow" | "Deny" | null, error}.
    pe_side: [{pe_id, address, subnet_id, network_policies, nsg_id, applies (bool), decision | null}].
    denied (list of {scope, status, code, message}).
pass = allowed on both sides; fail = a rule that applies denies (named); warn = could not evaluate a side;
skip = no client address (off Azure). An NSG deny on a PE subnet whose network policies are disabled is
reported in the summary as not applied: it is not a cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.diagnosis import azure_facts
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

NSG_POLICIES = ("enabled", "networksecuritygroupenabled")


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import nsg_eval, snapshot
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.azure.resources import ArmDenied, Nsg, NsgRule, Subnet

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        sess = snapshot.session(ctx, on_azure)
        net = deps["arm_client_network"].evidence
        pes = deps["arm_private_endpoints"].evidence.get("private_endpoints") or []
        port = ctx.settings.port
        nic = net.get("nic") or {}
        source = (nic.get("private_ips") or [None])[0]
        evidence: dict[str, Any] = {
            "port": port,
            "source_ip": source,
            "client": {"method": None, "decisions": [], "access": None, "error": None},
            "pe_side": [],
            "denied": [],
        }
        if not source:
            return Outcome(
                Status.SKIP,
                "no client NIC (off Azure): NSGs cannot be evaluated for this machine",
                evidence,
                "no client address",
            )
        vnet = net.get("vnet") or {}
        prefixes = list(vnet.get("address_prefixes") or ())
        for pe in pes:
            remote = next((e for e in net.get("pe_vnets") or () if e.get("pe_id") == pe["id"]), None)
            if remote and remote.get("relation") in ("same", "peered"):
                known = {v.id.lower(): v for v in snapshot.inventory(ctx, on_azure).vnets}
                other = known.get(str(remote.get("vnet_id")).lower())
                prefixes += list(other.address_prefixes) if other else []
        addresses = [(pe, a) for pe in pes for a in pe.get("ip_addresses") or ()]
        # Rules naming application security groups match by membership: the client NIC's and the PE's groups.
        client_asgs = nic.get("asg_ids") if "asg_ids" in nic else None
        problems: list[str] = []
        notes: list[str] = []
        # Client side.
        groups: list[tuple[str, list[NsgRule]]] = []
        try:
            effective = snapshot.effective_nsgs(ctx, sess, nic["id"])
            groups = nsg_eval.effective_rules(effective)
            evidence["client"]["method"] = "effective"
        except ArmFailure as exc:
            evidence["client"]["error"] = probe_support.describe(exc.denied)
            evidence["denied"].append(exc.denied.to_dict())
            ids = [i for i in (nic.get("nsg_id"), (net.get("subnet") or {}).get("nsg_id")) if i]
            read = sess.parallel({i: partial(snapshot.nsg, ctx, sess, i) for i in ids})
            for nsg_id, value in read.items():
                if isinstance(value, Nsg):
                    groups.append((nsg_id, list(value.rules)))
                elif isinstance(value, ArmDenied):
                    evidence["denied"].append(value.to_dict())
            evidence["client"]["method"] = "rules" if groups or not ids else None
        client_access: str | None = "Allow" if evidence["client"]["method"] else None
        for pe, address in addresses:
            for nsg_id, rules in groups:
                decision = dict(
                    nsg_eval.evaluate(rules, "Outbound", source, address, port, prefixes, client_asgs, _pe_asgs(pe)),
                    nsg_id=nsg_id,
                    address=address,
                )
                evidence["client"]["decisions"].append(decision)
                if decision["access"] == "Deny" and not azure_facts.nsg_deny_is_cause(decision):
                    notes.append(f"{address}: default rule {decision['rule']} denies (no VNet path, not an NSG cause)")
                elif decision["access"] == "Deny":
                    client_access = "Deny"
                    problems.append(
                        f"outbound {address}:{port} denied by {nsg_id.rsplit('/', 1)[-1]} rule {decision['rule']}"
                    )
        evidence["client"]["access"] = client_access
        # PE side.
        subnet_ids = {pe["subnet_id"] for pe in pes if pe.get("subnet_id")}
        subnets = sess.parallel({s: partial(snapshot.subnet, ctx, sess, s) for s in subnet_ids})
        for pe, address in addresses:
            sub = subnets.get(pe.get("subnet_id"))
            entry: dict[str, Any] = {
                "pe_id": pe["id"],
                "address": address,
                "subnet_id": pe.get("subnet_id"),
                "network_policies": None,
                "nsg_id": None,
                "applies": False,
                "decision": None,
            }
            if isinstance(sub, ArmDenied):
                evidence["denied"].append(sub.to_dict())
            elif isinstance(sub, Subnet):
                entry["network_policies"] = sub.pe_network_policies
                entry["nsg_id"] = sub.nsg_id
                entry["applies"] = (sub.pe_network_policies or "Disabled").lower() in NSG_POLICIES
                if sub.nsg_id:
                    try:
                        rules = list(snapshot.nsg(ctx, sess, sub.nsg_id).rules)
                        decision = nsg_eval.evaluate(
                            rules, "Inbound", source, address, port, prefixes, client_asgs, _pe_asgs(pe)
                        )
                        entry["decision"] = decision
                        name = sub.nsg_id.rsplit("/", 1)[-1]
                        if azure_facts.nsg_deny_is_cause(decision) and entry["applies"]:
                            problems.append(
                                f"inbound {address}:{port} denied by {name} rule {decision['rule']} on the PE subnet"
                            )
                        elif decision["access"] == "Deny":
                            notes.append(
                                f"{name} rule {decision['rule']} would deny, but privateEndpointNetworkPolicies="
                                f"{sub.pe_network_policies or 'Disabled'} so NSGs do not apply to the private endpoint"
                            )
                    except ArmFailure as exc:
                        evidence["denied"].append(exc.denied.to_dict())
            evidence["pe_side"].append(entry)
        note = ("; note: " + "; ".join(notes)) if notes else ""
        if problems:
            return Outcome(Status.FAIL, "; ".join(problems) + note, evidence)
        unresolved = sorted({r for d in evidence["client"]["decisions"] for r in d.get("unresolved") or ()})
        if unresolved:
            notes.append("not evaluable here: " + ", ".join(unresolved))
            note = "; note: " + "; ".join(notes)
        if client_access is None or evidence["denied"] or unresolved:
            return Outcome(
                Status.WARN,
                f"TCP {port} not fully evaluated ({len(evidence['denied'])} read(s) failed){note}",
                evidence,
            )
        return Outcome(Status.PASS, f"TCP {port} from {source} to the private endpoint allowed{note}", evidence)

    return probe_support.guarded(body)


def _pe_asgs(pe: Mapping[str, Any]) -> list[str] | None:
    """The PE's application security groups; None for evidence that did not record them (older bundles)."""
    return list(pe["asg_ids"]) if "asg_ids" in pe else None


PROBE = Probe(
    id="arm_nsg",
    title="NSG rules for TCP 443 to the private endpoint",
    run=run,
    requires=("arm_client_network", "arm_private_endpoints"),
    after=("azure_platform",),
    layer="azure",
    disabled=probe_support.disabled,
)
