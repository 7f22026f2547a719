"""From the rules' findings to one story per broken link (catalogue fields, in this order):

1. `premises`: a cause is named only when every fact it rests on is known and true. A premise that is unknown
   (a read refused, throttled, not made) names the cause's `generic` instead, with the cause among its
   `candidates` and what would decide; a premise known to be false rules the cause out (its generic is not named
   on its behalf either: the rule's reading of the evidence was wrong).
2. `supersedes`: a more specific cause replaces the generic ones it names.
3. `excludes`: two causes that cannot both be true are never reported together; the declaring one is kept (a
   cause excluded by a cause that is itself dropped is judged again).
4. roles: `consequence` when a cause it follows from (`consequence_of`) is in the report; warning-severity causes
   are `advisory` unless they explain a failure (cite a FAIL check, or another cause follows from them): the cause
   that explains a failure is its root; the rest are `root`. An error-severity report always keeps at least one root.
5. order: roots (error severity first), consequences, advisories; catalogue order within each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aoai_diag.catalogue import Cause
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact
from aoai_diag.model import Finding, Role, Severity, Status

_ROLE_ORDER = {Role.ROOT: 0, Role.CONSEQUENCE: 1, Role.ADVISORY: 2}


def merge(findings: Iterable[Finding], evidence: Evidence, causes: Mapping[str, Cause]) -> tuple[Finding, ...]:
    first: dict[str, Finding] = {}
    for finding in findings:
        first.setdefault(finding.cause_id, finding)
    named = apply_premises(first, evidence, causes)
    named = drop_superseded(named, causes)
    named = drop_excluded(named, causes)
    return order(assign_roles(named, causes, evidence), causes)


# --- 1. premises ----------------------------------------------------------------------------------------------------


def _premise_facts(cause: Cause, evidence: Evidence) -> list[tuple[str, Fact[Any]]]:
    return [(name, evidence.fact(name)) for name in cause.premises]


def _decide(unknowns: Sequence[tuple[str, Fact[Any]]]) -> str:
    lines: list[str] = []
    for name, f in unknowns:
        line = f.decide or f"{name} is {f.describe()}"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _stand_in(
    finding: Finding, cause: Cause, generic: str, unknowns: Sequence[tuple[str, Fact[Any]]]
) -> Finding | None:
    """The generic finding named in place of `finding`, or None when no observed check is left to rest it on."""
    unread = {source for _, f in unknowns for source in f.sources}
    checks = tuple(c for c in finding.checks if c not in unread)
    if not checks:
        return None
    why = "; ".join(f"{name} is {f.describe()}" for name, f in unknowns)
    return Finding(
        cause_id=generic,
        checks=checks,
        detail=f"{cause.title} would explain this, but it cannot be confirmed: {why}.",
        candidates=(cause.id, *(c for c in finding.candidates if c != generic)),
        decide=_decide(unknowns),
    )


def _absorb(into: Finding, extra: Finding) -> Finding:
    """`into` with `extra`'s candidates, decide and checks added (a generic named by a rule and by a stand-in)."""
    candidates = (*into.candidates, *(c for c in extra.candidates if c not in into.candidates and c != into.cause_id))
    checks = (*into.checks, *(c for c in extra.checks if c not in into.checks))
    decide = "; ".join(d for d in dict.fromkeys((into.decide, extra.decide)) if d)
    return replace(into, candidates=candidates, checks=checks, decide=decide or None)


def apply_premises(
    findings: Mapping[str, Finding], evidence: Evidence, causes: Mapping[str, Cause]
) -> dict[str, Finding]:
    named: dict[str, Finding] = {}
    stand_ins: list[Finding] = []
    pending = list(findings.values())
    seen: set[str] = set()
    while pending:
        finding = pending.pop(0)
        cause = causes[finding.cause_id]
        facts = _premise_facts(cause, evidence)
        if all(f.is_true() for _, f in facts):
            rests_on = [source for _, f in facts for source in f.sources if source not in finding.checks]
            finding = replace(finding, checks=(*finding.checks, *dict.fromkeys(rests_on)))
            if finding.cause_id in named:
                named[finding.cause_id] = _absorb(named[finding.cause_id], finding)
            else:
                named[finding.cause_id] = finding
            continue
        # A premise known to be false rules the cause out; `seen` stops a generic from standing in for itself.
        if any(f.is_false() for _, f in facts) or cause.generic is None or cause.generic in seen:
            continue
        seen.add(finding.cause_id)
        stand_in = _stand_in(finding, cause, cause.generic, [(n, f) for n, f in facts if not f.known])
        if stand_in is not None:
            # The generic has premises of its own: it goes through the same test.
            stand_ins.append(stand_in)
            pending.append(stand_in)
    # A generic a rule also concluded keeps the rule's detail and gains the candidates (dict order: rules first).
    ordered = {cid: named[cid] for cid in [*findings, *(s.cause_id for s in stand_ins)] if cid in named}
    return ordered


# --- 2. supersedes, 3. excludes -------------------------------------------------------------------------------------


def drop_superseded(named: Mapping[str, Finding], causes: Mapping[str, Cause]) -> dict[str, Finding]:
    superseded = {old for cid in named for old in causes[cid].supersedes}
    return {cid: f for cid, f in named.items() if cid not in superseded}


def drop_excluded(named: Mapping[str, Finding], causes: Mapping[str, Cause]) -> dict[str, Finding]:
    """Keep first the causes no other present cause excludes; each kept cause drops every cause it excludes or that
    excludes it. Only when every remaining cause is challenged (a circle) does catalogue order pick the next one."""
    undecided = [cid for cid in causes if cid in named]
    kept: list[str] = []

    def conflicts(a: str, b: str) -> bool:
        return a != b and (b in causes[a].excludes or a in causes[b].excludes)

    while undecided:
        free = [c for c in undecided if not any(c in causes[o].excludes for o in undecided if o != c)]
        for cid in free or undecided[:1]:
            kept.append(cid)
        undecided = [c for c in undecided if c not in kept and not any(conflicts(c, k) for k in kept)]
    return {cid: f for cid, f in named.items() if cid in kept}


# --- 4. roles, 5. order ---------------------------------------------------------------------------------------------


def explains_failure(
    finding: Finding, named: Mapping[str, Finding], causes: Mapping[str, Cause], failed: set[str]
) -> bool:
    """The finding accounts for an observed failure: it cites a check that FAILed, or another cause in the report
    follows from it (issue 17, class 6: the cause that explains a failure is its root, never an advisory)."""
    if failed & set(finding.checks):
        return True
    return any(finding.cause_id in causes[other].consequence_of for other in named if other != finding.cause_id)


def assign_roles(
    named: Mapping[str, Finding], causes: Mapping[str, Cause], evidence: Evidence | None = None
) -> list[Finding]:
    present = set(named)
    failed = {c.id for c in evidence.checks.values() if c.status is Status.FAIL} if evidence is not None else set()
    out: list[Finding] = []
    for cid, finding in named.items():
        roots = tuple(r for r in causes[cid].consequence_of if r in present and r != cid)
        if roots:
            out.append(replace(finding, role=Role.CONSEQUENCE, consequence_of=roots))
        elif causes[cid].severity is Severity.WARNING and not explains_failure(finding, named, causes, failed):
            out.append(replace(finding, role=Role.ADVISORY, consequence_of=()))
        else:
            out.append(replace(finding, role=Role.ROOT, consequence_of=()))
    errors = [f for f in out if causes[f.cause_id].severity is Severity.ERROR]
    if errors and not any(f.role is Role.ROOT for f in out):
        # Causes that follow from each other in a circle: the first in catalogue order is where to start.
        order_of = {cid: i for i, cid in enumerate(causes)}
        first = min(errors, key=lambda f: order_of[f.cause_id])
        out = [replace(f, role=Role.ROOT, consequence_of=()) if f is first else f for f in out]
    return out


def order(findings: Sequence[Finding], causes: Mapping[str, Cause]) -> tuple[Finding, ...]:
    position = {cid: i for i, cid in enumerate(causes)}
    # Among roots, the broken links (error severity) come before a warning that explains a failure.
    return tuple(
        sorted(
            findings,
            key=lambda f: (_ROLE_ORDER[f.role], causes[f.cause_id].severity is Severity.WARNING, position[f.cause_id]),
        )
    )
