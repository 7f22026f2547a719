"""DNS answers shared by the targets of one run.

Targets of a fleet often ask the same servers the same names: every form of one account
(`contoso.openai.azure.com`, `contoso.cognitiveservices.azure.com`) asks all of the account's names, and each
target asks the same public resolvers. Within one run an answer is asked once; a timeout or error is not kept,
so a target whose budget cut a query short never hands that failure to the next one. A `DnsAnswer` is immutable, so
the targets share the one kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from aoai_diag.context import Endpoint, ProbeContext
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.net.dnsquery import query_many

_NOT_KEPT = ("timeout", "error")


def _key(server: Endpoint, name: str) -> str:
    return f"dns:{server[0]}:{server[1]}:{name.lower().rstrip('.')}"


async def query_many_cached(
    ctx: ProbeContext | None, pairs: Sequence[tuple[Endpoint, str]], timeout: float
) -> dict[tuple[Endpoint, str], DnsAnswer]:
    """`query_many`, answered from and filling the run's shared cache (no cache without a run context)."""
    if ctx is None:
        return await query_many(pairs, timeout)
    found: dict[tuple[Endpoint, str], DnsAnswer] = {}
    for pair in dict.fromkeys(pairs):
        hit = ctx.shared.get(_key(*pair))
        if hit is not None:
            found[pair] = hit
    missing = [pair for pair in dict.fromkeys(pairs) if pair not in found]
    if missing:
        asked = await query_many(missing, timeout)
        for pair, answer in asked.items():
            if answer.outcome not in _NOT_KEPT:
                ctx.shared.setdefault(_key(*pair), answer)
        found.update(asked)
    return {pair: found[pair] for pair in dict.fromkeys(pairs)}
