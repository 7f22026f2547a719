"""The probe contract: `(target, ctx, deps) -> Outcome`. Probes gather evidence; they never print, exit or judge causes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aoai_diag.context import ProbeContext, Settings
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.steps import Steps, drive
from aoai_diag.targets import Target

RunFn = Callable[[Target, ProbeContext, Mapping[str, CheckResult]], Outcome]
StepsFn = Callable[[Target, ProbeContext, Mapping[str, CheckResult]], Steps[Outcome]]


@dataclass(frozen=True)
class Probe:
    id: str
    """Equals the module name (a test asserts it)."""
    title: str
    run: RunFn
    requires: tuple[str, ...] = ()
    """Probes whose results this one needs; if one of them is skip or error, this one is skipped."""
    after: tuple[str, ...] = ()
    """Probes whose results this one reads when present, without being skipped by their failure."""
    layer: str = "local"
    """`local` (this machine) or `azure` (Resource Manager)."""
    disabled: Callable[[Settings], str | None] = lambda settings: None
    """Returns the reason this probe is switched off by the settings, or None."""
    inline: bool = False
    """Reads only local state (files, environment, settings) and never waits on the network or a command: the
    engine runs it in its own thread, after starting the others, instead of handing it to a thread of its own (in
    a fleet, every such hand-off costs interpreter-lock switches, and those were most of the run's CPU)."""
    steps: StepsFn | None = None
    """The probe as a generator of waits (aoai_diag/steps.py), `run` being the same driven to its end: the engine
    runs it in its own thread and resumes it when each wait is over, instead of handing it to a thread."""


def driven(steps: StepsFn) -> RunFn:
    """The `run` of a probe written as `steps`: the generator run to its end in the caller's thread, each wait
    blocking."""

    def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        return drive(steps(target, ctx, deps))

    return run


def skip(summary: str, reason: str | None = None) -> Outcome:
    return Outcome(Status.SKIP, summary, {}, reason or summary)


def error(summary: str, reason: str | None = None, evidence: Mapping[str, object] | None = None) -> Outcome:
    return Outcome(Status.ERROR, summary, dict(evidence or {}), reason or summary)
