"""Typed evidence: every probe's evidence has a declared type; bundles and fixtures read through it."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.checks import PROBES
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.evidence import EvidenceError, evidence_types, parse, read
from aoai_diag.evidence.base import parse_int
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.evidence.osnet import OsResolvers, OsRoute, VpnProfile
from aoai_diag.evidence.path import RouteLookup, TcpAttempt, TcpConnect
from aoai_diag.evidence.schema import SCHEMA_FILES, block_text, current_block
from aoai_diag.model import Outcome, Status
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES, REPO

FIXTURE_FILES = sorted((FIXTURES / "evidence").glob("*.json")) + sorted(
    p for p in (FIXTURES / "bundles").glob("*.json") if p.name != "expected.json"
)


def checks_in(value: Any) -> Iterator[dict[str, Any]]:
    """Every {id, evidence} check record anywhere in a fixture."""
    if isinstance(value, dict):
        if isinstance(value.get("checks"), list):
            yield from (c for c in value["checks"] if isinstance(c, dict) and "evidence" in c)
        for item in value.values():
            yield from checks_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from checks_in(item)


def contains(full: Any, part: Any) -> bool:
    """`full` holds every key of `part` with an equal value (lists element-wise)."""
    if isinstance(part, dict):
        return isinstance(full, dict) and all(k in full and contains(full[k], v) for k, v in part.items())
    if isinstance(part, list):
        return isinstance(full, list) and len(full) == len(part) and all(map(contains, full, part))
    return bool((full == part and type(full) is type(part)) or (isinstance(part, int) and isinstance(full, float)))


def test_every_probe_has_an_evidence_type() -> None:
    assert set(evidence_types()) == {p.id for p in PROBES}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FIXTURE_FILES])
def test_fixture_evidence_round_trips_through_its_type(path: Path) -> None:
    checks = list(checks_in(json.loads(path.read_text())))
    assert checks, path
    for check in checks:
        # Given a probe's recorded evidence: it fits its type with nothing undeclared
        typed = parse(check["id"], check["evidence"], strict=True)
        assert typed is not None, check["id"]
        # When written back
        out = typed.to_dict()
        # Then every recorded value is kept, the missing ones are filled in, and a second pass changes nothing
        assert contains(out, check["evidence"]), check["id"]
        assert set(out) == set(json.loads(json.dumps(evidence_types()[check["id"]]().to_dict())))
        assert parse(check["id"], out, strict=True) == typed
        json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(
    ("evidence", "path", "problem"),
    [
        ({"port": 443, "attempts": [{}, {"connect_ms": math.nan}]}, "ev.attempts[1].connect_ms", "finite"),
        ({"port": 443, "attempts": [{}, {"connect_ms": math.inf}]}, "ev.attempts[1].connect_ms", "finite"),
        ({"port": "443"}, "ev.port", "must be an integer, not a string"),
        ({"port": True}, "ev.port", "must be an integer, not a boolean"),
        ({"port": 2**70}, "ev.port", "out of range"),
        ({"port": 443, "attempts": {"address": "10.0.0.5"}}, "ev.attempts", "must be a list"),
        ({"attempts": ["10.0.0.5"]}, "ev.attempts[0]", "must be an object"),
        ({"attempts": [{"address": None}]}, "ev.attempts[0].address", "not null"),
        ({"attempts": [{"class": 4}]}, "ev.attempts[0].class", "must be a string"),
        ({"attempts": [{"jitter": math.nan}]}, "ev.attempts[0].jitter", "finite"),
        ([1, 2], "ev", "must be an object"),
    ],
)
def test_a_bad_field_is_named_by_its_path(evidence: Any, path: str, problem: str) -> None:
    with pytest.raises(EvidenceError) as info:
        TcpConnect.from_dict(evidence, "ev")
    assert info.value.path == path
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_mapping_keys_appear_in_the_path() -> None:
    evidence = {"answers": {"contoso.openai.azure.com": {"ttl": "10"}}}
    with pytest.raises(EvidenceError) as info:
        parse("azure_dns", evidence, "x")
    assert info.value.path == "x.answers[contoso.openai.azure.com].ttl"


def test_a_5000_digit_integer_is_named_not_a_conversion_crash() -> None:
    data = json.loads('{"port": ' + "9" * 5000 + "}", parse_int=parse_int)
    with pytest.raises(EvidenceError, match=r"^ev\.port: integer out of range"):
        TcpConnect.from_dict(data, "ev")
    assert json.loads('{"port": 443}', parse_int=parse_int) == {"port": 443}


def test_tolerant_reading_defaults_ints_and_extras() -> None:
    typed = TcpConnect.from_dict({"attempts": [{"address": "10.0.0.5", "connect_ms": 3, "class": "private"}], "x": 1})
    # missing fields take their defaults, an int stands for a float, the JSON key `class` maps to a field
    assert typed.port is None
    assert typed.attempts == (TcpAttempt(address="10.0.0.5", connect_ms=3.0, address_class="private"),)
    assert isinstance(typed.attempts[0].connect_ms, float)
    # an undeclared key is kept (a newer minor version's addition) unless strict
    assert typed.extra == {"x": 1} and typed.to_dict()["x"] == 1
    with pytest.raises(EvidenceError, match="not a declared field"):
        TcpConnect.from_dict({"x": 1}, strict=True)


def test_unknown_check_keeps_its_evidence_but_only_plain_finite_json() -> None:
    assert read("from_a_newer_version", {"a": [1, "b"]}).to_dict() == {"a": [1, "b"]}
    with pytest.raises(EvidenceError, match=r"evidence\.a\[1\]: must be a finite number"):
        read("from_a_newer_version", {"a": [1, math.inf]})


def test_typed_evidence_is_frozen() -> None:
    typed = TcpConnect.from_dict({"port": 443})
    with pytest.raises(AttributeError):
        typed.port = 80  # type: ignore[misc]


def _ctx() -> ProbeContext:
    return ProbeContext(settings=Settings(timeout=1.0), deadline=time.monotonic() + 5.0)


@pytest.mark.parametrize(
    ("evidence", "named"),
    [
        ({"port": 443, "attempts": []}, "evidence dict, not TcpConnect"),
        (DnsAnswer(), "evidence DnsAnswer, not TcpConnect"),
    ],
)
def test_the_engine_refuses_evidence_that_is_not_the_declared_type(evidence: Any, named: str) -> None:
    # mypy holds the probes to `Outcome.evidence: Evidence | None`; the engine catches what a value typed Any slips
    # past it: the result is an error naming what came back, with the type at its defaults, never the stray value.
    async def run(target: Any, ctx: Any, deps: Any) -> Outcome:
        return Outcome(Status.PASS, "looks fine", evidence)

    probe = Probe(id="tcp_connect", title="t", run=run, evidence=TcpConnect)
    (result,) = run_probes(parse_target("contoso"), _ctx(), [probe])
    assert (result.status, result.failure) == (Status.ERROR, "failed")
    assert result.summary == f"probe tcp_connect failed: probe returned {named}"
    assert result.evidence == TcpConnect()


def test_a_probe_that_observed_nothing_records_its_type_at_defaults() -> None:
    async def run(target: Any, ctx: Any, deps: Any) -> Outcome:
        return Outcome(Status.SKIP, "nothing to do")

    probe = Probe(id="tcp_connect", title="t", run=run, evidence=TcpConnect)
    (result,) = run_probes(parse_target("contoso"), _ctx(), [probe])
    assert result.evidence == TcpConnect() and result.typed(TcpConnect).attempts == ()
    with pytest.raises(TypeError, match="tcp_connect evidence is TcpConnect, not DnsAnswer"):
        result.typed(DnsAnswer)


# What a VPN laptop's run records (shapes of route_lookup, vpn_profile and os_resolvers, values as the probes wrote
# them in the end-to-end tier's VPN scenarios).
ANSWER = {"name": "contoso.openai.azure.com", "outcome": "answer", "rcode": "NOERROR", "chain": [
    "contoso.openai.azure.com", "contoso.privatelink.openai.azure.com"], "addresses": ["10.1.2.4"],
    "address_classes": {"10.1.2.4": "private"}, "addresses6": [], "ttl": 10, "soa_mname": None,
    "truncated_udp": False, "tcp_retry": None, "elapsed_ms": 1.2, "error": None}  # fmt: skip
VPN_LAPTOP: dict[str, Any] = {
    "route_lookup": {
        "reference": {"address": "1.1.1.1", "source": "192.168.1.20", "error": None, "os_route": {
            "interface": "wlan0", "next_hop": "192.168.1.1", "prefix": None, "source": "192.168.1.20",
            "local": False, "error": None}},
        "routes": [{"address": "10.1.2.4", "class": "private", "source": None, "error": "network unreachable",
                    "local": False, "via_default": None, "os_route": {"error": "network unreachable", "no_route": True},
                    "tunnel": None, "tunnel_basis": "no route"}],
        "platform": "linux",
        "profile_routes": [{"prefix": "10.0.0.0/16", "address": "10.0.0.1", "interface": "tun0", "next_hop": None,
                            "error": None, "no_route": False, "local": False, "via_default": False, "tunnel": True,
                            "tunnel_basis": "source address in the VPN client address pool"}],
    },
    "vpn_profile": {
        "file": "vpnprofile.zip",
        "profile": {"files": ["AzureVPN/azurevpnconfig.xml", "Generic/VpnSettings.xml"], "name": "vnet-hub",
                    "gateway": "azuregateway-1.vpn.azure.com", "vpn_type": "OpenVPN (tcp)", "auth_type": "aad",
                    "client_address_pool": ["172.16.201.0/24"], "advertised_routes": ["10.0.0.0/16"],
                    "include_routes": [], "exclude_routes": [], "routes_known": True, "dns_servers": [],
                    "dns_suffixes": ["corp.contoso.com"], "omitted": ["audience", "tenant"], "warnings": []},
        "coverage": {"10.1.2.4": {"route": None, "excluded_by": None}},
        "suffix_coverage": {"contoso.openai.azure.com": None},
    },
    "os_resolvers": {
        "platform": "windows", "source": "nrpt", "errors": [],
        "split_rules": [{"kind": "nrpt", "match": "corp.contoso.com", "servers": ["10.0.0.4:53"], "interface": None}],
        "names": {"contoso.openai.azure.com": {
            "kind": "default", "match": None, "servers": ["192.168.1.1:53"], "interface": "Wi-Fi",
            "why": "no NRPT rule matches: the interfaces' DNS servers", "answers": {"192.168.1.1:53": ANSWER},
            "verdict": "private", "app": "public", "disagree": True}},
        "uncovered": {"contoso.openai.azure.com": {"10.0.0.4:53": ANSWER}},
    },
}  # fmt: skip


def test_vpn_laptop_evidence_reads_into_its_types() -> None:
    for check_id, evidence in VPN_LAPTOP.items():
        typed = parse(check_id, evidence, strict=True)
        assert typed is not None and contains(typed.to_dict(), evidence), check_id
        assert parse(check_id, typed.to_dict(), strict=True) == typed
    route = parse("route_lookup", VPN_LAPTOP["route_lookup"])
    assert isinstance(route, RouteLookup) and route.reference and isinstance(route.reference.os_route, OsRoute)
    # the OS's "no route" is kept apart from a reader that failed; a missing `local` reads as false
    assert route.routes[0].os_route == OsRoute(error="network unreachable", no_route=True)
    assert route.profile_routes[0].tunnel is True and route.profile_routes[0].tunnel_basis
    profile = parse("vpn_profile", VPN_LAPTOP["vpn_profile"])
    assert isinstance(profile, VpnProfile) and profile.profile and profile.profile.routes_known
    assert profile.suffix_coverage == {"contoso.openai.azure.com": None}
    resolvers = parse("os_resolvers", VPN_LAPTOP["os_resolvers"])
    assert isinstance(resolvers, OsResolvers)
    assert isinstance(resolvers.uncovered["contoso.openai.azure.com"]["10.0.0.4:53"], DnsAnswer)
    assert resolvers.names["contoso.openai.azure.com"].disagree is True


@pytest.mark.parametrize(
    ("check_id", "evidence", "path", "problem"),
    [
        ("vpn_profile", {"suffix_coverage": {"contoso.openai.azure.com": 3}}, "ev.suffix_coverage[contoso.openai.azure.com]",
         "must be a string"),
        ("vpn_profile", {"profile": {"routes_known": "yes"}}, "ev.profile.routes_known", "must be a boolean"),
        ("os_resolvers", {"uncovered": {"contoso.openai.azure.com": {"10.0.0.4:53": {"ttl": "10"}}}},
         "ev.uncovered[contoso.openai.azure.com][10.0.0.4:53].ttl", "must be an integer"),
        ("os_resolvers", {"names": {"a.openai.azure.com": {"disagree": None}}}, "ev.names[a.openai.azure.com].disagree",
         "not null"),
        ("route_lookup", {"routes": [{"os_route": {"no_route": 1}}]}, "ev.routes[0].os_route.no_route",
         "must be a boolean"),
        ("route_lookup", {"profile_routes": [{"prefix": None}]}, "ev.profile_routes[0].prefix", "not null"),
        ("arm_client_network", {"effective_routes": {"state": 2}}, "ev.effective_routes.state", "must be a string"),
        ("arm_nsg", {"client": {"effective": []}}, "ev.client.effective", "must be an object"),
        ("arm_dns_zones", {"hidden_zones": "/subscriptions/x"}, "ev.hidden_zones", "must be a list"),
        ("proxy_settings", {"system": {"wininet": {"server": 8080}}}, "ev.system.wininet.server", "must be a string"),
    ],
)  # fmt: skip
def test_a_bad_value_in_the_newer_shapes_is_named_by_its_path(
    check_id: str, evidence: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(EvidenceError) as info:
        parse(check_id, evidence, "ev")
    assert info.value.path == path
    assert problem in str(info.value)


@pytest.mark.parametrize("schema", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_schema_evidence_part_is_generated_from_the_types(schema: Path) -> None:
    text = schema.read_text()
    start, end = current_block(text)
    assert text[start:end] == block_text(), f"run: python -m aoai_diag.evidence.schema ({schema.name} is stale)"


def test_docs_name_every_declared_top_level_field() -> None:
    docs = (REPO / "docs" / "evidence.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if line.startswith("| `")}
    shared = "A probe skipped before it read anything sets only `error`"  # said once for every arm_* probe
    assert shared in docs
    for check_id, kind in evidence_types().items():
        row = rows[check_id]
        for key in kind().to_dict():
            if key == "error" and check_id.startswith("arm_"):
                continue
            assert f"`{key}" in row or f" {key}" in row or f"{key}:" in row, f"docs/evidence.md {check_id}: {key}"
