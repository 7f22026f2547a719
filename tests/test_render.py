"""Renderers: golden files for the table and the JSON report; every report validates against the schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aoai_diag.model import CheckResult, Report
from aoai_diag.render.json_report import render_json, report_to_dict
from aoai_diag.render.table import render_table
from aoai_diag.runner import build_report, build_target_report
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES, REPO

EVIDENCE = sorted((FIXTURES / "evidence").glob("*.json"))
GOLDEN = REPO / "tests" / "golden" / "render"
SCHEMA = json.loads((REPO / "aoai_diag" / "data" / "report.schema.json").read_text())
# Checked against the metaschema once here, not on every validate() (the evidence part makes that slow).
jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
# A few representative reports are pinned byte for byte; the rest are schema-checked.
PINNED = ("healthy_azure_vm", "resolves_public_azure_dns", "proxy_env_no_proxy", "hosts_workaround_vpn")


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
