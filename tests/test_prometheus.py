"""Prometheus exposition: parsed back with prometheus_client's own parser; bounded, stable label sets."""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from aoai_diag import catalogue
from aoai_diag.bundle import analyze, load_bundle
from aoai_diag.cli import main
from aoai_diag.render.measures import parse_not_after
from aoai_diag.render.prometheus import render_prometheus
from aoai_diag.runner import build_report
from tests.conftest import FIXTURES

BUNDLES = FIXTURES / "bundles"
EXPECTED = json.loads((BUNDLES / "expected.json").read_text())["bundles"]


def samples(name: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = render_prometheus(analyze(load_bundle(str(BUNDLES / name))))
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def one(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    values = [v for lab, v in found[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(values) == 1, (name, labels, found[name])
    return values[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exposition_parses_and_states_the_diagnosis(name: str) -> None:
    found = samples(name)
    expected = EXPECTED[name]
    host = "contoso.openai.azure.com"
    assert all(metric.startswith("aoai_diag_") for metric in found)
    assert one(found, "aoai_diag_probe_success", target=host) == (1.0 if expected["verdict"] == "healthy" else 0.0)
    assert one(found, "aoai_diag_verdict", target=host, verdict=expected["verdict"]) == 1.0
    # every catalogue cause has exactly one series; the diagnosed ones are 1
    report = analyze(load_bundle(str(BUNDLES / name)))
    named = {f.cause_id for f in report.targets[0].findings}
    causes = found["aoai_diag_cause"]
    assert {lab["cause"] for lab, _ in causes} == set(catalogue.load())
    assert {lab["cause"] for lab, v in causes if v == 1.0} == named
    for lab, _ in causes:
        assert lab["family"] == catalogue.get(lab["cause"]).family
    # each check has exactly one status set
    per_check: dict[str, float] = defaultdict(float)
    for lab, value in found["aoai_diag_check_status"]:
        per_check[lab["check"]] += value
    assert per_check and set(per_check.values()) == {1.0}


def test_no_label_value_is_an_address() -> None:
    for name in EXPECTED:
        for series in samples(name).values():
            for labels, _ in series:
                for value in labels.values():
                    with pytest.raises(ValueError):
                        ipaddress.ip_address(value)


def test_label_sets_are_stable_across_outcomes() -> None:
    def shape(name: str) -> set[tuple[str, tuple[str, ...]]]:
        return {(metric, tuple(sorted(lab))) for metric, series in samples(name).items() for lab, _ in series}

    healthy = shape("healthy.json")
    assert shape("resolves-public.json") == healthy
    assert shape("proxy-without-no-proxy.json") == healthy


def test_address_class_path_phases_and_certificate() -> None:
    host = "contoso.openai.azure.com"
    public = samples("resolves-public.json")
    assert one(public, "aoai_diag_resolved_addresses", target=host, **{"class": "public"}) == 1.0
    assert one(public, "aoai_diag_resolved_addresses", target=host, **{"class": "private"}) == 0.0
    assert one(public, "aoai_diag_data_path", target=host, path="public") == 1.0
    proxy = samples("proxy-without-no-proxy.json")
    assert one(proxy, "aoai_diag_data_path", target=host, path="proxy") == 1.0
    healthy = samples("healthy.json")
    assert one(healthy, "aoai_diag_data_path", target=host, path="private") == 1.0
    phases = {lab["phase"]: v for lab, v in healthy["aoai_diag_phase_duration_seconds"]}
    assert set(phases) == {"dns", "connect", "tls", "http"}
    # the numbers are the ones the run measured (fixtures/bundles are real runs, tests/e2e/make_bundles.py)
    checks = {c["id"]: c for c in json.loads((BUNDLES / "healthy.json").read_text())["targets"][0]["checks"]}
    connected = [a["connect_ms"] for a in checks["tcp_connect"]["evidence"]["attempts"] if a["outcome"] == "connected"]
    http = checks["https_dataplane"]["evidence"]
    app = next(a for a in http["attempts"] if a["via"] == http["app_path"])
    assert phases["connect"] == pytest.approx(min(connected) / 1000) and phases["http"] == pytest.approx(
        app["elapsed_ms"] / 1000
    )
    assert phases["dns"] == pytest.approx(checks["system_resolution"]["duration_ms"] / 1000)
    expiry = one(healthy, "aoai_diag_cert_expiry_timestamp_seconds", target=host)
    not_after = checks["tls_handshake"]["evidence"]["attempts"][0]["not_after"]
    assert expiry == parse_not_after(not_after) and expiry > 0
    # no TLS, no HTTP answer: those phases are absent, not zero
    nx = samples("nxdomain-private-zone.json")
    assert {lab["phase"] for lab, _ in nx["aoai_diag_phase_duration_seconds"]} == {"dns"}
    assert "aoai_diag_cert_expiry_timestamp_seconds" not in nx


def test_several_targets_get_their_own_series() -> None:
    reports = [analyze(load_bundle(str(BUNDLES / n))).targets[0] for n in ("healthy.json", "tls-inspection.json")]
    fabrikam = type(reports[1])(
        target={**reports[1].target, "host": "fabrikam.openai.azure.com", "label": "fabrikam"},
        verdict=reports[1].verdict,
        checks=reports[1].checks,
        findings=reports[1].findings,
    )
    text = render_prometheus(build_report([reports[0], fabrikam]), duration_s=1.5)
    success = {
        s.labels["target"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "aoai_diag_probe_success"
    }
    assert success == {"contoso.openai.azure.com": 1.0, "fabrikam.openai.azure.com": 0.0}
    assert "aoai_diag_run_duration_seconds 1.5" in text


def test_parse_not_after_accepts_openssl_form_and_rejects_junk() -> None:
    assert parse_not_after("Jun 30 23:59:59 2026 GMT") == pytest.approx(1782863999.0)
    assert parse_not_after("soon") is None and parse_not_after(None) is None


def test_cli_analyze_prometheus_output_parses() -> None:
    result = CliRunner().invoke(main, ["analyze", str(BUNDLES / "resolves-public.json"), "-o", "prometheus"])
    assert result.exit_code == 1
    names = {f.name for f in text_string_to_metric_families(result.stdout)}
    assert {"aoai_diag_probe_success", "aoai_diag_cause", "aoai_diag_check_status"} <= names
    assert result.stderr == ""


def test_roles_and_unexplained_failures_are_counted() -> None:
    host = "contoso.openai.azure.com"
    public = samples("resolves-public.json")
    roles = {lab["role"]: v for lab, v in public["aoai_diag_findings_by_role"] if lab["target"] == host}
    assert roles == {"root": 1.0, "consequence": 1.0, "advisory": 0.0}
    assert one(public, "aoai_diag_unexplained_checks", target=host) == 0.0
