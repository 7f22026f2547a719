"""An HTTP CONNECT proxy on loopback, configurable to fail the way corporate proxies do.

It never resolves names (the test guard forbids it): a CONNECT target is mapped with `resolve`, accepted when it
is a loopback IP literal, or replaced by `upstream` — a proxy that resolves names publicly and so always reaches
the public front door (cause net.firewall_reorigination). Anything else gets 502, as from a real proxy that
cannot reach the target.

Config (JSON):
    mode: "tunnel" (default) | "407" (demand proxy authentication) | "502" | "hang" (never answer the CONNECT)
    resolve: {"contoso.openai.azure.com": "127.0.0.2"}   names to addresses (wins over `upstream`)
    upstream: "127.0.0.3:8443"   every other tunnel goes here, whatever was asked
Every CONNECT is appended to `requests`: {target, headers (lower-case dict), peer}.

Standalone: `python -m tests.servers.connect_proxy --listen IP:PORT [--config FILE.json]` prints "ready".
"""

from __future__ import annotations

import argparse
import ipaddress
import select
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

PROXY_407 = (
    'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n'
    "Server: squid/5.7\r\nContent-Type: text/html\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n{body}"
)
PROXY_502 = (
    "HTTP/1.1 502 Bad Gateway\r\nServer: squid/5.7\r\nVia: 1.1 proxy.corp (squid/5.7)\r\nContent-Type: text/html\r\n"
    "Content-Length: {n}\r\nConnection: close\r\n\r\n{body}"
)
BODY_407 = "<html><body><h1>Proxy Authentication Required</h1></body></html>"
BODY_502 = "<html><body><h1>502 Bad Gateway</h1><p>The proxy could not connect to the requested host.</p></body></html>"


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ProxyHandler(socketserver.StreamRequestHandler):
    server: ConnectProxy
    disable_nagle_algorithm = True

    def _answer(self, template: str, body: str) -> None:
        self.wfile.write(template.format(n=len(body.encode()), body=body).encode())

    def destination(self, target: str) -> tuple[str, int] | None:
        config = self.server.config
        host, _, port_text = target.rpartition(":")
        host = host.strip("[]").lower()
        resolve = config.get("resolve") or {}
        if host not in resolve and config.get("upstream"):
            up_host, _, up_port = str(config["upstream"]).rpartition(":")
            return up_host.strip("[]"), int(up_port)
        # A name the config maps explicitly is trusted (inside a test namespace its address is local there);
        # anything else must be a loopback literal, so the proxy can never be aimed outside the machine.
        mapped = resolve.get(host, host)
        if not port_text.isdigit() or (host not in resolve and not _loopback(mapped)):
            return None
        return mapped, int(port_text)

    def handle(self) -> None:
        self.request.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rsplit(" ", 1)[0]
        headers = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        with self.server.lock:
            self.server.requests.append({"target": target, "headers": headers, "peer": self.client_address[0]})
        mode = self.server.config.get("mode", "tunnel")
        if method != "CONNECT":
            self._answer(PROXY_502.replace("502 Bad Gateway", "405 Method Not Allowed", 1), BODY_502)
            return
        if mode == "hang":
            self.server.stopping.wait(60)
            return
        if mode == "407":
            self._answer(PROXY_407, BODY_407)
            return
        destination = self.destination(target)
        if mode == "502" or destination is None:
            self._answer(PROXY_502, BODY_502)
            return
        try:
            upstream = socket.create_connection(destination, timeout=5)
        except OSError:
            self._answer(PROXY_502, BODY_502)
            return
        with upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.pump(self.request, upstream)

    def pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes or the proxy stops."""
        sockets = [client, upstream]
        while not self.server.stopping.is_set():
            readable, _, _ = select.select(sockets, [], [], 0.1)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                other = upstream if sock is client else client
                try:
                    other.sendall(data)
                except OSError:
                    return


class ConnectProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], config: dict[str, Any]) -> None:
        self.config = config
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up mid-tunnel are expected

    @property
    def address(self) -> tuple[str, int]:
        return str(self.server_address[0]), int(self.server_address[1])

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def start(config: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0) -> ConnectProxy:
    server = ConnectProxy((host, port), dict(config or {}))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@contextmanager
def serve(config: dict[str, Any] | None = None, host: str = "127.0.0.1") -> Iterator[ConnectProxy]:
    server = start(config, host, 0)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HTTP CONNECT proxy for tests")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", help="JSON config file")
    args = parser.parse_args(argv)
    host, port = parse_listen(args.listen)
    server = start(load_config(args.config), host, port)
    return serve_until_stopped(server.stop)


if __name__ == "__main__":
    sys.exit(main())
