"""The cause catalogue (aoai_diag/data/causes.json) is complete and consistent."""

from __future__ import annotations

import ast
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


# --- remediation is only ever a catalogue template (issue 16) ----------------------------------------------------

RULE_MODULES = sorted((ROOT / "aoai_diag" / "diagnosis").glob("*.py"))


def _is_fill(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "fill")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "fill")
    )


def _variants(node: ast.expr | None) -> set[str | None]:
    """Every variant name `variant=<node>` can take: a constant, or conditionals whose branches are constants or a
    name the test compares with constants (`p if p in ("macos", "linux") else "windows"`). Any other shape fails,
    so no variant escapes the check."""
    if node is None:
        return {None}
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return {node.value}
    assert isinstance(node, ast.IfExp), f"variant= must be a constant or a conditional of them: {ast.unparse(node)}"
    out: set[str | None] = set()
    for branch in (node.body, node.orelse):
        test = node.test
        if isinstance(branch, ast.Name):
            # Only a name the condition itself restricts: `name in (<constants>)` guarding the branch it chooses.
            assert branch is node.body and isinstance(test, ast.Compare), ast.unparse(node)
            assert isinstance(test.left, ast.Name) and test.left.id == branch.id, ast.unparse(node)
            assert isinstance(test.ops[0], ast.In) and isinstance(test.comparators[0], (ast.Tuple, ast.Set))
            out |= {c.value for c in test.comparators[0].elts if isinstance(c, ast.Constant)}
        else:
            out |= _variants(branch)
    return out


def _bundle_keys(funcs: dict[str, ast.FunctionDef], call: ast.expr) -> set[str]:
    """The keys a `**helper(...)` value bundle returns (its dict literals, bundles inside it included)."""
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), f"**{ast.unparse(call)}: not a helper"
    func = funcs[call.func.id]
    keys: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if key is None:
                    keys |= _bundle_keys(funcs, value)
                else:
                    assert isinstance(key, ast.Constant) and isinstance(key.value, str)
                    keys.add(key.value)
    assert keys, f"{call.func.id} returns no dict literal"
    return keys


def _fill_calls() -> list[tuple[str, ast.Call, dict[str, ast.FunctionDef], ast.Call | None]]:
    """(module, fill call, the module's functions, the call it is the `remediation=` of) for every fill in the rules."""
    calls = []
    for path in RULE_MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        owners = {
            id(kw.value): node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            for kw in node.keywords
            if kw.arg == "remediation"
        }
        calls += [(path.name, n, funcs, owners.get(id(n))) for n in ast.walk(tree) if _is_fill(n)]
    return calls


def test_every_remediation_in_the_rules_is_a_fill_call() -> None:
    offenders = []
    for path in RULE_MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "remediation" and not _is_fill(node.value):
                offenders.append(f"{path.name}:{node.value.lineno} remediation={ast.unparse(node.value)[:60]}")
            # Nor a text assembled beforehand and handed over under another name.
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                offenders += [f"{path.name}:{node.lineno} {n} = ..." for n in names if n in ("remediation", "fix")]
    assert offenders == []
    assert len(_fill_calls()) >= 40  # the walk did see the rules


def test_every_fill_names_its_findings_cause_an_existing_variant_and_existing_placeholders() -> None:
    problems = []
    for module, call, funcs, owner in _fill_calls():
        where = f"{module}:{call.lineno}"
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.Constant) and first.value in CAUSES, f"{where}: fill's cause id is not a known id"
        cause = CAUSES[first.value]
        cause_kw = next((kw.value for kw in owner.keywords if kw.arg == "cause_id"), None) if owner else None
        if isinstance(cause_kw, ast.Constant) and cause_kw.value != cause.id:
            problems.append(f"{where}: Finding {cause_kw.value} filled from {cause.id}")
        variant = next((kw.value for kw in call.keywords if kw.arg == "variant"), None)
        templates = []
        for name in _variants(variant):
            if name is None:
                templates.append(cause.remediation)
            elif name in cause.remediation_variants:
                templates.append(cause.remediation_variants[name])
            else:
                problems.append(f"{where}: {cause.id} has no remediation variant {name!r}")
        for kw in call.keywords:
            if kw.arg == "variant":
                continue
            # An explicit value fills a placeholder of the template (of one of them, when the variant varies); a
            # shared `**bundle` naming a resource fills at least one.
            keys = {kw.arg} if kw.arg else _bundle_keys(funcs, kw.value)
            if not any(f"<{k.replace('_', '-')}>" in t for k in keys for t in templates):
                problems.append(f"{where}: {cause.id} has no placeholder for {sorted(keys)}")
    assert problems == []


@pytest.mark.parametrize("cause_id", sorted(c.id for c in CAUSES.values() if c.remediation_variants))
def test_remediation_variants_are_named_templates(cause_id: str) -> None:
    for name, template in CAUSES[cause_id].remediation_variants.items():
        assert name.isidentifier() and template.strip() and template != CAUSES[cause_id].remediation, name


def test_fill_picks_the_variant_and_refuses_an_unknown_one() -> None:
    text = catalogue.fill("dns.hosts_override", variant="stale", pe_ip="10.0.0.5", host="a.openai.azure.com")
    assert text == "Remove the line or change it to 10.0.0.5 a.openai.azure.com; then prefer DNS."
    # Without a variant, the cause's own template; an empty value leaves its placeholder for the reader.
    assert catalogue.fill("dns.hosts_override", pe_ip="") == CAUSES["dns.hosts_override"].remediation
    assert "<pe-ip>" in catalogue.fill("dns.hosts_override", variant="stale", pe_ip=None)
    with pytest.raises(KeyError, match="no remediation variant 'solaris'"):
        catalogue.fill("dns.split_dns_nrpt", variant="solaris")
