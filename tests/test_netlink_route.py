"""The in-process rtnetlink route lookup answers exactly as `ip -j route get` does, and hands `ip` what it cannot.

Only routes toward loopback and toward addresses inside a namespace this test creates are looked up; a route
lookup asks the kernel and sends no packet.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from typing import Any

import pytest

from aoai_diag.osnet import linux, netlink_route, routes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rtnetlink is Linux only")

LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1"]


def by_ip(addresses: list[str]) -> dict[str, dict[str, Any]]:
    return {a: linux.read_route(a, 2.0) for a in addresses}


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 to compare with")
def test_loopback_answers_match_ip_route_get() -> None:
    found = netlink_route.read_routes(LOOPBACK, 2.0)
    assert found is not None
    assert found == by_ip(LOOPBACK)
    assert found["127.8.9.10"] == {
        "interface": "lo",
        "next_hop": None,
        "prefix": None,
        "source": "127.0.0.1",
        "local": True,
        "error": None,
    }


def _error_reply(seq: int, code: int) -> bytes:
    payload = struct.pack("=i", -code) + b"\0" * 16
    return struct.pack("=IHHII", 16 + len(payload), netlink_route.NLMSG_ERROR, 0, seq, 0) + payload


def test_unreachable_is_no_route_and_other_errors_go_to_ip() -> None:
    assert netlink_route.parse_reply(_error_reply(7, errno.ENETUNREACH), 7) == {
        "error": "network unreachable",
        "no_route": True,
    }
    # "No route to host" (an unreachable route) is rendered by `ip`, whose wording the evidence keeps.
    assert netlink_route.parse_reply(_error_reply(7, errno.EHOSTUNREACH), 7) is None
    assert netlink_route.parse_reply(_error_reply(8, errno.ENETUNREACH), 7) is None  # another request's answer
    assert netlink_route.parse_reply(b"\x01\x02", 7) is None
    # A scoped address would lose its scope in the request: nothing is asked, `ip` decides.
    assert netlink_route.read_routes(["fe80::1%lo"], 1.0) == {"fe80::1%lo": None}


def _attr(kind: int, data: bytes) -> bytes:
    header = struct.pack("=HH", 4 + len(data), kind)
    return header + data + b"\0" * ((-len(data)) % 4)


def test_a_route_through_a_gateway_is_read_from_the_kernel_reply() -> None:
    # The reply the kernel gives for a destination behind a gateway (what `ip route get` prints as `via`); built by
    # hand because the kernel refuses a gateway on `lo`, the only interface the suite's namespaces have.
    seq = 7
    rtmsg = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, 254, 0, 0, 1, 0)  # unicast
    attrs = (
        _attr(netlink_route.RTA_DST, socket.inet_aton("10.98.1.1"))
        + _attr(netlink_route.RTA_OIF, struct.pack("=i", socket.if_nametoindex("lo")))
        + _attr(netlink_route.RTA_GATEWAY, socket.inet_aton("10.99.0.1"))
        + _attr(netlink_route.RTA_PREFSRC, socket.inet_aton("10.99.0.2"))
    )
    body = rtmsg + attrs
    reply = struct.pack("=IHHII", 16 + len(body), netlink_route.RTM_NEWROUTE, 0, seq, 0) + body
    assert netlink_route.parse_reply(reply, seq) == {
        "interface": "lo",
        "next_hop": "10.99.0.1",
        "prefix": None,
        "source": "10.99.0.2",
        "local": False,
        "error": None,
    }
    assert netlink_route.parse_reply(reply, seq + 1) is None  # another request's answer is not this one's
    via = rtmsg + _attr(netlink_route.RTA_VIA, b"\x0a\x00" + socket.inet_pton(socket.AF_INET6, "fe80::1"))
    other = struct.pack("=IHHII", 16 + len(via), netlink_route.RTM_NEWROUTE, 0, seq, 0) + via
    assert netlink_route.parse_reply(other, seq) is None  # a gateway of the other family: `ip` decides


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 to compare with")
def test_one_socket_serves_every_lookup_and_a_broken_one_is_replaced() -> None:
    first = netlink_route.read_routes(["127.0.0.1"], 2.0)
    sock = netlink_route._sock
    assert sock is not None
    assert netlink_route.read_routes(["127.8.9.10", "::1"], 2.0) == {a: by_ip([a])[a] for a in ("127.8.9.10", "::1")}
    assert netlink_route._sock is sock  # kept between lookups
    sock.close()  # broken under it: the lookup fails over to `ip` (None), and the next one opens a new socket
    assert netlink_route.read_routes(["127.0.0.1"], 2.0) == {"127.0.0.1": None}
    assert netlink_route._sock is None
    assert netlink_route.read_routes(["127.0.0.1"], 2.0) == first
    assert netlink_route._sock is not None and netlink_route._sock is not sock


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 to compare with")
def test_a_reply_left_over_from_an_earlier_request_is_skipped() -> None:
    netlink_route.read_routes(["127.0.0.1"], 2.0)
    sock = netlink_route._sock
    assert sock is not None
    sock.sendto(netlink_route._request("127.8.9.10", 1), (0, 0))  # its reply is never read by its asker
    assert netlink_route.read_routes(["::1"], 2.0) == by_ip(["::1"])


def test_reader_falls_back_to_ip_for_what_netlink_left(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def read_route(address: str, timeout: float) -> dict[str, Any]:
        asked.append(address)
        return {"error": "from ip"}

    monkeypatch.setattr(linux, "read_route", read_route)
    real = netlink_route.read_routes
    monkeypatch.setattr(netlink_route, "read_routes", lambda a, t: {**real(a, t), "127.0.0.2": None})
    found = asyncio.run(routes.read_routes("linux", ["127.0.0.1", "127.0.0.2"], 2.0))
    assert asked == ["127.0.0.2"] and found["127.0.0.2"] == {"error": "from ip"}
    assert found["127.0.0.1"]["interface"] == "lo"
    monkeypatch.setattr(netlink_route, "read_routes", lambda a, t: None)  # no rtnetlink at all
    assert asyncio.run(routes.read_routes("linux", ["127.0.0.1"], 2.0)) == {"127.0.0.1": {"error": "from ip"}}


_COMPARE = """
import json, sys
from aoai_diag.osnet import linux, netlink_route, routes
import asyncio
addresses = sys.argv[1:]
print(json.dumps({
    "netlink": netlink_route.read_routes(addresses, 2.0),
    "ip": {a: linux.read_route(a, 2.0) for a in addresses},
    "reader": asyncio.run(routes.read_routes("linux", addresses, 2.0)),
}))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="a namespace needs root")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_namespace_routes_match_ip_route_get() -> None:
    name = f"aoaint-{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"ip netns add failed: {exc.stderr.decode().strip()}")
    try:
        # Only the loopback interface, as every namespace of the suite: routes on `lo` (on-link, local, unreachable);
        # the kernel refuses a gateway on `lo`, so a gateway reply is covered by the hand-built reply above.
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", "10.99.0.2/32", "dev", "lo")
        _ip("-n", name, "-6", "addr", "add", "fd00:99::2/128", "dev", "lo", "nodad")
        _ip("-n", name, "route", "add", "10.99.0.0/24", "dev", "lo", "src", "10.99.0.2")
        _ip("-n", name, "-6", "route", "add", "fd00:98::/32", "dev", "lo")
        _ip("-n", name, "route", "add", "unreachable", "10.97.0.0/16")
        addresses = ["10.99.0.7", "10.99.0.2", "10.97.0.1", "10.1.1.1", "fd00:98::5", "fd00:99::2"]
        proc = subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, "-c", _COMPARE, *addresses],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    result = json.loads(proc.stdout)
    netlink, ip, reader = result["netlink"], result["ip"], result["reader"]
    assert netlink["10.99.0.7"]["interface"] == "lo" and netlink["10.99.0.7"]["source"] == "10.99.0.2"
    assert netlink["fd00:98::5"]["interface"] == "lo" and netlink["fd00:99::2"]["local"] is True
    assert netlink["10.99.0.2"]["local"] is True
    assert netlink["10.1.1.1"] == {"error": "network unreachable", "no_route": True}
    assert netlink["10.97.0.1"] is None  # an "unreachable" route: `ip` answers it
    assert {a: r for a, r in netlink.items() if r is not None} == {a: ip[a] for a in addresses if netlink[a]}
    assert reader == ip
