"""Soundness properties of the diagnosis, over every evidence fixture, every example bundle and every ARM fixture
topology run through the ARM emulator with the real SDK clients (the e2e tier checks its scenarios the same way):

(a) an ARM read that was refused or throttled never yields a cause that rests on it (as evidence or premise),
    whether the refusal is written into saved checks or made by the emulator in a live run;
(b) no two causes that exclude each other are named together;
(c) every unhealthy report names a root, roots first, and each consequence follows from a cause in the report;
(d) `analyze` of the bundle `collect` writes gives the live report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aoai_diag import catalogue
from aoai_diag.bundle import load_bundle
from aoai_diag.diagnosis import diagnose, service_rules
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.evidence.azure import ArmDnsZones, Denied
from aoai_diag.model import CheckResult, Status
from aoai_diag.render.json_report import report_to_dict
from aoai_diag.targets import Target, parse_target
from tests import soundness
from tests.azure_harness import ARM_FIXTURES, lab, topology
from tests.conftest import FIXTURES

EVIDENCE = sorted((FIXTURES / "evidence").glob("*.json"))
BUNDLES = sorted(p for p in (FIXTURES / "bundles").glob("*.json") if p.name != "expected.json")
TOPOLOGIES = sorted(
    [p.stem for p in ARM_FIXTURES.glob("*.json")]
    + [f"{sub}/{p.stem}" for sub in ("broken", "stories") for p in (ARM_FIXTURES / sub).glob("*.json")]
)
# Topologies where several rules fire on one broken link, and the one story the report must tell.
STORIES = {
    "stories/pe_disconnected_public_chain": [
        ("svc.pe_disconnected", "root"),
        ("svc.public_access_disabled_public_path", "consequence"),
    ],
    "stories/zone_not_linked_firewall_403": [("dns.zone_not_linked", "root"), ("svc.ip_not_allowed", "consequence")],
}
ARM_READS = ("arm_access", "arm_account", "arm_private_endpoints", "arm_dns_zones", "arm_client_network", "arm_nsg")
# What ARM answers when the identity lacks a role on the scope, and when it throttles.
REFUSALS = {
    "forbidden": (403, "AuthorizationFailed", "The client does not have authorization to perform action"),
    "throttled": (429, "TooManyRequests", "Number of read requests exceeded the limit"),
}
Case = tuple[Target, list[CheckResult]]
# Reads the ARM emulator refuses in the live variant of property (a), one family per topology in turn.
FAULTED_READS = (
    "/providers/Microsoft.Network/privateDnsZones",
    "/providers/Microsoft.Network/privateEndpoints",
    "/providers/Microsoft.Network/virtualNetworks",
    "/providers/Microsoft.Network/networkInterfaces",
    "/providers/Microsoft.Network/networkSecurityGroups",
    "/providers/Microsoft.CognitiveServices/accounts",
)


def evidence_case(path: Path) -> Case:
    data: dict[str, Any] = json.loads(path.read_text())
    checks = [CheckResult.from_dict({**c, "duration_ms": c.get("duration_ms", 1.0)}) for c in data["checks"]]
    return parse_target(data["target"]), checks


def bundle_case(path: Path) -> Case:
    (saved,) = load_bundle(str(path)).targets
    return Target.from_dict(dict(saved.target)), list(saved.checks)


@pytest.fixture(scope="module")
def arm_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """Each ARM fixture topology run once through the emulator: its checks feed every property below."""
    out: dict[str, Case] = {}
    for name in TOPOLOGIES:
        with lab(topology(name), tmp_path_factory.mktemp("arm")) as env:
            report, _ = env.run()
        out[name] = (Target.from_dict(dict(report.target)), list(report.checks))
    return out


@pytest.fixture(scope="module")
def faulted_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Case]]:
    """Each ARM topology run again with one family of reads refused by the emulator (403, or 429 with a
    Retry-After past the deadline), the family and the refusal taking turns over the topologies."""
    out: dict[str, tuple[str, Case]] = {}
    for i, name in enumerate(TOPOLOGIES):
        match = FAULTED_READS[i % len(FAULTED_READS)]
        fault = (
            {"match": match, "status": 403}
            if (i // len(FAULTED_READS)) % 2 == 0
            else {"match": match, "status": 429, "retry_after": 60}
        )
        topo = dict(topology(name), graph=False, faults=[fault])
        with lab(topo, tmp_path_factory.mktemp("faulted")) as env:
            report, _ = env.run()
        out[name] = (f"{fault['status']} on {match}", (Target.from_dict(dict(report.target)), list(report.checks)))
    return out


def all_cases(arm_cases: dict[str, Case]) -> Iterator[tuple[str, Case]]:
    yield from ((f"evidence/{p.stem}", evidence_case(p)) for p in EVIDENCE)
    yield from ((f"bundles/{p.stem}", bundle_case(p)) for p in BUNDLES)
    yield from ((f"arm/{name}", case) for name, case in arm_cases.items())


def refuse(checks: list[CheckResult], check_id: str, how: str) -> list[CheckResult]:
    """`checks` with `check_id`'s read refused the way the probes record it (error, `denied` naming the scope)."""
    status, code, message = REFUSALS[how]
    denied = {"scope": "/subscriptions/6c1f3a52-0d4e-4b8a-9e21-3f5a7b9c1d01", "status": status, "code": code}
    return [
        CheckResult(
            check_id,
            Status.ERROR,
            f"read refused: {status} {code}",
            {"denied": [{**denied, "message": message}], "complete": False},
            c.duration_ms,
            reason=f"{status} {code}: {message}",
        )
        if c.id == check_id
        else c
        for c in checks
    ]


def refused_read_violations(target: Target, checks: list[CheckResult]) -> list[str]:
    problems: list[str] = []
    observed = [c.id for c in checks if c.id in ARM_READS and c.status in (Status.PASS, Status.FAIL, Status.WARN)]
    for check_id in observed:
        for how in REFUSALS:
            mutated = refuse(checks, check_id, how)
            evidence = Evidence(target, {c.id: c for c in mutated})
            for finding in diagnose(target, mutated):
                if check_id in finding.checks:
                    problems.append(f"{check_id} {how}: {finding.cause_id} still rests on it")
                for premise in catalogue.get(finding.cause_id).premises:
                    fact = evidence.fact(premise)
                    if not fact.is_true() or check_id in fact.sources:
                        problems.append(f"{check_id} {how}: {finding.cause_id} named on {premise} = {fact}")
    return problems


def refusals(check: CheckResult) -> tuple[Denied, ...]:
    """The reads a Resource Manager check records as refused (other checks declare none)."""
    denied: tuple[Denied, ...] = getattr(check.evidence, "denied", ())
    return denied


def partly_refused(checks: list[CheckResult], check_id: str) -> list[CheckResult]:
    """`checks` with one more scope of `check_id`'s search refused: what it found stands, absence is unknown."""
    extra = Denied(scope="/subscriptions/0b7c2d4e-5f60-4a1b-8c9d-0e1f2a3b4c5d", status=403, code="AuthorizationFailed")
    out = []
    for c in checks:
        if c.id == check_id:
            # Every Resource Manager read declares `denied`; the zone search also says whether it is `complete`.
            changes: dict[str, Any] = {"denied": (*refusals(c), extra)}
            if isinstance(c.evidence, ArmDnsZones):
                changes["complete"] = False
            status = Status.WARN if c.status is Status.PASS else c.status
            c = CheckResult(c.id, status, c.summary, dataclasses.replace(c.evidence, **changes), c.duration_ms)
        out.append(c)
    return out


def partial_read_violations(target: Target, checks: list[CheckResult]) -> list[str]:
    """A cause that needs a complete search (a premise) is never named from a partial one."""
    problems: list[str] = []
    for check_id in [c.id for c in checks if c.id in ARM_READS and c.status in (Status.PASS, Status.FAIL, Status.WARN)]:
        mutated = partly_refused(checks, check_id)
        evidence = Evidence(target, {c.id: c for c in mutated})
        for finding in diagnose(target, mutated):
            for premise in catalogue.get(finding.cause_id).premises:
                if not evidence.fact(premise).is_true():
                    problems.append(f"{check_id} partly read: {finding.cause_id} named on {premise}")
    return problems


def test_there_is_something_to_check(arm_cases: dict[str, Case]) -> None:
    names = [name for name, _ in all_cases(arm_cases)]
    assert len(names) >= 70 and any(n.startswith("arm/broken/") for n in names)
    # the refused-read property has ARM reads to refuse in most ARM cases
    with_reads = [n for n, (_, checks) in all_cases(arm_cases) if any(c.id in ARM_READS for c in checks)]
    assert len(with_reads) >= 30


def test_a_refused_or_throttled_arm_read_never_yields_a_cause_resting_on_it(arm_cases: dict[str, Case]) -> None:
    problems = {name: p for name, (t, checks) in all_cases(arm_cases) if (p := refused_read_violations(t, checks))}
    assert problems == {}


def test_reads_the_emulator_refuses_never_yield_a_cause_resting_on_them(
    arm_cases: dict[str, Case], faulted_runs: dict[str, tuple[str, Case]]
) -> None:
    causes = catalogue.load()
    problems: dict[str, list[str]] = {}
    refused_somewhere = 0
    for name, (fault, (target, checks)) in faulted_runs.items():
        status = {c.id: c.status for c in checks}
        refused_somewhere += any(c.status is Status.ERROR or refusals(c) for c in checks)
        evidence = Evidence(target, {c.id: c for c in checks})
        full = {f.cause_id for f in diagnose(*arm_cases[name])}
        # Refusing a read only takes information away: a cause the full run did not name may appear only as a
        # less informed story of one it did: what it supersedes, its generic, or what it ruled out (a disconnected
        # endpoint the PE read would have shown leaves "the account lists no private endpoint").
        allowed = full | {
            other for cid in full for other in (*causes[cid].supersedes, causes[cid].generic, *causes[cid].excludes)
        }
        found = []
        for finding in diagnose(target, checks):
            unobserved = [c for c in finding.checks if status.get(c) not in (Status.PASS, Status.FAIL, Status.WARN)]
            if unobserved:
                found.append(f"{finding.cause_id} rests on {unobserved}, which observed nothing")
            if finding.cause_id not in allowed:
                found.append(f"{finding.cause_id} is new (full run: {sorted(full)})")
            found += [
                f"{finding.cause_id}: {p} not true"
                for p in causes[finding.cause_id].premises
                if not evidence.fact(p).is_true()
            ]
        if found:
            problems[f"{name} ({fault})"] = found
    assert problems == {}
    assert refused_somewhere >= len(faulted_runs) // 2, "most faulted runs must actually meet a refusal"


def test_a_partly_refused_search_never_names_a_cause_that_needs_all_of_it(arm_cases: dict[str, Case]) -> None:
    problems = {name: p for name, (t, checks) in all_cases(arm_cases) if (p := partial_read_violations(t, checks))}
    assert problems == {}
    # and the causes that need a complete zone search are among those the fixtures name when it is complete
    named = {f.cause_id for _, (t, checks) in all_cases(arm_cases) for f in diagnose(t, checks)}
    assert {"dns.zone_missing", "dns.record_missing"} <= named


def test_no_two_exclusive_causes_and_every_unhealthy_report_has_a_root_first(arm_cases: dict[str, Case]) -> None:
    problems = {}
    for name, (target, checks) in all_cases(arm_cases):
        report = report_to_dict(soundness.live_report(target, checks))
        if found := soundness.report_violations(report):
            problems[name] = found
    assert problems == {}


def test_analyze_of_the_collected_bundle_equals_the_live_run(arm_cases: dict[str, Case]) -> None:
    problems = {}
    for name, (target, checks) in all_cases(arm_cases):
        if found := soundness.bundle_roundtrip(soundness.live_report(target, checks)):
            problems[name] = found
    assert problems == {}


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_each_example_bundle_analyses_to_what_its_live_run_recorded(path: Path) -> None:
    (saved,) = load_bundle(str(path)).targets
    target, checks = bundle_case(path)
    now = soundness.live_report(target, checks).targets[0]
    assert saved.collected is not None
    assert (now.verdict.value, [f.cause_id for f in now.findings]) == (
        saved.collected["verdict"],
        saved.collected["causes"],
    )


@pytest.mark.parametrize("name", sorted(STORIES))
def test_several_rules_on_one_broken_link_tell_one_story(name: str, arm_cases: dict[str, Case]) -> None:
    target, checks = arm_cases[name]
    report = soundness.live_report(target, checks).targets[0]
    assert [(f.cause_id, f.role.value) for f in report.findings] == STORIES[name]


def test_the_disconnected_story_exercises_an_exclusion(arm_cases: dict[str, Case]) -> None:
    # The public chain without a privatelink hop alone says "no private endpoint"; ARM shows a disconnected one.
    target, checks = arm_cases["stories/pe_disconnected_public_chain"]
    local = list(service_rules.no_private_endpoint(Evidence(target, {c.id: c for c in checks})))
    assert [f.cause_id for f in local] == ["svc.no_private_endpoint"]


# --- the properties can fail ----------------------------------------------------------------------------------------


def _finding(cid: str, role: str, consequence_of: list[str] | None = None) -> dict[str, Any]:
    return {"id": cid, "role": role, "consequence_of": consequence_of or []}


def _target(verdict: str, *findings: dict[str, Any]) -> dict[str, Any]:
    return {"target": {"host": "h"}, "verdict": verdict, "diagnosis": list(findings), "checks": [], "unexplained": []}


def test_the_checks_catch_broken_reports() -> None:
    both = _target("unhealthy", _finding("svc.pe_disconnected", "root"), _finding("svc.no_private_endpoint", "root"))
    assert soundness.exclusive_pairs(both)
    orphan = _target("unhealthy", _finding("svc.ip_not_allowed", "consequence", ["dns.zone_not_linked"]))
    assert len(soundness.roles(orphan)) == 2  # no root, and its root is not in the report
    late = _target("unhealthy", _finding("dns.hosts_workaround", "advisory"), _finding("dns.zone_missing", "root"))
    assert soundness.roles(late) == [
        "roots are not first: [('dns.hosts_workaround', 'advisory'), ('dns.zone_missing', 'root')]"
    ]
    hidden = {**_target("healthy"), "unexplained": ["tcp_connect"]}
    assert len(soundness.unexplained_stated(hidden)) == 2


def test_a_refused_read_check_catches_a_rule_that_reads_through_errors() -> None:
    target, checks = bundle_case(next(p for p in BUNDLES if p.stem == "pe-pending"))
    # A rule that ignored the check status would still name svc.pe_pending from the refused read's evidence:
    # simulate it by keeping the evidence and refusing only the status.
    kept = [
        CheckResult(c.id, Status.ERROR, c.summary, c.evidence, c.duration_ms) if c.id == "arm_private_endpoints" else c
        for c in checks
    ]
    assert "svc.pe_pending" not in {f.cause_id for f in diagnose(target, kept)}
    assert refused_read_violations(target, checks) == []
