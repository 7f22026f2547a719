"""The fact registry and the merger (diagnosis/facts.py, diagnosis/merge.py) on a small made-up catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from aoai_diag.catalogue import Cause
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, known, registry, unread
from aoai_diag.diagnosis.merge import merge
from aoai_diag.evidence.azure import ArmDnsZones
from aoai_diag.model import CheckResult, Finding, Role, Severity, Status
from aoai_diag.targets import parse_target

CALLS: list[str] = []
ZONES = "arm_dns_zones"
"""A check that records the reads refused (`denied`), as every Resource Manager probe does."""


@fact("test.zone_readable")
def _zone_readable(ev: Evidence) -> Fact[Any]:
    CALLS.append("test.zone_readable")
    missing = unread(ev, ZONES, decide="Reader on sub-1 would show whether the zone exists")
    return missing if missing is not None else known(ev.of(ArmDnsZones).complete, ZONES)


def cause(cid: str, severity: Severity = Severity.ERROR, **fields: Any) -> Cause:
    return Cause(
        id=cid,
        family=cid.split(".")[0],
        documented_cause=None,
        severity=severity,
        title=f"title of {cid}",
        explanation="x",
        remediation="x",
        docs=("https://learn.microsoft.com/x",),
        **fields,
    )


CAUSES = {
    c.id: c
    for c in (
        cause("dns.specific", premises=("test.zone_readable",), generic="dns.generic", supersedes=("dns.generic",)),
        cause("dns.generic"),
        cause("dns.other", excludes=("net.contradicted",)),
        cause("net.contradicted"),
        cause("svc.answer", consequence_of=("dns.specific", "dns.generic")),
        cause("svc.warned", severity=Severity.WARNING),
        cause("svc.loop_a", consequence_of=("svc.loop_b",)),
        cause("svc.loop_b", consequence_of=("svc.loop_a",)),
    )
}


def evidence(zones: CheckResult | None) -> Evidence:
    checks = {ZONES: zones} if zones else {}
    return Evidence(parse_target("contoso"), checks)


def zones(status: Status, **ev: Any) -> CheckResult:
    return CheckResult(ZONES, status, "s", ev, 1.0, reason=ev.pop("reason", None), failure=ev.pop("failure", None))


def found(cid: str, *checks: str, **kw: Any) -> Finding:
    return Finding(cause_id=cid, checks=checks or ("system_resolution",), detail=f"detail of {cid}", **kw)


def test_registry_holds_the_facts_of_every_module() -> None:
    names = set(registry())
    assert {"arm.zone_search_complete", "local.public_dns_knows_name", "test.zone_readable"} <= names


def test_a_fact_is_registered_once() -> None:
    def other(ev: Evidence) -> Fact[Any]:
        return known(True)

    with pytest.raises(ValueError, match="registered twice"):
        fact("test.zone_readable")(other)


def test_each_fact_is_computed_once_per_target() -> None:
    ev = evidence(zones(Status.PASS, complete=True))
    CALLS.clear()
    assert ev.fact("test.zone_readable").is_true()
    assert ev.fact("test.zone_readable").is_true()
    assert CALLS == ["test.zone_readable"]
    with pytest.raises(KeyError):
        ev.fact("test.never_registered")


@pytest.mark.parametrize(
    ("result", "why"),
    [
        (None, Unknown.NOT_READ),
        (zones(Status.SKIP, reason="no credential"), Unknown.NOT_READ),
        (zones(Status.ERROR, denied=[{"scope": "/subscriptions/sub-1", "status": 403}]), Unknown.FORBIDDEN),
        (zones(Status.ERROR, denied=[{"scope": "/subscriptions/sub-1", "status": 429}]), Unknown.THROTTLED),
        (zones(Status.ERROR, reason="deadline of 5 s exceeded", failure="timeout"), Unknown.TIMED_OUT),
        # why comes from the typed failure, never the words of the reason
        (zones(Status.ERROR, reason="timed out after 5 s"), Unknown.FAILED),
    ],
)
def test_a_read_that_observed_nothing_is_unknown_never_false(result: CheckResult | None, why: Unknown) -> None:
    f = evidence(result).fact("test.zone_readable")
    assert not f.known and f.why is why
    assert not f.is_true() and not f.is_false()


def test_cause_with_known_premises_is_named_and_rests_on_the_premise_checks() -> None:
    (only,) = merge([found("dns.specific")], evidence(zones(Status.PASS, complete=True)), CAUSES)
    assert only.cause_id == "dns.specific" and only.role is Role.ROOT
    assert only.checks == ("system_resolution", ZONES)


def test_unknown_premise_names_the_generic_with_the_cause_as_candidate_and_what_would_decide() -> None:
    ev = evidence(zones(Status.ERROR, denied=[{"scope": "/subscriptions/sub-1", "status": 403}]))
    (only,) = merge([found("dns.specific")], ev, CAUSES)
    assert only.cause_id == "dns.generic"
    assert only.candidates == ("dns.specific",)
    assert only.decide == "Reader on sub-1 would show whether the zone exists"
    assert ZONES not in only.checks and "forbidden" in only.detail


def test_unknown_premise_adds_the_candidate_to_a_generic_a_rule_concluded() -> None:
    ev = evidence(None)
    generic = found("dns.generic", "public_dns")
    out = merge([found("dns.specific"), generic], ev, CAUSES)
    assert [f.cause_id for f in out] == ["dns.generic"]
    assert out[0].detail == generic.detail and out[0].candidates == ("dns.specific",) and out[0].decide


def test_false_premise_rules_the_cause_out() -> None:
    assert merge([found("dns.specific")], evidence(zones(Status.PASS, complete=False)), CAUSES) == ()


def test_excluded_cause_is_dropped_whichever_rule_came_first() -> None:
    ev = evidence(None)
    for findings in ([found("net.contradicted"), found("dns.other")], [found("dns.other"), found("net.contradicted")]):
        assert [f.cause_id for f in merge(findings, ev, CAUSES)] == ["dns.other"]


def test_roles_and_order_roots_then_consequences_then_advisories() -> None:
    ev = evidence(zones(Status.PASS, complete=True))
    out = merge([found("svc.warned"), found("svc.answer"), found("dns.specific")], ev, CAUSES)
    assert [(f.cause_id, f.role) for f in out] == [
        ("dns.specific", Role.ROOT),
        ("svc.answer", Role.CONSEQUENCE),
        ("svc.warned", Role.ADVISORY),
    ]
    assert out[1].consequence_of == ("dns.specific",)


def test_consequence_without_its_root_in_the_report_is_a_root() -> None:
    (only,) = merge([found("svc.answer")], evidence(None), CAUSES)
    assert only.role is Role.ROOT and only.consequence_of == ()


def test_causes_that_follow_from_each_other_still_leave_one_root() -> None:
    out = merge([found("svc.loop_b"), found("svc.loop_a")], evidence(None), CAUSES)
    assert [(f.cause_id, f.role) for f in out] == [("svc.loop_a", Role.ROOT), ("svc.loop_b", Role.CONSEQUENCE)]


def test_a_cause_excluded_only_by_a_dropped_cause_stays() -> None:
    catalogue = {
        **CAUSES,
        "svc.state": cause("svc.state", excludes=("svc.absent",)),
        "svc.absent": cause("svc.absent", excludes=("dns.linked",)),
        "dns.linked": cause("dns.linked"),
    }
    out = merge([found("dns.linked"), found("svc.absent"), found("svc.state")], evidence(None), catalogue)
    assert {f.cause_id for f in out} == {"svc.state", "dns.linked"}


def test_a_circle_of_exclusions_keeps_no_two_that_conflict() -> None:
    catalogue = {
        "dns.a": cause("dns.a", excludes=("dns.b",)),
        "dns.b": cause("dns.b", excludes=("dns.c",)),
        "dns.c": cause("dns.c", excludes=("dns.a",)),
    }
    out = merge([found("dns.c"), found("dns.b"), found("dns.a")], evidence(None), catalogue)
    assert [f.cause_id for f in out] == ["dns.a"]


# --- the registered facts and the real catalogue ---------------------------------------------------------------------


def zones_read(status: Status, **ev: Any) -> Evidence:
    return Evidence(parse_target("contoso"), {"arm_dns_zones": CheckResult("arm_dns_zones", status, "s", ev, 1.0)})


def test_zone_search_is_complete_only_when_every_scope_was_read() -> None:
    assert zones_read(Status.PASS, complete=True, denied=[]).fact("arm.zone_search_complete").is_true()
    partial = zones_read(Status.WARN, complete=False, denied=[{"scope": "/subscriptions/sub-9", "status": 403}])
    f = partial.fact("arm.zone_search_complete")
    assert (f.known, f.why) == (False, Unknown.FORBIDDEN)
    assert f.decide is not None and "/subscriptions/sub-9" in f.decide


def test_zone_missing_without_reading_every_subscription_is_only_a_candidate() -> None:
    from aoai_diag import catalogue

    ev = zones_read(Status.WARN, complete=False, denied=[{"scope": "/subscriptions/sub-9", "status": 403}])
    rule_said = found("dns.zone_missing", "arm_dns_zones", "system_resolution")
    (only,) = merge([rule_said], ev, catalogue.load())
    assert only.cause_id == "dns.resolves_public" and only.candidates == ("dns.zone_missing",)
    assert only.checks == ("system_resolution",)
    assert only.decide == "Reader on /subscriptions/sub-9 would show whether the zone and its record exist there"


def public_dns(status: Status, **ev: Any) -> Evidence:
    return Evidence(parse_target("contoso"), {"public_dns": CheckResult("public_dns", status, "s", ev, 1.0)})


def _answer(outcome: str, addresses: list[str]) -> dict[str, Any]:
    return {"name": "contoso.openai.azure.com", "outcome": outcome, "addresses": addresses, "chain": []}


def test_public_dns_knows_the_name_from_its_answer() -> None:
    servers = [{"server": "1.1.1.1:53", "answers": {"contoso.openai.azure.com": _answer("nxdomain", [])}}]
    nx = public_dns(Status.PASS, servers=servers, answered_by="1.1.1.1:53", public_addresses=[], privatelink_hop=None)
    assert nx.fact("local.public_dns_knows_name").is_false()
    assert public_dns(Status.PASS, public_addresses=["20.61.99.10"]).fact("local.public_dns_knows_name").is_true()
    skipped = public_dns(Status.SKIP).fact("local.public_dns_knows_name")
    assert (skipped.known, skipped.why) == (False, Unknown.NOT_READ)


def test_cross_tenant_nxdomain_is_ruled_out_when_public_dns_does_not_know_the_name() -> None:
    from aoai_diag import catalogue

    servers = [{"server": "1.1.1.1:53", "answers": {"contoso.openai.azure.com": _answer("nxdomain", [])}}]
    ev = public_dns(Status.PASS, servers=servers, answered_by="1.1.1.1:53", public_addresses=[])
    assert merge([found("dns.cross_tenant_nxdomain", "arm_dns_zones")], ev, catalogue.load()) == ()
