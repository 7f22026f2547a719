"""TCP connect to every address the system resolver gave for the primary host, concurrently.

A connect that succeeds proves little on its own (an Azure Firewall completes the handshake itself,
https://learn.microsoft.com/azure/firewall/firewall-faq); a timeout or refusal is strong evidence of a filtered path.

Evidence: `TcpConnect` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.path import TcpAttempt, TcpConnect
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import class_or_none, classify
from aoai_diag.net.connect import Connect, classify_connect_error, connect_all, millis, one_line
from aoai_diag.targets import Target


def attempt_of(address: str, connect: Connect | None, timeout: float) -> TcpAttempt:
    """The evidence of one connect: its outcome, the error, and the time it took."""
    if connect is None:
        return unfinished(address)
    connect_ms = millis(connect.elapsed_s)
    if connect.error is None:
        return TcpAttempt(address=address, address_class=classify(address), outcome="connected", connect_ms=connect_ms)
    outcome = "timeout" if connect.timed_out else classify_connect_error(connect.error)
    error = f"no answer within {timeout:.2f} s" if outcome == "timeout" else one_line(connect.error)
    return TcpAttempt(
        address=address, address_class=classify(address), outcome=outcome, error=error, connect_ms=connect_ms
    )


def not_an_address(address: str) -> TcpAttempt:
    return TcpAttempt(address=address, outcome="error", error=f"not an IP address: {address[:60]!r}")


def unfinished(address: str) -> TcpAttempt:
    return TcpAttempt(address=address, outcome="timeout", error="no result in time")


def _shown(attempt: TcpAttempt) -> str:
    took = f" ({attempt.connect_ms:.0f} ms)" if attempt.connect_ms is not None else ""
    return f"{attempt.address} {attempt.outcome}{took}"


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    resolution = deps.get("system_resolution")
    addresses = list(resolution.typed(SystemResolution).addresses) if resolution else []
    port = ctx.settings.port
    if not addresses:
        return skip(f"{target.host} did not resolve: nothing to connect to", "no addresses")
    timeout = ctx.op_timeout()
    valid = [a for a in addresses if class_or_none(a) is not None]
    connects = await connect_all([(a, port) for a in valid], timeout)
    done = dict(zip(valid, connects, strict=True))
    attempts = tuple(attempt_of(a, done[a], timeout) if a in done else not_an_address(a) for a in addresses)
    evidence = TcpConnect(port=port, attempts=attempts)
    ok = [a for a in attempts if a.outcome == "connected"]
    shown = ", ".join(_shown(a) for a in attempts[:4])
    if len(ok) == len(attempts):
        return Outcome(Status.PASS, f"TCP {port} open: {shown}", evidence)
    if ok:
        return Outcome(Status.WARN, f"TCP {port} open on some addresses: {shown}", evidence)
    return Outcome(Status.FAIL, f"TCP {port} not reachable: {shown}", evidence, "no address accepted a connection")


PROBE = Probe(
    id="tcp_connect",
    title="TCP connect to the resolved addresses",
    evidence=TcpConnect,
    stage=2,
    run=run,
    requires=("system_resolution",),
)
