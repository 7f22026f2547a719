"""The few DNS messages a diagnosis exchanges, encoded and decoded without building dnspython objects.

A fleet run asks thousands of questions; dnspython's message objects (names, rdatasets, enums) cost about 0.5 ms
of CPU per exchange, most of the tool's time per target. The questions are always the same shape (one name, A or
AAAA, class IN, recursion desired, no EDNS), and the answers a resolver gives them hold CNAME, A and AAAA records
and an SOA. `parse` decodes exactly those; anything else (another record type or class, EDNS, escapes in a
name, a malformed message) returns None and the caller hands the bytes to dnspython, whose verdict is the
reference: the fast path only ever agrees with it (tests/test_dnswire.py compares both on every reply shape).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
from dataclasses import dataclass, field

import dns.ipv6

A, CNAME, SOA, AAAA = 1, 5, 6, 28
_IN = 1
_QR, _TC, _RD = 0x8000, 0x0200, 0x0100
_RCODES_WITHOUT_QUESTION = (1, 2, 4, 5)  # FORMERR, SERVFAIL, NOTIMP, REFUSED may omit the question
_NAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
_NAME_BYTES = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_RR = struct.Struct("!HHIH")


_ids: list[int] = []
_ids_lock = threading.Lock()


def random_id() -> int:
    """A query id from the OS's random source, read 256 ids at a time (one system call each would hand the
    interpreter lock over once more per question in a fleet)."""
    with _ids_lock:
        if not _ids:
            _ids.extend(struct.unpack("!256H", os.urandom(512)))
        return _ids.pop()


def encode_query(name: str, rdtype: int) -> bytes | None:
    """A query for `name` (lower case, no final dot) with a fresh random id; None when the name needs escaping."""
    if len(name) > 253 or not _NAME.fullmatch(name):
        return None
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    header = struct.pack("!HHHHHH", random_id(), _RD, 1, 0, 0, 0)
    return header + qname + struct.pack("!HH", rdtype, _IN)


@dataclass
class Reply:
    """What `query()` reads from a reply: rcode, TC, and the answer and authority records it understands."""

    rcode: int
    truncated: bool
    answer: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    """(owner, type) -> CNAME targets or addresses, in wire order, duplicates removed (as in an RRset)."""
    ttl: dict[tuple[str, int], int] = field(default_factory=dict)
    """(owner, type) -> the smallest TTL of the records (as in an RRset)."""
    soa_mname: str | None = None
    """The first SOA of the authority section."""


class _Bad(Exception):
    """Not a reply the fast path decodes: dnspython decides."""


def _name(wire: bytes, at: int, memo: dict[int, tuple[tuple[bytes, ...], int]] | None = None) -> tuple[str, int]:
    """The name at `at` (following compression pointers) in lower case, and the offset after it.

    dnspython's rules: a pointer points before the start of the segment holding it, and a segment it jumps to
    does not run into that segment; labels are at most 63 bytes, names at most 255. Labels are plain host-name
    characters here (checked once for the whole name).

    `memo` (one per message) keeps what each segment decoded to: a CNAME chain points back at names already read,
    and each hop would otherwise walk its whole suffix again. A segment's labels are reused only where it would
    have been read within the same limit (every byte of it before the segment pointing at it).
    """
    if memo is None:
        memo = {}
    labels: list[bytes] = []
    segments: list[tuple[int, int, int]] = []  # (start, index of its first label, offset after it)
    start, limit, first_end = at, len(wire), -1
    while True:
        hit = memo.get(start)
        if hit is not None and hit[1] <= limit:
            labels.extend(hit[0])
            if first_end < 0:
                first_end = hit[1]
            break
        pos, first_label = start, len(labels)
        pointer = -1
        while True:
            if pos >= limit:
                raise _Bad
            length = wire[pos]
            if length >= 0xC0:
                if pos + 1 >= limit:
                    raise _Bad
                pointer = ((length & 0x3F) << 8) | wire[pos + 1]
                pos += 2
                break
            if length >= 0x40:
                raise _Bad
            pos += 1
            if length == 0:
                break
            if pos + length > limit:
                raise _Bad
            labels.append(wire[pos : pos + length])
            pos += length
        segments.append((start, first_label, pos))
        if first_end < 0:
            first_end = pos
        if pointer < 0:
            break
        if pointer >= start:
            raise _Bad
        start, limit = pointer, start
    text = b".".join(labels)
    if len(text) > 253 or (labels and not _NAME_BYTES.fullmatch(text)):
        raise _Bad  # 253 characters = 255 bytes on the wire; anything else needs dnspython's escaping
    for seg_start, first_label, seg_end in segments:
        memo[seg_start] = (tuple(labels[first_label:]), seg_end)
    return text.decode().lower(), first_end


def parse(wire: bytes, query: bytes) -> Reply | None:
    """`wire` decoded, if it is a plain reply to `query` (from `encode_query`); None means: ask dnspython."""
    try:
        return _parse(wire, query)
    except (_Bad, IndexError, struct.error):
        return None


def _parse(wire: bytes, query: bytes) -> Reply:
    if len(wire) < 12:
        raise _Bad
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", wire)
    if flags & _TC or ar or qid != struct.unpack_from("!H", query)[0] or not flags & _QR:
        raise _Bad  # truncation, EDNS and other ids are left to dnspython (it raises or retries as before)
    if (flags >> 11) & 0xF or qd > 1:
        raise _Bad
    rcode = flags & 0xF
    at = 12
    memo: dict[int, tuple[tuple[bytes, ...], int]] = {}
    if qd == 1 and wire.startswith(query[12:], 12):
        at += len(query) - 12  # our question, byte for byte (the usual echo): nothing to decode
    elif qd == 1:
        qname, at = _name(wire, at, memo)
        if wire[at : at + 4] != query[-4:] or qname != _name(query, 12)[0]:
            raise _Bad  # another question: dnspython raises BadResponse
        at += 4
    elif rcode not in _RCODES_WITHOUT_QUESTION:
        raise _Bad
    reply = Reply(rcode=rcode, truncated=False)
    for section, count in ((0, an), (1, ns)):
        for _ in range(count):
            owner, at = _name(wire, at, memo)
            rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, at)
            at += _RR.size
            end = at + rdlen
            if rdclass != _IN or end > len(wire) or ttl > 0x7FFFFFFF:
                raise _Bad
            if section == 0 and rdtype == A and rdlen == 4:
                value = socket.inet_ntoa(wire[at:end])
            elif section == 0 and rdtype == AAAA and rdlen == 16:
                value = dns.ipv6.inet_ntoa(wire[at:end])
            elif section == 0 and rdtype == CNAME:
                value, after = _name(wire, at, memo)
                if after != end:
                    raise _Bad
            elif section == 1 and rdtype == SOA:
                mname, after = _name(wire, at, memo)
                _, after = _name(wire, after, memo)
                if after + 20 != end:
                    raise _Bad
                if reply.soa_mname is not None:
                    raise _Bad  # two SOAs: which one dnspython shows depends on their owners; let it decide
                reply.soa_mname = mname
                at = end
                continue
            else:
                raise _Bad
            key = (owner, rdtype)
            values = reply.answer.setdefault(key, [])
            if rdtype == CNAME and values:
                raise _Bad  # a second CNAME for one owner: dnspython keeps only the last; let it decide
            if value not in values:
                values.append(value)
            reply.ttl[key] = min(ttl, reply.ttl.get(key, ttl))
            at = end
    if at != len(wire):
        raise _Bad  # trailing bytes: dnspython raises TrailingJunk
    return reply


def follow(reply: Reply, qname: str, rdtype: int, max_chain: int) -> tuple[list[str], list[str], int | None]:
    """The CNAME chain from `qname` and the final addresses and TTL: `dnsquery.follow_chain` on a `Reply`."""
    chain = [qname]
    current = qname
    for _ in range(max_chain):
        targets = reply.answer.get((current, CNAME))
        if not targets:
            break
        current = targets[0]
        if current in chain:
            chain.append(current)
            return chain, [], None
        chain.append(current)
    final = reply.answer.get((current, rdtype))
    if not final:
        return chain, [], None
    return chain, list(final), reply.ttl[(current, rdtype)]
