"""Pure pieces of the Azure judgement (diagnosis/azure_facts, azure/convert, azure/nsg_eval): the facts the probes
and the rules share, from ARM JSON in the shapes live Azure returns."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from aoai_diag.azure import convert, nsg_eval
from aoai_diag.diagnosis import azure_facts
from aoai_diag.diagnosis.azure_facts import Hop
from aoai_diag.diagnosis.facts import Unknown
from aoai_diag.evidence.azure import ArmDnsZones, Decision, Denied, Peering, PrivateEndpoint, Route, Zone, ZoneGroup

ASG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg-pe"


@pytest.mark.parametrize(
    ("caller", "rules", "allowed"),
    [
        ("100.0.0.5", ["100.0.0.0/24"], True),
        ("100.0.1.5", ["100.0.0.0/24"], False),
        ("203.0.113.7", ["203.0.113.7"], True),
        ("203.0.113.7", ["203.0.113.7/32"], True),
        ("203.0.113.8", ["203.0.113.7/32", "garbage"], False),
        ("2001:db8::5", ["2001:db8::/64"], True),
        ("2001:db8::5", ["100.0.0.0/8"], False),
    ],
)
def test_ip_rules_are_cidr_ranges(caller: str, rules: list[str], allowed: bool) -> None:
    fact = azure_facts.caller_allowed(caller, rules)
    assert fact.known and fact.value is allowed


def test_an_unnamed_caller_is_unknown_not_allowed() -> None:
    fact = azure_facts.caller_allowed(None, ["100.0.0.0/24"])
    assert not fact.known and not fact.is_true() and not fact.is_false()


@pytest.mark.parametrize(
    ("route", "hop"),
    [
        (Route(source="Default", next_hop_type="None"), Hop.NO_PATH),
        (Route(source="User", next_hop_type="None"), Hop.USER_DROP),
        (Route(source="User", next_hop_type="VirtualAppliance"), Hop.APPLIANCE),
        (Route(source="Default", next_hop_type="InterfaceEndpoint"), Hop.DIRECT),
        (Route(source="Default", next_hop_type="VNetPeering"), Hop.DIRECT),
        (Route(source="Default", next_hop_type="Internet"), Hop.NO_PATH),
        (Route(), Hop.NO_PATH),
        (None, Hop.NO_PATH),
    ],
)
def test_route_hops(route: Route | None, hop: Hop) -> None:
    assert azure_facts.route_hop(route) is hop


def test_peering_needs_state_sync_and_access() -> None:
    base = Peering(name="to-app", state="Connected", sync_level="FullyInSync")
    assert azure_facts.peering_usable(replace(base, allow_virtual_network_access=True)).is_true()
    closed = replace(base, allow_virtual_network_access=False)
    assert azure_facts.peering_usable(closed).is_false()
    assert "allowVirtualNetworkAccess is false" in (azure_facts.peering_problem(closed) or "")
    initiated = replace(base, state="Initiated", allow_virtual_network_access=True)
    assert azure_facts.peering_usable(initiated).is_false()
    assert azure_facts.peering_problem(initiated) == "peering to-app is Initiated/FullyInSync"
    old_bundle = azure_facts.peering_usable(base)  # evidence recorded before the flag was read
    assert not old_bundle.known and azure_facts.peering_problem(base) is None


def test_pe_address_unknown_when_the_nic_read_was_denied() -> None:
    pe = PrivateEndpoint(name="pe-contoso", nic_ids=("/nic",),
                         nic_denied=(Denied(scope="/nic", status=403, code="AuthorizationFailed", message="no"),))  # fmt: skip
    fact = azure_facts.pe_ips(pe)
    assert not fact.known and fact.why is Unknown.FORBIDDEN and "Reader on /nic" in (fact.decide or "")
    other = PrivateEndpoint(name="b", ip_addresses=("10.1.2.5",))
    assert not azure_facts.all_pe_ips([pe, other]).known
    assert azure_facts.all_pe_ips([other]).value == {"10.1.2.5": other}
    assert azure_facts.pe_ips(replace(pe, ip_addresses=("10.1.2.4",))).value == ("10.1.2.4",)
    unread = azure_facts.pe_ips(replace(pe, nic_denied=()))  # a NIC, no address, and no failed read recorded
    assert not unread.known and unread.why is Unknown.NOT_READ and "--ids /nic" in (unread.decide or "")
    assert azure_facts.pe_ips(PrivateEndpoint(name="none")).value == ()


def test_throttled_and_timed_out_reads_say_so() -> None:
    assert azure_facts.why_unread(Denied(status=429)) is Unknown.THROTTLED
    assert azure_facts.why_unread(Denied(code="Timeout")) is Unknown.TIMED_OUT
    assert azure_facts.why_unread(Denied(status=403)) is Unknown.FORBIDDEN


def test_zone_search_incomplete_when_a_zone_group_points_at_an_unseen_zone() -> None:
    zone = "/subscriptions/dns-sub/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.openai.azure.com"
    dns = ArmDnsZones(needed_zones=("privatelink.openai.azure.com",), complete=True)
    pes = [PrivateEndpoint(zone_groups=(ZoneGroup(id="zg", zone_ids=(zone,)),))]
    fact = azure_facts.zone_search(dns, pes)
    assert not fact.known and fact.decide == "Reader on subscription dns-sub would show whether the zone exists"
    assert azure_facts.hidden_zones(dns, pes) == [zone]
    assert azure_facts.zone_search(dns, []).is_true()
    assert azure_facts.zone_search(replace(dns, zones=(Zone(id=zone.upper()),)), pes).is_true()
    denied = replace(dns, complete=False, denied=(Denied(scope="/subscriptions/hub", status=403),))
    assert azure_facts.zone_search(denied, []).why is Unknown.FORBIDDEN
    unfinished = azure_facts.zone_search(replace(dns, complete=None), [])  # no search recorded
    assert not unfinished.known and unfinished.why is Unknown.NOT_READ
    assert azure_facts.zone_search(None).why is Unknown.NOT_READ


def test_dns_server_list_split() -> None:
    assert azure_facts.split_dns_servers(["10.0.0.4", "8.8.8.8", "168.63.129.16"]) == (
        ["10.0.0.4", "168.63.129.16"],
        ["8.8.8.8"],
    )


def test_private_endpoint_addresses_from_every_source() -> None:
    groups = (convert.zone_group({"id": "zg", "properties": {"privateDnsZoneConfigs": [{"properties": {
        "privateDnsZoneId": "z", "recordSets": [{"recordType": "A", "ipAddresses": ["10.1.2.6"]}]}}]}}),)  # fmt: skip
    data = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe",
        "properties": {
            "customDnsConfigs": [],
            "ipConfigurations": [{"name": "c", "properties": {"groupId": "account", "privateIPAddress": "10.1.2.5"}}],
            "applicationSecurityGroups": [{"id": ASG}],
        },
    }
    pe = convert.private_endpoint(data, ("10.1.2.4/24",), groups)
    assert pe.ip_addresses == ("10.1.2.5", "10.1.2.6", "10.1.2.4")
    assert (pe.static_ips, pe.nic_ips, pe.asg_ids) == (("10.1.2.5",), ("10.1.2.4",), (ASG,))


def test_nic_address_with_prefix_length_and_asgs() -> None:
    nic = convert.nic({"id": "n", "properties": {"ipConfigurations": [{"properties": {
        "privateIPAddress": "10.0.0.4/24", "applicationSecurityGroups": [{"id": ASG}]}}]}})  # fmt: skip
    assert nic.private_ips == ("10.0.0.4",) and nic.asg_ids == (ASG,)


def test_peering_reads_allow_virtual_network_access() -> None:
    peering = convert.peering({"id": "p", "name": "p", "properties": {"peeringState": "Connected",
                                                                     "allowVirtualNetworkAccess": False}})  # fmt: skip
    assert peering.allow_virtual_network_access is False
    assert convert.peering({"id": "p", "properties": {}}).allow_virtual_network_access is None


def _asg_rule(access: str = "Deny") -> dict[str, object]:
    return {"name": "ToPe", "properties": {"priority": 100, "direction": "Outbound", "access": access, "protocol": "Tcp",
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationPortRange": "443",
            "destinationApplicationSecurityGroups": [{"id": ASG}]}}  # fmt: skip


def test_asg_rule_is_not_read_as_any() -> None:
    rule = convert.nsg_rule(_asg_rule())
    assert rule.destination_prefixes == () and rule.destination_asgs == (ASG,)
    allow = convert.nsg_rule({"name": "AllowAll", "properties": {"priority": 200, "direction": "Outbound",
                              "access": "Allow", "protocol": "*"}})  # fmt: skip
    rules = [rule, allow]
    member = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443, (), [], [ASG.upper()])
    assert (member.access, member.rule) == ("Deny", "ToPe")
    other = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443, (), [], [])
    assert (other.access, other.rule) == ("Allow", "AllowAll")
    unknown = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443)
    assert unknown.rule == "AllowAll" and unknown.unresolved == ("ToPe",)


def test_effective_rule_without_prefix_is_unresolved() -> None:
    (_, rules), = nsg_eval.effective_rules([{"networkSecurityGroup": {"id": "nsg"}, "effectiveSecurityRules": [
        {"name": "securityRules/ToPe", "protocol": "Tcp", "destinationPortRange": "443-443", "sourceAddressPrefix": "*",
         "access": "Deny", "priority": 100, "direction": "Outbound"}]}])  # fmt: skip
    decision = nsg_eval.evaluate(rules, "Outbound", "10.2.1.4", "10.1.2.4", 443)
    assert decision.access is None and decision.unresolved == ("securityRules/ToPe",)


def test_default_deny_is_not_an_nsg_cause() -> None:
    assert not azure_facts.nsg_deny_is_cause(Decision(access="Deny", default=True))
    assert azure_facts.nsg_deny_is_cause(Decision(access="Deny", default=False))
    assert not azure_facts.nsg_deny_is_cause(Decision(access="Allow", default=False))


def test_private_dns_sdk_keeps_the_resolution_policy() -> None:
    # azure-mgmt-privatedns 1.1 drops `resolutionPolicy` when deserializing (setup.cfg requires >= 2.0).
    from azure.mgmt.privatedns.models import VirtualNetworkLink

    body = {"id": "/l", "location": "global", "properties": {"resolutionPolicy": "NxDomainRedirect",
            "virtualNetworkLinkState": "InProgress", "virtualNetwork": {"id": "/v"}}}  # fmt: skip
    model = VirtualNetworkLink(body)
    assert str(model.properties.resolution_policy.value) == "NxDomainRedirect"
    link = convert.vnet_link(convert.sdk_json(model))
    assert (link.resolution_policy, link.state) == ("NxDomainRedirect", "InProgress")


def test_setup_floors_are_the_tested_versions() -> None:
    import configparser
    from importlib.metadata import version

    from tests.conftest import REPO

    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    for line in config["options"]["install_requires"].split():
        name, _, floor = line.partition(">=")
        if name.startswith("azure-"):
            assert version(name) == floor or version(name).startswith(floor + "."), (name, floor, version(name))


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("healthy_jumpbox", {"arm.zone_exists": True, "arm.resolver_link": "Completed", "arm.record": ("10.1.2.4",),
                             "arm.nsg_allows": True, "arm.peerings_usable": True, "arm.pe_ip_known": True}),
        ("sound/link_in_progress", {"arm.resolver_link": "InProgress"}),
        ("broken/dns.zone_not_linked", {"arm.zone_exists": True, "arm.resolver_link": "none"}),
        ("broken/dns.zone_missing", {"arm.zone_exists": False}),
        ("broken/dns.record_missing", {"arm.record": ()}),
        ("sound/peering_access_disabled", {"arm.peerings_usable": False, "arm.peering_blocked": True}),
        ("sound/asg_rule_pe_member", {"arm.nsg_allows": False}),
    ],
)  # fmt: skip
def test_registered_facts_from_live_shaped_topologies(name: str, facts: dict[str, object], tmp_path: Path) -> None:
    from aoai_diag.diagnosis.evidence import Evidence
    from tests.azure_harness import lab, topology

    with lab(topology(name), tmp_path) as env:
        report, _ = env.run()
    from aoai_diag.targets import Target

    ev = Evidence(Target.from_dict(dict(report.target)), {c.id: c for c in report.checks})
    for fact_name, value in facts.items():
        got = ev.fact(fact_name)
        assert got.known and got.value == value, (fact_name, got)


def test_zone_facts_are_unknown_when_the_zone_subscription_is_forbidden(tmp_path: Path) -> None:
    from aoai_diag.diagnosis.evidence import Evidence
    from aoai_diag.targets import Target
    from tests.azure_harness import lab, topology

    with lab(topology("sound/zone_subscription_forbidden"), tmp_path) as env:
        report, _ = env.run()
    ev = Evidence(Target.from_dict(dict(report.target)), {c.id: c for c in report.checks})
    for name in ("arm.zone_search_complete", "arm.zone_exists", "arm.resolver_link", "arm.record"):
        fact = ev.fact(name)
        assert not fact.known and fact.why is Unknown.FORBIDDEN, (name, fact)


def test_why_a_check_saw_nothing_is_read_from_typed_fields_not_text() -> None:
    from aoai_diag.diagnosis.evidence import Evidence as Checks
    from aoai_diag.diagnosis.facts import Unknown, unread
    from aoai_diag.model import CheckResult, Status
    from aoai_diag.targets import parse_target

    def result(**kw: object) -> CheckResult:
        base: dict[str, object] = {"id": "arm_dns_zones", "status": Status.ERROR, "summary": "", "evidence": {}}
        return CheckResult(duration_ms=1.0, **{**base, **kw})  # type: ignore[arg-type]

    def why(check: CheckResult) -> Unknown | None:
        fact = unread(Checks(parse_target("contoso"), {check.id: check}), check.id)
        assert fact is not None
        return fact.why

    # A summary that mentions 403 or a timeout decides nothing: the typed failure does.
    assert why(result(summary="HTTP 403 Forbidden, timed out")) is Unknown.FAILED
    assert why(result(summary="anything", failure="timeout")) is Unknown.TIMED_OUT
    denied = [{"scope": "/subscriptions/s1", "status": 403, "code": "AuthorizationFailed", "message": "x"}]
    assert why(result(evidence={"denied": denied}, failure="timeout")) is Unknown.FORBIDDEN
    throttled = [{"scope": "/subscriptions/s1", "status": 429, "code": None, "message": "slow down"}]
    assert why(result(evidence={"denied": [*throttled, *denied]})) is Unknown.FORBIDDEN
    assert why(result(evidence={"denied": throttled})) is Unknown.THROTTLED
    assert why(result(evidence={"denied": [{"scope": "s", "status": None, "code": "Timeout"}]})) is Unknown.TIMED_OUT
