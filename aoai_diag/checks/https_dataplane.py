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

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any

from aoai_diag.addresses import class_or_none
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.dataplane_classify import REACHABLE, RECORDED_HEADERS, classify, lower_headers
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.netio import classify_connect_error, classify_tls_error, map_concurrently, one_line, open_connection
from aoai_diag.targets import Target

MAX_BODY = 64 * 1024
MAX_HEAD = 16 * 1024
USER_AGENT = "aoai-diag"


class ProxyRefused(Exception):
    """The proxy answered the CONNECT with something other than 2xx."""

    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        super().__init__(f"proxy answered CONNECT with {status}")
        self.status = status
        self.headers = headers
        self.body = body


class Budget:
    """Per-step socket timeouts: each step gets ctx.op_timeout(), and the attempt as a whole a ceiling."""

    def __init__(self, ctx: ProbeContext, steps: int) -> None:
        self.ctx = ctx
        self.end = time.monotonic() + steps * ctx.op_timeout()

    def step(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("attempt took longer than its budget")
        return max(0.01, min(self.ctx.op_timeout(), left))


def request_bytes(host: str, port: int, path: str) -> bytes:
    host_header = host if port == 443 else f"{host}:{port}"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def read_head(sock: socket.socket, budget: Budget) -> tuple[int, dict[str, str], bytes]:
    """Read a proxy's response head byte-exact (nothing of the tunnel may be consumed). Returns status, headers, rest."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise ValueError("proxy response head larger than 16 KiB")
        sock.settimeout(budget.step())
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionResetError("proxy closed the connection during CONNECT")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer from the proxy: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    return int(parts[1]), headers, rest


def read_proxy_body(sock: socket.socket, headers: Mapping[str, str], rest: bytes, budget: Budget) -> str:
    """The body of a refused CONNECT, up to Content-Length or MAX_BODY; best effort."""
    want = MAX_BODY
    length = headers.get("content-length", "")
    if length.isdigit():
        want = min(int(length), MAX_BODY)
    data = rest
    try:
        while len(data) < want:
            sock.settimeout(budget.step())
            chunk = sock.recv(min(65536, want - len(data)))
            if not chunk:
                break
            data += chunk
    except OSError:
        pass  # the status and headers already say what the proxy did
    return data[:MAX_BODY].decode("utf-8", errors="replace")


def open_tunnel(proxy_address: str, proxy_port: int, host: str, port: int, budget: Budget) -> socket.socket:
    sock = open_connection(proxy_address, proxy_port, budget.step())
    try:
        sock.settimeout(budget.step())
        target = f"{host}:{port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n\r\n".encode("ascii"))
        status, headers, rest = read_head(sock, budget)
        if not 200 <= status < 300:
            raise ProxyRefused(status, headers, read_proxy_body(sock, headers, rest, budget))
        if rest:
            raise ValueError("proxy sent data before the TLS handshake")
    except BaseException:
        sock.close()
        raise
    return sock


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
    sock.settimeout(budget.step())
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        # A verification failure classifies as untrusted/expired/name_mismatch: all of them are tls_error here.
        kind = classify_tls_error(exc)
        attempt["outcome"] = kind if kind in ("reset", "timeout") else "tls_error"
        attempt["error"] = one_line(exc)
        return
    with tls:
        tls.settimeout(budget.step())
        tls.sendall(request_bytes(host, port, path))
        response = http.client.HTTPResponse(tls, method="GET")  # type: ignore[arg-type]
        tls.settimeout(budget.step())
        response.begin()
        body = b""
        while len(body) < MAX_BODY:
            tls.settimeout(budget.step())
            chunk = response.read(min(16384, MAX_BODY - len(body)))
            if not chunk:
                break
            body += chunk
        attempt["body_truncated"] = len(body) >= MAX_BODY and not response.isclosed()
        record_response(attempt, response.status, response.getheaders(), body.decode("utf-8", errors="replace"))


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
    budget = Budget(ctx, steps=4)
    t0 = time.perf_counter()
    try:
        sock = open_connection(address, ctx.settings.port, budget.step())
        attempt["address"] = sock.getpeername()[0]
        exchange(sock, target.host, ctx.settings.port, path, ctx.ssl_context(), budget, attempt)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        translate(attempt, exc)
    attempt["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    return attempt


def resolve_bounded(ctx: ProbeContext, host: str, port: int) -> str:
    """First address of `host` (the proxy's name) via the OS resolver, giving up after op_timeout()."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    box: list[Any] = []

    def work() -> None:
        try:
            box.append(ctx.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            box.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(ctx.op_timeout())
    if not box:
        raise TimeoutError(f"resolving proxy {host} timed out")
    if isinstance(box[0], BaseException):
        raise OSError(f"cannot resolve proxy {host}: {box[0]}")
    return str(box[0][0][4][0])


def via_proxy(target: Target, ctx: ProbeContext, proxy: Mapping[str, Any], path: str) -> dict[str, Any]:
    shown = proxy.get("proxy_url")
    attempt = new_attempt("proxy", None, shown)
    url = str(shown or "")
    t0 = time.perf_counter()
    if "://" in url and not url.lower().startswith("http://"):
        attempt["error"] = f"proxy scheme {url.split('://', 1)[0]}:// is not supported by this probe"
        return attempt
    budget = Budget(ctx, steps=6)
    try:
        address = resolve_bounded(ctx, str(proxy["proxy_host"]), int(proxy["proxy_port"]))
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


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
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

    def one(kind: str) -> dict[str, Any]:
        if kind == "direct":
            return direct(target, ctx, str(address), path)
        return via_proxy(target, ctx, proxy_ev, path)

    limit = 7 * ctx.op_timeout() + 1.0

    def gave_up(kind: str) -> dict[str, Any]:
        attempt = new_attempt(kind, address if kind == "direct" else None, proxy_ev.get("proxy_url"))
        attempt.update(outcome="timeout", error="no result in time")
        return attempt

    attempts = map_concurrently(one, jobs, limit, gave_up)
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
    run=run,
    requires=("system_resolution", "proxy_settings"),
    after=("tcp_connect", "tls_handshake"),
)
