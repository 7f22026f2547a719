"""Each configured DNS server asked directly, for every name of the account and the primary privatelink name.

Asking `contoso.privatelink.openai.azure.com` too tells a forwarder for the privatelink zone only (the
private name answers, the public one does not go through it) from a server that never sees the zone
(conditional forwarders should target the public zone names:
https://learn.microsoft.com/azure/private-link/private-endpoint-dns-integration).

Evidence: `DnsNameservers` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.checks.base import Probe
from aoai_diag.context import Endpoint, ProbeContext, parse_endpoint
from aoai_diag.evidence.answers import classify_dns
from aoai_diag.evidence.dns import DnsAnswer, DnsNameservers, ResolverConfig, ServerAnswers
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.dns_cache import query_many_cached
from aoai_diag.net.dnsquery import describe, format_endpoint
from aoai_diag.targets import Target


def query_names(target: Target) -> list[str]:
    """The target's names and the primary host's privatelink name (shared with azure_dns)."""
    return [*target.names, target.privatelink_name()]


def answer_verdict(answer: DnsAnswer) -> str:
    """One word for how a server answered the primary host (see the module docstring): the diagnosis's own."""
    return classify_dns(answer).value


async def ask_servers(
    servers: list[Endpoint], names: list[str], timeout: float, ctx: ProbeContext | None = None
) -> list[ServerAnswers]:
    pairs = [(s, n) for s in servers for n in names]
    found = await query_many_cached(ctx, pairs, timeout)  # shared by the run's targets
    return [ServerAnswers(server=format_endpoint(s), answers={n: found[(s, n)] for n in names}) for s in servers]


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    config = deps.get("resolver_config")
    listed = config.typed(ResolverConfig).nameservers if config else ()
    servers: list[Endpoint] = []
    for text in listed:
        try:
            servers.append(parse_endpoint(text))
        except ValueError:
            continue  # resolver_config only records parseable addresses; a stray entry is not worth failing for
    if not servers:
        return Outcome(Status.SKIP, "no DNS server configured to ask", DnsNameservers(), "no nameservers configured")
    names = query_names(target)
    results = await ask_servers(servers, names, ctx.op_timeout(), ctx)
    verdicts = {r.server: answer_verdict(r.answers[target.host]) for r in results}
    evidence = DnsNameservers(servers=tuple(results), names=tuple(names), verdicts=verdicts)
    shown = "; ".join(f"{r.server}: {describe(r.answers[target.host])}" for r in results[:4])
    kinds = set(verdicts.values())
    if kinds == {"private"}:
        return Outcome(Status.PASS, f"{target.host} private on every server: {shown}", evidence)
    if "private" in kinds or "mixed" in kinds:
        return Outcome(Status.WARN, f"servers disagree on {target.host}: {shown}", evidence, "servers disagree")
    return Outcome(Status.FAIL, f"no server gives {target.host} a private address: {shown}", evidence)


PROBE = Probe(
    id="dns_nameservers",
    title="Configured DNS servers asked directly",
    evidence=DnsNameservers,
    stage=0,
    run=run,
    requires=("resolver_config",),
)
