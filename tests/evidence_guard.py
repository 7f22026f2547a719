"""Every probe result produced anywhere in the suite is checked against its typed evidence, strictly.

A probe that writes a field its type (aoai_diag/evidence) does not declare, or a value of the wrong type, fails the
test that ran it: change the type, docs/evidence.md and the schema (python -m aoai_diag.evidence.schema) with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aoai_diag import engine
from aoai_diag.evidence import EvidenceError, parse


def evidence_problem(check_id: str, evidence: Any) -> str | None:
    """Why `evidence` does not fit the declared type of `check_id` (strict: undeclared keys too), or None."""
    try:
        parse(check_id, evidence, strict=True)
    except EvidenceError as exc:
        return f"{check_id}: {exc}"
    return None


@pytest.fixture(autouse=True)
def probe_evidence_fits_its_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    problems: list[str] = []
    real = engine.CheckResult

    def checked(**fields: Any) -> Any:
        problem = evidence_problem(fields["id"], fields["evidence"])
        if problem:
            problems.append(problem)
        return real(**fields)

    monkeypatch.setattr(engine, "CheckResult", checked)
    yield
    assert not problems, f"probe evidence does not fit its declared type: {problems}"
