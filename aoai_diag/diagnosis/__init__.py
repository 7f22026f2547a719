"""Pure diagnosis: check results in, findings out. No I/O, no clock, no SDK types."""

from __future__ import annotations

from collections.abc import Sequence

from aoai_diag import catalogue
from aoai_diag.diagnosis.evidence import Evidence, Rule
from aoai_diag.diagnosis.merge import merge
from aoai_diag.model import CheckResult, Finding
from aoai_diag.targets import Target


def _rules() -> tuple[Rule, ...]:
    from aoai_diag.diagnosis import app_rules, azure_rules, local_rules, vpn_rules

    # Azure rules first: for a cause both can conclude, the first finding is kept, and the Azure one names the
    # resources involved and the exact az command.
    return (*app_rules.RULES, *azure_rules.RULES, *vpn_rules.RULES, *local_rules.RULES)


def diagnose(target: Target, checks: Sequence[CheckResult]) -> tuple[Finding, ...]:
    """Map one target's evidence to findings: causes whose premises are known, one story per broken link, roots
    first (diagnosis/merge.py)."""
    from aoai_diag.verdict import path_checks

    # With `--from` the findings are the host's: only what Resource Manager says about its path (verdict.path_checks).
    evidence = Evidence(target, {c.id: c for c in path_checks(checks)})
    causes = catalogue.load()
    produced: list[Finding] = []
    for rule in _rules():
        for finding in rule(evidence):
            if finding.cause_id not in causes:
                raise KeyError(f"rule {rule.__name__} produced unknown cause {finding.cause_id}")
            produced.append(finding)
    return merge(produced, evidence, causes)
