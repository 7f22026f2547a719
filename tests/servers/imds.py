"""An Azure Instance Metadata Service emulator on loopback: instance metadata and managed-identity tokens.

Shapes follow https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service (instance, api-version
2021-02-01) and https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
(token, api-version 2018-02-01). Like the real service, a request without `Metadata: true` gets 400: azure-identity
sends exactly such a request first to learn whether IMDS exists (ManagedIdentityCredential's
availability probe). Point the credential here with AZURE_POD_IDENTITY_AUTHORITY_HOST=http://IP:PORT.

Config (JSON): {"instance": {...} (replaces the default document), "instance_status": 200 (e.g. 429 or 500 to
emulate throttling or failure), "instance_body": "raw text" (overrides the JSON, e.g. garbage),
"token_status": 200, "identity": {"tenant_id", "object_id"}}. Every request is appended to `requests`.

Standalone: `python -m tests.servers.imds --listen IP:PORT [--config FILE.json]` prints "ready".
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

SUBSCRIPTION = "8f5c0d3e-4b7a-4c1e-9f2d-6a1b3c5d7e90"
DEFAULT_INSTANCE: dict[str, Any] = {
    "compute": {
        "azEnvironment": "AzurePublicCloud",
        "location": "westeurope",
        "name": "jumpbox-01",
        "osType": "Linux",
        "resourceGroupName": "rg-hub-jumpbox",
        "resourceId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-hub-jumpbox/providers/"
        "Microsoft.Compute/virtualMachines/jumpbox-01",
        "subscriptionId": SUBSCRIPTION,
        "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
        "vmSize": "Standard_B2s",
        "zone": "",
        "tags": "",
    },
    "network": {
        "interface": [
            {
                "ipv4": {
                    "ipAddress": [{"privateIpAddress": "10.20.0.4", "publicIpAddress": ""}],
                    "subnet": [{"address": "10.20.0.0", "prefix": "24"}],
                },
                "ipv6": {"ipAddress": []},
                "macAddress": "000D3A2B4C5D",
            }
        ]
    },
}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def dummy_token(resource: str, tenant_id: str, object_id: str, expires_on: int) -> str:
    """A JWT-shaped, unsigned token: clients treat access tokens as opaque, so this is enough."""
    header = {"alg": "none", "typ": "JWT"}
    claims = {"aud": resource, "tid": tenant_id, "oid": object_id, "exp": expires_on, "iss": "imds-emulator"}
    return f"{_b64(header)}.{_b64(claims)}.emulator"


class ImdsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], config: dict[str, Any]) -> None:
        self.config = config
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(address, ImdsHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse lookup that stalls when DNS is dead.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host.decode() if isinstance(host, bytes) else str(host)
        self.server_port = int(port)

    @property
    def endpoint(self) -> str:
        return f"http://{self.server_name}:{self.server_port}"


class ImdsHandler(BaseHTTPRequestHandler):
    server: ImdsServer
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json; charset=utf-8") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "Microsoft-IIS/10.0")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        metadata = self.headers.get("Metadata", "").lower() == "true"
        config = self.server.config
        with self.server.lock:
            self.server.requests.append({"path": parts.path, "query": query, "metadata": metadata})
        if parts.path.rstrip("/") == "/metadata/instance":
            if not metadata:
                self._send(400, {"error": "Bad request. Required metadata header not specified"})
            elif "api-version" not in query:
                self._send(400, {"error": "Bad request. api-version was not specified in the request"})
            elif "instance_body" in config:
                self._send(int(config.get("instance_status", 200)), str(config["instance_body"]), "text/plain")
            elif int(config.get("instance_status", 200)) != 200:
                self._send(int(config["instance_status"]), {"error": "Too many requests"})
            else:
                self._send(200, config.get("instance", DEFAULT_INSTANCE))
            return
        if parts.path.rstrip("/") == "/metadata/identity/oauth2/token":
            if not metadata:
                self._send(
                    400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
                )
                return
            resource = query.get("resource")
            if not resource or "api-version" not in query:
                self._send(400, {"error": "invalid_request", "error_description": "resource and api-version needed"})
                return
            status = int(config.get("token_status", 200))
            if status != 200:
                self._send(status, {"error": "invalid_request", "error_description": "Identity not found"})
                return
            identity = config.get("identity") or {}
            expires_in = 3599
            expires_on = int(time.time()) + expires_in
            token = dummy_token(
                resource,
                str(identity.get("tenant_id", "72f988bf-0000-4000-8000-2d7cd011db47")),
                str(identity.get("object_id", "5d4c3b2a-0000-4000-8000-000000000001")),
                expires_on,
            )
            # The real service returns the numbers as strings.
            self._send(
                200,
                {
                    "access_token": token,
                    "client_id": str(identity.get("client_id", "0b1c2d3e-0000-4000-8000-000000000002")),
                    "expires_in": str(expires_in),
                    "expires_on": str(expires_on),
                    "ext_expires_in": str(expires_in),
                    "not_before": str(expires_on - expires_in),
                    "resource": resource,
                    "token_type": "Bearer",
                },
            )
            return
        self._send(404, {"error": "Not found"})


def start(host: str = "127.0.0.1", port: int = 0, config: dict[str, Any] | None = None) -> ImdsServer:
    server = ImdsServer((host, port), dict(config or {}))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@contextmanager
def serve(config: dict[str, Any] | None = None, host: str = "127.0.0.1") -> Iterator[ImdsServer]:
    server = start(host, 0, config)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Azure IMDS emulator")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", help="JSON config file")
    args = parser.parse_args(argv)
    host, port = parse_listen(args.listen)
    server = start(host, port, load_config(args.config))

    def close() -> None:
        server.shutdown()
        server.server_close()

    return serve_until_stopped(close)


if __name__ == "__main__":
    sys.exit(main())
