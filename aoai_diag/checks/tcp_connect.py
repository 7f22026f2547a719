"""TCP connect to every address the system resolver gave for the primary host, concurrently.

A connect that succeeds proves little on its own (an Azure Firewall completes the handshake itself,
https://learn.microsoft.com/azure/firewall/firewall-faq); a timeout or refusal is strong evidence of a filtered path.

Evidence:
    port (int): the port connected to.
    attempts (list): one per address, in resolution order:
        {address, class, outcome: "connected" | "refused" | "timeout" | "unreachable" | "error",
         error (str | null), connect_ms (float | null)}.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import classify
from aoai_diag.net.connect import classify_connect_error, map_concurrently, one_line, open_connection
from aoai_diag.targets import Target


def connect_once(address: str, port: int, timeout: float) -> dict[str, Any]:
    """Connect, record the outcome and the time it took, close."""
    attempt: dict[str, Any] = {"address": address, "class": None, "outcome": "error", "error": None, "connect_ms": None}
    try:
        attempt["class"] = classify(address)
    except ValueError:
        attempt["error"] = f"not an IP address: {address[:60]!r}"
        return attempt
    t0 = time.perf_counter()
    try:
        sock = open_connection(address, port, timeout)
    except OSError as exc:
        attempt["outcome"] = classify_connect_error(exc)
        attempt["error"] = f"no answer within {timeout:.2f} s" if attempt["outcome"] == "timeout" else one_line(exc)
        attempt["connect_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
        return attempt
    attempt["connect_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    attempt["outcome"] = "connected"
    sock.close()
    return attempt


def unfinished(address: str) -> dict[str, Any]:
    return {"address": address, "class": None, "outcome": "timeout", "error": "no result in time", "connect_ms": None}


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    resolution = deps.get("system_resolution")
    addresses = [str(a) for a in (resolution.evidence.get("addresses") or [])] if resolution else []
    port = ctx.settings.port
    if not addresses:
        return skip(f"{target.host} did not resolve: nothing to connect to", "no addresses")
    timeout = ctx.op_timeout()
    attempts = map_concurrently(lambda a: connect_once(a, port, timeout), addresses, timeout + 1.0, unfinished)
    evidence = {"port": port, "attempts": attempts}
    ok = [a for a in attempts if a["outcome"] == "connected"]
    shown = ", ".join(
        f"{a['address']} {a['outcome']}" + (f" ({a['connect_ms']:.0f} ms)" if a.get("connect_ms") is not None else "")
        for a in attempts[:4]
    )
    if len(ok) == len(attempts):
        return Outcome(Status.PASS, f"TCP {port} open: {shown}", evidence)
    if ok:
        return Outcome(Status.WARN, f"TCP {port} open on some addresses: {shown}", evidence)
    return Outcome(Status.FAIL, f"TCP {port} not reachable: {shown}", evidence, "no address accepted a connection")


PROBE = Probe(
    id="tcp_connect",
    title="TCP connect to the resolved addresses",
    run=run,
    requires=("system_resolution",),
)
