"""CPU per DNS exchange: the dnswire fast path against dnspython, on the reply a diagnosis sees most.

The reply is the private endpoint's chain (`contoso.openai.azure.com` CNAME `contoso.privatelink.openai.azure.com`
A 10.0.0.4). Each side encodes the question, decodes the reply and follows the chain, as `aoai_diag.net.dnsquery`
does; no socket is opened. The figure justifies keeping `aoai_diag/net/dnswire.py` beside dnspython
(docs/architecture.md, "Measured choices").
Usage: python bench/dns_decode.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import dns.message
import dns.rdatatype
import dns.rrset

from aoai_diag.net import dnsquery, dnswire

HOST = "contoso.openai.azure.com"
PRIVATELINK = "contoso.privatelink.openai.azure.com"


def reply_to(query_wire: bytes) -> bytes:
    query = dns.message.from_wire(query_wire)
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(HOST + ".", 60, "IN", "CNAME", PRIVATELINK + "."))
    reply.answer.append(dns.rrset.from_text(PRIVATELINK + ".", 10, "IN", "A", "10.0.0.4"))
    return reply.to_wire()


def fast(reply: bytes) -> tuple[list[str], list[str], int | None]:
    query = dnswire.encode_query(HOST, dnswire.A)
    assert query is not None
    parsed = dnswire.parse(query[:2] + reply[2:], query)  # the reply carries this question's id
    assert parsed is not None, "the fast path refused a plain reply"
    return dnswire.follow(parsed, HOST, dnswire.A, dnsquery.MAX_CHAIN)


def with_dnspython(reply: bytes) -> tuple[list[str], list[str], int | None]:
    query = dns.message.make_query(HOST, dns.rdatatype.A)
    query.to_wire()
    response = dns.message.from_wire(query.id.to_bytes(2, "big") + reply[2:])
    assert query.is_response(response)
    return dnsquery.follow_chain(response, HOST, dns.rdatatype.A)


def cpu_us(fn: Callable[[bytes], object], reply: bytes, rounds: int) -> float:
    samples = []
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(rounds):
            fn(reply)
        samples.append((time.process_time() - t0) / rounds * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    query = dnswire.encode_query(HOST, dnswire.A)
    assert query is not None
    reply = reply_to(query)
    assert fast(reply) == with_dnspython(reply), "the two decoders disagree"
    f, d = cpu_us(fast, reply, args.rounds), cpu_us(with_dnspython, reply, args.rounds)
    print(f"CPU per exchange (encode, decode, follow the chain), median of 5 x {args.rounds}:")
    print(f"  dnswire   {f:8.1f} us")
    print(f"  dnspython {d:8.1f} us   ({d / f:.1f}x)")


if __name__ == "__main__":
    main()
