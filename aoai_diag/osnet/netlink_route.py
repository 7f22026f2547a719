"""Linux route lookup in-process: one rtnetlink RTM_GETROUTE request, the question `ip route get` asks the kernel.

Starting `ip -j route get` costs several milliseconds of CPU per address (fork, exec, pipes); in a fleet of targets
that was a large share of the run. The request goes to the kernel over an AF_NETLINK socket and sends nothing on the
network (rtnetlink(7)). The answer is given in the fields parse_ip_route_get reads from `ip -j route get`; any answer
this reader does not render exactly as `ip` would (an error other than "network unreachable", a gateway of another
family, a malformed message) returns None, and the caller asks `ip` instead.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import socket
import struct
import threading
from typing import Any

NETLINK_ROUTE = 0
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
RTN_LOCAL = 2
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PREFSRC = 7
RTA_VIA = 18

_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


def _align(length: int) -> int:
    return (length + 3) & ~3


def _request(address: str, seq: int) -> bytes:
    if "%" in address:
        raise ValueError("a scoped address: `ip` decides")  # the packed address would drop the scope
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    packed = ip.packed
    attr = _RTATTR.pack(_RTATTR.size + len(packed), RTA_DST) + packed
    body = _RTMSG.pack(family, len(packed) * 8, 0, 0, 0, 0, 0, 0, 0) + attr
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETROUTE, NLM_F_REQUEST, seq, 0) + body


def parse_reply(data: bytes, seq: int) -> dict[str, Any] | None:
    """The kernel's answer as parse_ip_route_get would give it; None when `ip` should be asked instead."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, reply_seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            return None
        payload = data[offset + _NLMSGHDR.size : offset + length]
        offset += _align(length)
        if reply_seq != seq:
            continue
        if kind == NLMSG_ERROR:
            code = -struct.unpack_from("=i", payload)[0] if len(payload) >= 4 else 0
            # `ip` prints "RTNETLINK answers: Network is unreachable": the kernel has no route at all.
            return {"error": "network unreachable", "no_route": True} if code == errno.ENETUNREACH else None
        if kind == RTM_NEWROUTE and len(payload) >= _RTMSG.size:
            return _route(payload)
    return None


def _route(payload: bytes) -> dict[str, Any] | None:
    family, *_rest, rtm_type, _flags = _RTMSG.unpack_from(payload)
    attrs: dict[int, bytes] = {}
    offset = _RTMSG.size
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            return None
        attrs.setdefault(kind, payload[offset + _RTATTR.size : offset + length])
        offset += _align(length)
    if RTA_VIA in attrs:
        return None  # a gateway of the other family: `ip` shows it as "via", not "gateway"
    interface = None
    if RTA_OIF in attrs:
        try:
            interface = socket.if_indextoname(struct.unpack("=i", attrs[RTA_OIF][:4])[0])
        except OSError:
            return None
    return {
        "interface": interface,
        "next_hop": _address(family, attrs.get(RTA_GATEWAY)),
        "prefix": None,  # like `ip route get`: the result, not the table entry that matched
        "source": _address(family, attrs.get(RTA_PREFSRC)),
        "local": rtm_type == RTN_LOCAL,
        "error": None,
    }


def _address(family: int, raw: bytes | None) -> str | None:
    if not raw:
        return None
    return socket.inet_ntop(family, raw)


# One socket for the process, kept between lookups (behind a lock): opening, binding and closing one per target
# were four more system calls per target of a fleet, each handing the interpreter lock over.
_lock = threading.Lock()
_sock: socket.socket | None = None
_seq = itertools.count(os.getpid() & 0xFFFF)


def read_routes(addresses: list[str], timeout: float) -> dict[str, dict[str, Any] | None] | None:
    """{address: route, or None where `ip` must answer}; None when rtnetlink itself is not available."""
    global _sock
    found: dict[str, dict[str, Any] | None] = {}
    with _lock:
        for address in addresses:
            if _sock is None:
                _sock = _open()
                if _sock is None:
                    return None
            seq = next(_seq) & 0xFFFFFFFF
            try:
                request = _request(address, seq)
            except ValueError:
                found[address] = None
                continue
            try:
                if _sock.gettimeout() != timeout:
                    _sock.settimeout(timeout)
                _sock.sendto(request, (0, 0))
                found[address] = parse_reply(_reply(_sock, seq), seq)
            except (OSError, ValueError, struct.error):
                found[address] = None
                _sock.close()  # a reply may still be on its way: the next lookup gets a fresh socket
                _sock = None
    return found


def _open() -> socket.socket | None:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    except (OSError, AttributeError):
        return None
    try:
        sock.bind((0, 0))
    except OSError:
        sock.close()
        return None
    return sock


def _reply(sock: socket.socket, seq: int) -> bytes:
    """The next message answering `seq` (one left over from an earlier request is skipped)."""
    while True:
        data = sock.recv(65536)
        if len(data) < _NLMSGHDR.size or _NLMSGHDR.unpack_from(data)[3] == seq:
            return data
