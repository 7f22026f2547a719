"""Rules that need only what this machine observed (DNS, path, service answer), collected in one tuple."""

from __future__ import annotations

from aoai_diag.diagnosis import dns_rules, host_rules, path_rules, service_rules
from aoai_diag.diagnosis.evidence import Rule

RULES: tuple[Rule, ...] = (*dns_rules.RULES, *host_rules.RULES, *path_rules.RULES, *service_rules.RULES)

# Causes the local rules can produce by themselves; tests/test_catalogue.py checks each has a fixture.
LOCALLY_RECOGNISED: frozenset[str] = frozenset(
    {
        "dns.resolves_public",
        "dns.custom_server_no_forwarder",
        "dns.conditional_forwarder_wrong_zone",
        "dns.search_domain_hijack",
        "dns.resolver_disagreement",
        "dns.hosts_override",
        "dns.hosts_workaround",
        "dns.nxdomain",
        "dns.resolver_unreachable",
        "dns.resolver_servfail",
        "dns.sibling_zone_missing",
        "dns.sibling_names_public",
        "net.no_network",
        "dns.truncation_no_tcp",
        "dns.ipv6_public_aaaa",
        "dns.subdomain_mismatch",
        "svc.account_not_found",
        "net.not_on_private_network",
        "edge.customer_firewall_443",
        "edge.tcp_ok_no_service",
        "edge.tls_inspection",
        "edge.tls_wrong_name",
        "edge.proxy_env_no_proxy",
        "edge.system_proxy_pac",
        "edge.intermediary_response",
        "svc.no_private_endpoint",
        "svc.public_access_disabled_public_path",
        # The 403 H3 alone: svc.ip_not_allowed needs the account's ipRules (its premise), so locally it is a candidate.
        "svc.network_rules_denied",
        "svc.no_custom_subdomain",
        "svc.traffic_not_approved_pe",
        "svc.nsp_enforced",
        "svc.auth_lookalike",
    }
)
