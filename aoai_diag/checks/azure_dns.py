"""Azure-provided DNS (168.63.129.16) asked directly: what a VM in this VNet gets from the linked private zones.

Only reachable from inside an Azure VNet, so it runs only when IMDS answered
(https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16). If it gives the private
address while the configured servers do not, the zone is fine and the custom DNS path is the problem
(https://learn.microsoft.com/azure/private-link/private-endpoint-dns).

Evidence: `AzureDns` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.checks.base import Probe
from aoai_diag.checks.dns_nameservers import query_names
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.answers import AnswerKind, classify_dns
from aoai_diag.evidence.dns import AzureDns
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.dns_cache import query_many_cached
from aoai_diag.net.dnsquery import describe, format_endpoint
from aoai_diag.targets import Target


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    server = ctx.settings.azure_dns
    names = query_names(target)
    found = await query_many_cached(ctx, [(server, n) for n in names], ctx.op_timeout())
    answers = {n: found[(server, n)] for n in names}
    evidence = AzureDns(server=format_endpoint(server), answers=answers)
    primary = answers[target.host]
    shown = describe(primary)
    if classify_dns(primary) is AnswerKind.PRIVATE:
        return Outcome(Status.PASS, f"Azure DNS gives {target.host} -> {shown}", evidence)
    return Outcome(
        Status.FAIL, f"Azure DNS gives no private address for {target.host}: {shown}", evidence, primary.outcome
    )


PROBE = Probe(
    id="azure_dns",
    title="Azure-provided DNS asked directly",
    evidence=AzureDns,
    stage=0,
    run=run,
    requires=("azure_platform",),
)
