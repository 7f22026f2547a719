"""The smallest HTTP/1.1 client the data-plane probe needs: one GET over TLS to a chosen address with the account's
SNI, optionally through an HTTP CONNECT tunnel, every step bounded, the proxy's refusal read byte-exact.

Why not urllib3 (which azure-core brings): the probe connects to one specific resolved address (or a proxy) while
sending the account's name as SNI and Host, keeps the peer it actually reached as evidence, reads a refused
CONNECT's status, headers and body byte-exact, and bounds every step with the run's shrinking timeout. urllib3 can
be bent to most of that (a pool per address, `server_hostname`, `retries=False`, no redirects), but its proxy
manager does not hand back a refused CONNECT's body, and each default would be one more switch to keep off.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aoai_diag.net.connect import open_connection

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
    """Per-step socket timeouts: each step gets `op_timeout()` (the run's, which shrinks near its deadline), and the
    exchange as a whole a ceiling of `steps` of them."""

    def __init__(self, op_timeout: Callable[[], float], steps: int) -> None:
        self.op_timeout = op_timeout
        self.end = time.monotonic() + steps * op_timeout()

    def step(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("attempt took longer than its budget")
        return max(0.01, min(self.op_timeout(), left))


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


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: str
    """Decoded as UTF-8 (replacing what is not), at most MAX_BODY bytes."""
    truncated: bool
    """The body was longer than MAX_BODY."""


class HandshakeFailed(Exception):
    """The TLS handshake over the socket failed; `cause` is the ssl/OS error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def tls_get(sock: socket.socket, host: str, port: int, path: str, context: ssl.SSLContext, budget: Budget) -> Response:
    """TLS over `sock` (SNI = host), one GET with no credentials, the response read within the budget."""
    sock.settimeout(budget.step())
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raise HandshakeFailed(exc) from exc
    with tls:
        tls.settimeout(budget.step())
        tls.sendall(request_bytes(host, port, path))
        response = http.client.HTTPResponse(tls, method="GET")
        tls.settimeout(budget.step())
        response.begin()
        body = b""
        while len(body) < MAX_BODY:
            tls.settimeout(budget.step())
            chunk = response.read(min(16384, MAX_BODY - len(body)))
            if not chunk:
                break
            body += chunk
        truncated = len(body) >= MAX_BODY and not response.isclosed()
        return Response(response.status, response.getheaders(), body.decode("utf-8", errors="replace"), truncated)
