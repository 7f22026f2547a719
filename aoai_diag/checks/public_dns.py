"""What the internet sees: a public resolver's CNAME chain shows whether a private endpoint exists.

With a private endpoint the public chain gains a `<label>.privatelink.<suffix>` hop and then ends at the VNet
proxy's public address; with network rules but no endpoint it goes straight to the VNet proxy
(`*.prod.vnet.cog.trafficmanager.net`, `vnetproxyv1-*`); such a name is never NXDOMAIN publicly
(https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link).

Evidence: `PublicDns` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.diagnosis import local_view
from aoai_diag.evidence.dns import DnsAnswer, PublicDns, ServerAnswers
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.dns_cache import query_many_cached
from aoai_diag.net.dnsquery import format_endpoint
from aoai_diag.targets import Target

USABLE = ("answer", "nodata", "nxdomain")
VNET_PROXY_SUFFIX = ".prod.vnet.cog.trafficmanager.net"


def has_privatelink_hop(target: Target, chain: Sequence[str]) -> bool:
    return local_view.has_privatelink_hop(chain, target.host)


def has_vnet_proxy(chain: Sequence[str]) -> bool:
    return any(name.endswith(VNET_PROXY_SUFFIX) or name.split(".", 1)[0].startswith("vnetproxy") for name in chain)


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    names = list(target.names)
    tried: list[ServerAnswers] = []
    chosen: DnsAnswer | None = None
    answered_by: str | None = None
    for server in ctx.settings.public_resolvers:
        found = await query_many_cached(ctx, [(server, n) for n in names], ctx.op_timeout())
        answers = {n: found[(server, n)] for n in names}
        tried.append(ServerAnswers(server=format_endpoint(server), answers=answers))
        if answers[target.host].outcome in USABLE:
            chosen, answered_by = answers[target.host], format_endpoint(server)
            break
    if chosen is None:
        evidence = PublicDns(servers=tuple(tried))
        outcomes = ", ".join(f"{t.server}: {t.answers[target.host].outcome}" for t in tried) or "none set"
        return Outcome(
            Status.ERROR, f"no public resolver answered ({outcomes})", evidence, "no public resolver answered"
        )
    evidence = PublicDns(
        servers=tuple(tried),
        answered_by=answered_by,
        privatelink_hop=has_privatelink_hop(target, chosen.chain),
        vnet_proxy=has_vnet_proxy(chosen.chain),
        public_addresses=(*chosen.addresses, *chosen.addresses6),
    )
    if chosen.outcome == "nxdomain":
        return Outcome(Status.FAIL, f"{target.host} does not exist in public DNS ({answered_by})", evidence, "NXDOMAIN")
    facts = []
    if evidence.privatelink_hop:
        facts.append("privatelink hop: a private endpoint exists")
    if evidence.vnet_proxy:
        facts.append("VNet proxy front end")
    shown = ", ".join(evidence.public_addresses[:3]) or "no address"
    extra = f" ({'; '.join(facts)})" if facts else ""
    return Outcome(Status.PASS, f"{answered_by}: {target.host} -> {shown}{extra}", evidence)


def _disabled(settings: Settings) -> str | None:
    return None if settings.public_dns else "--no-public-dns"


PROBE = Probe(
    id="public_dns", title="Public DNS view of the account", evidence=PublicDns, stage=0, run=run, disabled=_disabled
)
