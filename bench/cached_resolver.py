"""A caching DNS resolver stand-in for benchmarks: the answers of tests/servers/dns_server.py at a resolver's cost.

Run: `python -m bench.cached_resolver --config FILE.json --listen IP:PORT [--listen ...]` (prints "ready").

The test server builds every reply with dnspython in a thread of its own (about 1 ms of CPU per query), so a
fleet benchmark measured the server as much as the tool: 50 targets ask ~700 questions. A real resolver answers
from its cache in microseconds. This one asks the test server's zone logic (`View.resolve`) once per distinct
question, keeps the reply bytes, and answers repeats by stamping the query's id on them; one thread, one selector,
each reply sent after the view's `delay_ms` as the test server would. UDP only: the benchmark's zones have no
truncated answers (a TC reply would send the client to a TCP port nobody listens on, and show up as an error).
"""

from __future__ import annotations

import argparse
import heapq
import selectors
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.flags
import dns.message
import dns.rcode

from tests.servers.dns_server import DnsServer, View, garbage_for, udp_wire
from tests.servers.standalone import load_config, parse_listen


def reply_for(view: View, wire: bytes) -> tuple[bytes | None, float]:
    """(reply or None for silence, delay in seconds): what tests/servers/dns_server.py sends over UDP."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None, 0.0
    try:
        action, response, delay = view.resolve(query)
    except Exception:
        action, response, delay = "servfail", None, 0.0
    if action == "silent":
        return None, delay
    if action == "garbage":
        return garbage_for(wire), delay
    if action in ("servfail", "refused"):
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        response.set_rcode(dns.rcode.SERVFAIL if action == "servfail" else dns.rcode.REFUSED)
    assert response is not None
    return udp_wire(response, query, action in ("truncate", "truncate_no_tcp")), delay


class CachedResolver:
    def __init__(self, config: dict[str, Any]) -> None:
        self._server = DnsServer(config)  # view selection by listen address, as the test server does it
        self._selector = selectors.DefaultSelector()
        self._cache: dict[tuple[str, bytes], tuple[bytes | None, float]] = {}
        self._due: list[tuple[float, int, socket.socket, bytes, Any]] = []
        self._seq = 0
        self._stop = threading.Event()

    def listen(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, port))
        sock.setblocking(False)
        view = self._server.view_for(host, port)
        self._selector.register(sock, selectors.EVENT_READ, (view, self._server.views[view]))

    def _answer(self, sock: socket.socket, view_name: str, view: View) -> None:
        while True:
            try:
                wire, client = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if len(wire) < 12:
                continue
            key = (view_name, wire[2:])
            cached = self._cache.get(key)
            if cached is None:
                cached = self._cache[key] = reply_for(view, wire)
            reply, delay = cached
            if reply is None:
                continue
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._seq, sock, wire[:2] + reply[2:], client))

    def serve(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                _, _, sock, reply, client = heapq.heappop(self._due)
                try:
                    sock.sendto(reply, client)
                except OSError:
                    pass
            timeout = min(0.05, self._due[0][0] - now) if self._due else 0.05
            for key, _ in self._selector.select(max(0.0, timeout)):
                self._answer(key.fileobj, *key.data)  # type: ignore[arg-type]

    def stop(self) -> None:
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, help="IP:PORT (repeatable)")
    parser.add_argument("--config", required=True, help="JSON config file (tests/servers/dns_server.py format)")
    args = parser.parse_args(argv)
    resolver = CachedResolver(load_config(args.config))
    for item in args.listen:
        resolver.listen(*parse_listen(item))
    signal.signal(signal.SIGTERM, lambda *_: resolver.stop())
    print("ready", flush=True)
    try:
        resolver.serve()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
