"""Pure diagnosis: check results in, findings out. No I/O, no clock, no SDK types (STYLE.md §1)."""

from __future__ import annotations

from collections.abc import Sequence

from aoai_diag import catalogue
from aoai_diag.diagnosis.evidence import Evidence, Rule
from aoai_diag.model import CheckResult, Finding
from aoai_diag.targets import Target


def _rules() -> tuple[Rule, ...]:
    from aoai_diag.diagnosis import azure_rules, local_rules, vpn_rules

    # Azure rules first: for a cause both can conclude, the first finding is kept, and the Azure one names the
    # resources involved and the exact az command.
    return (*azure_rules.RULES, *vpn_rules.RULES, *local_rules.RULES)


def diagnose(target: Target, checks: Sequence[CheckResult]) -> tuple[Finding, ...]:
    """Map one target's evidence to findings, most specific cause wins (catalogue `supersedes`)."""
    evidence = Evidence(target, {c.id: c for c in checks})
    causes = catalogue.load()
    merged: dict[str, Finding] = {}
    for rule in _rules():
        for finding in rule(evidence):
            if finding.cause_id not in causes:
                raise KeyError(f"rule {rule.__name__} produced unknown cause {finding.cause_id}")
            merged.setdefault(finding.cause_id, finding)
    superseded = {old for cid in merged for old in causes[cid].supersedes}
    kept = [f for cid, f in merged.items() if cid not in superseded]
    order = {cid: i for i, cid in enumerate(causes)}
    # errors before warnings, then catalogue order (dns, net, edge, svc) so output is stable
    kept.sort(key=lambda f: (causes[f.cause_id].severity.value != "error", order[f.cause_id]))
    return tuple(kept)
