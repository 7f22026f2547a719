"""Each cause from a fixture topology: real SDK clients against the ARM emulator, then the diagnosis."""

from __future__ import annotations

from pathlib import Path

import pytest

from aoai_diag.evidence.azure import ArmClientNetwork, ArmDnsZones, ArmNsg, DnsServerHost
from aoai_diag.model import Status
from tests.azure_harness import ARM_FIXTURES, causes, lab, status, topology

BROKEN = sorted(p.stem for p in (ARM_FIXTURES / "broken").glob("*.json"))
ARM_PROBES = ("arm_access", "arm_account", "arm_private_endpoints", "arm_dns_zones", "arm_client_network", "arm_nsg")
REQUIRED = {
    "dns.zone_missing", "dns.zone_not_linked", "dns.zone_not_linked_resolver_vnet", "dns.record_missing",
    "dns.record_stale_ip", "dns.record_overwritten_by_other_pe", "dns.wrong_zone", "dns.sibling_zone_missing",
    "dns.duplicate_zones", "dns.public_zone_shadowed", "dns.cross_tenant_nxdomain", "dns.subdomain_mismatch",
    "dns.firewall_dns_proxy_blind", "net.peering_not_connected", "net.transitive_peering", "net.udr_nva_drop",
    "net.pe_subnet_nsg", "net.client_nsg_outbound", "svc.no_private_endpoint", "svc.pe_pending", "svc.pe_rejected",
    "svc.pe_disconnected", "svc.pe_provisioning_failed", "svc.no_custom_subdomain",
    "svc.public_access_disabled_public_path", "svc.ip_not_allowed", "svc.same_region_ip_rule",
    "svc.service_endpoint_without_vnet_rule",
}  # fmt: skip


def test_every_required_cause_has_a_fixture() -> None:
    assert REQUIRED <= set(BROKEN)


@pytest.mark.parametrize("name", ["healthy_jumpbox", "custom_dns_forwarding", "hub_spoke_third_sub"])
def test_healthy_topologies_pass_every_azure_check(name: str, tmp_path: Path) -> None:
    with lab(topology(name), tmp_path) as env:
        report, _ = env.run()
    assert {k: v for k, v in status(report).items() if k in ARM_PROBES} == dict.fromkeys(ARM_PROBES, "pass")
    assert causes(report) == set()


def test_hub_spoke_reads_the_zone_from_the_third_subscription(tmp_path: Path) -> None:
    with lab(topology("hub_spoke_third_sub"), tmp_path) as env:
        report, _ = env.run()
    zones = next(c for c in report.checks if c.id == "arm_dns_zones").typed(ArmDnsZones).zones
    assert [z.subscription_id for z in zones if z.record] == ["8e3f5c74-2f60-4dac-9043-5b7c9d1e3f03"]


def test_nsg_deny_on_pe_subnet_without_network_policies_is_not_a_cause(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path) as env:
        report, _ = env.run()
    nsg = next(c for c in report.checks if c.id == "arm_nsg")
    assert nsg.status is Status.PASS
    assert "do not apply to the private endpoint" in nsg.summary
    pe_side = nsg.typed(ArmNsg).pe_side[0]
    assert pe_side.applies is False
    assert pe_side.decision is not None and pe_side.decision.access == "Deny"


@pytest.mark.parametrize("name", BROKEN)
def test_broken_topology_names_its_cause_with_resources_and_fix(name: str, tmp_path: Path) -> None:
    with lab(topology(f"broken/{name}"), tmp_path) as env:
        report, _ = env.run()
    found = {f.cause_id: f for f in report.findings}
    assert name in found, f"{name} not found; got {sorted(found)}; checks {status(report)}"
    finding = found[name]
    assert finding.resources, "a finding from Azure evidence names the resources involved"
    assert all(r.startswith("/subscriptions/") for r in finding.resources)
    assert finding.remediation and "<" not in finding.remediation.replace("<-", "")


def test_vpn_client_with_vnet_option_uses_the_gateway_vnet_dns(tmp_path: Path) -> None:
    topo = topology("vpn_client")
    hub = next(r["id"] for r in topo["resources"] if r["name"] == "vnet-hub")
    with lab(topo, tmp_path, vnet_id=hub) as env:
        report, _ = env.run()
    st = status(report)
    assert st["azure_platform"] == "skip"
    assert st["arm_access"] == "pass"  # client-secret credential through the emulator's token endpoint
    net = next(c for c in report.checks if c.id == "arm_client_network")
    assert net.typed(ArmClientNetwork).source == "option"
    assert net.typed(ArmClientNetwork).dns_server_hosts == (DnsServerHost(ip="10.0.0.4", vnet_id=hub),)
    assert st["arm_nsg"] == "skip"  # no client NIC off Azure
    assert causes(report) == set()


def test_vpn_client_zone_not_linked_to_the_resolver_vnet(tmp_path: Path) -> None:
    topo = topology("vpn_client")
    hub = next(r["id"] for r in topo["resources"] if r["name"] == "vnet-hub")
    topo["resources"] = [r for r in topo["resources"] if not r["id"].endswith("/virtualNetworkLinks/link-hub")]
    with lab(topo, tmp_path, vnet_id=hub) as env:
        report, _ = env.run()
    finding = next(f for f in report.findings if f.cause_id == "dns.zone_not_linked_resolver_vnet")
    assert hub in finding.resources
    assert f"-v {hub}" in (finding.remediation or "")


def test_azure_contradicts_local_evidence_both_reported(tmp_path: Path) -> None:
    # Local: DNS private and the data plane answered; ARM: the connection is Pending.
    topo = topology("broken/svc.pe_pending")
    topo["local"] = {
        "https_dataplane": {
            "status": "pass",
            "evidence": {"app_path": "direct", "attempts": [{"via": "direct", "address": "10.1.2.4", "address_class": "private",
                         "outcome": "response", "status": 401, "classification": "H1", "azure_answered": True}]},
        }
    }  # fmt: skip
    with lab(topo, tmp_path) as env:
        report, _ = env.run()
    assert "svc.pe_pending" in causes(report)
    assert status(report)["https_dataplane"] == "pass"
    assert report.verdict.value == "unhealthy"
