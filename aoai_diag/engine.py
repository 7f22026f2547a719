"""Runs probes concurrently, in dependency order, each target within its own deadline: one asyncio loop.

Every probe is a coroutine (`Probe.run`). A probe starts once the probes it reads (`requires`, `after`) have
settled; one whose required probe was skipped or failed to run is skipped with that reason. Blocking work goes
through the one executor (aoai_diag/blocking.py); the loop goes on with the other probes meanwhile. At a target's
deadline every probe still running is cancelled and reported as `error` (a blocking call it was waiting for runs on
in its worker and its result is dropped). An exception that escapes a probe is that probe's `error`, naming it.

A fleet is `run_many`: the targets' runs under a semaphore (at most `parallel` at once), each with the context it
gets when it starts, so each has its own deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence

from aoai_diag import blocking
from aoai_diag.checks.base import Probe
from aoai_diag.context import DeadlineExceeded, ProbeContext
from aoai_diag.errors import one_line
from aoai_diag.evidence.base import Evidence
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

GRACE = 0.15
"""Time the engine keeps for itself after the deadline to collect results and build the report (seconds)."""


def _failed(probe: Probe, exc: BaseException) -> Outcome:
    return Outcome(Status.ERROR, f"probe {probe.id} failed: {one_line(exc)}", None, one_line(exc), failure="failed")


def _evidence(probe: Probe, outcome: Outcome) -> Evidence:
    """What the probe observed, as its declared type; the type at its defaults when it observed nothing."""
    if outcome.evidence is not None:
        return outcome.evidence
    return probe.evidence() if probe.evidence is not None else Evidence()


def _misshapen(probe: Probe, what: str) -> Outcome:
    return Outcome(
        Status.ERROR, f"probe {probe.id} failed: probe returned {what}", None, f"returned {what}", failure="failed"
    )


def _late(ctx: ProbeContext) -> Outcome:
    return Outcome(
        Status.ERROR,
        "did not finish before the run deadline",
        None,
        f"deadline of {ctx.settings.run_deadline:g} s exceeded",
        failure="timeout",
    )


class _TargetRun:
    """One target's probes: a task each, every task waiting for the probes it reads before it starts."""

    def __init__(
        self, target: Target, ctx: ProbeContext, probes: Sequence[Probe], azure_slots: asyncio.Semaphore
    ) -> None:
        self.target, self.ctx, self.probes = target, ctx, probes
        self.azure_slots = azure_slots
        self.by_id = {p.id: p for p in probes}
        self.results: dict[str, CheckResult] = {}
        self.started: dict[str, float] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def _settle(self, probe: Probe, outcome: Outcome, t0: float | None = None) -> None:
        t0 = self.ctx.clock() if t0 is None else t0
        self.results[probe.id] = CheckResult(
            id=probe.id,
            status=outcome.status,
            summary=outcome.summary,
            evidence=_evidence(probe, outcome),
            duration_ms=(self.ctx.clock() - t0) * 1000.0,
            reason=outcome.reason,
            failure=outcome.failure,
        )

    async def _one(self, probe: Probe) -> None:
        reads = [self.tasks[d] for d in (*probe.requires, *probe.after) if d in self.tasks]
        if reads:
            await asyncio.wait(reads)
        skipped = self._skip_reason(probe)
        if skipped is not None:
            self._settle(probe, skipped)
            return
        deps = {d: self.results[d] for d in (*probe.requires, *probe.after) if d in self.results}
        self.started[probe.id] = t0 = self.ctx.clock()
        try:
            if probe.layer == "azure":
                async with self.azure_slots:
                    outcome: object = await probe.run(self.target, self.ctx, deps)
            else:
                outcome = await probe.run(self.target, self.ctx, deps)
        except DeadlineExceeded:
            outcome = _late(self.ctx)
        except Exception as exc:  # a probe bug or an untranslated library error: evidence, not a crash
            outcome = _failed(probe, exc)
        if not isinstance(outcome, Outcome):
            outcome = _misshapen(probe, f"{type(outcome).__name__}, not Outcome")
        elif outcome.evidence is not None and not isinstance(outcome.evidence, probe.evidence or Evidence):
            # mypy sees the probes' code; this catches what it cannot (evidence built from a value typed Any)
            expected = (probe.evidence or Evidence).__name__
            outcome = _misshapen(probe, f"evidence {type(outcome.evidence).__name__}, not {expected}")
        self._settle(probe, outcome, t0)

    def _skip_reason(self, probe: Probe) -> Outcome | None:
        reason = probe.disabled(self.ctx.settings)
        if reason:
            return Outcome(Status.SKIP, f"skipped: {reason}", None, reason)
        results = self.results
        missing = [d for d in probe.requires if d not in self.by_id]
        blocked = [d for d in probe.requires if d in results and results[d].status in (Status.SKIP, Status.ERROR)]
        if not (missing or blocked):
            return None
        names = ", ".join([f"{d} (not run)" for d in missing] + [f"{d} ({results[d].status.value})" for d in blocked])
        return Outcome(Status.SKIP, f"skipped: needs {names}", None, f"needs {names}")

    async def run(self) -> tuple[CheckResult, ...]:
        order = _ordered(self.probes)
        for probe in order:  # dependencies first: each task finds the tasks it waits for
            self.tasks[probe.id] = asyncio.ensure_future(self._one(probe))
        left = self.ctx.deadline + GRACE - self.ctx.clock()
        _, pending = await asyncio.wait(self.tasks.values(), timeout=max(0.0, left))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)  # let each cancelled probe run its cleanup (sockets closed)
        for probe in self.probes:
            if probe.id not in self.results:
                if probe.id in self.started:
                    self._settle(probe, _late(self.ctx), self.started[probe.id])
                else:
                    late = Outcome(Status.ERROR, "could not start before the run deadline", None, "not started")
                    self._settle(probe, late)
        return tuple(self.results[p.id] for p in self.probes)


def _ordered(probes: Sequence[Probe]) -> list[Probe]:
    """`probes` with every probe after those it reads; a cycle (an invalid registry) keeps the rest in order."""
    by_id = {p.id: p for p in probes}
    placed: dict[str, Probe] = {}
    visiting: set[str] = set()

    def place(probe: Probe) -> None:
        if probe.id in placed or probe.id in visiting:
            return
        visiting.add(probe.id)
        for dep in (*probe.requires, *probe.after):
            if dep in by_id:
                place(by_id[dep])
        visiting.discard(probe.id)
        placed[probe.id] = probe

    for probe in probes:
        place(probe)
    return list(placed.values())


async def run_target(
    target: Target, ctx: ProbeContext, probes: Sequence[Probe], azure_slots: asyncio.Semaphore | None = None
) -> tuple[CheckResult, ...]:
    """Run `probes` for one target (its deadline: `ctx`'s); results come back in the order of `probes`."""
    slots = azure_slots if azure_slots is not None else asyncio.Semaphore(blocking.AZURE_BODIES)
    return await _TargetRun(target, ctx, probes, slots).run()


def run_probes(target: Target, ctx: ProbeContext, probes: Sequence[Probe]) -> tuple[CheckResult, ...]:
    """`run_target` from synchronous code (a test, a blocking caller), on the process's one loop (`blocking.run`)."""
    return blocking.run(run_target(target, ctx, probes))


async def run_many(
    starts: Iterator[tuple[Target, Callable[[], ProbeContext]]],
    probes: Sequence[Probe],
    parallel: int,
    done: Callable[[int, Target, tuple[CheckResult, ...]], Awaitable[None] | None],
) -> None:
    """Run `probes` for many targets, at most `parallel` at a time; `done(position, target, results)` as each
    finishes (position: in the order of `starts`). A target's context (its deadline) is made when it starts."""
    slots = asyncio.Semaphore(max(1, parallel))
    azure_slots = asyncio.Semaphore(blocking.AZURE_BODIES)

    async def one(position: int, target: Target, new_context: Callable[[], ProbeContext]) -> None:
        async with slots:
            results = await run_target(target, new_context(), probes, azure_slots)
        finished = done(position, target, results)
        if finished is not None:
            await finished

    await asyncio.gather(*(one(i, t, make) for i, (t, make) in enumerate(starts)))
