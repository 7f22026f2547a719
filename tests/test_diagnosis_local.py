"""Evaluator tier: saved evidence in, causes and verdict out (fixtures/evidence/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aoai_diag import catalogue
from aoai_diag.model import CheckResult, Role, Severity, Status, Verdict
from aoai_diag.runner import build_target_report
from aoai_diag.targets import parse_target

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "evidence").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def checks_of(data: dict[str, Any]) -> list[CheckResult]:
    return [CheckResult.from_dict(c) for c in data["checks"]]


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_gives_expected_causes_and_verdict(path: Path) -> None:
    # given a saved evidence bundle
    data = load(path)
    # when it is diagnosed
    report = build_target_report(parse_target(data["target"]), checks_of(data))
    # then exactly the expected error and warning causes are found, and the verdict matches
    causes = catalogue.load()
    found = sorted(
        f.cause_id for f in report.findings if causes[f.cause_id].severity in (Severity.ERROR, Severity.WARNING)
    )
    assert found == sorted(data["expect"]["causes"])
    assert report.verdict is Verdict(data["expect"]["verdict"])


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_findings_are_concrete(path: Path) -> None:
    data = load(path)
    report = build_target_report(parse_target(data["target"]), checks_of(data))
    by_id = {c["id"] for c in data["checks"]}
    for finding in report.findings:
        # the detail names this instance, not the catalogue's generic text
        assert finding.detail and finding.detail != catalogue.get(finding.cause_id).explanation
        assert set(finding.checks) <= by_id, finding.checks
        assert all(c in catalogue.load() for c in finding.candidates)


def fixture_data(name: str) -> dict[str, Any]:
    return load(next(p for p in FIXTURES if p.stem == name))


def diagnose_fixture(name: str) -> tuple[Any, dict[str, Any]]:
    data = fixture_data(name)
    return build_target_report(parse_target(data["target"]), checks_of(data)), data


def test_resolves_public_names_addresses_and_candidates() -> None:
    report, _ = diagnose_fixture("resolves_public_azure_dns")
    # The root cause first; the service's own 403 H2 follows as a separate, confirmed fact.
    finding, confirmation = report.findings
    assert confirmation.cause_id == "svc.public_access_disabled_public_path"
    assert "20.62.58.100" in finding.detail and "contoso.privatelink.openai.azure.com" in finding.detail
    assert "Public access is disabled" in finding.detail
    assert {"dns.zone_missing", "dns.zone_not_linked"} <= set(finding.candidates)


def test_public_path_that_succeeds_is_never_healthy() -> None:
    report, _ = diagnose_fixture("public_path_succeeds")
    assert report.verdict is Verdict.UNHEALTHY
    assert "public path" in report.findings[0].detail


def test_ip_not_allowed_names_caller_ip() -> None:
    report, _ = diagnose_fixture("h3_ip_not_allowed")
    (finding,) = report.findings
    assert "52.170.10.20" in finding.detail
    assert finding.remediation is not None and "--ip-address 52.170.10.20" in finding.remediation


def test_private_zone_nxdomain_differs_from_nxdomain_everywhere() -> None:
    private, _ = diagnose_fixture("nxdomain_private_zone")
    everywhere, _ = diagnose_fixture("account_not_found")
    assert [f.cause_id for f in private.findings] == ["dns.nxdomain"]
    assert "azureprivatedns.net" in private.findings[0].detail
    assert "dns.record_missing" in private.findings[0].candidates
    assert [f.cause_id for f in everywhere.findings] == ["svc.account_not_found"]


def test_custom_server_split_test_names_both_servers() -> None:
    report, _ = diagnose_fixture("custom_server_no_forwarder")
    # The root names both servers; the firewall 403 of the public path it led to follows as its consequence.
    finding, answer = report.findings
    assert (answer.cause_id, answer.role, answer.consequence_of) == (
        "svc.ip_not_allowed",
        Role.CONSEQUENCE,
        ("dns.custom_server_no_forwarder",),
    )
    assert "10.0.2.4:53" in finding.detail and "168.63.129.16" in finding.detail and "10.0.0.5" in finding.detail


def test_timeout_on_azure_offers_firewall_bucket_candidates() -> None:
    report, _ = diagnose_fixture("firewall_timeout_on_azure")
    (finding,) = report.findings
    assert finding.cause_id == "edge.customer_firewall_443"
    assert {"net.client_nsg_outbound", "net.udr_nva_drop"} <= set(finding.candidates)
    assert all(catalogue.get(c).documented_cause for c in finding.candidates[:4])


def test_same_evidence_off_azure_is_not_on_private_network() -> None:
    report, _ = diagnose_fixture("not_on_private_network")
    assert [f.cause_id for f in report.findings] == ["net.not_on_private_network"]


def test_remediation_placeholders_filled_for_firewall() -> None:
    report, _ = diagnose_fixture("firewall_refused")
    assert report.findings[0].remediation is not None and "10.0.0.5" in report.findings[0].remediation


def test_garbage_evidence_gives_no_crash() -> None:
    # given evidence of the wrong shapes (a corrupt or hand-edited bundle)
    odd = [
        CheckResult("dns_nameservers", Status.FAIL, "", {"servers": "nope"}, 0.0),
        CheckResult("public_dns", Status.PASS, "", {"servers": [{"server": "1.1.1.1:53", "answers": {"x": 1}}]}, 0.0),
        CheckResult("system_resolution", Status.PASS, "", {"addresses": ["not-an-ip"], "results": []}, 0.0),
        CheckResult("tcp_connect", Status.FAIL, "", {"attempts": [None, {"address": "zz"}]}, 0.0),
        CheckResult("tls_handshake", Status.FAIL, "", {"attempts": "x"}, 0.0),
        CheckResult("https_dataplane", Status.FAIL, "", {"attempts": [{"via": "direct", "headers": "x"}]}, 0.0),
        CheckResult("hosts_file", Status.WARN, "", {"entries": [{"name": "contoso.openai.azure.com"}]}, 0.0),
    ]
    report = build_target_report(parse_target("contoso"), odd)
    # then it is judged (hosts entry with no address counts as non-private), never a traceback
    assert report.verdict is Verdict.UNHEALTHY
    assert [f.cause_id for f in report.findings] == ["dns.hosts_override"]
