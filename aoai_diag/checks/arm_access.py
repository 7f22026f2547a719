"""Can this run read Azure Resource Manager, and which subscriptions does it search?

One token-caching credential (environment service principal, managed identity when IMDS answered, Azure
CLI when `az` is installed) is built once per run; with none usable the probe says skip at once.

Evidence: `ArmAccess` (aoai_diag/evidence/azure.py).

pass = a token and at least one subscription; skip = no usable credential (`--no-azure` also skips);
error = token refused, or no subscription visible (nothing can be concluded from Azure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.azure import ArmAccess
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        sess = snapshot.session(ctx, on_azure)
        seen = ArmAccess(
            credential=sess.credential.source,
            arm_endpoint=sess.base_url,
            from_option=bool(ctx.settings.subscriptions),
        )
        vm_id = probe_support.vm_id(deps)
        try:
            access = snapshot.access(ctx, on_azure)
            if vm_id:
                snapshot.prefetch_client(ctx, sess, vm_id)
        except ArmFailure as exc:
            text = probe_support.describe(exc.denied)
            failed = replace(seen, denied=(exc.denied,), error=text)
            if exc.denied.code in ("CredentialUnavailableError",):
                return Outcome(Status.SKIP, f"no usable Azure credential: {exc.denied.message}", failed, text)
            return Outcome(Status.ERROR, f"cannot read Resource Manager: {text}", failed, text)
        # The run-wide read is this probe's evidence; a subscription list cut short says so in `denied`.
        if not access.subscriptions:
            return Outcome(
                Status.ERROR,
                "the credential sees no subscription: nothing to search",
                replace(access, error="the credential sees no subscription"),
                "no subscription",
            )
        return Outcome(
            Status.PASS,
            f"{sess.credential.source} credential reads {len(access.subscriptions)} subscription(s)"
            + "".join(f"; {probe_support.describe(d)}" for d in access.denied),
            access,
        )

    return probe_support.guarded(body, ArmAccess)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_access",
    title="Azure Resource Manager access",
    evidence=ArmAccess,
    run=run,
    after=("azure_platform",),
    layer="azure",
    disabled=probe_support.disabled,
)
