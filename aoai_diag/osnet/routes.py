"""The route the OS picks toward an address: interface, next hop, matched prefix, and whether it is the VPN tunnel.

`lookup_routes` asks the OS once for every address (one `ip -json -batch` process on Linux, one PowerShell
`Find-NetRoute` script on Windows, `route -n get` processes started together on macOS: linux.py, windows.py,
macos.py); it blocks, sends nothing on the network, and is bounded by its timeout. The judgement here is pure. A
route is "into the tunnel" when its source address lies in the profile's VPN client address pool (proof), else
when it is a half-default (0.0.0.0/1, 128.0.0.0/1, ::/1, 8000::/1: how VPN clients take all traffic without
replacing the default route), when the interface is named like a tunnel (utun*, tun*, ppp*, ...) or carries the
profile's name (the Azure VPN Client names the Windows interface after the profile); otherwise unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aoai_diag.evidence.osnet import OsRoute, VpnProfileContent
from aoai_diag.osnet import commands, linux, macos, windows
from aoai_diag.osnet.vpnprofile import in_client_pool

_TUNNEL_NAMES = re.compile(r"^(utun|tun|tap|ppp|ipsec|wg|gpd|vpn|nordlynx|zt)\d*", re.I)
DEFAULT_PREFIXES = ("0.0.0.0/0", "::/0")
HALF_DEFAULTS = ("0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1")
"""The two halves of the default route a VPN client installs to take every address without touching 0/0 (longer
prefix, so they win): https://git.zx2c4.com/wireguard-windows/about/docs/netquirk.md, OpenVPN's `def1`."""


def lookup_routes(addresses: Sequence[str], timeout: float, platform: str | None = None) -> dict[str, OsRoute]:
    """{address: the OS's route toward it} for every address, asked in one go (sends nothing; blocks up to
    `timeout` plus process start-up). A lookup that failed is an OsRoute with `error`, never a missing key.

    Raises ValueError when an address is not an IP address (nothing else ever reaches a command line).
    """
    platform = platform or commands.platform()
    wanted = list(dict.fromkeys(addresses))
    for address in wanted:
        commands.ip_literal(address)
    if not wanted:
        return {}
    if platform == "windows":
        # One PowerShell start (about a second) for every address.
        found = windows.read_routes(wanted, timeout)
    elif platform == "linux":
        found = linux.read_routes(wanted, timeout)
    elif platform == "macos":
        found = macos.read_routes(wanted, timeout)
    else:
        found = {a: OsRoute(error=f"no route reader for {platform}") for a in wanted}
    return {a: found[a] if a in found else OsRoute(error="no answer") for a in wanted}


def via_default(route: OsRoute, reference: OsRoute | None) -> bool | None:
    """The default route carries it: the matched prefix is 0/0, or it leaves like the public reference does."""
    if route.error or route.local:
        return None
    if route.prefix:
        return route.prefix in DEFAULT_PREFIXES
    if reference is None or reference.error:
        return None
    return (route.interface, route.next_hop) == (reference.interface, reference.next_hop)


def tunnel(route: OsRoute, source: str | None, profile: VpnProfileContent | None) -> tuple[bool | None, str]:
    """(is the route the VPN tunnel, on what basis)."""
    if route.error:
        return None, "no route" if route.no_route else f"route unknown ({route.error})"
    if route.local:
        return None, "local address"
    if profile is not None:
        pooled = in_client_pool(profile, route.source or source)
        if pooled is not None:
            return pooled, "source address " + ("in" if pooled else "outside") + " the VPN client address pool"
        name = (profile.name or "").strip().lower()
        if name and (route.interface or "").strip().lower() == name:
            return True, "interface named after the VPN profile"
    if route.prefix in HALF_DEFAULTS:
        return True, f"half-default route {route.prefix} (a VPN client's catch-all)"
    interface = route.interface or ""
    if _TUNNEL_NAMES.match(interface):
        return True, f"interface name {interface}"
    return None, "interface not recognisable as a tunnel"
