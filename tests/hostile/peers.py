"""Peers that misbehave: the ARM emulator's handler with hostile answers, chosen by `topology["hostile"]`.

Modes (each key optional):
- "token": "nan" (expires_in NaN) | "huge" (a 50 MB access token) | "trickle" (one byte every 0.2 s);
- "subscriptions": "loop" (nextLink to the same page) | "endless" (a new nextLink every page, 0.3 s each) |
  "foreign" (an absolute nextLink to `foreign_base`);
- "lists": "foreign" (every plain list page, as the SDK pages them, links to `foreign_base`);
- "graph": "rows" (100,000 rows when 1,000 were asked) | "nan" (an account row located at NaN) |
  "trickle" (the answer one byte every 0.2 s) | "loop" (the same skip token for ever).
Every request is recorded in `server.seen` as (method, path, Host, whether it carried Authorization).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from tests.servers.arm_emulator import ArmHandler, _token

TRICKLE_S = 0.2


def seen(server: Any) -> list[tuple[str, str, str, bool]]:
    """(method, path, Host, carried Authorization) of every request `server` (a HostileArm's) received."""
    with server.lock:
        return list(getattr(server, "seen", []))


class HostileArm(ArmHandler):
    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.lower()
        with self.server.lock:
            seen = self.server.__dict__.setdefault("seen", [])
            seen.append((method, parts.path, self.headers.get("Host", ""), "Authorization" in self.headers))
        mode: dict[str, Any] = self.server.topology.get("hostile") or {}
        if method == "POST" and path.endswith("/oauth2/v2.0/token") and "token" in mode:
            self._body()
            return self._hostile_token(str(mode["token"]))
        authorized = (self.headers.get("Authorization") or "").startswith("Bearer ")
        if authorized and method == "GET" and path == "/subscriptions" and "subscriptions" in mode:
            return self._hostile_subscriptions(str(mode["subscriptions"]), parts.query)
        if (
            authorized
            and method == "POST"
            and path == "/providers/microsoft.resourcegraph/resources"
            and "graph" in mode
        ):
            self._body()
            return self._hostile_graph(str(mode["graph"]))
        return super()._handle(method)

    # ---------------------------------------------------------------------------------------------------------
    def _raw(self, status: int, data: bytes, trickle: bool = False) -> None:
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        if not trickle:
            self.wfile.write(head + data)
            return
        try:
            for byte in head + data:
                if self.server.stopping.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(TRICKLE_S)
        except OSError:  # the client hung up: what it should do
            return

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> None:
        if (self.server.topology.get("hostile") or {}).get("lists") == "foreign":
            # Every list the SDK pages through names another host for its next page.
            foreign = self.server.topology["foreign_base"]
            return self._send(200, {"value": items, "nextLink": f"{foreign}{path}?api-version=2024-05-01&page=2"})
        return super()._page(items, path, query)

    def _hostile_token(self, kind: str) -> None:
        if kind == "nan":
            body = b'{"token_type": "Bearer", "expires_in": NaN, "ext_expires_in": Infinity, "access_token": "x.y.z"}'
            return self._raw(200, body)
        if kind == "huge":
            # 50 MB without a Content-Length (read until the peer closes): the client must stop reading long
            # before the end, by counting, not by believing a header.
            prefix = b'{"token_type": "Bearer", "expires_in": 3599, "access_token": "'
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            self.close_connection = True
            try:
                self.wfile.write(head.encode() + prefix)
                chunk = b"A" * (1024 * 1024)
                for _ in range(50):
                    self.wfile.write(chunk)
                self.wfile.write(b'"}')
            except OSError:
                return
            return
        token = _token()
        self.server.tokens.add(token)
        body = json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": token}).encode()
        return self._raw(200, body, trickle=True)

    def _hostile_subscriptions(self, kind: str, query: str) -> None:
        subs = list(self.server.topology.get("subscriptions", ()))
        base = self._base()
        if kind == "loop":
            page = {"value": subs, "nextLink": f"{base}/subscriptions?api-version=2022-12-01&$skiptoken=same"}
        elif kind == "endless":
            time.sleep(0.3)
            n = int(query.rsplit("=", 1)[-1]) + 1 if "skiptoken=" in query else 1
            page = {"value": subs, "nextLink": f"{base}/subscriptions?api-version=2022-12-01&$skiptoken={n}"}
        else:
            foreign = self.server.topology["foreign_base"]
            page = {"value": subs, "nextLink": f"{foreign}/subscriptions?api-version=2022-12-01&$skiptoken=2"}
        return self._raw(200, json.dumps(page).encode())

    def _hostile_graph(self, kind: str) -> None:
        if kind == "rows":
            one = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v", "type": "x"}
            rows = json.dumps([one] * 100_000).encode()
            return self._raw(200, b'{"totalRecords": 100000, "count": 100000, "data": ' + rows + b"}")
        if kind == "loop":
            looping = {"totalRecords": 1, "count": 0, "data": [], "$skipToken": "again"}
            return self._raw(200, json.dumps(looping).encode())
        if kind == "nan":
            account = next(r for r in self.server.resources() if r["type"].lower().endswith("/accounts"))
            row: dict[str, Any] = {
                "id": account["id"],
                "name": account["name"],
                "type": account["type"].lower(),
                "kind": account.get("kind", ""),
                "location": float("nan"),
                "subscriptionId": account["id"].split("/")[2],
                "resourceGroup": account["id"].split("/")[4],
                "properties": {**account.get("properties", {}), "sku": float("inf")},
            }
            page = {"totalRecords": 1, "count": 1, "data": [row]}
            return self._raw(200, json.dumps(page).encode())  # json.dumps writes NaN and Infinity
        empty = {"totalRecords": 0, "count": 0, "data": []}
        return self._raw(200, json.dumps(empty).encode(), trickle=True)


class Trickler:
    """A TCP server on loopback that answers every connection with `response`, one byte every TRICKLE_S seconds
    (after reading what the client sent first): a slowloris whose every read is well within any read timeout."""

    def __init__(self, response: bytes, read_first: bool = True, host: str = "127.0.0.1", port: int = 0) -> None:
        self.response = response
        self.read_first = read_first
        self.stopping = threading.Event()
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.read_first:
                    conn.settimeout(2)
                    conn.recv(65536)
                for byte in self.response:
                    if self.stopping.wait(TRICKLE_S):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()

    def __enter__(self) -> Trickler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.hostile.peers --listen IP:PORT`: a Trickler answering every connection with 4 KB of
    bytes, one every 0.2 s (a TLS or HTTP peer stuck in its first answer); prints "ready"."""
    import argparse

    from tests.servers.standalone import parse_listen, serve_until_stopped

    parser = argparse.ArgumentParser(description="a trickling TCP peer")
    parser.add_argument("--listen", required=True)
    args = parser.parse_args(argv)
    host, port = parse_listen(args.listen)
    peer = Trickler(b"\x16\x03\x03" + b"\x00" * 4096, host=host, port=port)
    return serve_until_stopped(peer.close)


if __name__ == "__main__":
    raise SystemExit(main())
