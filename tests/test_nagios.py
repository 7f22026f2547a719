"""Nagios/Icinga plugin output: golden lines and plugin exit codes."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner

from aoai_diag import catalogue
from aoai_diag.bundle import analyze, load_bundle
from aoai_diag.cli import main
from aoai_diag.model import Finding, Severity, Verdict
from aoai_diag.render.nagios import render_nagios
from aoai_diag.runner import build_report
from aoai_diag.verdict import nagios_code
from tests.conftest import FIXTURES, REPO

BUNDLES = FIXTURES / "bundles"
GOLDEN = REPO / "tests" / "golden" / "nagios"
EXPECTED = json.loads((BUNDLES / "expected.json").read_text())["bundles"]
NAGIOS_CODE = {"healthy": 0, "unhealthy": 2, "inconclusive": 3}
# https://nagios-plugins.org/doc/guidelines.html#AEN200
# (trailing empty fields may be dropped).
PERF = re.compile(r"^('[^'=]+'|[^'= ]+)=-?[0-9.]+(s|%|B|c)?(;[0-9.]*){0,4}$")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_line(name: str) -> None:
    line = render_nagios(analyze(load_bundle(str(BUNDLES / name))))
    golden = GOLDEN / name.replace(".json", ".txt")
    if os.environ.get("AOAI_DIAG_UPDATE_GOLDEN"):
        golden.write_text(line)
    assert line == golden.read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_line_format_and_exit_code(name: str) -> None:
    result = CliRunner().invoke(main, ["analyze", str(BUNDLES / name), "-o", "nagios"])
    verdict = EXPECTED[name]["verdict"]
    findings = analyze(load_bundle(str(BUNDLES / name))).targets[0].findings
    # healthy with only warning-level causes (a hosts-file workaround) is WARNING, not OK
    assert result.exit_code == (1 if verdict == "healthy" and findings else NAGIOS_CODE[verdict])
    line = result.stdout
    assert line.endswith("\n") and line.count("\n") == 1 and result.stderr == ""
    status, _, perfdata = line.rstrip("\n").partition(" | ")
    assert status.startswith(f"AOAI-DIAG {('OK', 'WARNING', 'CRITICAL', 'UNKNOWN')[result.exit_code]} - ")
    assert "|" not in status
    for item in perfdata.split(" "):
        assert PERF.match(item), item
    for finding in findings:
        assert finding.cause_id in status


def test_warning_only_findings_are_warning() -> None:
    # Given a healthy target on which the diagnosis names only a warning-level cause
    healthy = analyze(load_bundle(str(BUNDLES / "healthy.json"))).targets[0]
    warning = next((c for c in catalogue.load().values() if c.severity is Severity.WARNING), None)
    if warning is None:
        pytest.skip("the catalogue has no warning-level cause")
    target = replace(healthy, findings=(Finding(warning.id, ("hosts_file",), "detail"),))
    report = build_report([target])
    assert report.verdict is Verdict.HEALTHY
    # Then the plugin state is WARNING (1), and it names the cause
    assert nagios_code(report) == 1
    assert render_nagios(report).startswith(f"AOAI-DIAG WARNING - contoso.openai.azure.com healthy: {warning.id} |")


def test_several_targets_summarise_the_worst_in_one_line() -> None:
    a = analyze(load_bundle(str(BUNDLES / "healthy.json"))).targets[0]
    b = analyze(load_bundle(str(BUNDLES / "tls-inspection.json"))).targets[0]
    b = replace(b, target={**b.target, "host": "fabrikam.openai.azure.com", "label": "fabrikam"})
    line = render_nagios(build_report([a, b]))
    assert line.startswith("AOAI-DIAG CRITICAL - 2 targets: 1 healthy, 1 unhealthy; fabrikam.openai.azure.com")
    assert "contoso_dns=" in line and "fabrikam_tls=" in line and line.count("\n") == 1


def test_unexplained_failures_are_named_and_the_state_is_unknown() -> None:
    # Given a target whose only failed check no finding explains
    healthy = analyze(load_bundle(str(BUNDLES / "healthy.json"))).targets[0]
    target = replace(healthy, verdict=Verdict.INCONCLUSIVE, findings=(), unexplained=("arm_nsg",))
    report = build_report([target])
    # Then the plugin says UNKNOWN and which check it could not explain
    assert nagios_code(report) == 3
    assert render_nagios(report).startswith(
        "AOAI-DIAG UNKNOWN - contoso.openai.azure.com inconclusive: no cause named; not explained: arm_nsg |"
    )
