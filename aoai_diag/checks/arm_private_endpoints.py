"""Every private endpoint of the account: the ones the account lists and the ones that point at it.

A PE whose connection points at the account but which the account no longer lists is kept: that is what a
Disconnected endpoint after a re-created account looks like
(https://learn.microsoft.com/azure/private-link/manage-private-endpoint).

A PE's address comes from customDnsConfigs, static ipConfigurations, its zone group's recordSets or its NIC; PEs
that use a zone group often list only the NIC, so a denied NIC read leaves the address unknown (never "no IP").
Judgement (usable, address known) comes from diagnosis/azure_facts, which the rules read too.

Evidence: `ArmPrivateEndpoints` (aoai_diag/evidence/azure.py).

pass = every PE Succeeded with an Approved connection and a known address; warn = some PE is not usable or its
address is unknown; fail = none usable (or none at all); error = none usable and some could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.diagnosis import azure_facts
from aoai_diag.evidence.azure import (
    Account,
    AccountSide,
    ArmAccount,
    ArmPrivateEndpoints,
    Connection,
    Denied,
    PrivateEndpoint,
)
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target


def _describe(pe: PrivateEndpoint) -> str:
    ips = azure_facts.pe_ips(pe)
    address = ", ".join(ips.value or ()) or "no address" if ips.known else f"address {ips.describe()}"
    # Both records of the connection: the PE's own and the account's (they may disagree, issue 17 class 4).
    own = "/".join(azure_facts.pe_side_statuses(pe)) or "no connection"
    side = pe.account_side.status if pe.account_side is not None else None
    theirs = side if pe.listed_by_account is not False else "not listed"
    sides = own if theirs in (None, own) else f"{own} (account: {theirs})"
    return f"{pe.name}: {pe.provisioning_state}, {sides}, {address}"


def _wanted(account: Account, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, None]:
    """Ids (lower case) of the PEs the account lists, plus every PE whose connection (automatic or manual) targets it."""
    from aoai_diag.azure import convert

    wanted = dict.fromkeys(c.private_endpoint_id.lower() for c in account.connections if c.private_endpoint_id)
    for key, row in rows.items():
        # The inventory's rows are the REST JSON of the PEs, not evidence.
        props = row.get("properties") or {}
        conns = [
            *(props.get("privateLinkServiceConnections") or ()),
            *(props.get("manualPrivateLinkServiceConnections") or ()),
        ]
        if any(convert.same_id((c.get("properties") or {}).get("privateLinkServiceId"), account.id) for c in conns):
            wanted.setdefault(key)
    return wanted


def _item(pe: PrivateEndpoint, conn: Connection | None) -> PrivateEndpoint:
    """The PE with the account's record of its connection (None: the account does not list it)."""
    side = AccountSide(status=conn.status, provisioning_state=conn.provisioning_state) if conn is not None else None
    return replace(pe, account_side=side, listed_by_account=conn is not None)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import snapshot

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        sess = snapshot.session(ctx, on_azure)
        inv = snapshot.inventory(ctx, on_azure)
        account = deps["arm_account"].typed(ArmAccount).account
        if account is None:
            return Outcome(
                Status.SKIP,
                "the account is not in Resource Manager: no private endpoint to read",
                None,
                "account not found",
            )
        side = {c.private_endpoint_id.lower(): c for c in account.connections if c.private_endpoint_id}
        rows = {str(r.get("id", "")).lower(): r for r in inv.pe_rows}
        wanted = _wanted(account, rows)
        for key in wanted:
            subnet_id = ((rows.get(key, {}).get("properties") or {}).get("subnet") or {}).get("id")
            if subnet_id:
                snapshot.prefetch_subnet(ctx, sess, str(subnet_id))
        calls = {
            key: partial(
                snapshot.private_endpoint,
                ctx,
                sess,
                _conn_pe_id(side.get(key)) or rows[key]["id"],
                rows.get(key),
            )
            for key in wanted
        }
        results = sess.parallel(calls)
        denied = [v for v in results.values() if isinstance(v, Denied)]
        pes = tuple(_item(v, side.get(key)) for key, v in results.items() if isinstance(v, PrivateEndpoint))
        for pe in pes:
            denied.extend(pe.nic_denied)
        evidence = ArmPrivateEndpoints(account_id=account.id, private_endpoints=pes, denied=tuple(denied))
        return _judge(evidence)

    return probe_support.guarded(body, ArmPrivateEndpoints)


def _conn_pe_id(conn: Connection | None) -> str | None:
    return conn.private_endpoint_id if conn is not None else None


def _judge(evidence: ArmPrivateEndpoints) -> Outcome:
    pes, denied = evidence.private_endpoints, evidence.denied
    usable = [p for p in pes if azure_facts.pe_usable(p)]
    addressed = [p for p in usable if azure_facts.pe_ips(p).known]
    described = "; ".join(_describe(p) for p in pes)
    if not pes and not denied:
        return Outcome(Status.FAIL, "the account has no private endpoint", evidence)
    # A NIC read that failed does not matter for a PE whose address came from elsewhere (static, zone group).
    spare = {str(d.scope).lower() for p in addressed for d in p.nic_denied}
    blocking = [d for d in denied if str(d.scope).lower() not in spare]
    if usable and len(addressed) == len(pes) and not blocking:
        return Outcome(Status.PASS, described + (f"; NIC unread: {len(spare)}" if spare else ""), evidence)
    if usable:
        return Outcome(Status.WARN, described + (f"; unread: {len(denied)}" if denied else ""), evidence)
    if denied:
        text = "; ".join(f"{d.scope}: {d.message}" for d in denied)
        return Outcome(Status.ERROR, f"no usable private endpoint seen; could not read {text}", evidence, text)
    return Outcome(Status.FAIL, f"no usable private endpoint: {described}", evidence)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_private_endpoints",
    title="Private endpoints of the account",
    evidence=ArmPrivateEndpoints,
    run=run,
    requires=("arm_account",),
    after=("azure_platform",),
    layer="azure",
    disabled=probe_support.disabled,
)
