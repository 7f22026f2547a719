"""DNS answers shared by the targets of one run.

Targets of a fleet often ask the same servers the same names: every form of one account
(`contoso.openai.azure.com`, `contoso.cognitiveservices.azure.com`) asks all of the account's names, and each
target asks the same public resolvers. Within one run an answer is asked once; a timeout or error is not kept,
so a target whose budget cut a query short never hands that failure to the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aoai_diag.context import Endpoint, ProbeContext
from aoai_diag.net.dnsquery import DnsAnswer, query_many

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
            found[pair] = _copy(hit)
    missing = [pair for pair in dict.fromkeys(pairs) if pair not in found]
    if missing:
        asked = await query_many(missing, timeout)
        for pair, answer in asked.items():
            if answer["outcome"] not in _NOT_KEPT:
                ctx.shared.setdefault(_key(*pair), _copy(answer))
        found.update(asked)
    return {pair: found[pair] for pair in dict.fromkeys(pairs)}


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (what a `DnsAnswer` is): about ten times cheaper than `copy.deepcopy`, and
    no call for the strings, numbers and None that most values are."""
    if isinstance(value, dict):
        return {k: _copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value
