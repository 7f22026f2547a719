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
import dataclasses
import socket
import time
from collections.abc import Container, Mapping, Sequence
from types import MappingProxyType
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
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.net import dnswire
from aoai_diag.net.addresses import classes
from aoai_diag.net.connect import classify_connect_error

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


_OUTCOME_OF_RCODE: dict[int, str] = {
    dns.rcode.NXDOMAIN: "nxdomain",
    dns.rcode.SERVFAIL: "servfail",
    dns.rcode.REFUSED: "refused",
}


def _classes(addresses: list[str]) -> Mapping[str, str]:
    """`classes`, read-only: the run's DNS cache hands one answer to every target that asks (net/dns_cache.py)."""
    return MappingProxyType(classes(addresses))


def _failed(name: str, outcome: str, error: str | None, elapsed_ms: float = 0.0) -> DnsAnswer:
    """The answer to a question that got no reply (`outcome` timeout, unreachable or error)."""
    return DnsAnswer(
        name=name, outcome=outcome, chain=(name,), address_classes=_classes([]), elapsed_ms=elapsed_ms, error=error
    )


def _settle_a(name: str, exchange: _Exchange, started: float) -> DnsAnswer:
    """The answer from the finished A exchange (its AAAA addresses still to add, `_with_aaaa`)."""
    elapsed_ms = round((time.monotonic() - started) * 1000.0, 2)
    response = exchange.response
    if response is None:
        answer = _failed(name, exchange.failure or "error", exchange.error, elapsed_ms)
        return dataclasses.replace(answer, truncated_udp=exchange.truncated_udp, tcp_retry=exchange.tcp_retry)
    rcode = _rcode(response)
    rcode_text = dns.rcode.to_text(dns.rcode.Rcode.make(rcode))
    chain, addresses, ttl = _chain(response, name, dns.rdatatype.A)
    error = exchange.error
    if rcode == dns.rcode.NOERROR:
        if addresses:
            outcome = "answer"
        elif exchange.tcp_retry == "failed":
            # The truncated UDP reply held no usable answer: what a client without TCP fallback gets.
            outcome = "error"
        else:
            outcome = "nodata"
    else:
        outcome = _OUTCOME_OF_RCODE.get(rcode, "error")
        if outcome == "error":
            error = error or f"server answered {rcode_text}"
    soa_mname = None
    if outcome in ("nxdomain", "nodata"):
        soa_mname = response.soa_mname if isinstance(response, dnswire.Reply) else _soa_mname(response)
    return DnsAnswer(
        name=name,
        outcome=outcome,
        rcode=rcode_text,
        chain=tuple(chain),
        addresses=tuple(addresses),
        address_classes=_classes(addresses),
        ttl=ttl,
        soa_mname=soa_mname,
        truncated_udp=exchange.truncated_udp,
        tcp_retry=exchange.tcp_retry,
        elapsed_ms=elapsed_ms,
        error=error,
    )


def _with_aaaa(answer: DnsAnswer, six: _Exchange) -> DnsAnswer:
    """`answer` with the AAAA addresses of `six`: one that fails or times out adds nothing and does not change the
    outcome."""
    if six.response is None or _rcode(six.response) != dns.rcode.NOERROR:
        return answer
    addresses6 = tuple(_chain(six.response, answer.name, dns.rdatatype.AAAA)[1])
    if not addresses6:
        return answer
    every = [*answer.addresses, *addresses6]
    return dataclasses.replace(answer, addresses6=addresses6, address_classes=_classes(every))


async def query(server: Endpoint, name: str, timeout: float, aaaa: bool = True) -> DnsAnswer:
    """Ask `server` for the A (and then AAAA, on the same socket) records of `name`; all within `timeout` s."""
    name = _norm(name)
    started = time.monotonic()
    expires = started + max(0.01, timeout)
    exchange = _Exchange(server, name, dns.rdatatype.A, expires)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    try:
        transport, replies = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Replies(server, family), family=family
        )
    except OSError as exc:  # out of descriptors (a large fleet): evidence for this question, not a crash
        exchange.fail(exc)
        return _settle_a(name, exchange, started)
    try:
        await exchange.ask(transport, replies)
        answer = _settle_a(name, exchange, started)
        if answer.outcome in ("answer", "nodata") and aaaa:
            replies.stale.add(exchange.id)
            six = _Exchange(server, name, dns.rdatatype.AAAA, expires, avoid=(exchange.id,))
            await six.ask(transport, replies)
            answer = _with_aaaa(answer, six)
    finally:
        transport.close()
    return answer


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
    return _failed(_norm(pair[1]), "timeout", "query did not finish within the timeout")


def describe(answer: DnsAnswer) -> str:
    """A few words for a summary line: `10.0.0.5 (private)`, `NXDOMAIN (SOA azureprivatedns.net)`, `timeout`."""
    outcome = answer.outcome
    if outcome == "answer":
        shown = [f"{a} ({answer.address_classes.get(a, '?')})" for a in answer.addresses[:2]]
        return ", ".join(shown)
    if outcome in ("nxdomain", "nodata"):
        soa = answer.soa_mname
        return f"{str(outcome).upper()}" + (f" (SOA {soa})" if soa else "")
    if outcome == "error" and answer.error:
        return f"error: {answer.error}"
    return str(outcome)
