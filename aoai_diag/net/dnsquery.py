"""Ask one DNS server about one name, directly, and describe the answer as a `DnsAnswer` (docs/evidence.md).

Every query is bounded by its `timeout` (UDP, the TCP retry and the AAAA query together): dnspython's
Resolver defaults overshoot by seconds (its lifetime covers every nameserver and retry).
Queries carry no EDNS option, like the glibc and musl stub resolvers, so a reply that overflows 512 bytes
shows up as `truncated_udp` exactly as an application on musl would see it
(https://github.com/mckaywrigley/chatbot-ui/issues/728).

Plain replies are decoded by aoai_diag/net/dnswire.py without building dnspython objects (a fleet asks thousands of
questions); every other reply, and the TCP retry, goes through dnspython as before.

`query` asks one (server, name) on blocking sockets; `query_many` asks many from the calling thread, each pair
on a socket of its own, all waited for by one poll: the same exchanges, and the same answers (tests/test_dnswire.py
runs every reply shape through both).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Container, Sequence
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from aoai_diag.context import Endpoint, format_endpoint
from aoai_diag.errors import one_line
from aoai_diag.net import dnswire, ioloop
from aoai_diag.net.addresses import classes
from aoai_diag.net.connect import Concurrently
from aoai_diag.steps import Steps, drive

DnsAnswer = dict[str, Any]

# A CNAME chain longer than this is a loop or a hostile server: *.openai.azure.com chains have 7-8 hops
# (https://learn.microsoft.com/azure/private-link/private-endpoint-dns).
MAX_CHAIN = 16


def _norm(name: dns.name.Name | str) -> str:
    text = name.to_text(omit_final_dot=True) if isinstance(name, dns.name.Name) else name
    return text.rstrip(".").lower()


def follow_chain(
    response: dns.message.Message, qname: str, rdtype: dns.rdatatype.RdataType
) -> tuple[list[str], list[str], int | None]:
    """The CNAME chain from `qname` inside the answer section, and the final RRset's addresses and TTL."""
    chain = [_norm(qname)]
    current = dns.name.from_text(qname)
    for _ in range(MAX_CHAIN):
        cname = response.get_rrset(response.answer, current, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if not cname:
            break
        current = cname[0].target
        if _norm(current) in chain:  # a loop: stop, the chain already shows it
            chain.append(_norm(current))
            return chain, [], None
        chain.append(_norm(current))
    final = response.get_rrset(response.answer, current, dns.rdataclass.IN, rdtype)
    if not final:
        return chain, [], None
    return chain, [rd.address for rd in final], int(final.ttl)


def _soa_mname(response: dns.message.Message) -> str | None:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return _norm(rrset[0].mname)
    return None


def udp_exchange(wire: bytes, server: Endpoint, expires: float) -> bytes:
    """Send `wire` over UDP and return the first datagram that comes back from `server`, by `expires` (monotonic).

    What `dns.query.udp(..., ignore_unexpected=True)` does on the wire, on a plain blocking socket (dnspython
    builds an epoll selector for every wait). Datagrams from another address are ignored. The socket stays
    unconnected, like dnspython's, so an ICMP port-unreachable is not reported and a closed port is a timeout.
    """
    host, port = server
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.sendto(wire, (host, port))
        while True:
            left = expires - time.monotonic()
            if left <= 0:
                raise dns.exception.Timeout(timeout=0)
            sock.settimeout(left)
            try:
                data, source = sock.recvfrom(65535)
            except TimeoutError:
                raise dns.exception.Timeout(timeout=0) from None
            if _same_address(family, source, host, port):
                return data


def _same_address(family: int, source: Any, host: str, port: int) -> bool:
    if source[1] != port:
        return False
    if source[0] == host:
        return True
    try:  # equal addresses written differently (`::1` vs `0:0:0:0:0:0:0:1`)
        return socket.inet_pton(family, source[0]) == socket.inet_pton(family, host)
    except OSError:
        return False


class _Exchange:
    """One question over UDP with a TCP retry on truncation; records what happened.

    `run` does it all, blocking; `query_many` drives the UDP part of many exchanges from one selector instead
    (`packet`, `accept`, `time_out`, `fail`) and leaves only a TCP retry to a thread.
    """

    def __init__(
        self,
        server: Endpoint,
        name: str,
        rdtype: dns.rdatatype.RdataType,
        expires: float,
        avoid: Container[int] = (),
    ) -> None:
        self.server = server
        self.name = name
        self.rdtype = rdtype
        self.expires = expires
        self.response: dns.message.Message | dnswire.Reply | None = None
        self.truncated_udp = False
        self.tcp_retry: str | None = None
        self.failure: str | None = None  # "timeout" or "error"
        self.error: str | None = None
        # `query_many` asks AAAA on the socket that asked A: an id other than the A one (`avoid`) tells a late copy
        # of the A reply apart.
        while True:
            self.wire = dnswire.encode_query(name, rdtype)
            self.query = dns.message.make_query(name, rdtype) if self.wire is None else None
            if self.id not in avoid:
                break

    @property
    def id(self) -> int:
        return self.query.id if self.query is not None else int.from_bytes(self.wire[:2], "big")  # type: ignore[index]

    def packet(self) -> bytes:
        return self.query.to_wire() if self.query is not None else self.wire  # type: ignore[return-value]

    def _left(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0:
            raise dns.exception.Timeout(timeout=0)
        return left

    def time_out(self) -> None:
        self.failure, self.error = "timeout", f"no answer within the timeout from {format_endpoint(self.server)}"

    def fail(self, exc: BaseException) -> None:
        self.failure, self.error = "error", one_line(exc)

    def accept(self, data: bytes) -> bool:
        """Take the UDP reply `data`; True when it was truncated and the TCP retry (`retry_tcp`) is still to do."""
        try:
            if self.query is None and self.wire is not None:
                self.response = dnswire.parse(data, self.wire)
                if self.response is not None:  # the common, plain reply: no dnspython objects needed
                    return False
                self.query = dns.message.from_wire(self.wire)
            assert self.query is not None
            response = dns.message.from_wire(data)
            if not self.query.is_response(response):
                raise dns.query.BadResponse
        except Exception as exc:  # garbage bytes, wrong id: all evidence, never a crash
            self.fail(exc)
            return False
        self.response = response
        if not response.flags & dns.flags.TC:
            return False
        self.truncated_udp = True
        return True

    def retry_tcp(self) -> None:
        host, port = self.server
        assert self.query is not None  # a truncated reply went through dnspython
        try:
            self.response = dns.query.tcp(self.query, host, port=port, timeout=self._left())
            self.tcp_retry = "ok"
        except dns.exception.Timeout:
            self.tcp_retry, self.error = "failed", "answer truncated over UDP; TCP retry timed out"
        except Exception as exc:
            self.tcp_retry, self.error = "failed", f"answer truncated over UDP; TCP retry failed: {one_line(exc)}"

    def run(self) -> None:
        try:
            self._left()  # a query whose time is already spent is a timeout, not a packet sent
            data = udp_exchange(self.packet(), self.server, self.expires)
        except dns.exception.Timeout:
            self.time_out()
            return
        except Exception as exc:  # ICMP errors, a bad address: evidence, never a crash
            self.fail(exc)
            return
        if self.accept(data):
            self.retry_tcp()


def _rcode(response: dns.message.Message | dnswire.Reply) -> int:
    return response.rcode if isinstance(response, dnswire.Reply) else int(response.rcode())


def _chain(
    response: dns.message.Message | dnswire.Reply, qname: str, rdtype: dns.rdatatype.RdataType
) -> tuple[list[str], list[str], int | None]:
    if isinstance(response, dnswire.Reply):
        return dnswire.follow(response, qname, int(rdtype), MAX_CHAIN)
    return follow_chain(response, qname, rdtype)


def _empty_answer(name: str) -> DnsAnswer:
    return {
        "name": name,
        "outcome": "error",
        "rcode": None,
        "chain": [name],
        "addresses": [],
        "address_classes": {},
        "addresses6": [],
        "ttl": None,
        "soa_mname": None,
        "truncated_udp": False,
        "tcp_retry": None,
        "elapsed_ms": 0.0,
        "error": None,
    }


def _settle_a(answer: DnsAnswer, exchange: _Exchange, started: float) -> bool:
    """Fill `answer` from its finished A exchange; True when the AAAA question is worth asking."""
    name = answer["name"]
    answer["elapsed_ms"] = round((time.monotonic() - started) * 1000.0, 2)
    answer["truncated_udp"] = exchange.truncated_udp
    answer["tcp_retry"] = exchange.tcp_retry
    answer["error"] = exchange.error
    response = exchange.response
    if response is None:
        answer["outcome"] = exchange.failure or "error"
        return False
    rcode = _rcode(response)
    answer["rcode"] = dns.rcode.to_text(rcode)
    chain, addresses, ttl = _chain(response, name, dns.rdatatype.A)
    answer["chain"], answer["addresses"], answer["ttl"] = chain, addresses, ttl
    if rcode == dns.rcode.NOERROR:
        if addresses:
            answer["outcome"] = "answer"
        elif exchange.tcp_retry == "failed":
            # The truncated UDP reply held no usable answer: what a client without TCP fallback gets.
            answer["outcome"] = "error"
        else:
            answer["outcome"] = "nodata"
    elif rcode == dns.rcode.NXDOMAIN:
        answer["outcome"] = "nxdomain"
    elif rcode == dns.rcode.SERVFAIL:
        answer["outcome"] = "servfail"
    elif rcode == dns.rcode.REFUSED:
        answer["outcome"] = "refused"
    else:
        answer["outcome"] = "error"
        answer["error"] = answer["error"] or f"server answered {answer['rcode']}"
    if answer["outcome"] in ("nxdomain", "nodata"):
        answer["soa_mname"] = response.soa_mname if isinstance(response, dnswire.Reply) else _soa_mname(response)
    return answer["outcome"] in ("answer", "nodata")


def _settle_aaaa(answer: DnsAnswer, six: _Exchange) -> None:
    # An AAAA query that fails or times out leaves addresses6 empty and does not change the outcome.
    if six.response is not None and _rcode(six.response) == dns.rcode.NOERROR:
        answer["addresses6"] = _chain(six.response, answer["name"], dns.rdatatype.AAAA)[1]


def _classify(answer: DnsAnswer) -> DnsAnswer:
    answer["address_classes"] = classes(answer["addresses"] + answer["addresses6"])
    return answer


def query(server: Endpoint, name: str, timeout: float, aaaa: bool = True) -> DnsAnswer:
    """Ask `server` for the A (and then AAAA) records of `name`; everything within `timeout` seconds."""
    name = _norm(name)
    started = time.monotonic()
    expires = started + max(0.01, timeout)
    answer = _empty_answer(name)
    exchange = _Exchange(server, name, dns.rdatatype.A, expires)
    exchange.run()
    if _settle_a(answer, exchange, started) and aaaa:
        six = _Exchange(server, name, dns.rdatatype.AAAA, expires)
        six.run()
        _settle_aaaa(answer, six)
    return _classify(answer)


class _Pooled:
    """A UDP socket between two (server, name) questions, and the ids it has carried."""

    __slots__ = ("ids", "sock", "uses")

    def __init__(self, sock: socket.socket, uses: int, ids: tuple[int, ...]) -> None:
        self.sock, self.uses, self.ids = sock, uses, ids


class _UdpPool:
    """UDP sockets of finished exchanges, kept for the next questions of the process.

    In a fleet, opening, configuring and closing a socket per (server, name) were three of the seven system calls
    a question costs, each one handing the interpreter lock over. A socket is kept only after a clean exchange
    (every question answered with its own id), for `MAX_USES` questions at most (its source port still changes
    every few dozen questions), and the ids it carried are remembered, so that a late copy of an earlier reply is
    dropped rather than taken for the next one's.
    """

    MAX_IDLE = 128  # per address family
    MAX_USES = 32
    REMEMBERED_IDS = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[int, list[_Pooled]] = {}

    def take(self, family: int) -> _Pooled | None:
        with self._lock:
            idle = self._idle.get(family)
            return idle.pop() if idle else None

    def give(self, family: int, pooled: _Pooled) -> None:
        if pooled.uses < self.MAX_USES:
            with self._lock:
                idle = self._idle.setdefault(family, [])
                if len(idle) < self.MAX_IDLE:
                    idle.append(pooled)
                    return
        pooled.sock.close()


_POOL = _UdpPool()


class _Asked:
    """One (server, name) of `query_many`: its A, then AAAA, exchange over a UDP socket of its own.

    The socket is what `udp_exchange` would use: unconnected, so the first datagram from the server's address
    is the reply, whatever it holds (a broken one is an error, not a timeout). The AAAA question goes out on the
    same socket with another id, and a late copy of the A reply is dropped. The socket may have served earlier
    questions (`_UdpPool`): their ids are dropped too.
    """

    __slots__ = (
        "answer",
        "earlier_ids",
        "exchange",
        "family",
        "over_tcp",
        "pair",
        "sock",
        "stale_id",
        "started",
        "uses",
    )

    def __init__(self, pair: tuple[Endpoint, str], started: float, expires: float) -> None:
        self.pair = pair
        self.started = started
        server, name = pair[0], _norm(pair[1])
        self.answer = _empty_answer(name)
        self.exchange = _Exchange(server, name, dns.rdatatype.A, expires)
        self.stale_id: int | None = None
        self.family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.sock: socket.socket | None = None
        self.over_tcp: Concurrently[_Asked, DnsAnswer | None] | None = None
        self.uses = 0
        self.earlier_ids: tuple[int, ...] = ()

    # The `ioloop.Job` protocol: the loop thread drives these.
    waits_to_write = False

    def start(self) -> socket.socket | None:
        return self.sock if self.open() else None

    def on_readable(self) -> bool:
        state = self.read()
        if state == "tcp":
            self.over_tcp = _over_tcp(self)
        return state in ("done", "tcp")

    def fail(self, exc: BaseException) -> None:
        self.exchange.fail(exc)
        if self.stale_id is None:
            _settle_a(self.answer, self.exchange, self.started)

    def open(self) -> bool:
        """Its socket, and the A question sent; False (the failure recorded, the answer settled) when not."""
        pooled = _POOL.take(self.family)
        if pooled is not None:
            self.sock, self.uses, self.earlier_ids = pooled.sock, pooled.uses, pooled.ids
            a = self.exchange
            if a.id in self.earlier_ids:
                self.exchange = _Exchange(a.server, a.name, a.rdtype, a.expires, avoid=self.earlier_ids)
            return self.send()
        try:  # out of descriptors (a large fleet): evidence for this question, not a crash
            self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
        except OSError as exc:
            self.exchange.fail(exc)
            self.settle()
            return False
        return self.send()

    def send(self) -> bool:
        """Send the current question; False when this (server, name) is settled instead."""
        assert self.sock is not None
        try:
            self.sock.sendto(self.exchange.packet(), self.exchange.server)
        except OSError as exc:
            self.exchange.fail(exc)
            return self.settle()
        return True

    def read(self) -> str:
        """One datagram: `wait` (not ours, or none), `sent` (the AAAA question went out), `done`, or `tcp`
        (truncated: the TCP retry is to do)."""
        assert self.sock is not None
        try:
            data, source = self.sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return "wait"
        except OSError as exc:  # Windows reports an ICMP port-unreachable here
            self.exchange.fail(exc)
            return "sent" if self.settle() else "done"
        host, port = self.exchange.server
        if not _same_address(self.family, source, host, port):
            return "wait"  # a stranger's datagram neither answers nor ends the wait
        qid = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        if qid is not None and (qid == self.stale_id or qid in self.earlier_ids):
            return "wait"  # a late copy of the A reply, or of a reply to an earlier question on this socket
        if self.exchange.accept(data):
            return "tcp"
        return "sent" if self.settle() else "done"

    def settle(self) -> bool:
        """The current exchange is over: record it; True when the AAAA question that follows went out."""
        if self.stale_id is not None:
            _settle_aaaa(self.answer, self.exchange)
            return False
        if not _settle_a(self.answer, self.exchange, self.started) or self.sock is None:
            return False
        a = self.exchange
        self.stale_id = a.id
        self.exchange = _Exchange(a.server, a.name, dns.rdatatype.AAAA, a.expires, avoid=(a.id, *self.earlier_ids))
        return self.send()

    def expire(self) -> None:
        """No reply by the deadline: an A question is a timeout; an unanswered AAAA one adds nothing."""
        if self.stale_id is None:
            self.exchange.time_out()
            _settle_a(self.answer, self.exchange, self.started)

    def close(self) -> None:
        if self.sock is None:
            return
        # Kept for another question only after a clean exchange: the last question had a reply with its id
        # (nothing late can be on the way, except copies of replies already taken, whose ids are remembered).
        clean = self.over_tcp is None and self.exchange.response is not None and self.exchange.failure is None
        if clean:
            ids = (*self.earlier_ids, *((self.stale_id,) if self.stale_id is not None else ()), self.exchange.id)
            _POOL.give(self.family, _Pooled(self.sock, self.uses + 1, ids[-_UdpPool.REMEMBERED_IDS :]))
        else:
            self.sock.close()
        self.sock = None

    def finish_over_tcp(self) -> DnsAnswer:
        """Blocking, in a worker thread: the TCP retry of a truncated reply, then what is left to ask."""
        self.exchange.retry_tcp()
        if self.stale_id is not None:
            _settle_aaaa(self.answer, self.exchange)
        elif _settle_a(self.answer, self.exchange, self.started):
            a = self.exchange
            six = _Exchange(a.server, a.name, dns.rdatatype.AAAA, a.expires)
            six.run()
            _settle_aaaa(self.answer, six)
        return _classify(self.answer)


def query_many_steps(
    pairs: Sequence[tuple[Endpoint, str]], timeout: float
) -> Steps[dict[tuple[Endpoint, str], DnsAnswer]]:
    """Ask every (server, name) pair at once (A, then AAAA); all done within `timeout`.

    The exchanges are driven by one poll loop (aoai_diag/net/ioloop.py: the engine's own thread, or the process's
    I/O thread for a blocking caller), which waits on the sockets of every exchange at once: in a fleet, a thread
    per question, or per caller, waking for each datagram, cost more CPU in interpreter-lock hand-offs than the
    questions themselves. Only a truncated reply's TCP retry, which is rare, gets a thread of its own, started as
    soon as the reply comes.
    """
    unique = list(dict.fromkeys(pairs))
    started = time.monotonic()
    expires = started + max(0.01, timeout)
    asked = [_Asked(pair, started, expires) for pair in unique]
    late_margin = 0.2  # every exchange bounds itself; this only covers scheduling on a busy machine
    settled = yield from ioloop.batch(asked, expires, late_margin)
    found: dict[tuple[Endpoint, str], DnsAnswer] = {}
    for one, done in zip(asked, settled, strict=True):
        if not done:
            found[one.pair] = _late(one.pair)
        elif one.over_tcp is not None:
            retry = one.over_tcp
            retry.give_up_at = expires + late_margin
            yield retry  # already running (or done): started when the truncated reply came
            found[one.pair] = retry.result()[0] or _late(one.pair)
        else:
            found[one.pair] = _classify(one.answer)
    return found


def query_many(pairs: Sequence[tuple[Endpoint, str]], timeout: float) -> dict[tuple[Endpoint, str], DnsAnswer]:
    """`query_many_steps`, blocking."""
    return drive(query_many_steps(pairs, timeout))


def _over_tcp(asked: _Asked) -> Concurrently[_Asked, DnsAnswer | None]:
    """A truncated reply's TCP retry (and what follows it), running in a worker thread from now on; its asker sets
    how long it waits (`give_up_at`)."""
    retry: Concurrently[_Asked, DnsAnswer | None] = Concurrently(_Asked.finish_over_tcp, [asked], None, lambda _: None)
    retry.start()
    return retry


def _late(pair: tuple[Endpoint, str]) -> DnsAnswer:
    result = _empty_answer(_norm(pair[1]))
    result["outcome"], result["error"] = "timeout", "query did not finish within the timeout"
    return result


def private_only(answer: DnsAnswer) -> bool:
    """The answer has A records and every recorded address (A and AAAA) is private."""
    classes = answer.get("address_classes") or {}
    return bool(answer.get("addresses")) and all(c == "private" for c in classes.values())


def describe(answer: DnsAnswer) -> str:
    """A few words for a summary line: `10.0.0.5 (private)`, `NXDOMAIN (SOA azureprivatedns.net)`, `timeout`."""
    outcome = answer.get("outcome")
    if outcome == "answer":
        classes = answer.get("address_classes") or {}
        shown = [f"{a} ({classes.get(a, '?')})" for a in (answer.get("addresses") or [])[:2]]
        return ", ".join(shown)
    if outcome in ("nxdomain", "nodata"):
        soa = answer.get("soa_mname")
        return f"{str(outcome).upper()}" + (f" (SOA {soa})" if soa else "")
    if outcome == "error" and answer.get("error"):
        return f"error: {answer['error']}"
    return str(outcome)
