"""The cause catalogue (aoai_diag/data/causes.json) is complete and consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aoai_diag import catalogue
from aoai_diag.diagnosis.local_rules import LOCALLY_RECOGNISED

ROOT = Path(__file__).resolve().parent.parent
CAUSES_MD = ROOT.parent / "shared" / "reference" / "causes.md"
FIXTURES = sorted((ROOT / "fixtures" / "evidence").glob("*.json"))
# Generic causes that only local evidence produces, not taken from causes.md.
LOCAL_ONLY = {
    "dns.resolves_public",
    "dns.nxdomain",
    "dns.resolver_unreachable",
    "svc.account_not_found",
    "edge.intermediary_response",
    "edge.tcp_ok_no_service",
    "dns.hosts_workaround",
}
CAUSES = catalogue.load()


@pytest.mark.parametrize("cause_id", sorted(CAUSES))
def test_cause_is_complete(cause_id: str) -> None:
    cause = CAUSES[cause_id]
    assert cause.family in catalogue.FAMILIES
    assert cause_id.startswith(f"{cause.family}.")
    assert cause.documented_cause is None or cause.documented_cause in catalogue.DOCUMENTED_CAUSES
    assert cause.docs and all(u.startswith("https://") for u in cause.docs)
    assert cause.docs[0].startswith("https://learn.microsoft.com/")
    assert cause.remediation.strip() and cause.title.strip() and cause.explanation.strip()
    for old in cause.supersedes:
        assert old in CAUSES, f"{cause_id} supersedes unknown {old}"
        assert old != cause_id


def test_no_supersedes_cycle() -> None:
    for cause in CAUSES.values():
        for old in cause.supersedes:
            assert cause.id not in CAUSES[old].supersedes, (cause.id, old)


def test_raw_file_has_unique_ids() -> None:
    raw = json.loads((ROOT / "aoai_diag" / "data" / "causes.json").read_text(encoding="utf-8"))
    ids = [e["id"] for e in raw["causes"]]
    assert len(ids) == len(set(ids))


@pytest.mark.skipif(not CAUSES_MD.exists(), reason="reference causes.md not present in this checkout")
def test_ids_match_reference_catalogue() -> None:
    reference = set(re.findall(r"^### ([a-z]+\.[a-z0-9_]+)", CAUSES_MD.read_text(encoding="utf-8"), flags=re.M))
    assert len(reference) >= 50
    assert reference <= set(CAUSES)
    # Every cause beyond the reference catalogue is a known local-only one, and each of those exists.
    assert set(CAUSES) - reference == LOCAL_ONLY


def test_not_a_network_problem_is_a_warning() -> None:
    assert CAUSES["svc.auth_lookalike"].severity.value == "warning"


def test_every_locally_recognised_cause_has_a_fixture() -> None:
    produced: set[str] = set()
    for path in FIXTURES:
        produced |= set(json.loads(path.read_text(encoding="utf-8"))["expect"]["causes"])
    assert LOCALLY_RECOGNISED <= set(CAUSES)
    assert LOCALLY_RECOGNISED - produced == set()
