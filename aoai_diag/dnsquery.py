"""Ask one DNS server about one name, directly, and describe the answer as a `DnsAnswer` (docs/evidence.md).

Every query is bounded by its `timeout` (UDP, the TCP retry and the AAAA query together): dnspython's
Resolver defaults overshoot by seconds (../shared/reference/azure-sdk-notes.md "Default timeouts").
Queries carry no EDNS option, like the glibc and musl stub resolvers, so a reply that overflows 512 bytes
shows up as `truncated_udp` exactly as an application on musl would see it
(https://github.com/mckaywrigley/chatbot-ui/issues/728, dns-facts.md §7).
"""

from __future__ import annotations

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

from aoai_diag.addresses import classes
from aoai_diag.context import Endpoint, format_endpoint
from aoai_diag.errors import one_line
from aoai_diag.netio import map_concurrently

DnsAnswer = dict[str, Any]

# A CNAME chain longer than this is a loop or a hostile server: *.openai.azure.com chains have 7-8 hops (dns-facts.md §3).
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


class _Exchange:
    """One question over UDP with a TCP retry on truncation; records what happened."""

    def __init__(self, server: Endpoint, name: str, rdtype: dns.rdatatype.RdataType, expires: float) -> None:
        self.server = server
        self.name = name
        self.rdtype = rdtype
        self.expires = expires
        self.response: dns.message.Message | None = None
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
        query = dns.message.make_query(self.name, self.rdtype)
        try:
            response = dns.query.udp(query, host, port=port, timeout=self._left(), ignore_unexpected=True)
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
    rcode = response.rcode()
    answer["rcode"] = dns.rcode.to_text(rcode)
    chain, addresses, ttl = follow_chain(response, name, dns.rdatatype.A)
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
        answer["soa_mname"] = _soa_mname(response)
    if aaaa and answer["outcome"] in ("answer", "nodata"):
        six = _Exchange(server, name, dns.rdatatype.AAAA, expires)
        six.run()
        # An AAAA query that fails or times out leaves addresses6 empty and does not change the outcome.
        if six.response is not None and six.response.rcode() == dns.rcode.NOERROR:
            answer["addresses6"] = follow_chain(six.response, name, dns.rdatatype.AAAA)[1]
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
