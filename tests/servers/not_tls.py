"""A TCP listener on port 443 that does not speak TLS: a plaintext HTTP server, or a service sending other bytes.

What a client meets when the address it resolved is not the private endpoint but, say, a web server left on the
VNet or an appliance's management port: TCP connects, and the TLS handshake fails on the first bytes that come back.

Config (JSON object):
    mode: "http" (reads the ClientHello, answers `HTTP/1.1 400 Bad Request` in plaintext, closes) |
          "garbage" (sends fixed non-TLS bytes as soon as a client connects, then closes)
Standalone: `python -m tests.servers.not_tls --listen IP:PORT --config FILE.json` prints "ready".
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)
# Not a TLS record: the first byte is no TLS content type (0x14-0x18), so the client fails at once.
GARBAGE = b"\x00\xffnot-tls\r\n" * 8
MODES = ("http", "garbage")


class NotTlsHandler(socketserver.BaseRequestHandler):
    server: NotTlsServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        with self.server.lock:
            self.server.connections += 1
        try:
            if self.server.mode == "http":
                sock.recv(4096)  # the ClientHello, read as if it were a request line
                sock.sendall(HTTP_ANSWER)
            else:
                sock.sendall(GARBAGE)
                sock.recv(4096)
        except OSError:
            pass  # the client gives up as soon as it sees the bytes: that is the point


class NotTlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: dict[str, Any]) -> None:
        self.mode = str(config.get("mode", "http"))
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r} (choose from {', '.join(MODES)})")
        self.lock = threading.Lock()
        self.connections = 0
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, NotTlsHandler)

    @property
    def address(self) -> tuple[str, int]:
        return str(self.server_address[0]), int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start(config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> NotTlsServer:
    server = NotTlsServer((host, port), dict(config))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@contextmanager
def serve(config: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> Iterator[NotTlsServer]:
    server = start(config, host, port)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a TCP listener that does not speak TLS")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", help="JSON config file")
    args = parser.parse_args(argv)
    server = start(load_config(args.config), *parse_listen(args.listen))
    return serve_until_stopped(server.stop)


if __name__ == "__main__":
    sys.exit(main())
