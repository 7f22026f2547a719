"""A small recursive-resolver look-alike on loopback (UDP and TCP), built on dnspython, driven by a config.

Config (JSON-compatible dict):

    {
      "views": {                                   # zone data; one view per listen address
        "corp": {
          "records": {
            "contoso.openai.azure.com": {"cname": "contoso.privatelink.openai.azure.com", "ttl": 900},
            "contoso.privatelink.openai.azure.com": {"a": ["10.0.0.5"], "aaaa": [], "ttl": 10},
            "broken.openai.azure.com": {"action": "servfail"}
          },
          "zones": {"privatelink.openai.azure.com": {"mname": "azureprivatedns.net",
                                                     "rname": "azureprivatedns-host.microsoft.com", "minimum": 10}},
          "default": "nxdomain",       # names not in records: nxdomain | servfail | refused | silent | garbage
          "tcp": true                             # false: no TCP listener (connection refused)
        }
      },
      "bind": {"10.1.0.53:53": "corp", "168.63.129.16": "azure"}   # listen address (ip:port or ip) -> view;
                                                                  # others get "default" or the first view
    }

A record named `*.zone` answers every name under the zone without a record of its own (a wildcard).
A config without "views" is itself a single view. Record "action" (applies when the name is on the
answer's CNAME chain): servfail | refused | silent (never answers) | garbage (malformed bytes) |
truncate (TC bit over UDP, full answer over TCP) | truncate_no_tcp (TC over UDP, TCP connection closed).
"action_qtypes": ["AAAA"] limits a record's action to those query types.
"delay_ms" on a record or a view delays the reply. Replies larger than 512 bytes (or the query's EDNS
payload) are truncated over UDP like a real server would.

Standalone (the end-to-end tier): `python -m tests.servers.dns_server --listen IP:PORT [--listen ...]
--config FILE.json` prints "ready" once every address listens.
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.servers.standalone import load_config, parse_listen, serve_until_stopped

Endpoint = tuple[str, int]
MAX_CHAIN = 20
STOPPING_ACTIONS = ("servfail", "refused", "silent", "garbage")


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class View:
    """Zone data answered on one listen address."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.records = {_norm(k): v for k, v in (data.get("records") or {}).items()}
        self.zones = {_norm(k): v for k, v in (data.get("zones") or {}).items()}
        self.default = str(data.get("default", "nxdomain"))
        self.tcp = bool(data.get("tcp", True))
        self.delay_ms = float(data.get("delay_ms", 0))

    def _soa(self, name: str) -> dns.rrset.RRset | None:
        zone = max((z for z in self.zones if name == z or name.endswith("." + z)), key=len, default=None)
        if zone is None:
            return None
        soa = self.zones[zone]
        minimum = int(soa.get("minimum", 10))
        text = (
            f"{soa.get('mname', 'ns1.example.test')}. {soa.get('rname', 'hostmaster.example.test')}. "
            f"{int(soa.get('serial', 1))} 3600 300 2419200 {minimum}"
        )
        ttl = min(int(soa.get("ttl", 3600)), minimum)
        return dns.rrset.from_text(zone + ".", ttl, "IN", "SOA", text)

    def _wildcard(self, name: str) -> dict[str, Any] | None:
        """A `*.zone` record answers every name under the zone that has no record of its own (RFC 4592, without
        the empty-non-terminal subtleties a test does not need)."""
        labels = name.split(".")
        for i in range(1, len(labels)):
            record = self.records.get("*." + ".".join(labels[i:]))
            if record is not None:
                return record  # type: ignore[no-any-return]
        return None

    def resolve(self, query: dns.message.Message) -> tuple[str, dns.message.Message | None, float]:
        """(action, response, delay_s): action is `answer`, a STOPPING_ACTION or a truncate action."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return "answer", response, 0.0
        question = query.question[0]
        name = _norm(question.name.to_text())
        rdtype = question.rdtype
        delay = self.delay_ms / 1000.0
        action = "answer"
        for _ in range(MAX_CHAIN):
            record = self.records.get(name) or self._wildcard(name)
            if record is None:
                if self.default in STOPPING_ACTIONS:
                    return self.default, None, delay
                soa = self._soa(name)
                response.set_rcode(dns.rcode.NXDOMAIN)
                if soa is not None:
                    response.authority.append(soa)
                break
            delay = max(delay, float(record.get("delay_ms", 0)) / 1000.0)
            wanted = record.get("action")
            scope = record.get("action_qtypes")
            if scope and dns.rdatatype.to_text(rdtype) not in scope:
                wanted = None
            if wanted in STOPPING_ACTIONS:
                return str(wanted), None, delay
            if wanted in ("truncate", "truncate_no_tcp"):
                action = str(wanted)
            ttl = int(record.get("ttl", 300))
            if record.get("cname") and rdtype != dns.rdatatype.CNAME:
                target = _norm(str(record["cname"]))
                response.answer.append(dns.rrset.from_text(name + ".", ttl, "IN", "CNAME", target + "."))
                name = target
                continue
            key = {dns.rdatatype.A: "a", dns.rdatatype.AAAA: "aaaa"}.get(rdtype)
            values = record.get(key, []) if key else []
            if values:
                response.answer.append(
                    dns.rrset.from_text_list(name + ".", ttl, "IN", dns.rdatatype.to_text(rdtype), list(values))
                )
            else:
                soa = self._soa(name)
                if soa is not None:
                    response.authority.append(soa)
            break
        return action, response, delay


def garbage_for(wire: bytes) -> bytes:
    """The query id, a response header claiming 65535 questions, then junk: unparseable but plausible."""
    return wire[:2] + b"\x81\x80\xff\xff\xff\xff\x00\x00\x00\x00" + b"\xc0\xff\x07garbage"


def udp_wire(response: dns.message.Message, query: dns.message.Message, force_tc: bool) -> bytes:
    limit = max(512, query.payload) if query.edns >= 0 else 512
    if not force_tc:
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            pass
    # Like BIND: on overflow, send the header and question with TC set and let the client retry over TCP.
    response.answer.clear()
    response.authority.clear()
    response.additional.clear()
    response.flags |= dns.flags.TC
    return response.to_wire(max_size=limit)


class DnsServer:
    """Answers DNS over UDP and TCP on one or more loopback addresses, each with its own view."""

    def __init__(self, config: dict[str, Any]) -> None:
        raw_views = config.get("views")
        if raw_views is None:
            raw_views = {"default": config}
        self.views = {name: View(data) for name, data in raw_views.items()}
        self.bind = dict(config.get("bind") or {})
        self.queries: list[dict[str, Any]] = []
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def view_for(self, host: str, port: int, view: str | None = None) -> str:
        if view:
            return view
        for key in (f"{host}:{port}", f"[{host}]:{port}", host):
            if key in self.bind:
                return str(self.bind[key])
        return "default" if "default" in self.views else next(iter(self.views))

    def _log(self, transport: str, view: str, query: dns.message.Message) -> None:
        q = query.question[0] if query.question else None
        with self._lock:
            self.queries.append(
                {
                    "transport": transport,
                    "view": view,
                    "name": _norm(q.name.to_text()) if q is not None else None,
                    "type": dns.rdatatype.to_text(q.rdtype) if q is not None else None,
                }
            )

    def listen(self, host: str = "127.0.0.1", port: int = 0, view: str | None = None) -> Endpoint:
        """Start answering on host:port (port 0 picks a free one) with `view`; returns the bound endpoint."""
        view_name = self.view_for(host, port, view)
        zone_view = self.views[view_name]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        owner = self

        def handle(wire: bytes, transport: str) -> tuple[bytes | None, float, bool]:
            """(reply or None, delay, close_without_reply)."""
            try:
                query = dns.message.from_wire(wire)
            except Exception:
                return None, 0.0, True
            owner._log(transport, view_name, query)
            try:
                action, response, delay = zone_view.resolve(query)
            except Exception:  # a bad config must show up as SERVFAIL, not as a silent server
                action, response, delay = "servfail", None, 0.0
            if action == "silent":
                return None, delay, False
            if action == "garbage":
                return garbage_for(wire), delay, False
            if action in ("servfail", "refused"):
                response = dns.message.make_response(query)
                response.flags |= dns.flags.RA
                response.set_rcode(dns.rcode.SERVFAIL if action == "servfail" else dns.rcode.REFUSED)
            assert response is not None
            if transport == "udp":
                return udp_wire(response, query, action in ("truncate", "truncate_no_tcp")), delay, False
            if action == "truncate_no_tcp":
                return None, delay, True
            return response.to_wire(), delay, False

        class UdpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply, delay, _ = handle(data, "udp")
                if delay:
                    time.sleep(delay)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class TcpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(10)
                try:
                    while True:
                        head = _recv_exact(conn, 2)
                        if head is None:
                            return
                        wire = _recv_exact(conn, struct.unpack("!H", head)[0])
                        if wire is None:
                            return
                        reply, delay, close = handle(wire, "tcp")
                        if delay:
                            time.sleep(delay)
                        if close:
                            return
                        if reply is not None:
                            conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

        class Udp(socketserver.ThreadingUDPServer):
            address_family = family
            daemon_threads = True
            block_on_close = False

        class Tcp(socketserver.ThreadingTCPServer):
            address_family = family
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True
            request_queue_size = 64

        for _attempt in range(20):
            udp = Udp((host, port), UdpHandler)
            bound = udp.server_address[1]
            if not zone_view.tcp:
                tcp = None
                break
            try:
                tcp = Tcp((host, bound), TcpHandler)
                break
            except OSError:
                udp.server_close()
                if port:
                    raise
        else:
            raise OSError(f"no free port pair on {host}")
        for server in (udp, tcp):
            if server is None:
                continue
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return host, bound

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(2)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


@contextmanager
def serve(config: dict[str, Any], *views: str) -> Iterator[tuple[DnsServer, list[Endpoint]]]:
    """Run a server with one 127.0.0.N address per view named (or one address for a single-view config)."""
    server = DnsServer(config)
    names = views or (server.view_for("127.0.0.1", 0),)
    try:
        endpoints = [server.listen(f"127.0.0.{i + 1}", 0, view) for i, view in enumerate(names)]
        yield server, endpoints
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, help="IP:PORT (repeatable)")
    parser.add_argument("--config", required=True, help="JSON config file")
    args = parser.parse_args(argv)
    server = DnsServer(load_config(args.config))
    for item in args.listen:
        server.listen(*parse_listen(item))
    return serve_until_stopped(server.close)


if __name__ == "__main__":
    sys.exit(main())
