"""Immutable result values shared by probes, diagnosis and renderers.

A result's evidence is its probe's typed evidence (aoai_diag/evidence, one frozen dataclass per probe); written to
JSON it is that type serialised, so a saved evidence bundle read back gives the identical diagnosis.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aoai_diag.evidence.base import Evidence

E = TypeVar("E", bound=Evidence)


class Status(str, enum.Enum):
    """Outcome of one probe. ERROR (could not determine) is never FAIL (observed broken)."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"


FAILURES = ("timeout", "failed")
"""The values of `Outcome.failure` / `CheckResult.failure`."""


class Verdict(str, enum.Enum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    INCONCLUSIVE = "inconclusive"


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


class Role(str, enum.Enum):
    """Where a finding stands in the story of one broken link."""

    ROOT = "root"
    """The cause to fix first."""
    CONSEQUENCE = "consequence"
    """Observed, but follows from a root in the same report (the 403 that confirms the public path)."""
    ADVISORY = "advisory"
    """Worth knowing, not why the path is broken (a hosts-file workaround that works today)."""


@dataclass(frozen=True)
class Outcome:
    """What a probe returns: the engine adds the probe id and timing."""

    status: Status
    summary: str
    """One line a person reads in the table."""
    evidence: Evidence | None = None
    """The facts observed, as the probe's evidence type (`Probe.evidence`); None when nothing was observed (the
    engine then records the type with every field at its default)."""
    reason: str | None = None
    """Why the status is skip/error/fail, when the summary alone does not say."""
    failure: str | None = None
    """With status error, why the probe observed nothing, typed where it happened: `timeout` (the run's deadline
    came first) or `failed` (the probe raised); None otherwise. The diagnosis reads this, never the summary text."""


@dataclass(frozen=True)
class CheckResult:
    """One probe's outcome for one target."""

    id: str
    status: Status
    summary: str
    evidence: Evidence
    """The probe's typed evidence (`Probe.evidence`). A JSON mapping given here (a result written by hand, as the
    tests do) is read into that type through the one door from JSON, `aoai_diag.evidence.read`."""
    duration_ms: float
    """Wall time of the probe, milliseconds."""
    reason: str | None = None
    failure: str | None = None
    """See `Outcome.failure`; written to JSON only when set."""

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, Evidence):
            from aoai_diag.evidence import read

            object.__setattr__(self, "evidence", read(self.id, self.evidence))

    def typed(self, kind: type[E]) -> E:
        """The evidence as `kind`, the type its probe declares; TypeError for any other type (a bug, not input)."""
        if not isinstance(self.evidence, kind):
            raise TypeError(f"{self.id} evidence is {type(self.evidence).__name__}, not {kind.__name__}")
        return self.evidence

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "status": self.status.value,
            "summary": self.summary,
            "reason": self.reason,
            "evidence": self.evidence.to_dict(),
            "duration_ms": round(self.duration_ms, 1),
        }
        if self.failure is not None:
            out["failure"] = self.failure
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        from aoai_diag.evidence import read

        return cls(
            id=str(data["id"]),
            status=Status(data["status"]),
            summary=str(data.get("summary", "")),
            evidence=read(str(data["id"]), data.get("evidence") or {}),
            duration_ms=float(data.get("duration_ms") or 0.0),
            reason=data.get("reason"),
            failure=data["failure"] if data.get("failure") in FAILURES else None,
        )


@dataclass(frozen=True)
class Finding:
    """One cause the diagnosis concluded, with the checks it rests on."""

    cause_id: str
    checks: tuple[str, ...]
    """Ids of the checks whose evidence triggered this finding."""
    detail: str
    """This instance in one or two sentences: the names, addresses and resources involved."""
    remediation: str | None = None
    """Remediation filled in with this instance's values; None means the catalogue's text."""
    resources: tuple[str, ...] = ()
    """Azure resource ids involved, when known."""
    candidates: tuple[str, ...] = ()
    """Other cause ids that the evidence cannot rule out."""
    decide: str | None = None
    """What would decide between the candidates, or confirm the cause (a read that was forbidden, a command to run)."""
    role: Role = Role.ROOT
    """Assigned by the diagnosis merger (`consequence_of` in the catalogue, severity); rules leave the default."""
    consequence_of: tuple[str, ...] = ()
    """With role `consequence`: the causes in this report it follows from. Set by the merger."""


@dataclass(frozen=True)
class TargetReport:
    target: Mapping[str, Any]
    """The target as parsed: input, host, label, cloud, names."""
    verdict: Verdict
    checks: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]
    unexplained: tuple[str, ...] = ()
    """Ids of checks that observed a failure no finding explains (verdict.unexplained)."""


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    targets: tuple[TargetReport, ...]
    tool_version: str
