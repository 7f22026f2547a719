"""The account in Resource Manager, found by custom subdomain (or, failing that, by resource name).

Evidence: `ArmAccount` (aoai_diag/evidence/azure.py).

pass = found; fail = not in any readable subscription and every scope was readable; error = not found but
some scope could not be read (it may be there).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.azure import ArmAccount
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import snapshot

    def body() -> Outcome:
        inv = snapshot.inventory(ctx, probe_support.on_azure(deps))
        found = snapshot.find_accounts(inv, target.label)
        evidence = ArmAccount(
            label=target.label,
            source=inv.source,
            subscriptions=inv.subscriptions,
            graph_error=inv.graph_error,
            denied=inv.denied,
            account=found[0] if found else None,
            matches=tuple(a.id for a in found),
        )
        if found:
            acct = found[0]
            states = ", ".join(f"{c.status}" for c in acct.connections) or "none"
            return Outcome(
                Status.PASS,
                f"{acct.name} ({acct.kind}, {acct.location}): publicNetworkAccess={acct.public_network_access}, "
                f"private endpoint connections: {states}",
                evidence,
            )
        where = f"{len(inv.subscriptions)} subscription(s)"
        if inv.denied:
            scopes = "; ".join(probe_support.describe(d) for d in inv.denied)
            return Outcome(
                Status.ERROR,
                f"no account '{target.label}' in the readable part of {where}; unread: {scopes}",
                evidence,
                scopes,
            )
        return Outcome(Status.FAIL, f"no account with subdomain or name '{target.label}' in {where}", evidence)

    return probe_support.guarded(body, ArmAccount)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_account",
    title="The account in Resource Manager",
    evidence=ArmAccount,
    run=run,
    requires=("arm_access",),
    after=("azure_platform",),
    layer="azure",
    disabled=probe_support.disabled,
)
