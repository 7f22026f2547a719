"""Probes written as generators (aoai_diag/steps.py): run in the engine's thread, resumed when their waits wake
it, given up on at their give-up time, closed at the deadline; and a fleet driven from one thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping

from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.connect import Concurrently, map_concurrently_steps
from aoai_diag.steps import Steps, drive
from aoai_diag.targets import Target, parse_target

TARGET = parse_target("contoso")
Deps = Mapping[str, CheckResult]


def ctx_with(deadline_s: float) -> ProbeContext:
    return ProbeContext(settings=Settings(timeout=1.0), deadline=time.monotonic() + deadline_s)


class Never:
    """A wait that never wakes its waiter: only its give-up time, or the deadline, ends it."""

    def __init__(self, give_up_at: float | None) -> None:
        self.give_up_at = give_up_at
        self.given_up = False
        self.wake: Callable[[], None] | None = None

    def begin(self, wake: Callable[[], None]) -> None:
        self.wake = wake

    def block(self) -> None:
        if self.give_up_at is not None:
            time.sleep(max(0.0, self.give_up_at - time.monotonic()))
        self.give_up()

    def give_up(self) -> None:
        self.given_up = True


def probe(probe_id: str, steps: Callable[[Target, ProbeContext, Deps], Steps[Outcome]], **kw: object) -> Probe:
    return Probe(id=probe_id, title="", run=lambda t, c, d: drive(steps(t, c, d)), steps=steps, **kw)  # type: ignore[arg-type]


def test_a_generator_probe_runs_in_the_engines_thread_and_gets_what_its_wait_gathered() -> None:
    threads: list[str] = []

    def steps(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        threads.append(threading.current_thread().name)
        doubled = yield from map_concurrently_steps(
            lambda n: (time.sleep(0.05), n * 2)[1], [1, 2, 3], 2.0, lambda n: -1
        )
        threads.append(threading.current_thread().name)
        return Outcome(Status.PASS, "doubled", {"doubled": doubled, "deps": sorted(deps)})

    first = Probe(id="first", title="", run=lambda t, c, d: Outcome(Status.PASS, "first"))
    (one, two) = run_probes(TARGET, ctx_with(5), [first, probe("gen", steps, requires=("first",))])
    assert one.status is Status.PASS
    assert two.status is Status.PASS and two.evidence == {"doubled": [2, 4, 6], "deps": ["first"]}
    assert threads == [threading.current_thread().name] * 2
    assert 40 <= two.duration_ms < 1000
    # The same generator, driven synchronously, gives the same answer (what `Probe.run` does).
    assert drive(steps(TARGET, ctx_with(5), {"first": one})).evidence == two.evidence


def test_a_wait_given_up_resumes_the_probe_with_what_was_ready_and_a_late_wake_is_ignored() -> None:
    waits: list[Never] = []

    def steps(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        wait = Never(time.monotonic() + 0.1)
        waits.append(wait)
        yield wait
        return Outcome(Status.FAIL, "gave up" if wait.given_up else "woken", {})

    t0 = time.monotonic()
    (result,) = run_probes(TARGET, ctx_with(5), [probe("gen", steps)])
    assert result.status is Status.FAIL and result.summary == "gave up"
    assert 0.09 <= time.monotonic() - t0 < 1.0  # at its give-up time, long before the 5 s deadline
    assert waits[0].wake is not None
    waits[0].wake()  # late: the engine has moved on; nothing breaks, nothing changes


def test_a_wait_still_pending_at_the_deadline_is_an_error_and_its_generator_is_closed() -> None:
    closed: list[bool] = []

    def steps(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        try:
            yield Never(None)
        finally:
            closed.append(True)
        return Outcome(Status.PASS, "unreachable")

    t0 = time.monotonic()
    (result,) = run_probes(TARGET, ctx_with(0.3), [probe("gen", steps)])
    assert result.status is Status.ERROR and "deadline" in result.summary
    assert time.monotonic() - t0 < 1.0
    assert closed == [True]


def test_what_a_generator_raises_or_returns_wrongly_is_its_error_not_the_engines() -> None:
    def raises(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        yield from map_concurrently_steps(lambda n: n, [1], 1.0, lambda n: 0)
        raise ValueError("bad answer")

    def worker_raises(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        yield from map_concurrently_steps(lambda n: 1 // 0, [1], 1.0, lambda n: 0)
        return Outcome(Status.PASS, "unreachable")

    def returns_text(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        yield from map_concurrently_steps(lambda n: n, [1], 1.0, lambda n: 0)
        return "not an outcome"  # type: ignore[return-value]

    def yields_text(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        yield "not a wait"  # type: ignore[misc]
        return Outcome(Status.PASS, "unreachable")

    results = run_probes(
        TARGET,
        ctx_with(5),
        [
            probe("raises", raises),
            probe("worker_raises", worker_raises),
            probe("returns_text", returns_text),
            probe("yields_text", yields_text),
        ],
    )
    assert [r.status for r in results] == [Status.ERROR] * 4
    assert "bad answer" in results[0].summary
    assert "ZeroDivisionError" in results[1].summary
    assert "returned str" in results[2].summary
    assert "returned str" in results[3].summary


def test_concurrently_wakes_once_whether_its_work_ends_before_or_after_begin() -> None:
    early: Concurrently[int, int] = Concurrently(lambda n: n + 1, [1, 2], 1.0, lambda n: -1)
    early.start()  # work under way before anyone waits (a TCP retry started when its reply came)
    time.sleep(0.1)
    woken: list[str] = []
    early.begin(lambda: woken.append("early"))
    late: Concurrently[int, int] = Concurrently(lambda n: (time.sleep(0.05), n)[1], [1, 2], 1.0, lambda n: -1)
    late.begin(lambda: woken.append("late"))
    time.sleep(0.3)
    assert sorted(woken) == ["early", "late"]
    assert early.result() == [2, 3] and late.result() == [1, 2]
    empty: Concurrently[int, int] = Concurrently(lambda n: n, [], 1.0, lambda n: -1)
    empty.begin(lambda: woken.append("empty"))
    assert woken[-1] == "empty" and empty.result() == []


def test_a_fleet_is_driven_from_the_callers_thread_at_most_max_parallel_targets_at_once() -> None:
    from aoai_diag.runner import run_check

    threads: set[str] = set()
    active = [0]
    most = [0]

    def steps(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        threads.add(threading.current_thread().name)
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            yield from map_concurrently_steps(time.sleep, [0.05], 1.0, lambda _: None)
        finally:
            active[0] -= 1
        return Outcome(Status.PASS, target.label)

    targets = [parse_target(f"acct{i:02d}") for i in range(12)]
    report = run_check(targets, Settings(timeout=2), probes=[probe("p", steps)], max_parallel=5)
    assert [t.target["label"] for t in report.targets] == [t.label for t in targets]
    assert [t.checks[0].summary for t in report.targets] == [t.label for t in targets]
    assert threads == {threading.current_thread().name}
    assert most[0] == 5


class Echo:
    """An `ioloop.Job` on a socket pair: readable once the test's thread writes to the other end."""

    waits_to_write = False

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.read_by: str | None = None

    def start(self) -> socket.socket | None:
        threading.Timer(0.05, self.theirs.send, args=(b"x",)).start()
        return self.ours

    def on_readable(self) -> bool:
        self.ours.recv(8)
        self.read_by = threading.current_thread().name
        return True

    def expire(self) -> None:
        pass

    def fail(self, exc: BaseException) -> None:
        pass

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()


def test_in_a_fleet_the_engines_thread_drives_the_sockets_too() -> None:
    from aoai_diag.net.ioloop import batch
    from aoai_diag.runner import run_check

    jobs: list[Echo] = []

    def steps(target: Target, ctx: ProbeContext, deps: Deps) -> Steps[Outcome]:
        job = Echo()
        jobs.append(job)
        settled = yield from batch([job], time.monotonic() + 2.0, 0.5)
        return Outcome(Status.PASS if settled == [True] else Status.FAIL, "echo")

    targets = [parse_target(f"acct{i:02d}") for i in range(4)]
    report = run_check(targets, Settings(timeout=2), probes=[probe("p", steps)], max_parallel=4)
    assert [t.checks[0].status for t in report.targets] == [Status.PASS] * 4
    assert {job.read_by for job in jobs} == {threading.current_thread().name}


def test_a_fleet_run_leaves_the_heap_it_found_out_of_the_collectors_passes_and_hands_it_back() -> None:
    import gc

    from aoai_diag.runner import run_check

    frozen: list[int] = []

    def count(target: Target, ctx: ProbeContext, deps: Deps) -> Outcome:
        frozen.append(gc.get_freeze_count())
        return Outcome(Status.PASS, "counted")

    before = gc.get_freeze_count()
    targets = [parse_target(f"acct{i:02d}") for i in range(3)]
    run_check(targets, Settings(timeout=2), probes=[Probe(id="p", title="", run=count, inline=True)], max_parallel=3)
    assert len(frozen) == 3 and min(frozen) > before  # the modules, classes and tables alive before the run
    assert gc.get_freeze_count() == before
