"""Read-only access to one target's check results for diagnosis rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aoai_diag.diagnosis.facts import Fact, FactCache
from aoai_diag.evidence import check_of
from aoai_diag.evidence.base import Evidence as Observed
from aoai_diag.model import CheckResult, Finding, Status
from aoai_diag.targets import Target

T = TypeVar("T", bound=Observed)


@dataclass(frozen=True)
class Evidence:
    target: Target
    checks: Mapping[str, CheckResult]
    facts: FactCache = field(default_factory=FactCache, compare=False, repr=False)
    """Named facts derived from these checks, each computed once (`fact`)."""

    def fact(self, name: str) -> Fact[object]:
        """The registered fact `name` (diagnosis/facts.py) for this target; KeyError for an unregistered name."""
        return self.facts.get(self, name)

    def status(self, check_id: str) -> Status | None:
        result = self.checks.get(check_id)
        return result.status if result else None

    def has(self, check_id: str, *statuses: Status) -> bool:
        """True if the check ran and ended in one of `statuses` (any status if none given)."""
        result = self.checks.get(check_id)
        if result is None:
            return False
        return not statuses or result.status in statuses

    def ran(self, check_id: str) -> bool:
        """The check observed something (pass, fail or warn), as opposed to skip or error."""
        return self.has(check_id, Status.PASS, Status.FAIL, Status.WARN)

    def of(self, kind: type[T]) -> T:
        """The typed evidence of the check that declares `kind`; `kind()` (every field at its default) when that
        check did not run. Whether it ran, and how it ended, is `status`/`ran`, never read from the evidence."""
        result = self.checks.get(check_of(kind))
        return result.typed(kind) if result is not None else kind()


Rule = Callable[[Evidence], Iterable[Finding]]
"""A diagnosis rule: evidence in, zero or more findings out."""
