"""Renderers: golden files for the table and the JSON report; every report validates against the schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aoai_diag.model import CheckResult, Finding, Report, Role, Status, TargetReport, Verdict
from aoai_diag.render.json_report import render_json, report_to_dict
from aoai_diag.render.table import render_table
from aoai_diag.runner import build_report, build_target_report
from aoai_diag.targets import parse_target
from aoai_diag.verdict import target_verdict, unexplained
from tests.conftest import FIXTURES, REPO

EVIDENCE = sorted((FIXTURES / "evidence").glob("*.json"))
GOLDEN = REPO / "tests" / "golden" / "render"
SCHEMA = json.loads((REPO / "aoai_diag" / "data" / "report.schema.json").read_text())
# Checked against the metaschema once here, not on every validate() (the evidence part makes that slow).
jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
# A few representative reports are pinned byte for byte; the rest are schema-checked.
PINNED = (
    "app_pod_search_domain_hijack",
    "healthy_azure_vm",
    "resolves_public_azure_dns",
    "proxy_env_no_proxy",
    "hosts_workaround_vpn",
)


def report_for(path: Path) -> Report:
    data: dict[str, Any] = json.loads(path.read_text())
    checks = [CheckResult.from_dict({**c, "duration_ms": c.get("duration_ms", 1.0)}) for c in data["checks"]]
    return build_report([build_target_report(parse_target(data["target"]), checks)])


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("AOAI_DIAG_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing golden file {golden}; run with AOAI_DIAG_UPDATE_GOLDEN=1"
    assert text == golden.read_text()


@pytest.mark.parametrize("fixture", EVIDENCE, ids=[p.stem for p in EVIDENCE])
def test_json_report_validates_against_schema(fixture: Path) -> None:
    data = json.loads(render_json(report_for(fixture)))
    VALIDATOR.validate(data)
    assert data["schema_version"].startswith("1.")


@pytest.mark.parametrize("name", PINNED)
def test_table_golden(name: str) -> None:
    check_golden(f"{name}.txt", render_table(report_for(FIXTURES / "evidence" / f"{name}.json")))


@pytest.mark.parametrize("name", PINNED)
def test_json_golden(name: str) -> None:
    check_golden(f"{name}.json", render_json(report_for(FIXTURES / "evidence" / f"{name}.json")))


def test_table_colour_only_when_asked() -> None:
    report = report_for(FIXTURES / "evidence" / "resolves_public_azure_dns.json")
    assert "\x1b[" not in render_table(report, colour=False)
    assert "\x1b[31m" in render_table(report, colour=True)


def test_json_names_each_finding_with_catalogue_fields_and_its_checks() -> None:
    data = report_to_dict(report_for(FIXTURES / "evidence" / "resolves_public_azure_dns.json"))
    (target,) = data["targets"]
    assert target["verdict"] == "unhealthy"
    finding = target["diagnosis"][0]
    check_ids = {c["id"] for c in target["checks"]}
    assert finding["id"].startswith("dns.") and finding["docs"][0].startswith("https://learn.microsoft.com/")
    assert finding["documented_cause"] == "dns_issue"
    assert set(finding["checks"]) <= check_ids and finding["checks"]


def test_schema_rejects_a_wrong_report() -> None:
    data = report_to_dict(report_for(EVIDENCE[0]))
    data["verdict"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)


def test_table_marks_consequences_and_json_gives_roles() -> None:
    report = report_for(FIXTURES / "evidence" / "resolves_public_azure_dns.json")
    text = render_table(report)
    assert "1. [error] dns.resolves_public — " in text
    assert "2. [error] svc.public_access_disabled_public_path (consequence of dns.resolves_public) — " in text
    (target,) = report_to_dict(report)["targets"]
    assert [(f["id"], f["role"], f["consequence_of"]) for f in target["diagnosis"]] == [
        ("dns.resolves_public", "root", []),
        ("svc.public_access_disabled_public_path", "consequence", ["dns.resolves_public"]),
    ]


def _one_target(checks: list[CheckResult], findings: tuple[Finding, ...] = ()) -> Report:
    target = parse_target("contoso")
    return build_report(
        [
            TargetReport(
                target=target.to_dict(),
                verdict=target_verdict(checks, findings),
                checks=tuple(checks),
                findings=findings,
                unexplained=unexplained(checks, findings),
            )
        ]
    )


def _check(check_id: str, status: Status, summary: str = "s") -> CheckResult:
    return CheckResult(check_id, status, summary, {}, 1.0)


def test_a_failure_no_finding_explains_is_stated_and_never_healthy() -> None:
    checks = [
        _check("system_resolution", Status.PASS),
        _check("arm_nsg", Status.FAIL, "nsg-pe denies 443"),
        _check("https_dataplane", Status.PASS),
    ]
    report = _one_target(checks)
    assert report.targets[0].unexplained == ("arm_nsg",)
    assert report.verdict is Verdict.INCONCLUSIVE
    assert "Observed but not explained:\n  arm_nsg: nsg-pe denies 443" in render_table(report)
    assert report_to_dict(report)["targets"][0]["unexplained"] == ["arm_nsg"]
    VALIDATOR.validate(report_to_dict(report))


def test_a_failure_down_the_path_from_a_root_is_explained_by_it() -> None:
    checks = [
        _check("system_resolution", Status.WARN),
        _check("tcp_connect", Status.FAIL),
        _check("arm_nsg", Status.FAIL),
    ]
    root = Finding(cause_id="dns.resolves_public", checks=("system_resolution",), detail="public")
    # tcp_connect is downstream of the DNS root; an Azure read that failed is not on the path and stays unexplained
    assert unexplained(checks, (root,)) == ("arm_nsg",)
    advisory = Finding(
        cause_id="dns.hosts_workaround", checks=("system_resolution",), detail="hosts", role=Role.ADVISORY
    )
    assert unexplained(checks, (advisory,)) == ("tcp_connect", "arm_nsg")


def test_table_shows_what_would_decide() -> None:
    finding = Finding(
        cause_id="dns.resolves_public",
        checks=("system_resolution",),
        detail="public",
        candidates=("dns.zone_missing",),
        decide="Reader on /subscriptions/sub-9 would show whether the zone and its record exist there",
    )
    text = render_table(_one_target([_check("system_resolution", Status.WARN)], (finding,)))
    assert "   Not ruled out: dns.zone_missing\n   To decide: Reader on /subscriptions/sub-9 would show" in text
