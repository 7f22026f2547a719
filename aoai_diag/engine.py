"""Runs probes concurrently, in dependency order, within one deadline.

Each probe runs in its own daemon thread (aoai_diag/workers.py): getaddrinfo and some SDK calls cannot be
interrupted, so at the deadline the engine stops waiting, reports the probe as `error`, and lets the thread die
with the process (getaddrinfo takes no timeout: it can only be run in a worker that the engine stops waiting for).
Probes marked `inline` (local reads only) run in the engine's thread instead, once the others of their pass are
started.
"""

from __future__ import annotations

import queue
from collections.abc import Sequence

from aoai_diag import workers
from aoai_diag.checks.base import Probe
from aoai_diag.context import DeadlineExceeded, ProbeContext
from aoai_diag.errors import one_line
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

# Time the engine keeps for itself after the deadline to collect results and build the report.
GRACE = 0.15


def run_probes(target: Target, ctx: ProbeContext, probes: Sequence[Probe]) -> tuple[CheckResult, ...]:
    """Run `probes` for one target; results come back in the order of `probes`."""
    by_id = {p.id: p for p in probes}
    results: dict[str, CheckResult] = {}
    started: dict[str, float] = {}
    done: queue.SimpleQueue[CheckResult] = queue.SimpleQueue()  # C-level, no Condition: one per probe result

    def finish(probe: Probe, outcome: Outcome, t0: float) -> CheckResult:
        return CheckResult(
            id=probe.id,
            status=outcome.status,
            summary=outcome.summary,
            evidence=outcome.evidence,
            duration_ms=(ctx.clock() - t0) * 1000.0,
            reason=outcome.reason,
        )

    def worker(probe: Probe, deps: dict[str, CheckResult], t0: float) -> None:
        try:
            outcome = probe.run(target, ctx, deps)
            if not isinstance(outcome, Outcome):
                raise TypeError(f"probe returned {type(outcome).__name__}, not Outcome")
        except DeadlineExceeded:
            outcome = Outcome(Status.ERROR, "did not finish before the run deadline", {}, "deadline exceeded")
        except Exception as exc:  # a probe bug or an untranslated library error: evidence, not a crash
            outcome = Outcome(Status.ERROR, f"probe {probe.id} failed: {one_line(exc)}", {}, one_line(exc))
        done.put(finish(probe, outcome, t0))

    def settle(probe: Probe, outcome: Outcome) -> None:
        results[probe.id] = finish(probe, outcome, ctx.clock())

    # Probes neither settled nor started, in registry order: each pass looks only at these (a fleet run
    # schedules some twenty probes per target, and rescanning the whole registry after every result showed up in
    # the run's CPU profile).
    pending = list(probes)
    waits_of = {p.id: [d for d in (*p.requires, *p.after) if d in by_id] for p in probes}
    local: list[tuple[Probe, dict[str, CheckResult]]] = []
    while len(results) < len(probes):
        progressed = False
        waiting: list[Probe] = []
        for probe in pending:
            reason = probe.disabled(ctx.settings)
            if reason:
                settle(probe, Outcome(Status.SKIP, f"skipped: {reason}", {}, reason))
                progressed = True
                continue
            waits = waits_of[probe.id]
            if any(d not in results for d in waits):
                waiting.append(probe)
                continue
            missing = [d for d in probe.requires if d not in by_id]
            blocked = [d for d in probe.requires if d in results and results[d].status in (Status.SKIP, Status.ERROR)]
            if missing or blocked:
                names = ", ".join(
                    [f"{d} (not run)" for d in missing] + [f"{d} ({results[d].status.value})" for d in blocked]
                )
                settle(probe, Outcome(Status.SKIP, f"skipped: needs {names}", {}, f"needs {names}"))
                progressed = True
                continue
            deps = {d: results[d] for d in waits}
            started[probe.id] = ctx.clock()
            if probe.inline:
                local.append((probe, deps))
            else:
                workers.start(worker, probe, deps, started[probe.id])
            progressed = True
        for probe, deps in local:  # once the others of this pass are on their way
            worker(probe, deps, started[probe.id])
        local.clear()
        pending = waiting
        if len(results) == len(probes):
            break
        if progressed:
            continue
        running = [pid for pid in started if pid not in results]
        if not running:  # unreachable with a valid registry (no cycles); stay honest if it happens
            for probe in probes:
                if probe.id not in results:
                    settle(probe, Outcome(Status.ERROR, "could not be scheduled (dependency cycle)", {}, "cycle"))
            break
        wait = ctx.deadline + GRACE - ctx.clock()
        try:
            result = done.get(timeout=max(0.0, wait))
        except queue.Empty:
            for pid in running:
                probe = by_id[pid]
                results[pid] = finish(
                    probe,
                    Outcome(
                        Status.ERROR,
                        "did not finish before the run deadline",
                        {},
                        f"deadline of {ctx.settings.run_deadline:g} s exceeded",
                    ),
                    started[pid],
                )
            continue
        results.setdefault(result.id, result)
    return tuple(results[p.id] for p in probes)
