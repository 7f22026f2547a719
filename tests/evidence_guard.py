"""Every probe result produced anywhere in the suite is checked against its typed evidence, strictly.

A probe that writes a field its type (aoai_diag/evidence) does not declare, or a value of the wrong type, fails the
test that ran it: change the type, docs/evidence.md and the schema (python -m aoai_diag.evidence.schema) with it.
Two doors are watched: the engine's results (every run, in process) and each probe module's own `Outcome` and
`error` (a test that calls a probe's `run` directly, without the engine).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aoai_diag import engine
from aoai_diag.checks import REGISTRY
from aoai_diag.evidence import EvidenceError, parse
from aoai_diag.evidence.base import Evidence


def evidence_problem(check_id: str, evidence: Any) -> str | None:
    """Why `evidence` does not fit the declared type of `check_id` (strict: undeclared keys too), or None."""
    if evidence is None or isinstance(evidence, Evidence):
        return None  # built as its type (mypy checks the fields): only a JSON mapping needs checking
    try:
        parse(check_id, evidence, strict=True)
    except EvidenceError as exc:
        return f"{check_id}: {exc}"
    return None


def _outcome_checker(check_id: str, real: Any, report: Callable[[str, Any], None]) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        outcome = real(*args, **kwargs)
        report(check_id, outcome.evidence)
        return outcome

    return build


@pytest.fixture(autouse=True)
def probe_evidence_fits_its_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    problems: list[str] = []

    def report(check_id: str, evidence: Any) -> None:
        problem = evidence_problem(check_id, evidence)
        if problem and problem not in problems:
            problems.append(problem)

    real = engine.CheckResult

    def checked(**fields: Any) -> Any:
        report(fields["id"], fields["evidence"])
        return real(**fields)

    monkeypatch.setattr(engine, "CheckResult", checked)
    for info in REGISTRY:
        # Only modules already imported (the tests import theirs at collection): the guard itself imports nothing.
        module = sys.modules.get(f"aoai_diag.checks.{info.id}")
        for name in ("Outcome", "error"):
            if module is not None and hasattr(module, name):
                monkeypatch.setattr(module, name, _outcome_checker(info.id, getattr(module, name), report))
    yield
    assert not problems, f"probe evidence does not fit its declared type: {problems}"
