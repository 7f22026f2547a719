"""Evaluator tier: saved evidence in, causes and verdict out (fixtures/evidence/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aoai_diag import catalogue
from aoai_diag.evidence import EvidenceError, evidence_types
from aoai_diag.evidence.dns import (
    AzureDns,
    DnsAnswer,
    DnsNameservers,
    HostsEntry,
    HostsFile,
    NameResult,
    PublicDns,
    ServerAnswers,
    SystemResolution,
)
from aoai_diag.evidence.host import AppDns, AppHost, AppServiceSignals, SearchWalk
from aoai_diag.evidence.osnet import NameChoice, OsResolvers, VpnProfile, VpnProfileContent
from aoai_diag.evidence.path import (
    HttpAttempt,
    HttpsDataplane,
    KernelRoute,
    ProfileRoute,
    ProxySettings,
    RouteLookup,
    TcpAttempt,
    TcpConnect,
    TlsAttempt,
    TlsHandshake,
)
from aoai_diag.model import CheckResult, Role, Severity, Status, TargetReport, Verdict
from aoai_diag.render.json_report import render_json
from aoai_diag.render.nagios import render_nagios
from aoai_diag.render.prometheus import render_prometheus
from aoai_diag.render.table import render_table
from aoai_diag.runner import build_report, build_target_report
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


def test_ip_not_allowed_is_a_candidate_until_arm_shows_the_ip_rules() -> None:
    # The 403 H3 names the caller, but without the account's networkAcls.ipRules whether the caller is outside them
    # (the premise arm.caller_ip_not_allowed) is unknown: the generic cause, svc.ip_not_allowed among its candidates.
    report, _ = diagnose_fixture("h3_ip_not_allowed")
    (finding,) = report.findings
    assert finding.cause_id == "svc.network_rules_denied"
    assert finding.candidates[0] == "svc.ip_not_allowed"
    assert "whether the account exists" in (finding.decide or "")


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
        "svc.network_rules_denied",
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


GARBAGE = [
    ("dns_nameservers", {"servers": "nope"}, "evidence.servers: must be a list, not a string"),
    (
        "public_dns",
        {"servers": [{"server": "1.1.1.1:53", "answers": {"x": 1}}]},
        "evidence.servers[0].answers.x: must be an object, not an integer",
    ),
    (
        "system_resolution",
        {"addresses": ["not-an-ip"], "results": []},
        "evidence.results: must be an object, not a list",
    ),
    ("tcp_connect", {"attempts": [None, {"address": "zz"}]}, "evidence.attempts[0]: must be an object, not null"),
    ("tls_handshake", {"attempts": "x"}, "evidence.attempts: must be a list, not a string"),
    (
        "https_dataplane",
        {"attempts": [{"via": "direct", "headers": "x"}]},
        "evidence.attempts[0].headers: must be an object, not a string",
    ),
    ("hosts_file", {"entries": [{"name": 5}]}, "evidence.entries[0].name: must be a string, not an integer"),
]


@pytest.mark.parametrize(("check_id", "evidence", "error"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_evidence_is_refused_at_the_door(check_id: str, evidence: dict[str, Any], error: str) -> None:
    # given evidence of the wrong shapes (a corrupt or hand-edited bundle): it never reaches the diagnosis
    with pytest.raises(EvidenceError) as refused:
        CheckResult(check_id, Status.FAIL, "", evidence, 0.0)
    # then the one-line error names the bad field and what is wrong with it
    assert str(refused.value) == error


HOST = "contoso.openai.azure.com"
PE = "10.1.2.4"


def odd_checks(status: Status) -> list[CheckResult]:
    """Evidence that fits its types but is as odd as they allow: empty tuples, None everywhere, strings no probe
    writes (an unknown outcome, an address that is not one, a route prefix that is not a network)."""
    nothing = DnsAnswer(outcome="martian", chain=("", "x.privatelink."))
    return [
        CheckResult(
            "dns_nameservers",
            status,
            "",
            DnsNameservers(servers=(ServerAnswers(answers={HOST: nothing}), ServerAnswers(server="[::1"))),
            0.0,
        ),
        CheckResult(
            "public_dns",
            status,
            "",
            PublicDns(
                servers=(ServerAnswers(server="1.1.1.1:53", answers={HOST: DnsAnswer(outcome="answer")}),),
                privatelink_hop=None,
            ),
            0.0,
        ),
        CheckResult("azure_dns", status, "", AzureDns(answers={HOST: DnsAnswer()}), 0.0),
        CheckResult("system_resolution", status, "", SystemResolution(addresses=("not-an-ip", PE)), 0.0),
        CheckResult("tcp_connect", status, "", TcpConnect(attempts=(TcpAttempt(address=PE, outcome="timeout"),)), 0.0),
        CheckResult("tls_handshake", status, "", TlsHandshake(attempts=(TlsAttempt(outcome="untrusted"),)), 0.0),
        CheckResult("https_dataplane", status, "", HttpsDataplane(attempts=(HttpAttempt(outcome="???"),)), 0.0),
        CheckResult("proxy_settings", status, "", ProxySettings(applies=True, source="wininet"), 0.0),
        CheckResult(
            "route_lookup",
            status,
            "",
            RouteLookup(routes=(KernelRoute(address=PE),), profile_routes=(ProfileRoute(),)),
            0.0,
        ),
        CheckResult(
            "vpn_profile",
            status,
            "",
            VpnProfile(profile=VpnProfileContent(advertised_routes=("nope", "10.1.2.0/33"), routes_known=True)),
            0.0,
        ),
        CheckResult(
            "os_resolvers", status, "", OsResolvers(names={HOST: NameChoice(kind="default", app="public")}), 0.0
        ),
        CheckResult(
            "app_dns",
            status,
            "",
            AppDns(walk=SearchWalk(hijacked_by="x", answered_by="y"), forwarding_break="1.2.3.4:53"),
            0.0,
        ),
        CheckResult("app_host", status, "", AppHost(kind="app_service", app_service=AppServiceSignals()), 0.0),
        CheckResult("hosts_file", status, "", HostsFile(entries=(HostsEntry(name=HOST),)), 0.0),
    ]


OBSERVED = (Status.PASS, Status.FAIL, Status.WARN)


def rendered(report: TargetReport) -> list[str]:
    """The report in every output format (each must take odd evidence too)."""
    whole = build_report([report])
    return [render_table(whole), render_json(whole), render_prometheus(whole), render_nagios(whole)]


@pytest.mark.parametrize("status", list(Status), ids=[s.value for s in Status])
def test_odd_but_valid_typed_evidence_gives_no_crash(status: Status) -> None:
    # given evidence that fits its types but no probe would write
    report = build_target_report(parse_target("contoso"), odd_checks(status))
    # then it is judged, never a traceback
    causes = [f.cause_id for f in report.findings]
    if status in OBSERVED:
        # a hosts entry without an address counts as non-private; an answer without addresses answers nothing
        assert {"dns.hosts_override", "dns.search_domain_hijack", "edge.tls_inspection"} <= set(causes)
        assert report.verdict is Verdict.UNHEALTHY
    else:
        # nothing observed, nothing named
        assert causes == [] and report.verdict is Verdict.INCONCLUSIVE
    assert all(f.detail for f in report.findings)
    assert all(text for text in rendered(report))


@pytest.mark.parametrize("status", list(Status), ids=[s.value for s in Status])
def test_every_check_at_its_defaults_gives_no_crash(status: Status) -> None:
    # given every probe's evidence type with every field at its default (what a check that observed nothing records)
    checks = [CheckResult(check_id, status, "", kind(), 0.0) for check_id, kind in evidence_types().items()]
    report = build_target_report(parse_target("contoso"), checks)
    # then only what the defaults say is named: a resolver configuration that ran and lists no server
    roots = [f.cause_id for f in report.findings if f.role is Role.ROOT]
    assert roots == (["dns.resolver_unreachable"] if status in OBSERVED else [])
    assert report.verdict is (Verdict.UNHEALTHY if status in OBSERVED else Verdict.INCONCLUSIVE)
    assert all(text for text in rendered(report))


# --- issue 8, classes 2 and 3: one story per fact, every observed failure named -----------------------------------


def evidence_of(
    name: str, drop: tuple[str, ...] = (), add: tuple[CheckResult, ...] = ()
) -> tuple[Any, list[CheckResult]]:
    data = fixture_data(name)
    checks = [c for c in checks_of(data) if c.id not in drop] + list(add)
    return parse_target(data["target"]), checks


def test_servfail_from_the_configured_resolver_names_the_server_and_what_decides() -> None:
    report, _ = diagnose_fixture("servfail_configured_resolver")
    (finding,) = report.findings
    assert (finding.cause_id, finding.role) == ("dns.resolver_servfail", Role.ROOT)
    assert "10.50.0.10:53" in finding.detail and "SERVFAIL" in finding.detail
    assert "Public DNS answers the name" in finding.detail
    assert finding.decide is not None and "+cd" in finding.decide and "forward" in finding.decide
    assert finding.candidates == ("dns.onprem_no_resolver_path",)


def test_servfail_is_not_named_when_public_dns_does_not_know_the_name() -> None:
    # given the same SERVFAIL, but public DNS answers NXDOMAIN: no account has the name
    target, checks = evidence_of("servfail_configured_resolver", drop=("public_dns",))
    public = next(c for c in checks_of(fixture_data("account_not_found")) if c.id == "public_dns")
    report = build_target_report(target, [*checks, public])
    assert [f.cause_id for f in report.findings] == ["svc.account_not_found"]


def test_ai_services_account_with_only_the_openai_zone_names_the_sibling_zones() -> None:
    report, _ = diagnose_fixture("ai_services_openai_zone_only")
    (finding,) = report.findings
    assert finding.cause_id == "dns.sibling_zone_missing"
    assert "contoso.cognitiveservices.azure.com -> 20.62.58.100" in finding.detail
    assert "contoso.services.ai.azure.com -> 20.62.58.100" in finding.detail
    assert "AIServices" in finding.detail
    assert finding.remediation and "privatelink.services.ai.azure.com" in finding.remediation
    assert report.verdict is Verdict.UNHEALTHY


def arm_account(kind: str) -> CheckResult:
    account = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/contoso",
        "name": "contoso",
        "kind": kind,
        "custom_subdomain": "contoso",
        "endpoint_hosts": ["contoso.openai.azure.com"] if kind == "OpenAI" else [],
    }
    return CheckResult("arm_account", Status.PASS, f"contoso ({kind})", {"account": account, "denied": []}, 0.0)


def test_the_account_kind_from_resource_manager_decides_which_names_are_judged() -> None:
    # given the siblings resolving publicly, and Resource Manager saying the account is an OpenAI account
    target, checks = evidence_of("ai_services_openai_zone_only", add=(arm_account("OpenAI"),))
    report = build_target_report(target, checks)
    # then its other names are evidence, not findings
    assert report.findings == () and report.verdict is Verdict.HEALTHY
    # and an AIServices account without public DNS is still judged, from Resource Manager's kind
    target, checks = evidence_of("ai_services_openai_zone_only", drop=("public_dns",), add=(arm_account("AIServices"),))
    report = build_target_report(target, checks)
    assert [f.cause_id for f in report.findings] == ["dns.sibling_zone_missing"]
    assert "arm_account" in report.findings[0].checks


def test_openai_account_siblings_are_evidence_only() -> None:
    report, _ = diagnose_fixture("openai_kind_siblings_public")
    assert report.findings == () and report.verdict is Verdict.HEALTHY


def test_unknown_kind_gives_an_advisory_with_what_would_decide() -> None:
    report, _ = diagnose_fixture("sibling_names_public_kind_unknown")
    (finding,) = report.findings
    assert (finding.cause_id, finding.role) == ("dns.sibling_names_public", Role.ADVISORY)
    assert finding.candidates == ("dns.sibling_zone_missing",)
    assert finding.decide is not None and "kind" in finding.decide
    assert "unknown" in finding.detail


def test_user_targeting_a_sibling_name_judges_it_as_the_host() -> None:
    # given the user asks about the Foundry name itself, which resolves publicly while a PE serves it
    _, checks = evidence_of("ai_services_openai_zone_only", drop=("tcp_connect", "tls_handshake", "https_dataplane"))
    report = build_target_report(parse_target("contoso.services.ai.azure.com"), checks)
    # then the name the user uses is what is judged: it resolves publicly although a private endpoint exists
    assert [f.cause_id for f in report.findings] == ["dns.resolves_public"]
    assert "contoso.services.ai.azure.com resolves to public 20.62.58.100" in report.findings[0].detail


def test_no_network_is_not_a_dns_problem() -> None:
    report, _ = diagnose_fixture("no_network")
    (finding,) = report.findings
    assert finding.cause_id == "net.no_network"
    assert "reaches nothing" in finding.detail and "192.168.1.1:53 unreachable" in finding.detail
    assert "1.1.1.1:53 unreachable" in finding.detail


def test_a_dead_resolver_with_working_public_dns_stays_a_dns_problem() -> None:
    # given the same machine, but the public resolver answers: the network works, the DNS server does not
    target, checks = evidence_of("no_network", drop=("public_dns",))
    public = next(c for c in checks_of(fixture_data("servfail_configured_resolver")) if c.id == "public_dns")
    report = build_target_report(target, [*checks, public])
    assert [f.cause_id for f in report.findings] == ["dns.resolver_unreachable"]


def test_public_dns_not_asked_never_claims_no_network() -> None:
    target, checks = evidence_of("no_network", drop=("public_dns",))
    report = build_target_report(target, checks)
    assert "net.no_network" not in [f.cause_id for f in report.findings]


@pytest.mark.parametrize("name", ["pe_disconnected_azure_dns", "pe_disconnected_custom_forwarder"])
def test_disconnected_endpoint_is_one_story(name: str) -> None:
    report, _ = diagnose_fixture(name)
    ids = [f.cause_id for f in report.findings]
    assert ids == ["svc.no_private_endpoint", "svc.public_access_disabled_public_path"]
    assert [f.role for f in report.findings] == [Role.ROOT, Role.CONSEQUENCE]


def test_forwarder_for_the_privatelink_zone_needs_a_private_endpoint_and_a_forwarder() -> None:
    # the genuine case still names it
    report, _ = diagnose_fixture("conditional_forwarder_wrong_zone")
    assert report.findings[0].cause_id == "dns.conditional_forwarder_wrong_zone"
    # Azure DNS itself is no conditional forwarder, even with a privatelink hop in the public chain
    data = fixture_data("conditional_forwarder_wrong_zone")
    text = json.dumps(data["checks"]).replace("10.50.0.10:53", "168.63.129.16:53")
    report = build_target_report(parse_target("contoso"), [CheckResult.from_dict(c) for c in json.loads(text)])
    assert "dns.conditional_forwarder_wrong_zone" not in [f.cause_id for f in report.findings]


def test_public_nxdomain_rules_out_cross_tenant() -> None:
    from aoai_diag.diagnosis.evidence import Evidence
    from aoai_diag.diagnosis.merge import merge
    from aoai_diag.model import Finding

    # given public DNS answering NXDOMAIN, and a rule concluding another tenant's endpoint
    target, checks = evidence_of("account_not_found")
    ev = Evidence(target, {c.id: c for c in checks})
    cross = Finding(cause_id="dns.cross_tenant_nxdomain", checks=("arm_dns_zones",), detail="x")
    absent = Finding(cause_id="svc.account_not_found", checks=("public_dns",), detail="y")
    # then only the account that does not exist is told
    kept = merge([cross, absent], ev, catalogue.load())
    assert [f.cause_id for f in kept] == ["svc.account_not_found"]


@pytest.mark.parametrize(
    ("name", "root"),
    [("resolves_public_h3_firewall", "dns.resolves_public"), ("resolves_public_azure_dns", "dns.resolves_public")],
)
def test_the_services_403_answers_are_consequences_of_the_dns_root(name: str, root: str) -> None:
    report, _ = diagnose_fixture(name)
    first, answer = report.findings
    assert (first.cause_id, first.role) == (root, Role.ROOT)
    assert answer.cause_id in ("svc.network_rules_denied", "svc.public_access_disabled_public_path")
    assert (answer.role, answer.consequence_of) == (Role.CONSEQUENCE, (root,))


# --- local facts: known with their sources, or unknown with why -----------------------------------------------------


def facts_of(name: str, drop: tuple[str, ...] = (), add: tuple[CheckResult, ...] = ()) -> Any:
    from aoai_diag.diagnosis.evidence import Evidence

    target, checks = evidence_of(name, drop=drop, add=add)
    return Evidence(target, {c.id: c for c in checks})


def test_answer_kinds_per_name_and_resolver() -> None:
    from aoai_diag.diagnosis import local_facts as lf

    ev = facts_of("ai_services_openai_zone_only")
    table = {(r.name, r.resolver.value, r.kind.value) for r in lf.name_answers(ev)}
    assert ("contoso.openai.azure.com", "system", "private") in table
    assert ("contoso.services.ai.azure.com", "system", "public") in table
    assert ("contoso.cognitiveservices.azure.com", "configured", "public") in table
    assert ("contoso.privatelink.openai.azure.com", "azure", "private") in table
    assert ("contoso.services.ai.azure.com", "public", "public") in table
    unreachable = DnsAnswer(outcome="unreachable", error="OSError: [Errno 101] Network is unreachable")
    assert lf.classify_dns(unreachable) is lf.AnswerKind.UNREACHABLE
    # why it failed is the recorded outcome, never the error text
    assert lf.classify_dns(DnsAnswer(outcome="error", error="Network is unreachable")) is lf.AnswerKind.ERROR
    assert lf.classify_dns(DnsAnswer(outcome="error", error="BadResponse: garbage")) is lf.AnswerKind.ERROR
    nxdomain = NameResult(error="EAI_NONAME: Name or service not known")
    assert lf.classify_system(nxdomain) is lf.AnswerKind.NXDOMAIN


def test_account_kind_is_known_from_arm_or_public_dns_and_otherwise_unknown_with_why() -> None:
    from aoai_diag.diagnosis.facts import Unknown

    from_dns = facts_of("ai_services_openai_zone_only").fact("local.account_kind")
    assert (from_dns.value, from_dns.sources) == ("AIServices", ("public_dns",))
    from_arm = facts_of("ai_services_openai_zone_only", add=(arm_account("OpenAI"),)).fact("local.account_kind")
    assert (from_arm.value, from_arm.sources) == ("OpenAI", ("arm_account",))
    not_foundry = facts_of("openai_kind_siblings_public").fact("local.account_kind")
    assert not_foundry.value == "not AIServices"
    in_use = facts_of("openai_kind_siblings_public").fact("local.names_in_use")
    assert in_use.value == ("contoso.openai.azure.com",)
    missing = facts_of("sibling_names_public_kind_unknown").fact("local.account_kind")
    assert not missing.known and missing.why is Unknown.NOT_READ and missing.decide


def test_public_dns_knows_the_name_is_unknown_when_no_public_resolver_answered() -> None:
    from aoai_diag.diagnosis.facts import Unknown

    fact = facts_of("no_network").fact("local.public_dns_knows_name")
    assert not fact.known and fact.why is Unknown.FAILED
    assert not facts_of("no_network").fact("local.public_nxdomain").known
    assert facts_of("account_not_found").fact("local.public_nxdomain").is_true()
    assert facts_of("no_network", drop=("public_dns",)).fact("local.reaches_nothing").why is Unknown.NOT_READ


def test_a_foundry_target_makes_the_account_ai_services_and_judges_its_other_names() -> None:
    # given the user checks the Foundry name, which resolves privately, while the openai name resolves publicly
    text = json.dumps(fixture_data("ai_services_openai_zone_only")["checks"])
    swaps = [
        ("contoso.openai.azure.com", "SWAP"),
        ("contoso.services.ai.azure.com", "contoso.openai.azure.com"),
        ("SWAP", "contoso.services.ai.azure.com"),
        ("contoso.privatelink.openai.azure.com", "contoso.privatelink.services.ai.azure.com"),
    ]
    for old, new in swaps:
        text = text.replace(old, new)
    checks = [CheckResult.from_dict(c) for c in json.loads(text)]
    target = parse_target("contoso.services.ai.azure.com")
    from aoai_diag.diagnosis.evidence import Evidence

    kind = Evidence(target, {c.id: c for c in checks}).fact("local.account_kind")
    assert (kind.known, kind.value) == (True, "AIServices")
    report = build_target_report(target, checks)
    (finding,) = report.findings
    assert finding.cause_id == "dns.sibling_zone_missing"
    assert "contoso.openai.azure.com -> 20.62.58.100" in finding.detail


def test_servfail_from_azure_dns_points_at_forwarding_rulesets() -> None:
    text = json.dumps(fixture_data("servfail_configured_resolver")["checks"]).replace("10.50.0.10", "168.63.129.16")
    report = build_target_report(parse_target("contoso"), [CheckResult.from_dict(c) for c in json.loads(text)])
    (finding,) = report.findings
    assert finding.cause_id == "dns.resolver_servfail" and finding.candidates == ()
    assert finding.decide is not None and "forwarding rulesets" in finding.decide


def test_a_proxy_that_answers_means_the_machine_reaches_something() -> None:
    # given every resolver silent, but the data-plane request through a proxy got an answer
    proxied = CheckResult(
        "https_dataplane",
        Status.FAIL,
        "403 H2 through the proxy",
        {
            "app_path": "proxy",
            "attempts": [{"via": "proxy", "outcome": "response", "status": 403, "classification": "H2"}],
        },
        0.0,
    )
    ev = facts_of("no_network", drop=("https_dataplane",), add=(proxied,))
    assert ev.fact("local.reaches_nothing").is_false()
    target, checks = evidence_of("no_network", drop=("https_dataplane",), add=(proxied,))
    assert "net.no_network" not in [f.cause_id for f in build_target_report(target, checks).findings]
