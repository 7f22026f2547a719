"""Ask one DNS server about one name, directly, and describe the answer as a `DnsAnswer` (docs/evidence.md).

Every query is bounded by its `timeout` (UDP, the TCP retry and the AAAA query together): dnspython's
Resolver defaults overshoot by seconds (its lifetime covers every nameserver and retry).
Queries carry no EDNS option, like the glibc and musl stub resolvers, so a reply that overflows 512 bytes
shows up as `truncated_udp` exactly as an application on musl would see it
(https://github.com/mckaywrigley/chatbot-ui/issues/728).

Plain replies are decoded by aoai_diag/net/dnswire.py without building dnspython objects (a fleet asks thousands of
questions); every other reply, and the TCP retry, goes through dnspython as before.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
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
from aoai_diag.net import dnswire
from aoai_diag.net.addresses import classes
from aoai_diag.net.connect import map_concurrently

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
    """One question over UDP with a TCP retry on truncation; records what happened."""

    def __init__(self, server: Endpoint, name: str, rdtype: dns.rdatatype.RdataType, expires: float) -> None:
        self.server = server
        self.name = name
        self.rdtype = rdtype
        self.expires = expires
        self.response: dns.message.Message | dnswire.Reply | None = None
        self.truncated_udp = False
        self.tcp_retry: str | None = None
        self.failure: str | None = None  # "timeout" or "error"
        self.error: str | None = None

    def _left(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0:
            raise dns.exception.Timeout(timeout=0)
        return left

    def run(self) -> None:
        host, port = self.server
        wire = dnswire.encode_query(self.name, self.rdtype)
        query = dns.message.make_query(self.name, self.rdtype) if wire is None else None
        try:
            self._left()  # a query whose time is already spent is a timeout, not a packet sent
            data = udp_exchange(query.to_wire() if query is not None else wire, self.server, self.expires)
            if query is None and wire is not None:
                self.response = dnswire.parse(data, wire)
                if self.response is not None:  # the common, plain reply: no dnspython objects needed
                    return
                query = dns.message.from_wire(wire)
            response = dns.message.from_wire(data)
            if not query.is_response(response):
                raise dns.query.BadResponse
        except dns.exception.Timeout:
            self.failure, self.error = "timeout", f"no answer within the timeout from {format_endpoint(self.server)}"
            return
        except Exception as exc:  # garbage bytes, wrong id, ICMP errors: all evidence, never a crash
            self.failure, self.error = "error", one_line(exc)
            return
        self.response = response
        if not response.flags & dns.flags.TC:
            return
        self.truncated_udp = True
        try:
            self.response = dns.query.tcp(query, host, port=port, timeout=self._left())
            self.tcp_retry = "ok"
        except dns.exception.Timeout:
            self.tcp_retry, self.error = "failed", "answer truncated over UDP; TCP retry timed out"
        except Exception as exc:
            self.tcp_retry, self.error = "failed", f"answer truncated over UDP; TCP retry failed: {one_line(exc)}"


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


def query(server: Endpoint, name: str, timeout: float, aaaa: bool = True) -> DnsAnswer:
    """Ask `server` for the A (and then AAAA) records of `name`; everything within `timeout` seconds."""
    name = _norm(name)
    started = time.monotonic()
    expires = started + max(0.01, timeout)
    answer = _empty_answer(name)
    exchange = _Exchange(server, name, dns.rdatatype.A, expires)
    exchange.run()
    answer["elapsed_ms"] = round((time.monotonic() - started) * 1000.0, 2)
    answer["truncated_udp"] = exchange.truncated_udp
    answer["tcp_retry"] = exchange.tcp_retry
    answer["error"] = exchange.error
    response = exchange.response
    if response is None:
        answer["outcome"] = exchange.failure or "error"
        return answer
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
    if aaaa and answer["outcome"] in ("answer", "nodata"):
        six = _Exchange(server, name, dns.rdatatype.AAAA, expires)
        six.run()
        # An AAAA query that fails or times out leaves addresses6 empty and does not change the outcome.
        if six.response is not None and _rcode(six.response) == dns.rcode.NOERROR:
            answer["addresses6"] = _chain(six.response, name, dns.rdatatype.AAAA)[1]
    answer["address_classes"] = classes(answer["addresses"] + answer["addresses6"])
    return answer


def query_many(
    pairs: Sequence[tuple[Endpoint, str]],
    timeout: float,
    ask: Callable[[Endpoint, str, float], DnsAnswer] = query,
) -> dict[tuple[Endpoint, str], DnsAnswer]:
    """Ask every (server, name) pair concurrently; all done within `timeout` (plus thread start-up)."""

    def work(pair: tuple[Endpoint, str]) -> DnsAnswer:
        try:
            return ask(pair[0], pair[1], timeout)
        except Exception as exc:  # a bug here must not lose the other answers
            result = _empty_answer(_norm(pair[1]))
            result["error"] = one_line(exc)
            return result

    def late(pair: tuple[Endpoint, str]) -> DnsAnswer:
        result = _empty_answer(_norm(pair[1]))
        result["outcome"], result["error"] = "timeout", "query did not finish within the timeout"
        return result

    unique = list(dict.fromkeys(pairs))
    # Each query bounds itself; the extra margin only covers scheduling on a busy machine.
    return dict(zip(unique, map_concurrently(work, unique, timeout + 0.2, late), strict=True))


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
