"""DNS answers shared by the targets of one run.

Targets of a fleet often ask the same servers the same names: every form of one account
(`contoso.openai.azure.com`, `contoso.cognitiveservices.azure.com`) asks all of the account's names, and each
target asks the same public resolvers. Within one run an answer is asked once; a timeout or error is not kept,
so a target whose budget cut a query short never hands that failure to the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aoai_diag.context import Endpoint, ProbeContext
from aoai_diag.net.dnsquery import DnsAnswer, query

_NOT_KEPT = ("timeout", "error")


def run_cached(ctx: ProbeContext) -> Callable[[Endpoint, str, float], DnsAnswer]:
    """A `query_many(ask=...)` that answers from, and fills, the run's shared cache."""

    def ask(server: Endpoint, name: str, timeout: float) -> DnsAnswer:
        key = f"dns:{server[0]}:{server[1]}:{name.lower().rstrip('.')}"
        with ctx.lock:
            hit = ctx.shared.get(key)
        if hit is not None:
            return _copy(hit)  # type: ignore[no-any-return]
        answer = query(server, name, timeout)
        if answer["outcome"] not in _NOT_KEPT:
            with ctx.lock:
                ctx.shared.setdefault(key, _copy(answer))
        return answer

    return ask


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (what a `DnsAnswer` is): about ten times cheaper than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
