"""Issue 17: diagnosis on real Azure shapes. One unit test per class here; each class also has topologies in
fixtures/arm/sound/ (served through Resource Graph and through list calls, tests/test_azure_sound.py) and e2e
scenarios (fixtures/scenarios/*_i17_*.json). The two properties: id-only references change no fact of an
inventory, and every FAIL is explained by a root or stated as unexplained.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aoai_diag import catalogue
from aoai_diag.azure import convert, snapshot
from aoai_diag.checks import arm_nsg
from aoai_diag.cli import main
from aoai_diag.context import Settings
from aoai_diag.diagnosis import azure_facts
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.merge import merge
from aoai_diag.evidence.azure import (
    AccountSide,
    ArmDnsZones,
    Connection,
    Nic,
    Peering,
    PrivateEndpoint,
    UnlistedSubscription,
    Vnet,
)
from aoai_diag.model import CheckResult, Finding, Role, Status
from aoai_diag.render.json_report import report_to_dict
from aoai_diag.targets import parse_target
from tests import soundness
from tests.azure_harness import ARM_FIXTURES, topology
from tests.test_diagnosis_properties import BUNDLES, EVIDENCE, bundle_case, evidence_case

REPO = Path(__file__).resolve().parent.parent
ALL_TOPOLOGIES = sorted(
    [p.stem for p in ARM_FIXTURES.glob("*.json")]
    + [f"{sub}/{p.stem}" for sub in ("broken", "stories", "sound") for p in (ARM_FIXTURES / sub).glob("*.json")]
)
HUB_SUB = "9a4e6c85-3b71-4f0e-a2d5-6c8e0f1b3d07"


# --- class 1: a reference is not a resource -------------------------------------------------------------------------


def graph_rows(topo: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows Resource Graph returns for the inventory's types (tests/servers/arm_emulator.py's projection)."""
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "type": r["type"].lower(),
            "kind": r.get("kind", ""),
            "location": r.get("location", ""),
            "properties": copy.deepcopy(r.get("properties", {})),
        }
        for r in topo["resources"]
        if r["type"].lower() in snapshot.GRAPH_TYPES
    ]


def facts(inv: snapshot.Inventory) -> dict[str, Any]:
    """Everything the probes read from an inventory, as values compared by equality."""
    parsers = {"subnets": convert.subnet, "networksecuritygroups": convert.nsg, "virtualnetworks": convert.vnet}
    bodies = {}
    for rid, row in inv.rows_by_id.items():
        kind = rid.rstrip("/").split("/")[-2].lower()
        bodies[rid] = parsers[kind](row) if kind in parsers else row
    return {
        "accounts": list(inv.accounts),
        "pes": sorted(str(r["id"]).lower() for r in inv.pe_rows),
        "zones": list(inv.zones),
        "links": list(inv.links),
        "vnets": list(inv.vnets),
        "firewalls": list(inv.firewalls),
        "bodies": bodies,
    }


def with_references(rows: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """`rows` with id-only references added where Azure puts them (an NSG's `subnets` and `networkInterfaces`, a
    VNet's own subnets again, a PE's NICs) and as id-only rows of every type, at random places."""
    ids = [str(r["id"]) for r in rows]
    subnets = [str(s["id"]) for r in rows for s in (r["properties"].get("subnets") or ()) if s.get("id")]
    out = copy.deepcopy(rows)
    for row in out:
        props = row["properties"]
        if row["type"] == "microsoft.network/networksecuritygroups":
            for key, pool in (("subnets", subnets), ("networkInterfaces", ids)):
                refs = [{"id": rid} for rid in rng.sample(pool, min(len(pool), rng.randint(1, 4)))]
                props[key] = [*(props.get(key) or ()), *refs]
        elif row["type"] == "microsoft.network/virtualnetworks" and props.get("subnets"):
            props["subnets"].insert(rng.randrange(len(props["subnets"]) + 1), {"id": props["subnets"][0]["id"]})
        elif row["type"] == "microsoft.network/privateendpoints":
            props["networkInterfaces"] = [*(props.get("networkInterfaces") or ()), {"id": rng.choice(ids)}]
    for rid in rng.sample(ids + subnets, min(len(ids + subnets), 5)):
        kind = rng.choice(snapshot.GRAPH_TYPES)
        out.insert(rng.randrange(len(out) + 1), {"id": rid, "type": kind})
    return out


@pytest.mark.parametrize("name", ALL_TOPOLOGIES)
def test_id_only_references_anywhere_change_no_fact_of_the_inventory(name: str) -> None:
    rows = graph_rows(topology(name))
    before = facts(snapshot.from_rows("resource_graph", (), (), rows))
    rng = random.Random(name)
    for _ in range(5):
        after = facts(snapshot.from_rows("resource_graph", (), (), with_references(rows, rng)))
        assert after == before


def test_an_nsg_rows_subnet_reference_never_replaces_the_subnet_body() -> None:
    # given the Graph rows of a VNet (full subnet) and an NSG listing that subnet by id only, in either order
    topo = topology("sound/nsg_subnet_references")
    rows = graph_rows(topo)
    subnet_id = next(s["id"] for r in rows for s in r["properties"].get("subnets") or () if "snet-pe" in s["id"])
    for ordered in (rows, list(reversed(rows))):
        inv = snapshot.from_rows("resource_graph", (), (), ordered)
        # then the subnet keeps its prefixes, NSG and network policies
        body = convert.subnet(inv.rows_by_id[subnet_id.lower()])
        assert body.prefixes == ("10.1.2.0/24",) and body.pe_network_policies == "Enabled"
        assert body.nsg_id and body.nsg_id.endswith("/nsg-pe")


# --- class 2: scopes the topology names but the identity cannot list ------------------------------------------------


def test_a_subscription_named_by_a_peering_but_not_searched_makes_the_zone_search_incomplete() -> None:
    hub = f"/subscriptions/{HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
    vnet = Vnet(id="/subscriptions/aaaa/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/spoke",
                peerings=(Peering(name="to-hub", remote_vnet_id=hub),))  # fmt: skip
    named = azure_facts.named_scopes(vnets=[vnet])
    unlisted = azure_facts.unlisted_subscriptions(["aaaa"], named)
    assert unlisted == [UnlistedSubscription(subscription=HUB_SUB, named_by="peering to-hub of spoke")]
    assert azure_facts.unlisted_subscriptions(["AAAA", HUB_SUB.upper()], named) == []
    dns = ArmDnsZones(complete=True, needed_zones=("privatelink.openai.azure.com",))
    assert azure_facts.zone_search(dns).is_true()
    search = azure_facts.zone_search(dns, (), unlisted)
    assert not search.known and f"Reader on subscription {HUB_SUB}" in (search.decide or "")


# --- class 3: premises that ARM can observe are premises ------------------------------------------------------------


def _h3_checks(ip_rules: list[str] | None, default_action: str = "Deny") -> tuple[Any, list[CheckResult]]:
    target = parse_target("contoso")
    attempt = {"via": "direct", "address": "20.61.99.10", "address_class": "public", "outcome": "response",
               "status": 403, "classification": "H3", "azure_answered": True, "caller_ip": "192.0.2.44"}  # fmt: skip
    checks = [CheckResult("https_dataplane", Status.FAIL, "403", {"attempts": [attempt]}, 1.0)]
    if ip_rules is not None:
        account = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/contoso",
                   "name": "contoso", "ip_rules": ip_rules, "default_action": default_action, "connections": []}  # fmt: skip
        checks.append(CheckResult("arm_account", Status.PASS, "found", {"account": account, "denied": []}, 1.0))
    return target, checks


@pytest.mark.parametrize(
    ("ip_rules", "named"),
    [(["192.0.2.0/24"], set()), (["198.51.100.0/24"], {"svc.ip_not_allowed"}), (None, {"svc.network_rules_denied"})],
)
def test_the_caller_inside_ip_rules_vetoes_ip_not_allowed(ip_rules: list[str] | None, named: set[str]) -> None:
    # given the service's IP-rule refusal, and the account's ipRules holding the caller / not / unread
    target, checks = _h3_checks(ip_rules)
    finding = Finding(cause_id="svc.ip_not_allowed", checks=("https_dataplane",), detail="403 H3")
    # when the merger applies the cause's premise
    merged = merge([finding], Evidence(target, {c.id: c for c in checks}), catalogue.load())
    # then known false drops it, known true names it, unknown names the generic with it as a candidate
    assert {f.cause_id for f in merged} == named
    if ip_rules is None:
        assert merged[0].candidates[0] == "svc.ip_not_allowed"


def test_an_account_that_allows_by_default_vetoes_ip_not_allowed() -> None:
    target, checks = _h3_checks(["198.51.100.0/24"], default_action="Allow")
    finding = Finding(cause_id="svc.ip_not_allowed", checks=("https_dataplane",), detail="403 H3")
    assert merge([finding], Evidence(target, {c.id: c for c in checks}), catalogue.load()) == ()


# --- class 4: the private endpoint's own record is evidence ---------------------------------------------------------


def test_a_pe_the_account_does_not_list_is_not_usable_whatever_its_own_record_says() -> None:
    pe = PrivateEndpoint(provisioning_state="Succeeded", connections=(Connection(status="Approved"),))
    assert azure_facts.pe_usable(replace(pe, account_side=AccountSide(status="Approved"), listed_by_account=True))
    assert not azure_facts.pe_usable(replace(pe, account_side=None, listed_by_account=False))
    assert not azure_facts.pe_usable(replace(pe, account_side=AccountSide(status="Pending"), listed_by_account=True))
    # a bundle from before the account side was read: nothing says the account dropped it
    assert azure_facts.pe_usable(pe)


def test_the_pe_sides_own_statuses_are_read_in_order() -> None:
    pe = PrivateEndpoint(connections=tuple(Connection(status=s) for s in ("Rejected", "Rejected", "Approved", None)))
    assert azure_facts.pe_side_statuses(pe) == ["Rejected", "Approved"]
    assert azure_facts.connection_statuses(replace(pe, account_side=AccountSide(status="Pending"))) == {
        "Rejected",
        "Approved",
        "Pending",
    }


# --- class 5: clients off Azure meet the PE subnet's NSG ------------------------------------------------------------


def test_the_source_address_off_azure() -> None:
    nic = Nic(private_ips=("10.2.1.4",))
    route = CheckResult(
        "route_lookup",
        Status.PASS,
        "",
        {"routes": [{"address": "10.1.2.4", "source": "172.16.201.9", "tunnel": True}]},
        1,
    )
    assert arm_nsg.client_source(Settings(source_ip="172.16.201.5"), {}, nic) == ("10.2.1.4", "nic")
    assert arm_nsg.client_source(Settings(source_ip="172.16.201.5"), {"route_lookup": route}, None) == (
        "172.16.201.5",
        "option",
    )
    assert arm_nsg.client_source(Settings(), {"route_lookup": route}, None) == ("172.16.201.9", "tunnel")
    profile = CheckResult(
        "vpn_profile", Status.PASS, "", {"profile": {"client_address_pool": ["not-a-prefix", "172.16.201.0/24"]}}, 1
    )
    assert arm_nsg.client_source(Settings(), {"vpn_profile": profile}, None) == ("172.16.201.1", "pool")
    assert arm_nsg.client_source(Settings(), {"vpn_profile": profile, "route_lookup": route}, None)[1] == "tunnel"
    assert arm_nsg.client_source(Settings(), {}, None) == (None, None)


def test_source_ip_option_rejects_what_is_not_an_address() -> None:
    result = CliRunner().invoke(main, ["check", "contoso", "--source-ip", "vpn-pool"])
    assert result.exit_code == 2
    assert "is not an IP address" in result.output and "Traceback" not in result.output


# --- class 6: the cause that explains a failure is its root ---------------------------------------------------------


def _cases() -> Iterator[tuple[str, Any, list[CheckResult]]]:
    for path in EVIDENCE:
        yield (f"evidence/{path.stem}", *evidence_case(path))
    for path in BUNDLES:
        yield (f"bundles/{path.stem}", *bundle_case(path))


def test_every_fail_of_every_saved_case_is_explained_by_a_root_or_stated() -> None:
    # (the ARM topologies and the e2e scenarios are held to the same property by soundness.report_violations)
    problems = {}
    for name, target, checks in _cases():
        report = report_to_dict(soundness.live_report(target, checks))
        if found := [p for t in report["targets"] for p in soundness.failures_explained(t)]:
            problems[name] = found
    assert problems == {}


def test_the_failures_property_can_fail() -> None:
    target = {
        "target": {"host": "h"},
        "verdict": "inconclusive",
        "checks": [{"id": "https_dataplane", "status": "fail"}, {"id": "arm_dns_zones", "status": "pass"}],
        "diagnosis": [{"id": "dns.link_in_progress", "role": "advisory", "checks": ["https_dataplane"]}],
        "unexplained": [],
    }
    assert len(soundness.failures_explained(target)) == 2
    rooted = {**target, "diagnosis": [{"id": "dns.link_in_progress", "role": "root", "checks": ["arm_dns_zones"]}]}
    assert soundness.failures_explained(rooted) == []


def test_a_warning_that_explains_a_failure_is_a_root() -> None:
    target = parse_target("contoso")
    checks = {"https_dataplane": CheckResult("https_dataplane", Status.FAIL, "403", {}, 1.0)}
    link = Finding(cause_id="dns.link_in_progress", checks=("arm_dns_zones",), detail="InProgress")
    answer = Finding(cause_id="svc.public_access_disabled_public_path", checks=("https_dataplane",), detail="403 H2")
    merged = merge([link, answer], Evidence(target, checks), catalogue.load())
    assert [(f.cause_id, f.role) for f in merged] == [
        ("dns.link_in_progress", Role.ROOT),
        ("svc.public_access_disabled_public_path", Role.CONSEQUENCE),
    ]
    alone = merge([link], Evidence(target, {}), catalogue.load())
    assert alone[0].role is Role.ADVISORY


# --- issue 16 part 3: remediation only as catalogue templates -------------------------------------------------------


def test_azure_rules_spell_no_command_themselves() -> None:
    source = (REPO / "aoai_diag" / "diagnosis" / "azure_rules.py").read_text()
    assert not re.search(r"""f?["'][^"'\n]*\baz (network|cognitiveservices|resource)\b""", source)
    assert "remediation=fill(" in source


def test_an_unseen_dns_server_names_the_unlisted_subscription_to_read() -> None:
    # given a VNet with a custom DNS server in no visible VNet, peered with a hub nobody listed
    hub = f"/subscriptions/{HUB_SUB}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
    vnet = {"id": "/subscriptions/aaaa/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/spoke",
            "dns_servers": ["10.0.0.4"], "peerings": [{"name": "to-hub", "remote_vnet_id": hub}]}  # fmt: skip
    net = {"vnet": vnet, "dns_mode": "custom", "dns_server_hosts": [{"ip": "10.0.0.4", "vnet_id": None}]}
    checks = {
        "arm_account": CheckResult("arm_account", Status.PASS, "", {"subscriptions": ["aaaa"], "account": {}}, 1),
        "arm_client_network": CheckResult("arm_client_network", Status.PASS, "", net, 1),
    }
    # when the resolver's VNet is asked for, then what would decide names the hub's subscription
    fact = azure_facts.resolver_vnet(Evidence(parse_target("contoso"), checks))
    assert not fact.known and f"Reader on subscription {HUB_SUB}" in (fact.decide or "")
