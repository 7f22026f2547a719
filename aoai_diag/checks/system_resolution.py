"""What applications get: the OS resolver (getaddrinfo) for every name of the account, both address families.

getaddrinfo honours the hosts file, nsswitch and, on Windows, the NRPT that VPN clients use for split DNS, so
it can disagree with direct DNS queries (nslookup, for one, ignores the NRPT). It cannot be bounded inside its
thread, so each name is resolved in a daemon worker and the probe stops waiting at `ctx.op_timeout()`
(glibc with a dead server takes ~10 s: 5 s timeout x 2 attempts, resolv.conf(5)).

Evidence: `SystemResolution` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

from aoai_diag.blocking import RESOLVER, map_in_threads
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.errors import one_line
from aoai_diag.evidence.answers import AnswerKind, classify_system
from aoai_diag.evidence.dns import NameResult, SystemResolution
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import classes
from aoai_diag.targets import Target

_EAI_NAMES = {
    getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_") and isinstance(getattr(socket, n), int)
}


def _gai_error(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and exc.args:
        code = exc.args[0]
        text = exc.args[1] if len(exc.args) > 1 else ""
        return f"{_EAI_NAMES.get(code, f'EAI_{code}')}: {text}".strip()
    return one_line(exc)


async def resolve_all(
    getaddrinfo: Callable[..., Any], names: list[str], port: int, timeout: float
) -> dict[str, NameResult]:
    """getaddrinfo for each name concurrently; names still pending after `timeout` get error "timeout"."""

    def work(name: str) -> NameResult:
        with RESOLVER.slot() as room:
            if not room:
                return NameResult(error=f"system resolver busy: {RESOLVER.in_flight} earlier lookups have not returned")
            try:
                infos = getaddrinfo(name, port, 0, socket.SOCK_STREAM)
                addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
            except Exception as exc:
                return NameResult(error=_gai_error(exc))
        return NameResult(addresses=tuple(addresses), address_classes=classes(addresses))

    def pending(name: str) -> NameResult:
        return NameResult(error="timeout")

    found = await map_in_threads(work, names, timeout, pending)
    return dict(zip(names, found, strict=True))


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    timeout = ctx.op_timeout()
    results = await resolve_all(ctx.getaddrinfo, list(target.names), ctx.settings.port, timeout)
    primary = results[target.host]
    evidence = SystemResolution(
        results=results,
        addresses=primary.addresses,
        address_classes=primary.address_classes,
        timeout_s=round(timeout, 3),
    )
    if primary.error == "timeout":
        return Outcome(
            Status.FAIL, f"{target.host} did not resolve within {timeout:g} s (OS resolver)", evidence, "timeout"
        )
    if primary.error or not primary.addresses:
        detail = primary.error or "no addresses"
        return Outcome(Status.FAIL, f"{target.host} does not resolve: {detail}", evidence, detail)
    shown = ", ".join(f"{a} ({c})" for a, c in list(primary.address_classes.items())[:4])
    if classify_system(primary) is AnswerKind.PRIVATE:
        return Outcome(Status.PASS, f"{target.host} -> {shown}", evidence)
    return Outcome(Status.WARN, f"{target.host} -> {shown}: not only private addresses", evidence)


PROBE = Probe(
    id="system_resolution", title="OS resolver (getaddrinfo) answer", evidence=SystemResolution, stage=0, run=run
)
