"""Sound Azure diagnosis (issue 8): ARM bodies in the shapes live Azure returns, through the real SDK clients and the
ARM emulator, then the diagnosis. Each topology in fixtures/arm/sound/ carries its own `expect`:

    causes: cause ids that must be named; absent: cause ids that must not be; only: the exact set of causes;
    checks: {check id: status}; text: {cause id: a string its detail/remediation must hold};
    decide: {cause id: a string its `decide` must hold}; needed_zones: arm_dns_zones' needed zones;
    roles: {cause id: role}; unexplained: the exact unexplained checks.
A topology's `settings` ({field: value}) are Settings overrides for its run (`--vnet`, `--source-ip`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aoai_diag.evidence.azure import ArmDnsZones, ArmPrivateEndpoints
from aoai_diag.targets import Target
from tests.azure_harness import ARM_FIXTURES, lab, status, topology

SOUND = sorted(p.stem for p in (ARM_FIXTURES / "sound").glob("*.json"))


def test_every_class_of_issue_8_has_a_topology() -> None:
    wanted = {
        "zone_subscription_forbidden", "pe_nic_forbidden", "pe_zone_group_record_sets", "pe_static_ip_manual_connection",
        "peering_access_disabled", "system_route_none_not_peered", "ip_rule_cidr_same_region", "asg_rule_other_group",
        "link_in_progress", "vnet_dns_public_resolver", "ai_services_three_zones", "nic_address_with_prefix_length",
    }  # fmt: skip
    assert wanted <= set(SOUND)


@pytest.mark.parametrize("name", SOUND)
def test_sound_topology(name: str, tmp_path: Path) -> None:
    topo = topology(f"sound/{name}")
    expect = topo["expect"]
    with lab(topo, tmp_path, **topo.get("settings", {})) as env:
        report, _ = env.run()
    found = {f.cause_id: f for f in report.findings}
    # Only the message of a failed assertion: every arm_* type has `denied`, the others none.
    denied = {c.id: d for c in report.checks if (d := getattr(c.evidence, "denied", None))}
    got = f"got {sorted(found)}; checks {status(report)}; denied {denied}"
    for cause in expect.get("causes", ()):
        assert cause in found, f"{cause} not named; {got}"
    for cause in expect.get("absent", ()):
        assert cause not in found, f"{cause} named without its premises: {found.get(cause)}"
    if "only" in expect:
        assert sorted(found) == sorted(expect["only"]), got
    for check, wanted in expect.get("checks", {}).items():
        assert status(report)[check] == wanted, f"{check}: {got}"
    for cause, text in expect.get("text", {}).items():
        finding = found[cause]
        assert text in f"{finding.detail} {finding.remediation}", finding
    for cause, text in expect.get("decide", {}).items():
        assert text in (found[cause].decide or ""), found[cause]
    for cause, role in expect.get("roles", {}).items():
        assert found[cause].role.value == role, f"{cause}: {found[cause].role}; {got}"
    if "unexplained" in expect:
        assert list(report.unexplained) == expect["unexplained"], got
    if "needed_zones" in expect:
        zones = next(c for c in report.checks if c.id == "arm_dns_zones")
        assert list(zones.typed(ArmDnsZones).needed_zones) == expect["needed_zones"]
    # The issue's properties hold here too: one story, roots first; a refused or partial read names nothing resting
    # on it; the collected bundle analyses to the same report.
    from tests import soundness
    from tests.test_diagnosis_properties import partial_read_violations, refused_read_violations

    target = Target.from_dict(dict(report.target))
    checks = list(report.checks)
    assert soundness.target_report_violations(report) == []
    assert refused_read_violations(target, checks) == []
    assert partial_read_violations(target, checks) == []
    assert soundness.bundle_roundtrip(soundness.live_report(target, checks)) == []


def test_a_denied_nic_read_is_recorded_as_denied(tmp_path: Path) -> None:
    with lab(topology("sound/pe_nic_forbidden"), tmp_path) as env:
        report, _ = env.run()
    pes = next(c for c in report.checks if c.id == "arm_private_endpoints")
    pe = pes.typed(ArmPrivateEndpoints).private_endpoints[0]
    assert pe.ip_addresses == () and pe.nic_denied[0].status == 403
    assert (pe.nic_denied[0].scope or "").endswith("/networkInterfaces/pe-contoso.nic")
    assert "address unknown (forbidden" in pes.summary and "no IP" not in pes.summary


def test_zone_search_names_the_hidden_zone(tmp_path: Path) -> None:
    with lab(topology("sound/zone_subscription_forbidden"), tmp_path) as env:
        report, _ = env.run()
    zones = next(c for c in report.checks if c.id == "arm_dns_zones")
    assert zones.typed(ArmDnsZones).hidden_zones == (
        "/subscriptions/8e3f5c74-2f60-4dac-9043-5b7c9d1e3f03/resourceGroups/rg-dns-central/providers/"
        "Microsoft.Network/privateDnsZones/privatelink.openai.azure.com",
    )
    assert "Reader on subscription 8e3f5c74-2f60-4dac-9043-5b7c9d1e3f03" in (zones.reason or "")


# A check that passes never sits beside a cause that the same facts would name: statuses and rules share one judgement.
AGREE = {
    "arm_client_network": {"net.peering_not_connected", "net.no_vnet_path", "net.transitive_peering", "net.udr_nva_drop"},
    "arm_nsg": {"net.client_nsg_outbound", "net.pe_subnet_nsg"},
    "arm_private_endpoints": {"svc.pe_pending", "svc.pe_rejected", "svc.pe_disconnected", "svc.pe_provisioning_failed",
                              "svc.no_private_endpoint"},
    "arm_dns_zones": {"dns.zone_missing", "dns.record_missing", "dns.sibling_zone_missing", "dns.public_zone_shadowed"},
}  # fmt: skip
ALL_TOPOLOGIES = sorted(
    [f"sound/{n}" for n in SOUND] + [f"broken/{p.stem}" for p in (ARM_FIXTURES / "broken").glob("*.json")]
)


@pytest.mark.parametrize("name", ALL_TOPOLOGIES)
def test_a_passing_check_never_sits_beside_its_own_cause(name: str, tmp_path: Path) -> None:
    with lab(topology(name), tmp_path) as env:
        report, _ = env.run()
    named = {f.cause_id for f in report.findings}
    for check, causes in AGREE.items():
        if status(report).get(check) == "pass":
            assert not named & causes, f"{check} passed, yet {sorted(named & causes)} named"
