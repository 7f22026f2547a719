"""The explicit probe registry: one module per probe, one line here.

Order is the order of the report. `REGISTRY` holds what `aoai-diag checks` lists (id, layer, requires, title)
without importing any probe module: those import dnspython and the HTTP, TLS and Azure helpers, about half a
second on a small machine, which a listing must not pay. `PROBES` (the probe objects) is imported on first use;
a test asserts that every line of `REGISTRY` matches its module's `PROBE`. Azure-layer probes import the SDK only
inside their run functions.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from aoai_diag.checks.base import Probe


class ProbeInfo(NamedTuple):
    id: str
    """The module name under aoai_diag.checks."""
    layer: str
    requires: tuple[str, ...]
    title: str


REGISTRY: tuple[ProbeInfo, ...] = (
    ProbeInfo("hosts_file", "local", (), "Hosts-file entries for the account's names"),
    ProbeInfo("resolver_config", "local", (), "Configured DNS servers"),
    ProbeInfo("system_resolution", "local", (), "OS resolver (getaddrinfo) answer"),
    ProbeInfo("vpn_profile", "local", (), "VPN profile (routes, DNS servers, suffixes)"),
    ProbeInfo("dns_nameservers", "local", ("resolver_config",), "Configured DNS servers asked directly"),
    ProbeInfo(
        "os_resolvers", "local", (), "DNS servers the OS picks per name (NRPT, scoped resolvers, resolved links)"
    ),
    ProbeInfo("public_dns", "local", (), "Public DNS view of the account"),
    ProbeInfo("azure_platform", "local", (), "Azure VM (Instance Metadata Service)"),
    ProbeInfo("azure_dns", "local", ("azure_platform",), "Azure-provided DNS asked directly"),
    ProbeInfo("proxy_settings", "local", (), "Proxy settings an HTTP client would use"),
    ProbeInfo("tcp_connect", "local", ("system_resolution",), "TCP connect to the resolved addresses"),
    ProbeInfo("route_lookup", "local", ("system_resolution",), "Route toward the resolved private addresses"),
    ProbeInfo("tls_handshake", "local", ("tcp_connect",), "TLS handshake and certificate for the account host"),
    ProbeInfo(
        "https_dataplane",
        "local",
        ("system_resolution", "proxy_settings"),
        "Key-less HTTPS request to the data plane",
    ),
    ProbeInfo("arm_access", "azure", (), "Azure Resource Manager access"),
    ProbeInfo("arm_account", "azure", ("arm_access",), "The account in Resource Manager"),
    ProbeInfo("arm_private_endpoints", "azure", ("arm_account",), "Private endpoints of the account"),
    ProbeInfo("arm_dns_zones", "azure", ("arm_access",), "Private DNS zones, records and VNet links"),
    ProbeInfo("arm_client_network", "azure", ("arm_access",), "This machine's VNet, DNS, peerings and routes"),
    ProbeInfo(
        "arm_nsg",
        "azure",
        ("arm_client_network", "arm_private_endpoints"),
        "NSG rules for TCP 443 to the private endpoint",
    ),
    ProbeInfo("arm_app_host", "azure", ("arm_access",), "The app host's path, read from Resource Manager"),
)

_lock = threading.Lock()
_probes: tuple[Probe, ...] | None = None


def load_probes() -> tuple[Probe, ...]:
    """Import every probe module of REGISTRY (once) and return their PROBE objects, in REGISTRY order."""
    global _probes
    with _lock:
        if _probes is None:
            _probes = tuple(importlib.import_module(f"{__name__}.{info.id}").PROBE for info in REGISTRY)
        return _probes


def __getattr__(name: str) -> Any:
    # `from aoai_diag.checks import PROBES` keeps working; the modules load only then.
    if name == "PROBES":
        return load_probes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
