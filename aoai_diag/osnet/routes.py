"""The route the OS picks toward an address: interface, next hop, matched prefix, and whether it is the VPN tunnel.

Readers per OS (rtnetlink RTM_GETROUTE, with `ip -j route get` as its fallback; `route -n get`, `Find-NetRoute`)
live in netlink_route.py, linux.py, macos.py and windows.py; the judgement here is pure. A route is "into the
tunnel" when its source address lies in the profile's VPN client address pool (proof), else when the interface
is named like a tunnel (utun*, tun*, ppp*, ...) or carries the profile's name (the Azure VPN Client names the
Windows interface after the profile); otherwise unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aoai_diag.blocking import in_thread, map_in_threads
from aoai_diag.osnet import linux, macos, netlink_route, windows
from aoai_diag.osnet.vpnprofile import in_client_pool

_TUNNEL_NAMES = re.compile(r"^(utun|tun|tap|ppp|ipsec|wg|gpd|vpn|nordlynx|zt)\d*", re.I)
DEFAULT_PREFIXES = ("0.0.0.0/0", "::/0")


async def read_routes(platform: str, addresses: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """{address: {interface, next_hop, prefix, source, error}} from the OS's own route lookup (sends nothing).

    The commands and the kernel's answers are waited for in the one executor (aoai_diag/blocking.py).
    """
    addresses = list(dict.fromkeys(addresses))
    if platform == "windows":
        if not addresses:
            return {}
        # One PowerShell start (about a second) for every address; it bounds itself by `timeout`.
        (found,) = await map_in_threads(
            lambda a: windows.read_routes(a, timeout),
            [addresses],
            timeout + 0.5,
            lambda a: {address: {"error": "route lookup timed out"} for address in a},
        )
        return found
    reader = {"macos": macos.read_route, "linux": linux.read_route}.get(platform)
    if reader is None:
        return {a: {"error": f"no route reader for {platform}"} for a in addresses}
    known: dict[str, dict[str, Any]] = {}
    if platform == "linux":
        # Asked of the kernel in-process (rtnetlink); `ip` answers only what that could not render as it would.
        answers = await in_thread(netlink_route.read_routes, addresses, timeout) or {}
        known = {a: route for a, route in answers.items() if route is not None}
        addresses = [a for a in addresses if a not in known]
        if not addresses:
            return known
    # One short-lived process per address, all at once: the probe waits for the slowest, not for the sum.
    found = await map_in_threads(
        lambda a: reader(a, timeout), addresses, timeout + 0.5, lambda a: {"error": "route lookup timed out"}
    )
    return {**known, **dict(zip(addresses, found, strict=True))}


def via_default(route: Mapping[str, Any], reference: Mapping[str, Any] | None) -> bool | None:
    """The default route carries it: the matched prefix is 0/0, or it leaves like the public reference does."""
    if route.get("error") or route.get("local"):
        return None
    if route.get("prefix"):
        return route["prefix"] in DEFAULT_PREFIXES
    if not reference or reference.get("error"):
        return None
    return (route.get("interface"), route.get("next_hop")) == (reference.get("interface"), reference.get("next_hop"))


def tunnel(route: Mapping[str, Any], source: str | None, profile: Mapping[str, Any] | None) -> tuple[bool | None, str]:
    """(is the route the VPN tunnel, on what basis)."""
    if route.get("error"):
        return None, "no route" if route.get("no_route") else f"route unknown ({route['error']})"
    if route.get("local"):
        return None, "local address"
    if profile:
        pooled = in_client_pool(profile, route.get("source") or source)
        if pooled is not None:
            return pooled, "source address " + ("in" if pooled else "outside") + " the VPN client address pool"
        name = (profile.get("name") or "").strip().lower()
        if name and (route.get("interface") or "").strip().lower() == name:
            return True, "interface named after the VPN profile"
    interface = route.get("interface") or ""
    if _TUNNEL_NAMES.match(interface):
        return True, f"interface name {interface}"
    return None, "interface not recognisable as a tunnel"
