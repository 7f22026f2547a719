"""Address classes used everywhere evidence records an address."""

from __future__ import annotations

import functools
import ipaddress

# Azure VNets may use RFC 1918 and the 100.64.0.0/10 shared space:
# https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq#what-address-ranges-can-i-use-in-my-virtual-networks
_PRIVATE_V4 = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8")
)
_PRIVATE_V6 = (ipaddress.ip_network("fc00::/7"), ipaddress.ip_network("::1/128"))
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


@functools.lru_cache(maxsize=4096)  # every target of a fleet classifies the same few addresses
def classify(address: str) -> str:
    """`private`, `public` or `link_local`; loopback counts as private (a local relay or tunnel).

    Raises ValueError for something that is not an IP address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(ip in net for net in _LINK_LOCAL if net.version == ip.version):
        return "link_local"
    nets = _PRIVATE_V4 if ip.version == 4 else _PRIVATE_V6
    if any(ip in net for net in nets):
        return "private"
    return "public"


def class_or_none(address: str) -> str | None:
    """`classify(address)`, or None for something that is not an IP address (odd evidence, a garbage answer)."""
    try:
        return classify(address)
    except ValueError:
        return None


def classes(addresses: list[str]) -> dict[str, str]:
    """{address: class}; `invalid` for an entry that is not an IP address, which a server may well send."""
    return {a: class_or_none(a) or "invalid" for a in addresses}
