"""A platform identity endpoint on loopback, speaking the protocols azure-identity uses on app hosts:

- App Service / Functions / Container Apps: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R` with header
  `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; answers `{access_token, expires_on (epoch seconds, as a string),
  resource, token_type}` (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference).
- Azure ML compute: `GET {MSI_ENDPOINT}?api-version=2017-09-01&resource=R` with header `secret: {MSI_SECRET}`;
  answers with an integer `expires_on` (azure-identity `_credentials/azure_ml.py`).
A wrong or missing header gets 401 (as the platform's endpoint does). Every request is recorded (path, api-version,
resource, which header came): never the header's value.

Standalone (the end-to-end tier): `python -m tests.servers.identity_endpoint --listen IP:PORT --secret S` prints
"ready" once listening.
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

PROTOCOLS = {"2019-08-01": "X-IDENTITY-HEADER", "2017-09-01": "secret"}


class IdentityServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str) -> None:
        super().__init__(address, _Handler)
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.tokens: list[str] = []

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/msi/token"


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
        record = {"path": parts.path, "api_version": version, "resource": query.get("resource"), "header": header}
        record["header_ok"] = bool(header) and self.headers.get(header or "") == self.server.secret
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--secret", required=True)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    with serve(args.secret, host, int(port)) as _:
        print("ready", flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
