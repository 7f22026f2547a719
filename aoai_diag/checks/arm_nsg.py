"""NSG evaluation for TCP 443 from this machine to each private endpoint address.

Client side (outbound): the NIC's and subnet's NSG rules; the effective-NSG API on the VM's NIC (it merges NIC and
subnet NSGs and expands service tags, but is a long-running operation) only when TCP to a private address failed
and nothing static explains it; traffic must be allowed by every NSG on the path. PE side (inbound):
the PE subnet's NSG applies only when the subnet's privateEndpointNetworkPolicies is `Enabled` or
`NetworkSecurityGroupEnabled` (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
effective rules are not shown for PE NICs, so those rules are evaluated here. Rules are taken in priority
order, the first match decides (rules/nsg_eval.py).

Evidence:
    port (int); source_ip (str | null): this VM's private address.
    client: {method: "effective" | "rules" | null, decisions: [{nsg_id, access, rule, priority, default,
        unresolved}], access: "Allow" | "Deny" | null, error,
        effective: {state: "not_needed" | "done" | "unfinished" | "failed", reason}}: the effective-NSG operation
        is asked only when TCP to a private address failed and no static read explains it (azure/on_demand.py).
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
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

NSG_POLICIES = ("enabled", "networksecuritygroupenabled")


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import nsg_eval, on_demand, snapshot
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
            "client": {
                "method": None,
                "decisions": [],
                "access": None,
                "error": None,
                "effective": {"state": on_demand.NOT_NEEDED, "reason": "not evaluated"},
            },
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
        problems: list[str] = []
        notes: list[str] = []
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
                        decision = nsg_eval.evaluate(rules, "Inbound", source, address, port, prefixes)
                        entry["decision"] = decision
                        name = sub.nsg_id.rsplit("/", 1)[-1]
                        if decision["access"] == "Deny" and entry["applies"]:
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
        # Client side: the NIC's and subnet's NSG rules, evaluated here; the effective-NSG operation (long-running)
        # only when a failed connect leaves the path open (azure/on_demand.py).
        ids = [i for i in (nic.get("nsg_id"), (net.get("subnet") or {}).get("nsg_id")) if i]
        read = sess.parallel({i: partial(snapshot.nsg, ctx, sess, i) for i in ids})
        static: list[tuple[str, list[NsgRule]]] = []
        static_denied: list[dict[str, Any]] = []
        for nsg_id, value in read.items():
            if isinstance(value, Nsg):
                static.append((nsg_id, list(value.rules)))
            elif isinstance(value, ArmDenied):
                static_denied.append(value.to_dict())
        explained = list(problems)
        for _pe, address in addresses:
            for nsg_id, rules in static:
                decision = nsg_eval.evaluate(rules, "Outbound", source, address, port, prefixes)
                # A default DenyAllOutBound only says the PE is outside the known VNet space: not an explanation.
                if decision["access"] == "Deny" and not decision.get("default"):
                    explained.append(f"NSG {nsg_id.rsplit('/', 1)[-1]} denies outbound {address}:{port}")
        # The same static explanations arm_client_network weighed: it starts this operation alongside the routes.
        explained += on_demand.peering_problems(net.get("pe_vnets") or [])
        need = on_demand.plan(deps, "effective NSGs", explained)
        evidence["client"]["effective"] = need.evidence()
        groups: list[tuple[str, list[NsgRule]]] = []
        if need.ask:
            try:
                groups = nsg_eval.effective_rules(snapshot.effective_nsgs(ctx, sess, nic["id"]))
                evidence["client"]["method"] = "effective"
                evidence["client"]["effective"]["state"] = on_demand.DONE
            except ArmFailure as exc:
                evidence["client"]["error"] = probe_support.describe(exc.denied)
                evidence["client"]["effective"]["state"] = on_demand.outcome_state(exc.denied.code)
                evidence["denied"].append(exc.denied.to_dict())
        if evidence["client"]["method"] is None:
            groups = static
            evidence["denied"] += static_denied
            evidence["client"]["method"] = "rules" if static or not ids else None
        client_access: str | None = "Allow" if evidence["client"]["method"] else None
        for _pe, address in addresses:
            for nsg_id, rules in groups:
                decision = dict(
                    nsg_eval.evaluate(rules, "Outbound", source, address, port, prefixes),
                    nsg_id=nsg_id,
                    address=address,
                )
                evidence["client"]["decisions"].append(decision)
                if decision["access"] == "Deny":
                    client_access = "Deny"
                    problems.append(
                        f"outbound {address}:{port} denied by {nsg_id.rsplit('/', 1)[-1]} rule {decision['rule']}"
                    )
        evidence["client"]["access"] = client_access
        note = ("; note: " + "; ".join(notes)) if notes else ""
        if problems:
            return Outcome(Status.FAIL, "; ".join(problems) + note, evidence)
        if client_access is None or evidence["denied"]:
            return Outcome(
                Status.WARN,
                f"TCP {port} not fully evaluated ({len(evidence['denied'])} read(s) failed){note}",
                evidence,
            )
        return Outcome(Status.PASS, f"TCP {port} from {source} to the private endpoint allowed{note}", evidence)

    return probe_support.guarded(body)


PROBE = Probe(
    id="arm_nsg",
    title="NSG rules for TCP 443 to the private endpoint",
    run=run,
    requires=("arm_client_network", "arm_private_endpoints"),
    # tcp_connect: the effective NSGs are asked only when a connect to a private address failed.
    after=("azure_platform", "tcp_connect"),
    layer="azure",
    disabled=probe_support.disabled,
)
