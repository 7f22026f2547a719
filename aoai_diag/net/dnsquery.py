"""Ask one DNS server about one name, directly, and describe the answer as a `DnsAnswer` (docs/evidence.md).

Every query is bounded by its `timeout` (UDP, the TCP retry and the AAAA query together): dnspython's
Resolver defaults overshoot by seconds (its lifetime covers every nameserver and retry).
Queries carry no EDNS option, like the glibc and musl stub resolvers, so a reply that overflows 512 bytes
shows up as `truncated_udp` exactly as an application on musl would see it
(https://github.com/mckaywrigley/chatbot-ui/issues/728).

The UDP exchanges are asyncio datagram endpoints on the run's loop; a truncated reply is asked again over TCP with
dnspython's asyncio query. Plain replies are decoded by aoai_diag/net/dnswire.py without building dnspython
objects (a fleet asks thousands of questions: docs/architecture.md, "Measured choices"); every other reply goes
through dnspython.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Container, Sequence
from typing import Any

import dns.asyncquery
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
from aoai_diag.net import dnswire
from aoai_diag.net.addresses import classes
from aoai_diag.net.connect import classify_connect_error

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
    """One question over UDP with a TCP retry on truncation; records what happened (`ask` does it all)."""

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
        # The AAAA question goes out on the socket that asked A: an id other than the A one (`avoid`) tells a late
        # copy of the A reply apart.
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

    def time_out(self) -> None:
        self.failure, self.error = "timeout", f"no answer within the timeout from {format_endpoint(self.server)}"

    def fail(self, exc: BaseException) -> None:
        # Why it failed is recorded here, from the errno (a send with no route, an ICMP error on Windows), as the
        # answer's outcome: nothing downstream reads it back from the error text.
        unreachable = classify_connect_error(exc) in ("unreachable", "refused")
        self.failure, self.error = "unreachable" if unreachable else "error", one_line(exc)

    def accept(self, data: bytes) -> bool:
        """Take the UDP reply `data`; True when it was truncated and the TCP retry (`retry_tcp`) is still to do."""
        try:
            if self.query is None and self.wire is not None:
                self.response = dnswire.parse(data, self.wire)
                if self.response is not None:  # the common, plain reply: no dnspython objects needed
                    return False
                self.query = dns.message.from_wire(self.wire)  # type: ignore[assignment]  # a query's wire
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

    async def retry_tcp(self) -> None:
        host, port = self.server
        assert self.query is not None  # a truncated reply went through dnspython
        left = self.expires - time.monotonic()
        try:
            if left <= 0:
                raise dns.exception.Timeout(timeout=0)
            self.response = await dns.asyncquery.tcp(self.query, host, port=port, timeout=left)
            self.tcp_retry = "ok"
        except (dns.exception.Timeout, asyncio.TimeoutError):
            self.tcp_retry, self.error = "failed", "answer truncated over UDP; TCP retry timed out"
        except Exception as exc:
            self.tcp_retry, self.error = "failed", f"answer truncated over UDP; TCP retry failed: {one_line(exc)}"

    async def ask(self, transport: asyncio.DatagramTransport, replies: _Replies) -> None:
        """Send the question on `transport`, wait for its reply by `expires`, and retry over TCP if truncated."""
        left = self.expires - time.monotonic()
        if left <= 0:  # a question whose time is already spent is a timeout, not a packet sent
            self.time_out()
            return
        waiting = replies.expect()
        try:
            transport.sendto(self.packet(), self.server)
            data = await asyncio.wait_for(waiting, left)
        except (asyncio.TimeoutError, TimeoutError):
            self.time_out()
            return
        except Exception as exc:  # ICMP errors, a bad address: evidence, never a crash
            self.fail(exc)
            return
        if self.accept(data):
            await self.retry_tcp()


class _Replies(asyncio.DatagramProtocol):
    """The datagrams of one (server, name): the first from the server's address whose id is not a stale one.

    The socket stays unconnected, like dnspython's, so an ICMP port-unreachable is not reported (Linux) and a
    closed port is a timeout; a datagram from another address neither answers nor ends the wait.
    """

    def __init__(self, server: Endpoint, family: int) -> None:
        self.server, self.family = server, family
        self.stale: set[int] = set()
        self._waiting: asyncio.Future[bytes] | None = None

    def expect(self) -> asyncio.Future[bytes]:
        self._waiting = asyncio.get_running_loop().create_future()
        return self._waiting

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self._waiting is None or self._waiting.done():
            return
        host, port = self.server
        if not _same_address(self.family, addr, host, port):
            return
        if len(data) >= 2 and int.from_bytes(data[:2], "big") in self.stale:
            return  # a late copy of the A reply
        self._waiting.set_result(data)

    def error_received(self, exc: Exception) -> None:  # Windows reports an ICMP port-unreachable here
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(exc)


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
    answer["rcode"] = dns.rcode.to_text(dns.rcode.Rcode.make(rcode))
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


async def query(server: Endpoint, name: str, timeout: float, aaaa: bool = True) -> DnsAnswer:
    """Ask `server` for the A (and then AAAA, on the same socket) records of `name`; all within `timeout` s."""
    name = _norm(name)
    started = time.monotonic()
    expires = started + max(0.01, timeout)
    answer = _empty_answer(name)
    exchange = _Exchange(server, name, dns.rdatatype.A, expires)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    try:
        transport, replies = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Replies(server, family), family=family
        )
    except OSError as exc:  # out of descriptors (a large fleet): evidence for this question, not a crash
        exchange.fail(exc)
        _settle_a(answer, exchange, started)
        return _classify(answer)
    try:
        await exchange.ask(transport, replies)
        if _settle_a(answer, exchange, started) and aaaa:
            replies.stale.add(exchange.id)
            six = _Exchange(server, name, dns.rdatatype.AAAA, expires, avoid=(exchange.id,))
            await six.ask(transport, replies)
            # An AAAA question that fails or times out adds nothing and does not change the outcome.
            _settle_aaaa(answer, six)
    finally:
        transport.close()
    return _classify(answer)


async def query_many(pairs: Sequence[tuple[Endpoint, str]], timeout: float) -> dict[tuple[Endpoint, str], DnsAnswer]:
    """Ask every (server, name) pair at once (A, then AAAA); all done within `timeout`."""
    unique = list(dict.fromkeys(pairs))
    tasks = [asyncio.ensure_future(query(server, name, timeout)) for server, name in unique]
    if tasks:
        # Every exchange bounds itself; the margin only covers scheduling on a busy machine.
        await asyncio.wait(tasks, timeout=max(0.01, timeout) + 0.2)
    found: dict[tuple[Endpoint, str], DnsAnswer] = {}
    for pair, task in zip(unique, tasks, strict=True):
        if task.done():
            found[pair] = task.result()
        else:
            task.cancel()
            found[pair] = _late(pair)
    return found


def _late(pair: tuple[Endpoint, str]) -> DnsAnswer:
    result = _empty_answer(_norm(pair[1]))
    result["outcome"], result["error"] = "timeout", "query did not finish within the timeout"
    return result


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
