"""The explicit probe registry: one module per probe, one line here (STYLE.md §5).

Order is the order of the report. Azure-layer probes import the SDK only inside their run functions.
"""

from __future__ import annotations

from aoai_diag.checks import (
    arm_access,
    arm_account,
    arm_client_network,
    arm_dns_zones,
    arm_nsg,
    arm_private_endpoints,
    azure_dns,
    azure_platform,
    dns_nameservers,
    hosts_file,
    https_dataplane,
    os_resolvers,
    proxy_settings,
    public_dns,
    resolver_config,
    route_lookup,
    system_resolution,
    tcp_connect,
    tls_handshake,
    vpn_profile,
)
from aoai_diag.checks.base import Probe

PROBES: tuple[Probe, ...] = (
    hosts_file.PROBE,
    resolver_config.PROBE,
    system_resolution.PROBE,
    vpn_profile.PROBE,
    dns_nameservers.PROBE,
    os_resolvers.PROBE,
    public_dns.PROBE,
    azure_platform.PROBE,
    azure_dns.PROBE,
    proxy_settings.PROBE,
    tcp_connect.PROBE,
    route_lookup.PROBE,
    tls_handshake.PROBE,
    https_dataplane.PROBE,
    arm_access.PROBE,
    arm_account.PROBE,
    arm_private_endpoints.PROBE,
    arm_dns_zones.PROBE,
    arm_client_network.PROBE,
    arm_nsg.PROBE,
)
