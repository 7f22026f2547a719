"""The app host's DNS path as its resolver walks it (aoai_diag/osnet/hostdns.py says why each step is so, with its
sources): the servers the app's resolver asks, in order, and the setting that chose them (resolv.conf,
WEBSITE_DNS_SERVER / WEBSITE_DNS_ALT_SERVER behind App Service's forwarder); the names the resolver tries for the
account host given the search list and ndots, and which answers first; and, where the VNet may be reachable,
168.63.129.16 (`settings.azure_dns`) asked directly: a configured server that contradicts its private answer is
where forwarding breaks (CoreDNS `forward`, a custom server).

Evidence: `AppDns` (aoai_diag/evidence/host.py).

pass = the resolver's first answer is the host's own and private; fail = a search domain answers first, the first
answer is not private, nothing answers, or a server's forwarding breaks; skip = not an app host / no server known.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, format_endpoint, parse_endpoint
from aoai_diag.evidence.answers import classify_dns
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.evidence.host import AppDns, AppHost, HostResolverConfig, HostServerAnswers, SearchExpansion, SearchWalk
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net import dnsquery
from aoai_diag.net.dns_cache import query_many_cached
from aoai_diag.osnet import hostdns
from aoai_diag.targets import Target


async def _answers(ctx: ProbeContext, servers: list[HostServerAnswers], names: list[str]) -> list[HostServerAnswers]:
    """Every (server, name) at once, through the run's DNS cache: each server with its `answers`."""
    found = await query_many_cached(
        ctx, [(parse_endpoint(s.server), n) for s in servers for n in names], ctx.op_timeout()
    )
    answered = []
    for server in servers:
        endpoint = parse_endpoint(server.server)
        answered.append(dataclasses.replace(server, answers={n: found[(endpoint, n)] for n in names}))
    return answered


async def _walk(ctx: ProbeContext, host: str, resolver: HostResolverConfig, servers: list[str]) -> SearchWalk:
    """The names the stub resolver tries for `host`, each asked of the servers in order until one gives a final
    answer; asked concurrently, judged in the resolver's order (the same result, without the serial waits)."""
    ndots = resolver.ndots
    order = hostdns.search_expansions(host, resolver.search, ndots)
    pending = {query: None for query, _ in order}
    chosen: dict[str, tuple[str, DnsAnswer]] = {}
    for server in servers:
        asking = [q for q in pending if q not in chosen]
        if not asking:
            break
        endpoint = parse_endpoint(server)
        found = await query_many_cached(ctx, [(endpoint, q) for q in asking], ctx.op_timeout())
        for query in asking:
            answer = found[(endpoint, query)]
            if answer.outcome in hostdns.FINAL_OUTCOMES or server == servers[-1]:
                chosen[query] = (server, answer)
    expansions: list[SearchExpansion] = []
    answered_by = hijacked_by = None
    for query, domain in order:
        server, answer = chosen[query]
        expansions.append(SearchExpansion(query=query, search_domain=domain, server=server, answer=answer))
        if hostdns.has_addresses(answer):
            answered_by, hijacked_by = query, domain
            break
    return SearchWalk(
        name=host,
        ndots=ndots,
        dots=host.count("."),
        expansions=tuple(expansions),
        answered_by=answered_by,
        hijacked_by=hijacked_by,
    )


def _verdict(answer: DnsAnswer | None) -> str:
    return classify_dns(answer if answer is not None else DnsAnswer()).value


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    host = deps["app_host"].typed(AppHost)
    source, servers, why = hostdns.path_servers(host)
    if not servers:
        return Outcome(Status.SKIP, f"no DNS server of the app's path is known: {why}", AppDns(source=source), why)
    names = [target.host, target.privatelink_name()]
    skipped = hostdns.azure_dns_reason(host)
    reference = (
        None
        if skipped
        else HostServerAnswers(server=format_endpoint(ctx.settings.azure_dns), chosen_by="azure_dns", role="reference")
    )
    resolvers = [s.server for s in servers if s.role == "resolver"]
    if not resolvers:  # cannot happen: upstreams are listed only behind a resolver; kept honest all the same
        return Outcome(Status.SKIP, "the app's resolver has no server", AppDns(source=source), why)
    asked = [*servers, *([reference] if reference is not None else [])]
    resolver = host.resolver if host.resolver is not None else HostResolverConfig()
    answered, walk = await asyncio.gather(_answers(ctx, asked, names), _walk(ctx, target.host, resolver, resolvers))
    servers = answered[: len(servers)]
    reference = answered[len(servers)] if reference is not None else None
    verdicts = {s.server: _verdict(s.answers.get(target.host)) for s in servers}
    azure_verdict = _verdict(reference.answers.get(target.host)) if reference is not None else None
    broken = hostdns.forwarding_break(servers, verdicts, azure_verdict)
    unusable = hostdns.unusable_settings(host)
    evidence = AppDns(
        source=source,
        servers=tuple(servers),
        walk=walk,
        azure_dns=reference,
        azure_dns_skipped=skipped,
        verdicts=verdicts,
        unusable_settings=tuple(unusable),
        forwarding_break=broken,
    )
    chosen = f"servers chosen by {source}: " + ", ".join(f"{s.server} ({s.chosen_by})" for s in servers)
    if unusable:
        chosen += "; not an address: " + ", ".join(unusable)
    first = next((e for e in walk.expansions if e.query == walk.answered_by), None)
    if walk.hijacked_by and first is not None:
        return Outcome(
            Status.FAIL,
            f"{first.query} answers first ({_describe(first.answer)}): search domain "
            f"{walk.hijacked_by} is tried before {target.host} (ndots:{walk.ndots}); {chosen}",
            evidence,
        )
    if first is None:
        tried = ", ".join(e.query for e in walk.expansions)
        return Outcome(Status.FAIL, f"no name the resolver tries answers ({tried}); {chosen}", evidence)
    if broken:
        return Outcome(
            Status.FAIL,
            f"{broken} answers {target.host} {verdicts[broken]} while 168.63.129.16 answers it privately: its "
            f"forwarding breaks the path; {chosen}",
            evidence,
        )
    got = _verdict(first.answer)
    status = Status.PASS if got == "private" else Status.FAIL
    return Outcome(status, f"the app's resolver gets {_describe(first.answer)}; {chosen}", evidence)


def _describe(answer: DnsAnswer | None) -> str:
    return dnsquery.describe(answer if answer is not None else DnsAnswer())


PROBE = Probe(
    id="app_dns",
    title="The app host's DNS path (its servers, search list and ndots)",
    evidence=AppDns,
    run=run,
    requires=("app_host",),
)
