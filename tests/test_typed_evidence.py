"""Typed evidence: every probe's evidence has a declared type; bundles and fixtures read through it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aoai_diag import engine
from aoai_diag.checks import PROBES
from aoai_diag.evidence import EVIDENCE_TYPES, EvidenceError, normalize, parse
from aoai_diag.evidence.base import parse_int
from aoai_diag.evidence.path import TcpAttempt, TcpConnect
from aoai_diag.evidence.schema import SCHEMA_FILES, block_text, current_block
from aoai_diag.model import CheckResult
from tests.conftest import FIXTURES, REPO
from tests.evidence_guard import evidence_problem

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
    assert set(EVIDENCE_TYPES) == {p.id for p in PROBES}


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
        assert set(out) == set(json.loads(json.dumps(EVIDENCE_TYPES[check["id"]]().to_dict())))
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
    assert normalize("from_a_newer_version", {"a": [1, "b"]}) == {"a": [1, "b"]}
    with pytest.raises(EvidenceError, match=r"evidence\.a\[1\]: must be a finite number"):
        normalize("from_a_newer_version", {"a": [1, math.inf]})


def test_typed_evidence_is_frozen() -> None:
    typed = TcpConnect.from_dict({"port": 443})
    with pytest.raises(AttributeError):
        typed.port = 80  # type: ignore[misc]


def test_the_suite_checks_every_probe_result_at_the_engine_boundary() -> None:
    # The guard (tests/evidence_guard.py) is installed for every test...
    assert engine.CheckResult is not CheckResult
    # ...and names a field a probe writes without declaring it, or a value of the wrong type.
    assert evidence_problem("tcp_connect", {"port": 443, "attempts": []}) is None
    problem = evidence_problem("tcp_connect", {"port": 443, "attempts": [{"address": "10.0.0.5", "rtt": 1}]})
    assert problem == "tcp_connect: evidence.attempts[0].rtt: not a declared field of TcpAttempt"
    assert evidence_problem("hosts_file", {"entries": [{"line": "3"}]}) is not None


@pytest.mark.parametrize("schema", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_schema_evidence_part_is_generated_from_the_types(schema: Path) -> None:
    text = schema.read_text()
    start, end = current_block(text)
    assert text[start:end] == block_text(), f"run: python -m aoai_diag.evidence.schema ({schema.name} is stale)"


def test_docs_name_every_declared_top_level_field() -> None:
    docs = (REPO / "docs" / "evidence.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in docs.splitlines() if line.startswith("| `")}
    shared = "A probe skipped before it read anything records only `error`"  # said once for every arm_* probe
    assert shared in docs
    for check_id, kind in EVIDENCE_TYPES.items():
        row = rows[check_id]
        for key in kind().to_dict():
            if key == "error" and check_id.startswith("arm_"):
                continue
            assert f"`{key}" in row or f" {key}" in row or f"{key}:" in row, f"docs/evidence.md {check_id}: {key}"
