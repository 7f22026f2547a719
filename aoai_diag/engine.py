"""Runs probes concurrently, in dependency order, each target within its own deadline; one thread for all targets.

Probes written as generators (`Probe.steps`, aoai_diag/steps.py) run in the engine's thread, one step at a time:
each wait they yield is started (a batch of sockets, polled by this same thread; or work in worker threads) and,
when it wakes the engine or its `give_up_at` passes, the probe is resumed. Other probes run in a daemon thread
each (aoai_diag/workers.py): the Azure SDK calls cannot be interrupted, so at the deadline the engine stops
waiting, reports the probe as `error`, and lets the thread die with the process (so do the getaddrinfo calls a
generator waits for: getaddrinfo takes no timeout). Probes marked `inline` (local reads only) run in the engine's
thread, once the others of their pass are started. At the deadline a probe still waiting or running is `error`.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Sequence

from aoai_diag import workers
from aoai_diag.checks.base import Probe
from aoai_diag.context import DeadlineExceeded, ProbeContext
from aoai_diag.errors import one_line
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net import ioloop
from aoai_diag.steps import Steps, Wait
from aoai_diag.targets import Target

# Time the engine keeps for itself after the deadline to collect results and build the report.
GRACE = 0.15


def _attempt(probe: Probe, step: Callable[[], Outcome | Wait], may_wait: bool = False) -> Outcome | Wait:
    """`step()`, with what escapes it as evidence: a probe bug or an untranslated library error is `error`; so is
    anything but an Outcome (or, from a generator's step, a wait)."""
    try:
        got = step()
    except DeadlineExceeded:
        return Outcome(Status.ERROR, "did not finish before the run deadline", {}, "deadline exceeded")
    except Exception as exc:
        return _failed(probe, exc)
    if isinstance(got, Outcome) or (may_wait and hasattr(got, "begin")):
        return got
    name = type(got).__name__
    return Outcome(Status.ERROR, f"probe {probe.id} failed: probe returned {name}, not Outcome", {}, f"returned {name}")


def _next(steps: Steps[Outcome]) -> Outcome | Wait:
    try:
        return steps.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


# What reaches a run's queue: a probe's result from its thread, or the wake of a generator's wait (id, wait).
_Message = CheckResult | tuple[str, Wait]
_Inbox = queue.SimpleQueue[tuple["_Run", _Message]]  # C-level, no Condition: one item per result or wake
_Post = Callable[[tuple["_Run", _Message]], None]


class _Run:
    """One target's probes: settled, started, waiting. `step` starts what can start; `take` and `on_time` feed
    it what its queue and the clock bring. `run_many` drives every target's from one thread (`run_probes`: one)."""

    def __init__(
        self, target: Target, ctx: ProbeContext, probes: Sequence[Probe], post: _Post, position: int = 0
    ) -> None:
        self.target, self.ctx, self.probes, self.post = target, ctx, probes, post
        self.position = position  # in `run_many`'s order
        self.by_id = {p.id: p for p in probes}
        self.results: dict[str, CheckResult] = {}
        self.started: dict[str, float] = {}
        self.waiting_on: dict[str, tuple[Steps[Outcome], Wait]] = {}  # generators, by probe id, and their waits
        # Probes neither settled nor started, in registry order: each pass looks only at these (a fleet run
        # schedules some twenty probes per target, and rescanning the whole registry after every result showed up
        # in the run's CPU profile).
        self.pending = list(probes)
        self.waits_of = {p.id: [d for d in (*p.requires, *p.after) if d in self.by_id] for p in probes}
        # When something is due without a message (`time.monotonic()`): the deadline plus grace, or the earliest
        # give-up time of a wait. Kept up to date as waits come and go: a fleet's loop reads it for every target
        # after every message.
        self._deadline_at = time.monotonic() + (ctx.deadline + GRACE - ctx.clock())
        self.due = self._deadline_at

    @property
    def finished(self) -> bool:
        return len(self.results) == len(self.probes)

    def in_order(self) -> tuple[CheckResult, ...]:
        return tuple(self.results[p.id] for p in self.probes)

    def _finish(self, probe: Probe, outcome: Outcome, t0: float) -> CheckResult:
        return CheckResult(
            id=probe.id,
            status=outcome.status,
            summary=outcome.summary,
            evidence=outcome.evidence,
            duration_ms=(self.ctx.clock() - t0) * 1000.0,
            reason=outcome.reason,
        )

    def _settle(self, probe: Probe, outcome: Outcome, t0: float | None = None) -> None:
        self.results[probe.id] = self._finish(probe, outcome, self.ctx.clock() if t0 is None else t0)

    def _worker(self, probe: Probe, deps: dict[str, CheckResult], t0: float) -> None:
        outcome = _attempt(probe, lambda: probe.run(self.target, self.ctx, deps))
        self.post((self, self._finish(probe, outcome, t0)))  # type: ignore[arg-type]  # not a wait: may_wait off

    def _advance(self, probe: Probe, steps: Steps[Outcome]) -> None:
        """Run `probe`'s generator to its next wait (then started) or to its end (then its result recorded)."""
        got = _attempt(probe, lambda: _next(steps), may_wait=True)
        if isinstance(got, Outcome):
            self._settle(probe, got, self.started[probe.id])
            return
        self.waiting_on[probe.id] = (steps, got)
        try:
            got.begin(lambda: self.post((self, (probe.id, got))))
        except Exception as exc:  # a bug in the wait: the probe's error, not the engine's
            del self.waiting_on[probe.id]
            steps.close()
            self._settle(probe, _failed(probe, exc), self.started[probe.id])
        self._refresh_due()

    def _refresh_due(self) -> None:
        give_ups = [w.give_up_at for _, w in self.waiting_on.values() if w.give_up_at is not None]
        self.due = min(self._deadline_at, *give_ups) if give_ups else self._deadline_at

    def _resume(self, probe_id: str, wait: Wait) -> None:
        held = self.waiting_on.get(probe_id)
        if held is None or held[1] is not wait:
            return  # the wake of a wait given up on earlier: the probe has moved on
        del self.waiting_on[probe_id]
        self._refresh_due()
        self._advance(self.by_id[probe_id], held[0])

    def step(self) -> None:
        """Start every probe whose dependencies are settled, pass after pass, until none can start now."""
        while not self.finished and self._pass():
            pass
        if not self.finished and all(pid in self.results for pid in self.started):
            # Nothing running and nothing startable: unreachable with a valid registry (no cycles); stay honest.
            for probe in self.probes:
                if probe.id not in self.results:
                    self._settle(probe, Outcome(Status.ERROR, "could not be scheduled (dependency cycle)", {}, "cycle"))

    def _pass(self) -> bool:
        """One look at the pending probes; whether anything was settled or started."""
        progressed = False
        waiting: list[Probe] = []
        local: list[tuple[Probe, dict[str, CheckResult]]] = []
        results = self.results
        for probe in self.pending:
            reason = probe.disabled(self.ctx.settings)
            if reason:
                self._settle(probe, Outcome(Status.SKIP, f"skipped: {reason}", {}, reason))
                progressed = True
                continue
            waits = self.waits_of[probe.id]
            if any(d not in results for d in waits):
                waiting.append(probe)
                continue
            missing = [d for d in probe.requires if d not in self.by_id]
            blocked = [d for d in probe.requires if d in results and results[d].status in (Status.SKIP, Status.ERROR)]
            if missing or blocked:
                names = ", ".join(
                    [f"{d} (not run)" for d in missing] + [f"{d} ({results[d].status.value})" for d in blocked]
                )
                self._settle(probe, Outcome(Status.SKIP, f"skipped: needs {names}", {}, f"needs {names}"))
                progressed = True
                continue
            deps = {d: results[d] for d in waits}
            self.started[probe.id] = self.ctx.clock()
            progressed = True
            if probe.inline:
                local.append((probe, deps))
            elif probe.steps is not None:
                try:
                    steps = probe.steps(self.target, self.ctx, deps)  # a generator: none of its body runs yet
                except Exception as exc:  # not a generator function after all
                    self._settle(probe, _failed(probe, exc))
                else:
                    self._advance(probe, steps)
            else:
                workers.start(self._worker, probe, deps, self.started[probe.id])
        self.pending = waiting
        for probe, deps in local:  # once the others of this pass are on their way
            outcome = _attempt(probe, lambda: probe.run(self.target, self.ctx, deps))  # noqa: B023 (called at once)
            self._settle(probe, outcome, self.started[probe.id])  # type: ignore[arg-type]
        return progressed

    def take(self, message: _Message) -> None:
        if isinstance(message, tuple):  # (CheckResult is a dataclass; tests wrap it in a checking function)
            self._resume(*message)
        else:
            self.results.setdefault(message.id, message)

    def on_time(self) -> None:
        """What is due by now: past the deadline, every running probe is an error; before it, a wait whose
        give-up time has come is given up and its probe resumed with what it has."""
        if time.monotonic() >= self._deadline_at:
            for pid in [pid for pid in self.started if pid not in self.results]:
                held = self.waiting_on.pop(pid, None)
                if held is not None:
                    held[0].close()
                    self._refresh_due()
                self._settle(
                    self.by_id[pid],
                    Outcome(
                        Status.ERROR,
                        "did not finish before the run deadline",
                        {},
                        f"deadline of {self.ctx.settings.run_deadline:g} s exceeded",
                    ),
                    self.started[pid],
                )
            return
        now = time.monotonic()
        for pid, (_, wait) in list(self.waiting_on.items()):
            if wait.give_up_at is not None and wait.give_up_at <= now:
                wait.give_up()
                self._resume(pid, wait)


def _failed(probe: Probe, exc: BaseException) -> Outcome:
    return Outcome(Status.ERROR, f"probe {probe.id} failed: {one_line(exc)}", {}, one_line(exc))


def run_probes(target: Target, ctx: ProbeContext, probes: Sequence[Probe]) -> tuple[CheckResult, ...]:
    """Run `probes` for one target (its deadline: `ctx`'s); results come back in the order of `probes`."""
    found: list[tuple[CheckResult, ...]] = []
    run_many(iter([(target, lambda: ctx)]), probes, 1, lambda _position, _target, results: found.append(results))
    return found[0]


def run_many(
    starts: Iterator[tuple[Target, Callable[[], ProbeContext]]],
    probes: Sequence[Probe],
    parallel: int,
    done: Callable[[int, Target, tuple[CheckResult, ...]], None],
) -> None:
    """Run `probes` for many targets from this one thread, at most `parallel` at a time; `done(position, target,
    results)` as each finishes (position: in the order of `starts`). A target's context (its deadline) is made
    when it starts.

    Probe code written as generators runs here, and this thread also drives their sockets (`ioloop.Polling`):
    every target's waits wake this one thread. A thread per target (the engine's first form) had fifty threads
    contending for the interpreter lock, each wake a lock hand-off: in a 50-target run, tens of thousands of futex
    calls (strace) for a few thousand messages.
    """
    inbox: _Inbox = queue.SimpleQueue()
    active: list[_Run] = []
    numbered = enumerate(starts)

    with ioloop.Polling() as polling:

        def post(item: tuple[_Run, _Message]) -> None:
            inbox.put(item)
            polling.notify()  # from a worker thread; a no-op for what this thread's own polls settle

        def admit() -> None:
            while len(active) < parallel:
                nxt = next(numbered, None)
                if nxt is None:
                    return
                position, (target, new_context) = nxt
                run = _Run(target, new_context(), probes, post, position)
                run.step()
                if run.finished:  # every probe settled at once (all skipped)
                    done(position, target, run.in_order())
                else:
                    active.append(run)

        def step(run: _Run) -> None:
            run.step()
            if run.finished:
                active.remove(run)
                done(run.position, run.target, run.in_order())

        while True:
            while True:  # what the last poll settled, and what other threads posted meanwhile
                try:
                    run, message = inbox.get_nowait()
                except queue.Empty:
                    break
                if run in active:  # else a late result for a target already reported
                    run.take(message)
                    step(run)
            admit()
            if not active:
                break
            now = time.monotonic()
            due = min(r.due for r in active)
            if due > now:
                polling.poll(due - now)
                continue
            for run in [r for r in active if r.due <= now]:
                run.on_time()
                step(run)
