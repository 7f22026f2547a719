"""The dnspython-free decoding of plain replies (aoai_diag/net/dnswire.py) against dnspython itself.

Every reply is sent by a real server on loopback (tests/servers/dns_server.py, or a raw responder below for bytes
that server never sends) and asked with `query()` twice: once as it runs, once with the fast decoder switched off
so that dnspython decodes everything. The answers must be identical; the fast path must have been taken for the
plain replies (or the comparison would be vacuous) and refused for everything else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from aoai_diag.context import Endpoint
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.net import dnsquery, dnswire
from tests.conftest import FIXTURES
from tests.servers.dns_server import serve

HOST = "contoso.openai.azure.com"


class Spy:
    """Wraps `dnswire.parse`, counting decoded and refused replies; `off` makes it refuse every reply."""

    def __init__(self) -> None:
        self.real = dnswire.parse
        self.decoded = 0
        self.refused = 0
        self.off = False

    def __call__(self, wire: bytes, query: bytes) -> dnswire.Reply | None:
        reply = None if self.off else self.real(wire, query)
        if reply is None:
            self.refused += 1
        else:
            self.decoded += 1
            assert decoded_by_dnspython(wire, query) == decoded_fast(reply, query)
        return reply


def decoded_fast(reply: dnswire.Reply, query: bytes) -> tuple[Any, ...]:
    qname, rdtype = dnswire._name(query, 12)[0], struct.unpack("!H", query[-4:-2])[0]
    return reply.rcode, reply.soa_mname, dnswire.follow(reply, qname, rdtype, dnsquery.MAX_CHAIN)


def decoded_by_dnspython(wire: bytes, query: bytes) -> tuple[Any, ...]:
    """The same bytes decoded by dnspython, read the way `query()` reads them (same order of records)."""
    message = dns.message.from_wire(wire)
    assert dns.message.from_wire(query).is_response(message) and not message.flags & dns.flags.TC
    qname, rdtype = dnswire._name(query, 12)[0], struct.unpack("!H", query[-4:-2])[0]
    chain = dnsquery.follow_chain(message, qname, dns.rdatatype.RdataType(rdtype))
    return int(message.rcode()), dnsquery._soa_mname(message), chain


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    s = Spy()
    monkeypatch.setattr(dnswire, "parse", s)
    return s


def comparable(answer: DnsAnswer) -> DnsAnswer:
    """`answer` without its timing, its addresses sorted: the test server shuffles the records of an RRset in each
    reply (as dnspython does), so two queries may list the same addresses in another order."""
    return dataclasses.replace(
        answer, elapsed_ms=None, addresses=tuple(sorted(answer.addresses)), addresses6=tuple(sorted(answer.addresses6))
    )


def both_ways(spy: Spy, server: Endpoint, name: str = HOST) -> tuple[DnsAnswer, DnsAnswer]:
    """`query()` with and without the fast decoder; `query_many`, which drives the same exchanges from one
    selector, must agree with `query()` on every reply too (checked here, so every case below covers it)."""
    spy.off = False
    fast = asyncio.run(dnsquery.query(server, name, 1.0))
    many = asyncio.run(dnsquery.query_many([(server, name)], 1.0))[(server, name)]
    spy.off = True
    slow = asyncio.run(dnsquery.query(server, name, 1.0))
    spy.off = False
    # Spy compares the order of the addresses on the very same bytes.
    fast, slow, many = (comparable(a) for a in (fast, slow, many))
    assert many == fast
    return fast, slow


def fixture_config(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "dns" / f"{name}.json").read_text())  # type: ignore[no-any-return]


FIXTURE_REPLIES = [
    "private_3d",
    "public_privatelink_3c",
    "public_plain_3a",
    "vnet_proxy_3b",
    "nxdomain_private_soa",
    "private_with_public_aaaa",
]


@pytest.mark.parametrize(
    "config",
    [
        *(pytest.param(fixture_config(name), id=name) for name in FIXTURE_REPLIES),
        pytest.param(
            {
                "records": {HOST: {"aaaa": ["fd00::5"]}},
                "zones": {"openai.azure.com": {"mname": "ns1-01.azure-dns.com"}},
            },
            id="nodata",
        ),
        pytest.param({"default": "servfail"}, id="servfail"),
        pytest.param({"default": "refused"}, id="refused"),
        pytest.param(
            {"records": {HOST: {"a": ["10.1.2.3", "10.1.2.4"], "aaaa": ["::ffff:10.1.2.3", "2001:db8::1"]}}},
            id="v4-mapped",
        ),
    ],
)
def test_plain_replies_decode_as_dnspython_decodes_them(spy: Spy, config: dict[str, Any]) -> None:
    with serve(config) as (_, [server]):
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert spy.decoded >= 1


@pytest.mark.parametrize(
    "config",
    [{"default": "garbage"}, {"records": {HOST: {"a": ["10.1.2.3"], "action": "truncate"}}}],
    ids=["garbage", "truncated"],
)
def test_garbage_and_truncation_are_left_to_dnspython(spy: Spy, config: dict[str, Any]) -> None:
    with serve(config) as (_, [server]):
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert spy.decoded == 0 and spy.refused >= 2


# --- raw replies a test server never sends --------------------------------------------------------------------

A, CNAME, SOA, AAAA = 1, 5, 6, 28


def name_wire(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def rr(owner: bytes, rdtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rdtype, 1, ttl, len(rdata)) + rdata


def raw_reply(query: bytes, answer: list[bytes], authority: list[bytes] = (), additional: int = 0) -> bytes:  # type: ignore[assignment]
    counts = struct.pack("!HHHHH", 0x8180, 1, len(answer), len(authority), additional)
    return query[:2] + counts + query[12:] + b"".join(answer) + b"".join(authority)


Send = Callable[[str, bytes, Any], None]


@contextmanager
def datagram_server(handle: Callable[[bytes, Any, Send], None]) -> Iterator[Endpoint]:
    """A UDP server on 127.0.0.1 that calls `handle(query, client, send)` for each datagram it receives;
    `send(sender, data, to)` sends from its own socket (`"self"`) or from a stranger's (`"stranger"`, another port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def send(sender: str, data: bytes, to: Any) -> None:
        (sock if sender == "self" else stranger).sendto(data, to)

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                query, client = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            handle(query, client, send)

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()
        stranger.close()


@contextmanager
def responder(reply: Callable[[bytes], list[tuple[str, bytes]]]) -> Iterator[Endpoint]:
    """A UDP server on 127.0.0.1 that answers each query with `reply(query)`: datagrams sent from its own socket
    (`"self"`) or from a stranger's (`"stranger"`, another port)."""

    def handle(query: bytes, client: Any, send: Send) -> None:
        for sender, data in reply(query):
            send(sender, data, client)

    with datagram_server(handle) as server:
        yield server


PL = "contoso.privatelink.openai.azure.com"


def private_answer(query: bytes) -> bytes:
    """CNAME to the privatelink name, then its A record, both owners compressed."""
    pl_offset = len(query) + 12  # the CNAME's rdata starts right after its fixed fields
    answer = [rr(b"\xc0\x0c", CNAME, 900, name_wire(PL)), rr(struct.pack("!H", 0xC000 | pl_offset), A, 10, b"\n\0\0\5")]
    return raw_reply(query, answer)


def dnspython_reply(query: bytes, **changes: Any) -> bytes:
    message = dns.message.from_wire(query)
    response = dns.message.make_response(message)
    response.answer.append(dns.rrset.from_text(HOST + ".", 60, "IN", "A", "10.0.0.5"))
    for key, value in changes.items():
        setattr(response, key, value)
    return response.to_wire()


def forward_pointer(query: bytes) -> bytes:
    """The first record's owner points at the second record's owner, later in the message (dnspython: BadPointer)."""
    later = len(query) + 16  # header and question, then the first record: 2-byte pointer, 10 fixed bytes, 4 of rdata
    answer = [rr(struct.pack("!H", 0xC000 | later), A, 60, b"\n\0\0\5"), rr(name_wire(HOST), A, 60, b"\n\0\0\6")]
    return raw_reply(query, answer)


def test_compressed_chain_decodes_as_dnspython_decodes_it(spy: Spy) -> None:
    with responder(lambda q: [("self", private_answer(q))]) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert (fast.outcome, fast.chain, fast.addresses, fast.ttl) == ("answer", (HOST, PL), ("10.0.0.5",), 10)
    assert spy.decoded >= 2


def test_duplicate_records_and_upper_case_owners_make_one_rrset_with_the_smallest_ttl(spy: Spy) -> None:
    def reply(q: bytes) -> list[tuple[str, bytes]]:
        answer = [
            rr(b"\xc0\x0c", A, 300, b"\n\0\0\5"),
            rr(name_wire(HOST.upper()), A, 60, b"\n\0\0\5"),
            rr(b"\xc0\x0c", A, 100, b"\n\0\0\6"),
        ]
        return [("self", raw_reply(q, answer))]

    with responder(reply) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert (fast.addresses, fast.ttl) == (("10.0.0.5", "10.0.0.6"), 60)
    assert spy.decoded >= 1


def test_a_reply_from_another_port_is_ignored_and_the_servers_reply_is_used(spy: Spy) -> None:
    bogus = lambda q: raw_reply(q, [rr(b"\xc0\x0c", A, 60, b"\1\2\3\4")])  # noqa: E731
    with responder(lambda q: [("stranger", bogus(q)), ("self", private_answer(q))]) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert fast.addresses == ("10.0.0.5",)


@pytest.mark.parametrize(
    ("case", "reply"),
    [
        ("mismatched id", lambda q: bytes([q[0] ^ 0xFF]) + private_answer(q)[1:]),
        ("another question", lambda q: dnspython_reply(dns.message.make_query("other.example", "A").to_wire())),
        ("trailing bytes", lambda q: private_answer(q) + b"\0"),
        ("forward pointer", forward_pointer),
        ("label type 0x40", lambda q: raw_reply(q, [rr(b"\x40", A, 60, b"\n\0\0\5")])),
        ("short A record", lambda q: raw_reply(q, [rr(b"\xc0\x0c", A, 60, b"\n\0\0")])),
        ("cut in the middle", lambda q: private_answer(q)[:-3]),
    ],
)
def test_malformed_or_foreign_replies_are_errors_exactly_as_before(spy: Spy, case: str, reply: Any) -> None:
    with responder(lambda q: [("self", reply(q))]) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow, case
    assert fast.outcome == "error" and fast.error, case
    assert spy.decoded == 0, case


@pytest.mark.parametrize(
    ("case", "reply"),
    [
        ("EDNS in the reply", lambda q: dnspython_reply(q, use_edns=0) if False else _with_edns(q)),
        (
            "two CNAMEs for one owner",
            lambda q: raw_reply(
                q, [rr(b"\xc0\x0c", CNAME, 60, name_wire("a.example")), rr(b"\xc0\x0c", CNAME, 60, name_wire(HOST))]
            ),
        ),
        ("an MX record", lambda q: raw_reply(q, [rr(b"\xc0\x0c", 15, 60, b"\0\x0a" + name_wire("mx.example"))])),
        ("an escaped label", lambda q: raw_reply(q, [rr(b"\xc0\x0c", CNAME, 60, name_wire("we ird.example"))])),
    ],
)
def test_replies_outside_the_plain_shapes_go_to_dnspython(spy: Spy, case: str, reply: Any) -> None:
    with responder(lambda q: [("self", reply(q))]) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow, case
    assert spy.decoded == 0, case


def _with_edns(query: bytes) -> bytes:
    message = dns.message.from_wire(query)
    response = dns.message.make_response(message)
    response.use_edns(0, payload=1232)
    response.answer.append(dns.rrset.from_text(HOST + ".", 60, "IN", "A", "10.0.0.5"))
    return response.to_wire()


def test_encode_query_is_what_dnspython_would_send_apart_from_the_id() -> None:
    for rdtype in (A, AAAA):
        wire = dnswire.encode_query(HOST, rdtype)
        assert wire is not None
        expected = dns.message.make_query(HOST, rdtype)
        expected.id = struct.unpack("!H", wire[:2])[0]
        assert wire == expected.to_wire()
    assert dnswire.encode_query("we ird.example", A) is None
    assert dnswire.encode_query("a" * 64 + ".example", A) is None


def test_ids_are_random() -> None:
    ids = {dnswire.encode_query(HOST, A)[:2] for _ in range(50)}  # type: ignore[index]
    assert len(ids) > 40


def test_datagrams_from_a_stranger_do_not_answer_nor_extend_the_timeout() -> None:
    # Strangers keep answering, one datagram each 20 ms, until the query has returned (500 at most): had each one
    # restarted the wait, the query would have returned only once they stopped.
    returned = threading.Event()
    sent: list[int] = []

    def flood(query: bytes, client: Any, send: Send) -> None:
        while not returned.is_set() and len(sent) < 500:
            send("stranger", private_answer(query), client)
            sent.append(1)
            returned.wait(0.02)

    with datagram_server(flood) as server:
        answer = asyncio.run(dnsquery.query(server, HOST, 0.3))
        returned.set()
    assert answer.outcome == "timeout" and answer.addresses == ()
    assert 0 < len(sent) < 500, "the query returned only once the strangers had stopped"


def test_a_shared_answer_handed_out_cannot_be_changed() -> None:
    from aoai_diag.context import Settings
    from aoai_diag.net.dns_cache import query_many_cached
    from aoai_diag.runner import new_context

    ctx = new_context(Settings(timeout=1.0, env={}))
    with responder(lambda q: [("self", private_answer(q))]) as server:

        def ask() -> DnsAnswer:
            return asyncio.run(query_many_cached(ctx, [(server, HOST)], 1.0))[(server, HOST)]

        # Every target of the run gets the one answer kept: no reader can change it for the next.
        first = ask()
        with pytest.raises(dataclasses.FrozenInstanceError):
            first.addresses = ("192.0.2.1",)  # type: ignore[misc]
        with pytest.raises(TypeError):
            first.address_classes["192.0.2.1"] = "public"  # type: ignore[index]
        second = ask()
        third = ask()
    assert second.addresses == third.addresses == ("10.0.0.5",)
    assert third.address_classes == {"10.0.0.5": "private"}
    assert third.chain == (HOST, PL)


def test_a_late_copy_of_the_a_reply_is_not_taken_for_the_aaaa_reply() -> None:
    # query asks AAAA on the socket that asked A; a server that sends its A reply twice must not have the second
    # copy read as the AAAA answer.
    def reply(q: bytes) -> list[tuple[str, bytes]]:
        if struct.unpack("!H", q[-4:-2])[0] == AAAA:
            time.sleep(0.05)  # the copy of the A reply is already waiting on the socket
            return [("self", raw_reply(q, [rr(b"\xc0\x0c", AAAA, 60, b"\xfd" + b"\0" * 14 + b"\5")]))]
        return [("self", private_answer(q))] * 2

    with responder(reply) as server:
        many = asyncio.run(dnsquery.query_many([(server, HOST)], 1.0))[(server, HOST)]
    assert (many.outcome, many.addresses, many.addresses6) == ("answer", ("10.0.0.5",), ("fd00::5",))


def test_query_many_agrees_with_query_on_a_mix_of_servers() -> None:
    # Several servers and names in one call: every (server, name) gets what query() alone gets, including a
    # truncated reply (retried over TCP in a thread) and a silent server (a timeout within the call's timeout).
    names = [HOST, "contoso.cognitiveservices.azure.com", "missing.openai.azure.com"]
    config = {
        "views": {
            "ok": json.loads((FIXTURES / "dns" / "private_3d.json").read_text()),
            "tc": {"records": {HOST: {"a": ["10.1.2.3"], "action": "truncate"}}},
            "silent": {"default": "silent"},
        }
    }
    with serve(config, "ok", "tc", "silent") as (_, servers):
        pairs = [(s, n) for s in servers for n in names]
        many = asyncio.run(dnsquery.query_many(pairs, 0.5))
        alone = {pair: asyncio.run(dnsquery.query(pair[0], pair[1], 0.5)) for pair in pairs if pair[0] != servers[2]}
    for pair, answer in alone.items():
        assert comparable(many[pair]) == comparable(answer), pair
    assert many[(servers[1], HOST)].tcp_retry == "ok" and many[(servers[1], HOST)].addresses == ("10.1.2.3",)
    assert [many[(servers[2], n)].outcome for n in names] == ["timeout"] * 3


def test_query_many_has_every_question_in_flight_at_once() -> None:
    # A server that answers the A questions only once it holds all of them: asked one after another, the first
    # would time out before the second was sent. (bench/bounds.py times a silent server's questions.)
    names = [HOST, "contoso.cognitiveservices.azure.com", "contoso.services.ai.azure.com"]
    held: dict[str, tuple[bytes, Any]] = {}

    def gather(query: bytes, client: Any, send: Send) -> None:
        if struct.unpack("!H", query[-4:-2])[0] != A:
            send("self", raw_reply(query, []), client)  # AAAA: no such record
            return
        held[dnswire._name(query, 12)[0]] = (query, client)
        if len(held) == len(names):
            for q, peer in held.values():
                send("self", raw_reply(q, [rr(b"\xc0\x0c", A, 60, b"\n\0\0\5")]), peer)

    with datagram_server(gather) as server:
        many = asyncio.run(dnsquery.query_many([(server, n) for n in names], 2.0))
    assert sorted(held) == sorted(names)
    assert [many[(server, n)].addresses for n in names] == [("10.0.0.5",)] * len(names)


def test_running_out_of_descriptors_is_evidence_for_the_questions_left_not_a_crash() -> None:
    # A large fleet can exhaust the open-file limit: the questions that get a socket are asked, the others are
    # errors naming the cause, and query_many still returns an answer for every pair.
    resource = pytest.importorskip("resource")
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    names = [f"acct{i}.openai.azure.com" for i in range(6)]

    async def ask(server: Endpoint) -> dict[tuple[Endpoint, str], Any]:
        # Inside the loop (which holds descriptors of its own): no new descriptor above the highest one open, the
        # free numbers below it filled, then one freed.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        fillers: list[int] = []
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1, hard))
        try:
            while True:
                try:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
                except OSError:
                    break
            os.close(fillers.pop())
            return await dnsquery.query_many([(server, n) for n in names], 1.0)
        finally:
            for fd in fillers:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    with responder(lambda q: [("self", private_answer(q))]) as server:
        found = asyncio.run(ask(server))
    outcomes = [found[(server, n)].outcome for n in names]
    assert outcomes == ["answer"] + ["error"] * 5, outcomes  # the first question got the free descriptor
    failed = [found[(server, n)].error for n in names[1:]]
    assert all("Too many open files" in (e or "") for e in failed), failed


def test_a_question_echoed_in_other_case_is_still_ours(spy: Spy) -> None:
    # Resolvers using 0x20 case randomization may echo the question in another case: not byte for byte ours,
    # so the fast path decodes and compares the name, as dnspython does (case-insensitively).
    def reply(q: bytes) -> list[tuple[str, bytes]]:
        upper = q[:12] + q[12:-4].upper() + q[-4:]
        return [("self", q[:2] + private_answer(upper)[2:])]

    with responder(reply) as server:
        fast, slow = both_ways(spy, server)
    assert fast == slow
    assert fast.addresses == ("10.0.0.5",)
    assert spy.decoded >= 1


def _chain_reply(query: bytes) -> bytes:
    """A compressed reply as resolvers give it: a CNAME chain of the Azure shape, the A record, an SOA."""
    message = dns.message.from_wire(query)
    response = dns.message.make_response(message)
    hops = [HOST, PL, "contoso.privatelink.openai.azure.com.trafficmanager.example", "edge.example"]
    for owner, target in itertools.pairwise(hops):
        response.answer.append(dns.rrset.from_text(owner + ".", 60, "IN", "CNAME", target + "."))
    response.answer.append(dns.rrset.from_text(hops[-1] + ".", 10, "IN", "A", "10.0.0.5"))
    return response.to_wire()


def mutated_replies(
    seed: int, replies: int, each: int, changes: tuple[int, ...], value: Callable[[random.Random, int], int]
) -> Iterator[tuple[bytes, bytes]]:
    """(query, reply) pairs, deterministically: compressed replies of the Azure shape with a few bytes changed."""
    rng = random.Random(seed)
    for _ in range(replies):
        query = dnswire.encode_query(HOST, A)
        assert query is not None
        reply = _chain_reply(query)
        for _ in range(each):
            mutated = bytearray(reply)
            for _ in range(rng.choice(changes)):
                at = rng.randrange(12, len(mutated))
                mutated[at] = value(rng, mutated[at])
            yield query, bytes(mutated)


def test_the_fast_decoder_never_accepts_what_dnspython_reads_otherwise() -> None:
    # Mutations of compressed replies (pointers, lengths, counts): whenever the fast path decodes a reply,
    # dnspython accepts the same bytes and reads the same rcode, chain, addresses and TTL.
    decoded = refused = 0
    for query, wire in mutated_replies(
        20261127,
        40,
        60,
        (1, 1, 2, 3),
        lambda rng, old: rng.choice((0, 0xC0, 0xC0 | rng.randrange(4), rng.randrange(256), old ^ 1)),
    ):
        fast = dnswire.parse(wire, query)
        if fast is None:
            refused += 1
            continue
        decoded += 1
        assert decoded_by_dnspython(wire, query) == decoded_fast(fast, query), wire.hex()
    assert decoded > 100 and refused > 100  # both sides of the decoder were exercised


def test_names_read_from_the_memo_are_the_names_read_afresh() -> None:
    # The per-message memo may only shortcut a name that a fresh read decodes identically (or rejects likewise):
    # every offset of mutated replies is read both ways, the memo filling up as it does in a parse.

    def read(wire: bytes, at: int, memo: dict[int, Any] | None) -> tuple[str, int] | str:
        try:
            return dnswire._name(wire, at, memo)
        except (dnswire._Bad, IndexError):
            return "rejected"

    compared = 0
    for _, wire in mutated_replies(
        7, 30, 20, (0, 1, 2), lambda rng, _: rng.choice((0xC0 | rng.randrange(2), rng.randrange(64)))
    ):
        memo: dict[int, Any] = {}
        for at in (*range(12, len(wire)), *range(len(wire) - 1, 11, -1)):
            assert read(wire, at, memo) == read(wire, at, None), (wire.hex(), at)
            compared += 1
    assert compared > 50_000
