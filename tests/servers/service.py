"""An HTTPS endpoint on loopback that answers like the Azure OpenAI data plane, per listener config.

Bodies and headers are the texts the service sends (docs/dataplane-answers.md), so the probe's classifier is
exercised with what Azure really sends. One process can serve several listeners with different behaviour (the
end-to-end tier runs the private endpoint and the public front door from one config).

Listener config (JSON object):
    listen: "IP:PORT"             (optional for a single listener given --listen)
    cert: "/path/azure.pem"       chain + key PEM (tests.servers.tlsca); required unless mode is reset/hang
    behaviour: "H1".."H12" | "502" | "200"   default "H1"
    by_host: {"host": "H7", ...}  behaviour per Host header (e.g. the public front door knows one account only)
    mode: "respond" | "reset" (RST right after accept) | "reset_tls" (RST after the ClientHello) |
          "hang" (accept, never speak) | "hang_http" (TLS done, never answer)
    caller_ip: "203.0.113.7" | "peer"   text of "Your IP address is X" in H3 (default: the TCP peer)
    region: "East US 2"           x-ms-region on H1/H6/H9
    pad_bytes: 0                  extra bytes appended to the body (to test the client's read cap)
Top level: either one listener object or {"listeners": [ ... ]}.

Every request is appended to `requests` of its listener: {path, host, headers (lower-case dict), peer}.
Standalone: `python -m tests.servers.service [--listen IP:PORT] --config FILE.json` prints "ready".
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

H1_TEXT = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)
H4_TEXT = (
    "A Virtual Network is configured for this resource. Please use the correct endpoint for making requests. "
    "Check https://aka.ms/cogsvc-vnet for more details."
)
H11_TEXT = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making requests to "
    "an API."
)
NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
BAD_GATEWAY = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


def azure_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def response_for(behaviour: str, config: dict[str, Any], peer: str) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) the emulated service sends for `behaviour`."""
    apim = {"apim-request-id": str(uuid.uuid4())}
    region = {"x-ms-region": str(config.get("region", "East US 2"))}
    denied = {**apim, "policy-id": "ThrowExceptionDueToTrafficDenied"}
    json_ct = {"Content-Type": "application/json"}
    caller = str(config.get("caller_ip") or "peer")
    caller = peer if caller == "peer" else caller
    table: dict[str, tuple[int, dict[str, str], Any]] = {
        "200": (200, {**apim, **region}, {"data": [], "object": "list"}),
        "H1": (401, {**apim, **region}, azure_error("401", H1_TEXT)),
        "H2": (
            403,
            denied,
            azure_error("AccessDenied", "Public access is disabled. Please configure private endpoint."),
        ),
        "H3": (
            403,
            denied,
            azure_error("403", f"Access denied due to Virtual Network/Firewall rules. Your IP address is {caller}."),
        ),
        "H4": (403, apim, azure_error("403", H4_TEXT)),
        "H5": (403, denied, azure_error("403", "Traffic is not from an approved private endpoint.")),
        "H6": (404, {**apim, **region}, azure_error("404", "Resource not found")),
        "H7": (404, apim, azure_error("404", "Subdomain does not map to a resource")),
        "H8": (400, apim, azure_error("BadRequest", "Please provide an authentication key.")),
        "H9": (
            401,
            {**apim, **region},
            azure_error("PermissionDenied", "Principal does not have access to API/Operation."),
        ),
        "H10": (
            403,
            apim,
            azure_error("403", "This request is not authorized by network security perimeter to access this resource."),
        ),
        "H11": (401, {}, {"statusCode": 401, "message": H11_TEXT}),
        "H12": (403, {"Server": "nginx", "Content-Type": "text/html"}, NGINX_403),
        "502": (
            502,
            {"Server": "squid/5.7", "Via": "1.1 proxy.corp (squid/5.7)", "Content-Type": "text/html"},
            BAD_GATEWAY,
        ),
    }
    if behaviour not in table:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    status, headers, body = table[behaviour]
    if isinstance(body, dict):
        return status, {**json_ct, **headers}, json.dumps(body)
    return status, dict(headers), str(body)


class _Abort(Exception):
    """The listener's mode ends the connection before HTTP."""


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class ServiceHandler(BaseHTTPRequestHandler):
    server: ServiceServer
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        mode = self.server.config.get("mode", "respond")
        raw: socket.socket = self.request
        if mode == "reset":
            _reset(raw)
            raise _Abort
        if mode == "hang":
            self.server.stopping.wait(60)
            raise _Abort
        if mode == "reset_tls":
            raw.settimeout(5)
            raw.recv(4096)  # the ClientHello
            _reset(raw)
            raise _Abort
        raw.settimeout(10)
        self.request = self.server.tls.wrap_socket(raw, server_side=True)
        super().setup()

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        config = self.server.config
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with self.server.lock:
            self.server.requests.append(
                {
                    "path": self.path,
                    "host": host,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "peer": self.client_address[0],
                }
            )
        if config.get("mode") == "hang_http":
            self.server.stopping.wait(60)
            self.close_connection = True
            return
        behaviour = (config.get("by_host") or {}).get(host, config.get("behaviour", "H1"))
        status, headers, body = response_for(str(behaviour), config, str(self.client_address[0]))
        data = body.encode() + b" " * int(config.get("pad_bytes", 0))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass  # a client that caps its read closes early


class ServiceServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], config: dict[str, Any]) -> None:
        self.config = config
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if config.get("cert"):
            self.tls.load_cert_chain(str(config["cert"]))
        elif config.get("mode", "respond") not in ("reset", "hang"):
            raise ValueError("a listener that speaks TLS needs 'cert'")
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, ServiceHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse lookup that stalls when DNS is dead.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets, hangs and rejected handshakes are the point of this server

    @property
    def address(self) -> tuple[str, int]:
        return str(self.server_address[0]), int(self.server_address[1])

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def start(config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> ServiceServer:
    server = ServiceServer((host, port), dict(config))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@contextmanager
def serve(config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> Iterator[ServiceServer]:
    server = start(config, host, port)
    try:
        yield server
    finally:
        server.stop()


def listeners(config: dict[str, Any], listen: str | None) -> list[dict[str, Any]]:
    items = list(config["listeners"]) if "listeners" in config else [dict(config)]
    if listen:
        if len(items) != 1:
            raise ValueError("--listen is for a config with one listener")
        items[0]["listen"] = listen
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Azure OpenAI data-plane emulator (HTTPS)")
    parser.add_argument("--listen", help="IP:PORT (for a single-listener config)")
    parser.add_argument("--config", required=True, help="JSON config file")
    args = parser.parse_args(argv)
    servers = [
        start(item, *parse_listen(str(item["listen"]))) for item in listeners(load_config(args.config), args.listen)
    ]

    def close() -> None:
        for server in servers:
            server.stop()

    return serve_until_stopped(close)


if __name__ == "__main__":
    sys.exit(main())
