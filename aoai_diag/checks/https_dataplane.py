"""One key-less `GET /openai/models` to the data plane, directly and (when one applies) through the proxy.

The answer's text and headers tell which front end took the request (aoai_diag/dataplane_classify.py): 401 "invalid
subscription key" with `apim-request-id` from a private peer is the private path working; 403 "Public access is
disabled" proves the request went public. Never sends credentials (no api-key, Authorization, Proxy-Authorization).

Evidence:
    path (str): request path with query.
    attempts (list): {via: "direct" | "proxy", address (socket peer: the resolved address, or the proxy),
        address_class, proxy (redacted) | null, outcome: "response" | "timeout" | "refused" | "reset" | "tls_error"
        | "proxy_error" | "error", status (int | null), error_code, error_message, classification ("H1".."H12" |
        "unknown" | null), azure_answered (bool), caller_ip, headers: {apim-request-id, x-ms-region, policy-id,
        server, content-type, via}, body_truncated (bool), elapsed_ms, error, proxy_auth_withheld (bool)}.
    app_path ("direct" | "proxy"): the attempt an application would take.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

from aoai_diag.blocking import RESOLVER, in_thread, map_in_threads
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.dataplane_classify import REACHABLE, RECORDED_HEADERS, classify, lower_headers
from aoai_diag.evidence.path import HttpsDataplane
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import class_or_none
from aoai_diag.net.connect import (
    classify_connect_error,
    classify_tls_error,
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
    attempt: dict[str, Any],
) -> None:
    """TLS over `sock` (SNI = host), one GET, the response recorded into `attempt`."""
    try:
        response = tls_get(sock, host, port, path, context, budget)
    except HandshakeFailed as failed:
        # A verification failure classifies as untrusted/expired/name_mismatch: all of them are tls_error here.
        kind = classify_tls_error(failed.cause)
        attempt["outcome"] = kind if kind in ("reset", "timeout") else "tls_error"
        attempt["error"] = one_line(failed.cause)
        return
    attempt["body_truncated"] = response.truncated
    record_response(attempt, response.status, response.headers, response.body)


def record_response(attempt: dict[str, Any], status: int, headers: Any, body: str) -> None:
    lowered = lower_headers(headers)
    result = classify(status, lowered, body)
    attempt.update(
        status=status,
        classification=result.classification,
        error_code=result.error_code,
        error_message=None if result.error_message is None else result.error_message[:500],
        caller_ip=result.caller_ip,
        azure_answered=result.azure_answered,
        headers={h: lowered.get(h) for h in RECORDED_HEADERS},
    )
    if attempt["outcome"] != "proxy_error":
        attempt["outcome"] = "response"


def new_attempt(via: str, address: str | None, proxy: str | None) -> dict[str, Any]:
    return {
        "via": via,
        "address": address,
        "address_class": class_or_none(address) if address else None,
        "proxy": proxy,
        "outcome": "error",
        "status": None,
        "error_code": None,
        "error_message": None,
        "classification": None,
        "azure_answered": False,
        "caller_ip": None,
        "headers": dict.fromkeys(RECORDED_HEADERS),
        "body_truncated": False,
        "elapsed_ms": None,
        "error": None,
    }


def translate(attempt: dict[str, Any], exc: BaseException) -> None:
    if isinstance(exc, ProxyRefused):
        attempt["outcome"] = "proxy_error"
        attempt["error"] = str(exc)
        record_response(attempt, exc.status, exc.headers, exc.body)
        return
    kind = classify_connect_error(exc)
    if kind == "unreachable":
        kind = "error"
    if kind == "error" and isinstance(exc, (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)):
        kind = "reset"
    if kind == "error" and isinstance(exc, http.client.RemoteDisconnected):
        kind = "reset"
    attempt["outcome"] = kind
    attempt["error"] = one_line(exc)


def direct(target: Target, ctx: ProbeContext, address: str, path: str) -> dict[str, Any]:
    attempt = new_attempt("direct", address, None)
    budget = Budget(ctx.op_timeout, steps=4)
    t0 = time.perf_counter()
    try:
        sock = open_connection(address, ctx.settings.port, budget.step())
        attempt["address"] = sock.getpeername()[0]
        exchange(sock, target.host, ctx.settings.port, path, ctx.ssl_context(), budget, attempt)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        translate(attempt, exc)
    attempt["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    return attempt


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
    target: Target, ctx: ProbeContext, proxy: Mapping[str, Any], path: str, resolved: str | OSError
) -> dict[str, Any]:
    """The request through the proxy whose address is `resolved` (or the error resolving it)."""
    shown = proxy.get("proxy_url")
    attempt = new_attempt("proxy", None, shown)
    url = str(shown or "")
    t0 = time.perf_counter()
    if "://" in url and not url.lower().startswith("http://"):
        attempt["error"] = f"proxy scheme {url.split('://', 1)[0]}:// is not supported by this probe"
        return attempt
    budget = Budget(ctx.op_timeout, steps=6)
    try:
        if isinstance(resolved, OSError):
            raise resolved
        address = resolved
        attempt["address"] = address
        attempt["address_class"] = class_or_none(address)
        sock = open_tunnel(address, int(proxy["proxy_port"]), target.host, ctx.settings.port, budget)
        exchange(sock, target.host, ctx.settings.port, path, ctx.ssl_context(), budget, attempt)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError, ProxyRefused) as exc:
        translate(attempt, exc)
        if attempt.get("status") == 407 and "***@" in url:
            # The configured proxy credentials are deliberately not sent (no credentials leave this tool).
            attempt["proxy_auth_withheld"] = True
    attempt["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    return attempt


def direct_candidate(deps: Mapping[str, CheckResult]) -> str | None:
    """The first connected, TLS-ok address; without those probes, the best address known."""
    tls = deps.get("tls_handshake")
    if tls is not None and tls.evidence.get("attempts") is not None:
        ok = [a["address"] for a in tls.evidence["attempts"] if a.get("outcome") == "ok"]
        return str(ok[0]) if ok else None
    tcp = deps.get("tcp_connect")
    if tcp is not None and tcp.evidence.get("attempts") is not None:
        ok = [a["address"] for a in tcp.evidence["attempts"] if a.get("outcome") == "connected"]
        return str(ok[0]) if ok else None
    resolution = deps.get("system_resolution")
    addresses = resolution.evidence.get("addresses") if resolution else None
    return str(addresses[0]) if addresses else None


def describe(a: Mapping[str, Any]) -> str:
    where = f"{a['via']} {a.get('address') or '?'}"
    if a.get("status") is not None:
        return f"{where}: {a['status']} {a.get('classification')}" + ("" if a.get("azure_answered") else " (not Azure)")
    return f"{where}: {a['outcome']}"


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    path = f"/openai/models?api-version={ctx.settings.data_plane_api_version}"
    proxy = deps.get("proxy_settings")
    proxy_ev = proxy.evidence if proxy else {}
    uses_proxy = bool(proxy_ev.get("applies")) and bool(proxy_ev.get("proxy_host"))
    app_path = "proxy" if uses_proxy else "direct"
    jobs: list[str] = []
    address = direct_candidate(deps)
    if address:
        jobs.append("direct")
    if uses_proxy:
        jobs.append("proxy")
    if not jobs:
        return skip("no connected, TLS-ok address and no proxy: nothing to send a request to", "no path to try")

    resolved: str | OSError = ""
    if uses_proxy:
        try:
            resolved = await resolve_bounded(ctx, str(proxy_ev["proxy_host"]), int(proxy_ev["proxy_port"]))
        except OSError as exc:
            resolved = exc

    def one(kind: str) -> dict[str, Any]:
        if kind == "direct":
            return direct(target, ctx, str(address), path)
        return via_proxy(target, ctx, proxy_ev, path, resolved)

    limit = 7 * ctx.op_timeout() + 1.0

    def gave_up(kind: str) -> dict[str, Any]:
        attempt = new_attempt(kind, address if kind == "direct" else None, proxy_ev.get("proxy_url"))
        attempt.update(outcome="timeout", error="no result in time")
        return attempt

    attempts = await map_in_threads(one, jobs, limit, gave_up)
    evidence = {"path": path, "attempts": attempts, "app_path": app_path}
    return judge(attempts, app_path, evidence)


def judge(attempts: list[dict[str, Any]], app_path: str, evidence: dict[str, Any]) -> Outcome:
    """pass = the application's path got H1/H6/H9 from Azure over a private address; warn = public or proxy."""
    app = next((a for a in attempts if a["via"] == app_path), None)
    shown = "; ".join(describe(a) for a in attempts)
    if app is None:
        return Outcome(Status.FAIL, f"the application's path was not tried; {shown}", evidence, "no app-path attempt")
    answered = app.get("classification") in REACHABLE and app.get("azure_answered")
    if answered and app_path == "direct" and app.get("address_class") == "private":
        return Outcome(Status.PASS, f"Azure answered over the private path: {shown}", evidence)
    if answered:
        why = "through a proxy" if app_path == "proxy" else f"over a {app.get('address_class')} address"
        return Outcome(Status.WARN, f"Azure answered {why}: {shown}", evidence, f"reachable only {why}")
    return Outcome(
        Status.FAIL,
        f"the data plane did not answer as reachable: {shown}",
        evidence,
        f"app path ({app_path}) got {app.get('classification') or app.get('outcome')}",
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
