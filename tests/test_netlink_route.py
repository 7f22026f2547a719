"""The in-process rtnetlink route lookup answers exactly as `ip -j route get` does, and hands `ip` what it cannot.

Only routes toward loopback and toward addresses inside a namespace this test creates are looked up; a route
lookup asks the kernel and sends no packet.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
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


def test_reader_falls_back_to_ip_for_what_netlink_left(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def read_route(address: str, timeout: float) -> dict[str, Any]:
        asked.append(address)
        return {"error": "from ip"}

    monkeypatch.setattr(linux, "read_route", read_route)
    real = netlink_route.read_routes
    monkeypatch.setattr(netlink_route, "read_routes", lambda a, t: {**real(a, t), "127.0.0.2": None})
    found = routes.read_routes("linux", ["127.0.0.1", "127.0.0.2"], 2.0)
    assert asked == ["127.0.0.2"] and found["127.0.0.2"] == {"error": "from ip"}
    assert found["127.0.0.1"]["interface"] == "lo"
    monkeypatch.setattr(netlink_route, "read_routes", lambda a, t: None)  # no rtnetlink at all
    assert routes.read_routes("linux", ["127.0.0.1"], 2.0) == {"127.0.0.1": {"error": "from ip"}}


_COMPARE = """
import json, sys
from aoai_diag.osnet import linux, netlink_route, routes
addresses = sys.argv[1:]
print(json.dumps({
    "netlink": netlink_route.read_routes(addresses, 2.0),
    "ip": {a: linux.read_route(a, 2.0) for a in addresses},
    "reader": routes.read_routes("linux", addresses, 2.0),
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
        # A veth pair whose both ends stay inside the namespace: nothing reaches the host's network.
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        _ip("-n", name, "addr", "add", "10.99.0.2/24", "dev", "v0")
        _ip("-n", name, "-6", "addr", "add", "fd00:99::2/64", "dev", "v0", "nodad")
        _ip("-n", name, "link", "set", "v0", "up")
        _ip("-n", name, "link", "set", "v1", "up")
        _ip("-n", name, "route", "add", "10.98.0.0/16", "via", "10.99.0.1")
        _ip("-n", name, "-6", "route", "add", "fd00:98::/32", "via", "fd00:99::1")
        _ip("-n", name, "route", "add", "unreachable", "10.97.0.0/16")
        addresses = ["10.98.1.1", "10.99.0.7", "10.99.0.2", "10.97.0.1", "10.1.1.1", "fd00:98::5", "fd00:99::2"]
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
    assert netlink["10.98.1.1"] == {
        "interface": "v0",
        "next_hop": "10.99.0.1",
        "prefix": None,
        "source": "10.99.0.2",
        "local": False,
        "error": None,
    }
    assert netlink["fd00:98::5"]["next_hop"] == "fd00:99::1" and netlink["10.99.0.2"]["local"] is True
    assert netlink["10.1.1.1"] == {"error": "network unreachable", "no_route": True}
    assert netlink["10.97.0.1"] is None  # an "unreachable" route: `ip` answers it
    assert {a: r for a, r in netlink.items() if r is not None} == {a: ip[a] for a in addresses if netlink[a]}
    assert reader == ip
