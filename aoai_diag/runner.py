"""One run: targets in, a finished Report out. Shared by `check`, `serve` and `analyze`."""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Iterator, Sequence

from aoai_diag import __version__, blocking
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.diagnosis import diagnose
from aoai_diag.engine import GRACE, run_many, run_target
from aoai_diag.fdlimit import fleet_parallel
from aoai_diag.model import CheckResult, Report, TargetReport
from aoai_diag.targets import Target
from aoai_diag.verdict import overall_verdict, target_verdict, unexplained

# A fleet of 50 runs in one wave: each target waits mostly on the network, and the run's CPU (one interpreter
# lock) grows with targets, not with waves (bench/many_targets.py: 50 at once is the fastest of 16, 25, 32 and 50).
# Fewer when the open-file limit has no room for them (aoai_diag/fdlimit.py).
DEFAULT_MAX_PARALLEL_TARGETS = 50


def build_target_report(target: Target, checks: Sequence[CheckResult]) -> TargetReport:
    """Diagnose and judge one target's evidence (the same path for live runs and saved bundles)."""
    findings = diagnose(target, checks)
    return TargetReport(
        target=target.to_dict(),
        verdict=target_verdict(checks, findings),
        checks=tuple(checks),
        findings=findings,
        unexplained=unexplained(checks, findings),
    )


def build_report(target_reports: Sequence[TargetReport]) -> Report:
    return Report(
        verdict=overall_verdict([t.verdict for t in target_reports]),
        targets=tuple(target_reports),
        tool_version=__version__,
    )


def new_context(settings: Settings) -> ProbeContext:
    """A context whose deadline starts now."""
    return ProbeContext(settings=settings, deadline=time.monotonic() + settings.run_deadline)


def run_bound(n_targets: int, max_parallel: int, deadline: float) -> float:
    """Seconds a run of `n_targets` may take at most: each target has its own `deadline`, and at most
    `max_parallel` run at once, so the run lasts no more than ceil(n / max_parallel) budgets (plus the engine's
    grace to collect each target's results)."""
    waves = math.ceil(max(1, n_targets) / max(1, min(max_parallel, max(1, n_targets))))
    return waves * (deadline + GRACE)


def run_check(
    targets: Sequence[Target],
    settings: Settings,
    probes: Sequence[Probe] | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL_TARGETS,
    ctx: ProbeContext | None = None,
) -> Report:
    """`check` from synchronous code, on the process's one loop (`blocking.run`)."""
    return blocking.run(check(targets, settings, probes, max_parallel, ctx))


async def check(
    targets: Sequence[Target],
    settings: Settings,
    probes: Sequence[Probe] | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL_TARGETS,
    ctx: ProbeContext | None = None,
) -> Report:
    """Run every probe for every target (targets concurrently, bounded) and diagnose each.

    Each target gets its own deadline (`settings.run_deadline`), starting when it starts; the work targets share
    (IMDS, credential, token, Resource Graph inventory, TLS trust store) is done once, through `ctx.shared`.
    """
    if probes is None:
        from aoai_diag.checks import load_probes

        probes = load_probes()
    if ctx is None:
        ctx = new_context(settings)
    if len(targets) == 1:
        return build_report([build_target_report(targets[0], await run_target(targets[0], ctx, probes))])
    # Within the open-file limit (raised first): a fleet that runs out of descriptors loses evidence.
    parallel = fleet_parallel(max(1, min(max_parallel, len(targets))))
    ctx.run_bound = ctx.clock() + run_bound(len(targets), parallel, settings.run_deadline)

    reports: dict[int, TargetReport] = {}

    def finished(position: int, target: Target, checks: tuple[CheckResult, ...]) -> None:
        reports[position] = build_target_report(target, checks)

    # Each target's context, and so its deadline, is made when the target starts.
    with heap_frozen():
        await run_many(((t, ctx.for_target) for t in targets), probes, parallel, finished)
    return build_report([reports[i] for i in range(len(targets))])


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects alive before a fleet run (modules, classes, the libraries' tables) are left out of the garbage
    collector's passes during it (`gc.freeze`), and handed back after. A fleet allocates enough for the collector's
    full pass to come during the run, and that pass walked the whole heap: ~180 ms in about one 50-target run out of
    seven (bench/many_targets.py), as long as the rest of the run."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
