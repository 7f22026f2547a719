"""The probe contract: `async (target, ctx, deps) -> Outcome`. Probes gather evidence; they never print, exit or
judge causes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aoai_diag.context import ProbeContext, Settings
from aoai_diag.evidence.base import Evidence
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

RunFn = Callable[[Target, ProbeContext, Mapping[str, CheckResult]], Awaitable[Outcome]]
BlockingFn = Callable[[Target, ProbeContext, Mapping[str, CheckResult]], Outcome]


@dataclass(frozen=True)
class Probe:
    id: str
    """Equals the module name (a test asserts it)."""
    title: str
    run: RunFn
    """A coroutine function: waits with `await`, and hands blocking work to `aoai_diag.blocking.in_thread`."""
    requires: tuple[str, ...] = ()
    """Probes whose results this one needs; if one of them is skip or error, this one is skipped."""
    after: tuple[str, ...] = ()
    """Probes whose results this one reads when present, without being skipped by their failure."""
    layer: str = "local"
    """`local` (this machine) or `azure` (Resource Manager)."""
    disabled: Callable[[Settings], str | None] = lambda settings: None
    """Returns the reason this probe is switched off by the settings, or None."""
    evidence: type[Evidence] | None = None
    """The type of its evidence (aoai_diag/evidence): what bundles are read into and the schema is made from."""
    stage: int | None = None
    """Where on the path to the data plane it looks, for a probe on it (aoai_diag/verdict.py `unexplained`):
    0 the name, 1 the route (proxy, VPN, routing table), 2 TCP, 3 TLS, 4 the HTTPS answer; None: not on the path."""


def blocking_body(body: BlockingFn) -> RunFn:
    """The `run` of a probe whose body blocks from start to end (the Azure SDK, commands, large files): the body
    runs in the one executor (aoai_diag/blocking.py) while the loop goes on with the other probes."""

    async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        from aoai_diag import blocking

        return await blocking.in_thread(body, target, ctx, deps)

    run.__doc__ = body.__doc__
    return run


def skip(summary: str, reason: str | None = None) -> Outcome:
    return Outcome(Status.SKIP, summary, None, reason or summary)


def error(summary: str, reason: str | None = None, evidence: Evidence | None = None) -> Outcome:
    return Outcome(Status.ERROR, summary, evidence, reason or summary)
