"""The cause catalogue (aoai_diag/data/causes.json) is complete and consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aoai_diag import catalogue
from aoai_diag.diagnosis.facts import registry
from aoai_diag.diagnosis.local_rules import LOCALLY_RECOGNISED

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "docs" / "causes.md"
FIXTURES = sorted((ROOT / "fixtures" / "evidence").glob("*.json"))
# Generic causes that only local evidence produces, outside the researched catalogue.
LOCAL_ONLY = {
    "dns.resolves_public",
    "svc.network_rules_denied",
    "dns.nxdomain",
    "dns.resolver_unreachable",
    "svc.account_not_found",
    "edge.intermediary_response",
    "edge.tcp_ok_no_service",
    "dns.hosts_workaround",
    "dns.resolver_servfail",
    "dns.sibling_names_public",
    "net.no_network",
    # Named when the app host given with --from could not be read (its app causes are the candidates).
    "app.host_unread",
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


def index_rows() -> dict[str, tuple[str, str]]:
    """docs/causes.md: cause id -> (origin, first source)."""
    rows = re.findall(r"^\| `([a-z]+\.[a-z0-9_]+)` \| (\w+) \| .* \| (https://\S+) \|$", INDEX.read_text(), flags=re.M)
    return {cid: (origin, source) for cid, origin, source in rows}


def test_ids_match_the_documented_index() -> None:
    rows = index_rows()
    assert len(rows) >= 57
    assert set(rows) == set(CAUSES), "docs/causes.md and causes.json list different causes"
    # Every cause beyond the researched catalogue is a known generic one, and each of those exists.
    assert {cid for cid, (origin, _) in rows.items() if origin == "generic"} == LOCAL_ONLY
    assert {origin for origin, _ in rows.values()} == {"researched", "generic"}
    for cid, (_, source) in rows.items():
        assert source == CAUSES[cid].docs[0], cid


def test_relations_name_existing_causes_and_registered_facts() -> None:
    facts = registry()
    for cause in CAUSES.values():
        for other in (*cause.excludes, *cause.consequence_of, *((cause.generic,) if cause.generic else ())):
            assert other in CAUSES and other != cause.id, (cause.id, other)
        for premise in cause.premises:
            assert premise in facts, f"{cause.id}: premise {premise} is not a registered fact"
        # A consequence cannot follow from a cause it cannot be true with.
        excluders = {other.id for other in CAUSES.values() if cause.id in other.excludes}
        assert not set(cause.consequence_of) & (set(cause.excludes) | excluders), cause.id
        # A cause with premises says what to name when they are unknown (or, without a generic, is simply dropped).
        assert not cause.generic or cause.premises, f"{cause.id} has a generic but no premises"


def test_consequences_form_no_circle() -> None:
    def roots_of(cid: str, seen: tuple[str, ...]) -> None:
        assert cid not in seen, f"consequence circle: {' -> '.join((*seen, cid))}"
        for root in CAUSES[cid].consequence_of:
            roots_of(root, (*seen, cid))

    for cid in CAUSES:
        roots_of(cid, ())


def test_generics_form_no_circle() -> None:
    for cause in CAUSES.values():
        seen = [cause.id]
        while CAUSES[seen[-1]].generic:
            nxt = CAUSES[seen[-1]].generic
            assert nxt not in seen, seen
            seen.append(nxt)


def test_a_cause_and_what_it_supersedes_never_exclude_each_other() -> None:
    # supersedes says "a more specific story of the same link"; excludes says "cannot both be true".
    for cause in CAUSES.values():
        assert not set(cause.supersedes) & set(cause.excludes), cause.id


def test_not_a_network_problem_is_a_warning() -> None:
    assert CAUSES["svc.auth_lookalike"].severity.value == "warning"


def test_every_locally_recognised_cause_has_a_fixture() -> None:
    produced: set[str] = set()
    for path in FIXTURES:
        produced |= set(json.loads(path.read_text(encoding="utf-8"))["expect"]["causes"])
    assert LOCALLY_RECOGNISED <= set(CAUSES)
    assert LOCALLY_RECOGNISED - produced == set()
