"""A platform identity endpoint on loopback, speaking the protocols azure-identity uses on app hosts:

- App Service / Functions / Container Apps: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R` with header
  `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; answers `{access_token, expires_on (epoch seconds, as a string),
  resource, token_type}` (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference).
- Azure ML compute: `GET {MSI_ENDPOINT}?api-version=2017-09-01&resource=R` with header `secret: {MSI_SECRET}`;
  answers with an integer `expires_on` (azure-identity `_credentials/azure_ml.py`).
A wrong or missing header gets 401 (as the platform's endpoint does). Every request is recorded (path, api-version,
resource, which header came): never the header's value.

Standalone (the end-to-end tier): `python -m tests.servers.identity_endpoint --listen IP:PORT --config F` (config
`{"secret": S}`) prints "ready" once listening.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

PROTOCOLS = {"2019-08-01": "X-IDENTITY-HEADER", "2017-09-01": "secret"}


class IdentityServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str) -> None:
        super().__init__(address, _Handler)
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.tokens: list[str] = []

    def server_bind(self) -> None:
        # HTTPServer.server_bind would ask getfqdn(): a reverse lookup that stalls where DNS is dead (a namespace).
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://{self.server_name}:{self.server_port}/msi/token"


class _Handler(BaseHTTPRequestHandler):
    server: IdentityServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        version = query.get("api-version", "")
        header = PROTOCOLS.get(version)
        header_ok = header is not None and self.headers.get(header) == self.server.secret
        record: dict[str, Any] = {
            "path": parts.path,
            "api_version": version,
            "resource": query.get("resource"),
            "header": header,
            "header_ok": header_ok,
        }
        self.server.requests.append(record)
        if parts.path != "/msi/token" or header is None:
            return self._send(400, {"error": "invalid_request", "error_description": "unknown api-version or path"})
        if not record["header_ok"]:
            return self._send(401, {"error": "unauthorized", "error_description": f"missing or wrong {header}"})
        token = "plat-" + uuid.uuid4().hex
        self.server.tokens.append(token)
        expires = int(time.time()) + 3600
        return self._send(
            200,
            {
                "access_token": token,
                "expires_on": str(expires) if version == "2019-08-01" else expires,
                "resource": query.get("resource"),
                "token_type": "Bearer",
            },
        )


@contextmanager
def serve(secret: str, host: str = "127.0.0.1", port: int = 0) -> Iterator[IdentityServer]:
    server = IdentityServer((host, port), secret)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="App host identity endpoint emulator")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", help='JSON config file: {"secret": "..."}')
    args = parser.parse_args(argv)
    server = IdentityServer(parse_listen(args.listen), str(load_config(args.config).get("secret", "")))
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def close() -> None:
        server.shutdown()
        server.server_close()

    return serve_until_stopped(close)


if __name__ == "__main__":
    sys.exit(main())
