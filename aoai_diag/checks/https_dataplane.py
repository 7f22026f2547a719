"""One key-less `GET /openai/models` to the data plane, directly and (when one applies) through the proxy.

The answer's text and headers tell which front end took the request (aoai_diag/dataplane_classify.py): 401 "invalid
subscription key" with `apim-request-id` from a private peer is the private path working; 403 "Public access is
disabled" proves the request went public. Never sends credentials (no api-key, Authorization, Proxy-Authorization).

Evidence: `HttpsDataplane` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aoai_diag.blocking import RESOLVER, in_thread, map_in_threads
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.dataplane_classify import REACHABLE, RECORDED_HEADERS, classify, lower_headers
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.path import HttpAttempt, HttpsDataplane, ProxySettings, TcpConnect, TlsHandshake
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import class_or_none
from aoai_diag.net.connect import (
    classify_connect_error,
    classify_tls_error,
    millis,
    one_line,
    open_connection,
)
from aoai_diag.net.http_client import Budget, HandshakeFailed, ProxyRefused, open_tunnel, tls_get
from aoai_diag.targets import Target


def exchange(
    sock: socket.socket,
    host: str,
    port: int,
    path: str,
    context: ssl.SSLContext,
    budget: Budget,
    attempt: HttpAttempt,
) -> HttpAttempt:
    """TLS over `sock` (SNI = host), one GET: `attempt` with the response recorded."""
    try:
        response = tls_get(sock, host, port, path, context, budget)
    except HandshakeFailed as failed:
        # A verification failure classifies as untrusted/expired/name_mismatch: all of them are tls_error here.
        kind = classify_tls_error(failed.cause)
        return replace(
            attempt, outcome=kind if kind in ("reset", "timeout") else "tls_error", error=one_line(failed.cause)
        )
    return record_response(
        replace(attempt, body_truncated=response.truncated), response.status, response.headers, response.body
    )


def record_response(attempt: HttpAttempt, status: int, headers: Any, body: str) -> HttpAttempt:
    lowered = lower_headers(headers)
    result = classify(status, lowered, body)
    return replace(
        attempt,
        status=status,
        classification=str(result.classification),
        error_code=result.error_code,
        error_message=None if result.error_message is None else result.error_message[:500],
        caller_ip=result.caller_ip,
        azure_answered=result.azure_answered,
        headers={h: lowered.get(h) for h in RECORDED_HEADERS},
        outcome="proxy_error" if attempt.outcome == "proxy_error" else "response",
    )


def new_attempt(via: str, address: str | None, proxy: str | None) -> HttpAttempt:
    return HttpAttempt(
        via=via,
        address=address,
        address_class=class_or_none(address) if address else None,
        proxy=proxy,
        outcome="error",
        headers=dict.fromkeys(RECORDED_HEADERS),
    )


def translate(attempt: HttpAttempt, exc: BaseException) -> HttpAttempt:
    if isinstance(exc, ProxyRefused):
        refused = replace(attempt, outcome="proxy_error", error=str(exc))
        return record_response(refused, exc.status, exc.headers, exc.body)
    kind = classify_connect_error(exc)
    if kind == "unreachable":
        kind = "error"
    if kind == "error" and isinstance(exc, (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)):
        kind = "reset"
    if kind == "error" and isinstance(exc, http.client.RemoteDisconnected):
        kind = "reset"
    return replace(attempt, outcome=kind, error=one_line(exc))


def direct(target: Target, ctx: ProbeContext, address: str, path: str) -> HttpAttempt:
    attempt = new_attempt("direct", address, None)
    budget = Budget(ctx.op_timeout, steps=4)
    t0 = time.perf_counter()
    try:
        sock = open_connection(address, ctx.settings.port, budget.step())
        attempt = replace(attempt, address=str(sock.getpeername()[0]))
        attempt = exchange(sock, target.host, ctx.settings.port, path, ctx.ssl_context(), budget, attempt)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        attempt = translate(attempt, exc)
    return replace(attempt, elapsed_ms=millis(time.perf_counter() - t0))


async def resolve_bounded(ctx: ProbeContext, host: str, port: int) -> str:
    """First address of `host` (the proxy's name) via the OS resolver, giving up after op_timeout()."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass

    def lookup() -> Any:
        with RESOLVER.slot() as room:
            if not room:
                raise OSError(f"system resolver busy: {RESOLVER.in_flight} earlier lookups have not returned")
            return ctx.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    try:
        infos = await asyncio.wait_for(in_thread(lookup), ctx.op_timeout())
    except (asyncio.TimeoutError, TimeoutError):
        raise TimeoutError(f"resolving proxy {host} timed out") from None
    except OSError as exc:
        raise OSError(f"cannot resolve proxy {host}: {exc}") from None
    return str(infos[0][4][0])


def via_proxy(
    target: Target, ctx: ProbeContext, shown: str | None, port: int, path: str, resolved: str | OSError
) -> HttpAttempt:
    """The request through the proxy `shown` (its redacted URL) listening on `port` at `resolved` (or the error
    resolving it)."""
    attempt = new_attempt("proxy", None, shown)
    url = shown or ""
    t0 = time.perf_counter()
    if "://" in url and not url.lower().startswith("http://"):
        return replace(attempt, error=f"proxy scheme {url.split('://', 1)[0]}:// is not supported by this probe")
    budget = Budget(ctx.op_timeout, steps=6)
    try:
        if isinstance(resolved, OSError):
            raise resolved
        attempt = replace(attempt, address=resolved, address_class=class_or_none(resolved))
        sock = open_tunnel(resolved, port, target.host, ctx.settings.port, budget)
        attempt = exchange(sock, target.host, ctx.settings.port, path, ctx.ssl_context(), budget, attempt)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError, ProxyRefused) as exc:
        attempt = translate(attempt, exc)
        if attempt.status == 407 and "***@" in url:
            # The configured proxy credentials are deliberately not sent (no credentials leave this tool).
            attempt = replace(attempt, proxy_auth_withheld=True)
    return replace(attempt, elapsed_ms=millis(time.perf_counter() - t0))


_OBSERVED = (Status.PASS, Status.WARN, Status.FAIL)


def direct_candidate(deps: Mapping[str, CheckResult]) -> str | None:
    """The first connected, TLS-ok address; without those probes' attempts, the best address known."""
    tls = deps.get("tls_handshake")
    if tls is not None and tls.status in _OBSERVED:
        ok = [a.address for a in tls.typed(TlsHandshake).attempts if a.outcome == "ok"]
        return ok[0] if ok else None
    tcp = deps.get("tcp_connect")
    if tcp is not None and tcp.status in _OBSERVED:
        ok = [a.address for a in tcp.typed(TcpConnect).attempts if a.outcome == "connected"]
        return ok[0] if ok else None
    resolution = deps.get("system_resolution")
    addresses = resolution.typed(SystemResolution).addresses if resolution else ()
    return addresses[0] if addresses else None


def describe(a: HttpAttempt) -> str:
    where = f"{a.via} {a.address or '?'}"
    if a.status is not None:
        return f"{where}: {a.status} {a.classification}" + ("" if a.azure_answered else " (not Azure)")
    return f"{where}: {a.outcome}"


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    path = f"/openai/models?api-version={ctx.settings.data_plane_api_version}"
    proxy = deps.get("proxy_settings")
    proxy_ev = proxy.typed(ProxySettings) if proxy else ProxySettings()
    # Where the proxy that applies listens (the probe records host and port together; null for an unusable URL).
    proxy_host, proxy_port = proxy_ev.proxy_host, proxy_ev.proxy_port
    proxy_at = (proxy_host, proxy_port) if proxy_ev.applies and proxy_host and proxy_port is not None else None
    app_path = "proxy" if proxy_at else "direct"
    jobs: list[str] = []
    address = direct_candidate(deps)
    if address:
        jobs.append("direct")
    if proxy_at:
        jobs.append("proxy")
    if not jobs:
        return skip("no connected, TLS-ok address and no proxy: nothing to send a request to", "no path to try")

    resolved: str | OSError = ""
    if proxy_at:
        try:
            resolved = await resolve_bounded(ctx, *proxy_at)
        except OSError as exc:
            resolved = exc

    def one(kind: str) -> HttpAttempt:
        if kind == "direct" or proxy_at is None:
            return direct(target, ctx, str(address), path)
        return via_proxy(target, ctx, proxy_ev.proxy_url, proxy_at[1], path, resolved)

    limit = 7 * ctx.op_timeout() + 1.0

    def gave_up(kind: str) -> HttpAttempt:
        attempt = new_attempt(kind, address if kind == "direct" else None, proxy_ev.proxy_url)
        return replace(attempt, outcome="timeout", error="no result in time")

    attempts = await map_in_threads(one, jobs, limit, gave_up)
    evidence = HttpsDataplane(path=path, attempts=tuple(attempts), app_path=app_path)
    return judge(evidence)


def judge(evidence: HttpsDataplane) -> Outcome:
    """pass = the application's path got H1/H6/H9 from Azure over a private address; warn = public or proxy."""
    app_path = evidence.app_path
    app = next((a for a in evidence.attempts if a.via == app_path), None)
    shown = "; ".join(describe(a) for a in evidence.attempts)
    if app is None:
        return Outcome(Status.FAIL, f"the application's path was not tried; {shown}", evidence, "no app-path attempt")
    answered = app.classification in REACHABLE and app.azure_answered
    if answered and app_path == "direct" and app.address_class == "private":
        return Outcome(Status.PASS, f"Azure answered over the private path: {shown}", evidence)
    if answered:
        why = "through a proxy" if app_path == "proxy" else f"over a {app.address_class} address"
        return Outcome(Status.WARN, f"Azure answered {why}: {shown}", evidence, f"reachable only {why}")
    return Outcome(
        Status.FAIL,
        f"the data plane did not answer as reachable: {shown}",
        evidence,
        f"app path ({app_path}) got {app.classification or app.outcome}",
    )


PROBE = Probe(
    id="https_dataplane",
    title="Key-less HTTPS request to the data plane",
    evidence=HttpsDataplane,
    stage=4,
    run=run,
    requires=("system_resolution", "proxy_settings"),
    after=("tcp_connect", "tls_handshake"),
)
