"""TCP connect to every address the system resolver gave for the primary host, concurrently.

A connect that succeeds proves little on its own (an Azure Firewall completes the handshake itself,
causes.md pitfall.tcp_ok_via_azfw); a timeout or refusal is strong evidence of a filtered path.

Evidence:
    port (int): the port connected to.
    attempts (list): one per address, in resolution order:
        {address, class, outcome: "connected" | "refused" | "timeout" | "unreachable" | "error",
         error (str | null), connect_ms (float | null)}.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from aoai_diag.addresses import classify
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, getattr(errno, "ENONET", -1)}
_REFUSED = {errno.ECONNREFUSED, getattr(errno, "WSAECONNREFUSED", -2)}


def classify_connect_error(exc: BaseException) -> str:
    """`refused`, `timeout`, `unreachable` or `error` for an exception raised by connect()."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    code = getattr(exc, "errno", None)
    if code in _REFUSED:
        return "refused"
    if code == errno.ETIMEDOUT:
        return "timeout"
    if code in _UNREACHABLE:
        return "unreachable"
    return "error"


def one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}".splitlines()[0][:200]


def open_connection(address: str, port: int, timeout: float) -> socket.socket:
    """A connected TCP socket (IPv4 or IPv6 literal), bounded by `timeout`. Raises OSError."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def connect_once(address: str, port: int, timeout: float) -> dict[str, Any]:
    """Connect, record the outcome and the time it took, close."""
    attempt: dict[str, Any] = {"address": address, "class": classify(address), "outcome": "error", "error": None}
    t0 = time.perf_counter()
    try:
        sock = open_connection(address, port, timeout)
    except OSError as exc:
        attempt["outcome"] = classify_connect_error(exc)
        attempt["error"] = "no answer within %.2f s" % timeout if attempt["outcome"] == "timeout" else one_line(exc)
        attempt["connect_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
        return attempt
    attempt["connect_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    attempt["outcome"] = "connected"
    sock.close()
    return attempt


def run_concurrently(addresses: list[str], port: int, timeout: float) -> list[dict[str, Any]]:
    """One connect per address in parallel threads; each bounded by `timeout` (socket timeout)."""
    results: list[dict[str, Any] | None] = [None] * len(addresses)

    def work(i: int, address: str) -> None:
        try:
            results[i] = connect_once(address, port, timeout)
        except Exception as exc:  # ValueError from a garbage address: evidence, not a crash
            results[i] = {"address": address, "class": None, "outcome": "error", "error": one_line(exc)}
            results[i]["connect_ms"] = None

    threads = [threading.Thread(target=work, args=(i, a), daemon=True) for i, a in enumerate(addresses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 1.0)
    return [
        r if r is not None else {"address": a, "class": None, "outcome": "timeout", "error": "no result", "connect_ms": None}
        for a, r in zip(addresses, results)
    ]


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    resolution = deps.get("system_resolution")
    addresses = [str(a) for a in (resolution.evidence.get("addresses") or [])] if resolution else []
    port = ctx.settings.port
    if not addresses:
        return skip(f"{target.host} did not resolve: nothing to connect to", "no addresses")
    attempts = run_concurrently(addresses, port, ctx.op_timeout())
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
