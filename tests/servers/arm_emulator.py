"""An Azure Resource Manager emulator on loopback (HTTPS, trustme CA), driven by the real Azure SDK clients.

It serves a topology (JSON, see fixtures/arm/) in the official REST shapes
(https://github.com/Azure/azure-rest-api-specs, examples of Microsoft.Network, Microsoft.CognitiveServices,
Microsoft.Network/privateDnsZones and Microsoft.ResourceGraph):
- `GET` of any resource id in the topology (subnets and peerings also nested in their VNet), case-insensitive;
- lists: `/subscriptions`, `/subscriptions/S[/resourceGroups/G]/providers/NS/TYPE`, `<id>/<childType>`, paged
  with `nextLink` (`page_size`);
- Resource Graph `POST /providers/Microsoft.ResourceGraph/resources` (types taken from the `type =~ '...'`
  clauses of the query; `$skipToken` paging; subscriptions with a 403 fault are omitted, as Graph returns only
  what the caller may read);
- long-running `POST <nic>/effectiveRouteTable` and `<nic>/effectiveNetworkSecurityGroups`: 202 + Location +
  Azure-AsyncOperation + Retry-After, `lro_polls` more 202s, then 200 with the result;
- an Entra ID token endpoint for a client-secret credential, or a federated token (workload identity:
  `client_assertion` must equal the topology's `federated_token`, default "federated-token") (`/{tenant}/v2.0/.well-known/openid-configuration`,
  `POST /{tenant}/oauth2/v2.0/token`); ARM calls without `Authorization: Bearer` get 401.
Fault injection (`faults`: [{match, method?, status | kind: "malformed" | "hang", times?, retry_after?}]) and a
per-request `latency_ms`. Every request is recorded in `requests` (method, path).

Topology keys: subscriptions [{subscriptionId, displayName, state}], resources [ARM JSON], effective_routes
{nic id: [route]}, effective_nsgs {nic id: [EffectiveNetworkSecurityGroup]}, graph (bool, default true),
page_size (int), lro_polls (int), lro_retry_after (seconds, default 0), latency_ms (int), faults, and `base` + `patches` to derive a variant from
another topology file ({op: "remove" | "set" | "add", id, path?, value?}).

Standalone: `python -m tests.servers.arm_emulator --listen IP:PORT --config topology.json [--ca-out ca.pem]`
prints "ready" once listening (over HTTPS unless `--plain-http`).
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import signal
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import trustme

CERT_NAMES = ("127.0.0.1", "localhost", "management.azure.com")
LRO_PATHS = ("/effectiveroutetable", "/effectivenetworksecuritygroups")


# ---------------------------------------------------------------------------------------------- topology


def _walk(data: Any, path: str) -> tuple[Any, Any]:
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        data = data[key] if isinstance(key, int) else data.setdefault(key, {})
    return data, keys[-1]


def load_topology(path: str | Path) -> dict[str, Any]:
    """Read a topology file, applying `base` + `patches` (a variant names the file it changes)."""
    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    if "base" not in raw:
        return raw
    topo = load_topology(path.parent / raw["base"])
    by_id = {r["id"].lower(): r for r in topo["resources"]}
    for patch in raw.get("patches", ()):
        op, rid = patch["op"], patch.get("id", "").lower()
        if op == "remove":
            topo["resources"] = [r for r in topo["resources"] if r["id"].lower() != rid]
            by_id.pop(rid, None)
        elif op == "add":
            topo["resources"].append(patch["value"])
            by_id[patch["value"]["id"].lower()] = patch["value"]
        elif op == "set":
            target, key = _walk(by_id[rid], patch["path"])
            target[key] = patch["value"]
        elif op == "top":
            topo[patch["path"]] = patch["value"]
        else:
            raise ValueError(f"unknown patch op {op!r}")
    for key, value in raw.items():
        if key not in ("base", "patches", "description"):
            topo[key] = value
    return topo


# ---------------------------------------------------------------------------------------------- server


class ArmEmulator(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], topology: dict[str, Any], tls: ssl.SSLContext | None) -> None:
        self.topology = topology
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.operations: dict[str, dict[str, Any]] = {}
        self.fault_hits: dict[int, int] = {}
        self.tokens: set[str] = set()
        super().__init__(address, ArmHandler)
        self.scheme = "https" if tls else "http"
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def server_bind(self) -> None:
        # http.server would do a reverse-DNS lookup of the address here, and stall when the resolver is dead.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def lro_starts(self) -> list[str]:
        """Paths of the long-running operations started so far (POST effectiveRouteTable / effective NSGs)."""
        with self.lock:
            return [p for m, p in self.requests if m == "POST" and p.lower().endswith(LRO_PATHS)]

    @property
    def endpoint(self) -> str:
        host = self.server_address[0]
        host = f"[{host}]" if ":" in str(host) else host
        return f"{self.scheme}://{host}:{self.server_address[1]}"

    # resources -------------------------------------------------------------------------------
    def resources(self) -> list[dict[str, Any]]:
        return self.topology.get("resources", [])

    def find(self, path: str) -> dict[str, Any] | None:
        low = path.rstrip("/").lower()
        for res in self.resources():
            if res["id"].lower() == low:
                return res
            for nested in ("subnets", "virtualNetworkPeerings"):
                for child in (res.get("properties") or {}).get(nested) or ():
                    if str(child.get("id", "")).lower() == low:
                        return child
        return None

    def collection(self, path: str) -> list[dict[str, Any]] | None:
        parts = path.strip("/").split("/")
        low = [p.lower() for p in parts]
        if len(parts) >= 5 and low[0] == "subscriptions" and "providers" in low:
            i = low.index("providers")
            if len(parts) - i == 3:  # .../providers/NS/TYPE
                prefix = "/" + "/".join(low[:i]) + "/"
                rtype = f"{low[i + 1]}/{low[i + 2]}"
                return [
                    r for r in self.resources() if r["type"].lower() == rtype and r["id"].lower().startswith(prefix)
                ]
        parent = self.find("/" + "/".join(parts[:-1]))
        if parent is not None:
            prefix = "/" + "/".join(low) + "/"
            return [
                r for r in self.resources() if r["id"].lower().startswith(prefix) and "/" not in r["id"][len(prefix) :]
            ]
        return None

    def visible_subscriptions(self) -> set[str]:
        hidden = set()
        for fault in self.topology.get("faults", ()):
            m = re.fullmatch(r"/subscriptions/([^/]+)", fault.get("match", ""), re.I)
            if m and fault.get("status") == 403:
                hidden.add(m.group(1).lower())
        return {s["subscriptionId"].lower() for s in self.topology.get("subscriptions", ())} - hidden

    def fault_for(self, method: str, path: str) -> dict[str, Any] | None:
        for i, fault in enumerate(self.topology.get("faults", ())):
            if fault.get("method") and fault["method"] != method:
                continue
            if fault["match"].lower() not in path.lower():
                continue
            with self.lock:
                hits = self.fault_hits.get(i, 0)
                if fault.get("times") is not None and hits >= fault["times"]:
                    continue
                self.fault_hits[i] = hits + 1
            return fault
        return None


def _token() -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"aud": "arm", "exp": int(time.time()) + 3600}).encode()).decode()
    return f"eyJhbGciOiJub25lIn0.{claims.rstrip('=')}.{uuid.uuid4().hex}"


class ArmHandler(BaseHTTPRequestHandler):
    server: ArmEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # plumbing ---------------------------------------------------------------------------------
    def _base(self) -> str:
        """The URL the client used (Host header): links must match the name its certificate check expects."""
        host = self.headers.get("Host") if self.headers else None
        return f"{self.server.scheme}://{host}" if host else self.server.endpoint

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> None:
        size = int(self.server.topology.get("page_size") or 0) or len(items) or 1
        start = int((query.get("$skiptoken") or ["0"])[0])
        page: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            params = {"api-version": (query.get("api-version") or [""])[0], "$skiptoken": str(start + size)}
            page["nextLink"] = f"{self._base()}{path}?{urlencode(params)}"
        self._send(200, page)

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        body = self._body() if method == "POST" else b""
        with self.server.lock:
            self.server.requests.append((method, path))
        latency = float(self.server.topology.get("latency_ms") or 0) / 1000.0
        if latency:
            time.sleep(latency)
        low = path.lower()
        # Entra ID (client secret) ------------------------------------------------------------
        m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
        if m:
            base = f"{self._base()}/{m.group(1)}"
            return self._send(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                },
            )
        if re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", path) and method == "POST":
            form = parse_qs(body.decode())
            assertion = (form.get("client_assertion") or [""])[0]
            if assertion:  # workload identity: the federated token exchanged for an access token
                if assertion != self.server.topology.get("federated_token", "federated-token"):
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS700211: No matching federated identity record",
                        },
                    )
            elif (form.get("client_secret") or [""])[0] != self.server.topology.get("client_secret", "s3cret"):
                return self._send(
                    401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}
                )
            token = _token()
            self.server.tokens.add(token)
            return self._send(
                200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
            )
        # ARM ----------------------------------------------------------------------------------
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            return self._error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                {
                    "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"'
                },
            )
        fault = self.server.fault_for(method, path)
        if fault:
            kind = fault.get("kind")
            if kind == "hang":
                self.server.stopping.wait(float(fault.get("seconds", 30)))
                return None
            if kind == "malformed":
                return self._send(200, None, raw=b'{"value": [ {"id": "/subscriptions/')
            status = int(fault["status"])
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
            code = {403: "AuthorizationFailed", 404: "ResourceNotFound", 429: "TooManyRequests"}.get(status, "Error")
            return self._error(status, code, f"emulated {status} for '{fault['match']}'", headers)
        if low.startswith("/operations/"):
            return self._operation(low[len("/operations/") :])
        if method == "POST" and low == "/providers/microsoft.resourcegraph/resources":
            return self._graph(json.loads(body or b"{}"))
        if method == "POST" and any(low.endswith(p) for p in LRO_PATHS):
            return self._start_lro(path)
        if method != "GET":
            return self._error(405, "MethodNotAllowed", f"{method} {path} is not emulated")
        if low == "/subscriptions":
            return self._page(list(self.server.topology.get("subscriptions", ())), path, query)
        found = self.server.find(path)
        if found is not None:
            return self._send(200, found)
        items = self.server.collection(path)
        if items is not None:
            return self._page(items, path, query)
        return self._error(404, "ResourceNotFound", f"The Resource '{path}' was not found.")

    def _graph(self, request: dict[str, Any]) -> None:
        topo = self.server.topology
        if topo.get("graph", True) is False:
            return self._error(
                403,
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read'",
            )
        types = {t.lower() for t in re.findall(r"type\s*=~\s*'([^']+)'", request.get("query", ""))}
        subs = {s.lower() for s in request.get("subscriptions") or ()} & self.server.visible_subscriptions()
        rows = []
        for res in self.server.resources():
            sub = res["id"].split("/")[2].lower()
            if res["type"].lower() in types and sub in subs:
                rows.append(
                    {
                        "id": res["id"],
                        "name": res["name"],
                        "type": res["type"].lower(),
                        "kind": res.get("kind", ""),
                        "location": res.get("location", ""),
                        "subscriptionId": sub,
                        "resourceGroup": res["id"].split("/")[4].lower(),
                        "properties": res.get("properties", {}),
                    }
                )
        options = request.get("options") or {}
        size = min(int(options.get("$top") or 1000), int(topo.get("page_size") or 1000))
        start = int(options.get("$skipToken") or 0)
        page = rows[start : start + size]
        out: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false", "data": page}
        if start + size < len(rows):
            out["$skipToken"] = str(start + size)
        self._send(200, out)

    def _start_lro(self, path: str) -> None:
        nic_id = path.rsplit("/", 1)[0].lower()
        kind = "effective_routes" if path.lower().endswith(LRO_PATHS[0]) else "effective_nsgs"
        table = {k.lower(): v for k, v in (self.server.topology.get(kind) or {}).items()}
        if self.server.find(nic_id) is None:
            return self._error(404, "NotFound", f"Resource {nic_id} not found.")
        op = uuid.uuid4().hex
        with self.server.lock:
            self.server.operations[op] = {
                "polls": int(self.server.topology.get("lro_polls", 1)),
                "result": {"value": table.get(nic_id, [])},
            }
        base = f"{self._base()}/operations/{op}"
        self._send(
            202,
            None,
            {
                "Location": f"{base}/result?api-version=2024-05-01",
                "Azure-AsyncOperation": f"{base}/status?api-version=2024-05-01",
                "Retry-After": str(self.server.topology.get("lro_retry_after", 0)),
            },
        )

    def _operation(self, op_path: str) -> None:
        """`/operations/{id}/status` (Azure-AsyncOperation: JSON status) and `/operations/{id}/result` (Location)."""
        op, _, kind = op_path.partition("/")
        with self.server.lock:
            state = self.server.operations.get(op)
            if state is None:
                return self._error(404, "NotFound", "operation not found")
            # The operation advances with every poll, on either URL: a client may follow Location alone
            # (final-state-via location) or Azure-AsyncOperation then Location, as the SDK pollers do.
            done = state["polls"] <= 0
            if not done:
                state["polls"] -= 1
        if kind == "status":
            return self._send(
                200, {"status": "Succeeded" if done else "InProgress"}, None if done else {"Retry-After": "0"}
            )
        if not done:
            return self._send(202, None, {"Retry-After": str(self.server.topology.get("lro_retry_after", 0))})
        self._send(200, state["result"])

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


# ---------------------------------------------------------------------------------------------- lifecycle


def make_tls(ca_out: Path | None = None) -> tuple[ssl.SSLContext, trustme.CA]:
    ca = trustme.CA(organization_name="ARM emulator test CA")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*CERT_NAMES).configure_cert(ctx)
    if ca_out:
        ca.cert_pem.write_to_path(str(ca_out))
    return ctx, ca


def start(
    topology: dict[str, Any], host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> ArmEmulator:
    server = ArmEmulator((host, port), topology, tls)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop(server: ArmEmulator) -> None:
    server.stopping.set()
    server.shutdown()
    server.server_close()


@contextmanager
def serve(topology: dict[str, Any], ca_path: Path) -> Iterator[ArmEmulator]:
    """An HTTPS emulator for `topology`; the CA PEM is written to `ca_path`."""
    tls, _ = make_tls(ca_path)
    server = start(copy.deepcopy(topology), tls=tls)
    try:
        yield server
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Azure Resource Manager emulator")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", required=True, help="topology JSON (fixtures/arm/*.json)")
    parser.add_argument("--ca-out", help="write the CA certificate (PEM) here")
    parser.add_argument("--plain-http", action="store_true", help="serve HTTP instead of HTTPS")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    tls = None if args.plain_http else make_tls(Path(args.ca_out) if args.ca_out else None)[0]
    server = start(load_topology(args.config), host.strip("[]"), int(port), tls)
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
