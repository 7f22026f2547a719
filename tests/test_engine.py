"""The engine: concurrency, dependencies, skips, exceptions and the deadline, on one asyncio loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping

import pytest

from aoai_diag import blocking
from aoai_diag.blocking import in_thread
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target, parse_target

TARGET = parse_target("contoso")
RunFn = Callable[[Target, ProbeContext, Mapping[str, CheckResult]], Awaitable[Outcome]]


def ctx_with(deadline_s: float, timeout: float = 1.0) -> ProbeContext:
    return ProbeContext(settings=Settings(timeout=timeout), deadline=time.monotonic() + deadline_s)


def sleeper(seconds: float, status: Status = Status.PASS) -> RunFn:
    async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        await asyncio.sleep(seconds)
        return Outcome(status, f"slept {seconds} after {sorted(deps)}")

    return run


def test_independent_probes_run_concurrently() -> None:
    # Each probe waits until all five are running: run one after the other, each would wait in vain and fail.
    running: list[str] = []

    def meeting(name: str) -> RunFn:
        async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
            running.append(name)
            for _ in range(200):
                if len(running) == 5:
                    return Outcome(Status.PASS, "met the others")
                await asyncio.sleep(0.01)
            return Outcome(Status.FAIL, f"alone: {running}")

        return run

    probes = [Probe(id=f"p{i}", title="", run=meeting(f"p{i}")) for i in range(5)]
    results = run_probes(TARGET, ctx_with(5), probes)
    assert [r.status for r in results] == [Status.PASS] * 5, [r.summary for r in results]


def test_blocking_bodies_run_in_the_executor_and_the_loop_goes_on() -> None:
    loop_thread = threading.current_thread().name
    seen: dict[str, str] = {}
    release = threading.Event()

    def body(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        seen["body"] = threading.current_thread().name
        released = release.wait(5)  # set by the coroutine probe below, which must run meanwhile
        return Outcome(Status.PASS if released else Status.FAIL, "blocked until released")

    async def releaser(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        seen["coroutine"] = threading.current_thread().name
        await asyncio.sleep(0.01)
        release.set()
        return Outcome(Status.PASS, "released")

    probes = [Probe(id="blocking", title="", run=blocking_body(body)), Probe(id="async", title="", run=releaser)]
    blocking_result, released = run_probes(TARGET, ctx_with(5), probes)
    assert blocking_result.status is Status.PASS and released.status is Status.PASS
    assert seen["coroutine"] == loop_thread and seen["body"] != loop_thread


def test_dependency_results_are_passed_and_order_kept() -> None:
    seen: dict[str, list[str]] = {}

    async def record(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        seen["b"] = sorted(deps)
        assert deps["a"].status is Status.PASS
        return Outcome(Status.PASS, "ok")

    probes = [Probe(id="b", title="", run=record, requires=("a",)), Probe(id="a", title="", run=sleeper(0.05))]
    results = run_probes(TARGET, ctx_with(5), probes)
    assert [r.id for r in results] == ["b", "a"]
    # `record` asserts inside the probe; the engine would turn a failure there into an ERROR result.
    assert [r.status for r in results] == [Status.PASS, Status.PASS], [r.summary for r in results]
    assert seen["b"] == ["a"]


def test_failed_dependency_skips_dependants_with_reason() -> None:
    async def boom(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        raise RuntimeError("library exploded\nsecond line")

    probes = [
        Probe(id="a", title="", run=boom),
        Probe(id="b", title="", run=sleeper(0), requires=("a",)),
        Probe(id="c", title="", run=sleeper(0), requires=("b",)),
        Probe(id="d", title="", run=sleeper(0), after=("a",)),
    ]
    a, b, c, d = run_probes(TARGET, ctx_with(5), probes)
    assert a.status is Status.ERROR and "RuntimeError: library exploded" in a.summary and "\n" not in a.summary
    assert a.failure == "failed"
    assert b.status is Status.SKIP and "a (error)" in (b.reason or "")
    assert c.status is Status.SKIP and "b (skip)" in (c.reason or "")
    assert d.status is Status.PASS, "`after` orders without propagating failure"


def test_a_blocking_body_that_raises_is_its_probes_error() -> None:
    def broken(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        raise ValueError("bad line")

    (result,) = run_probes(TARGET, ctx_with(5), [Probe(id="broken", title="", run=blocking_body(broken))])
    assert result.status is Status.ERROR and "probe broken failed: ValueError: bad line" in result.summary


def test_disabled_probe_is_skipped_with_reason() -> None:
    probes = [Probe(id="a", title="", run=sleeper(0), disabled=lambda s: "--no-azure given")]
    (a,) = run_probes(TARGET, ctx_with(5), probes)
    assert a.status is Status.SKIP and a.reason == "--no-azure given"


def test_hung_probes_become_errors_at_the_deadline_and_are_cancelled() -> None:
    release = threading.Event()
    cleaned: list[str] = []

    async def hang(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append("coroutine")  # cancelled at the deadline: its cleanup runs
        return Outcome(Status.PASS, "too late")

    async def hang_in_thread(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        await in_thread(release.wait, 10)  # a blocking call that cannot be stopped: abandoned, not waited for
        return Outcome(Status.PASS, "too late")

    probes = [
        Probe(id="hung", title="", run=hang),
        Probe(id="stuck", title="", run=hang_in_thread),
        Probe(id="quick", title="", run=sleeper(0)),
        Probe(id="later", title="", run=sleeper(0), requires=("hung",)),
    ]
    try:
        hung, stuck, quick, later = run_probes(TARGET, ctx_with(0.3), probes)
        assert not release.is_set(), "the run returned only after the blocking call ended"
    finally:
        release.set()
    assert hung.status is Status.ERROR and "deadline" in hung.summary and hung.failure == "timeout"
    assert stuck.status is Status.ERROR and "deadline" in stuck.summary and stuck.failure == "timeout"
    assert quick.status is Status.PASS
    assert later.status is Status.ERROR and "before the run deadline" in later.summary
    assert cleaned == ["coroutine"]


def test_op_timeout_never_exceeds_deadline_or_timeout() -> None:
    ctx = ctx_with(0.5, timeout=5.0)
    assert ctx.op_timeout() <= 0.5
    ctx = ctx_with(30, timeout=2.0)
    assert 1.9 < ctx.op_timeout() <= 2.0
    assert ctx.op_timeout(cap=0.5) == 0.5


def test_probe_returning_wrong_type_is_an_error_not_a_pass() -> None:
    async def bad(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        return True  # type: ignore[return-value]

    probes = [Probe(id="bad", title="", run=bad)]
    (result,) = run_probes(TARGET, ctx_with(5), probes)
    assert result.status is Status.ERROR and "returned bool" in result.summary


def test_each_target_has_its_own_deadline() -> None:
    # 20 targets, 8 at a time, each needing 0.3 s of a 0.5 s budget: with one deadline for the whole run the
    # third wave (targets 17-20) would start at 0.6 s, past it, and come out inconclusive.
    from aoai_diag.runner import run_bound, run_check

    settings = Settings(timeout=0.5, deadline=0.5)
    probes = [Probe(id="slow_dns", title="", run=sleeper(0.3))]
    targets = [parse_target(f"acct{i:02d}") for i in range(20)]
    report = run_check(targets, settings, probes=probes, max_parallel=8)
    statuses = [t.checks[0].status for t in report.targets]
    assert statuses == [Status.PASS] * 20, [t.checks[0].summary for t in report.targets]
    # The documented bound of the whole run: ceil(20 / 8) = 3 budgets.
    assert run_bound(20, 8, 0.5) == 3 * (0.5 + 0.15)


def test_a_fleet_runs_at_most_max_parallel_targets_at_once() -> None:
    from aoai_diag.runner import run_check

    active, most = [0], [0]

    async def count(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        active[0] += 1
        most[0] = max(most[0], active[0])
        await asyncio.sleep(0.02)
        active[0] -= 1
        return Outcome(Status.PASS, "counted")

    targets = [parse_target(f"acct{i:02d}") for i in range(12)]
    report = run_check(targets, Settings(timeout=2), probes=[Probe(id="p", title="", run=count)], max_parallel=4)
    assert [t.checks[0].status for t in report.targets] == [Status.PASS] * 12
    assert [t.target["label"] for t in report.targets] == [f"acct{i:02d}" for i in range(12)]
    assert most[0] == 4


def test_a_hung_target_does_not_eat_the_next_targets_budget() -> None:
    release = threading.Event()

    async def hang_first(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        if target.label == "acct00":
            await in_thread(release.wait, 5)
        return Outcome(Status.PASS, "done")

    from aoai_diag.runner import run_check

    targets = [parse_target(f"acct{i:02d}") for i in range(3)]
    try:
        report = run_check(
            targets,
            Settings(timeout=0.4, deadline=0.4),
            probes=[Probe(id="p", title="", run=hang_first)],
            max_parallel=1,
        )
    finally:
        release.set()
    assert [t.checks[0].status for t in report.targets] == [Status.ERROR, Status.PASS, Status.PASS]
    assert "deadline" in report.targets[0].checks[0].summary


def test_a_target_that_raises_outside_the_probes_is_raised_by_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from aoai_diag import runner

    def broken(target: Target, checks: object) -> object:
        raise RuntimeError("diagnosis bug")

    monkeypatch.setattr(runner, "build_target_report", broken)
    targets = [parse_target(f"acct{i:02d}") for i in range(3)]
    with pytest.raises(RuntimeError, match="diagnosis bug"):
        runner.run_check(targets, Settings(timeout=1), probes=[Probe(id="p", title="", run=sleeper(0))], max_parallel=2)


def test_shared_work_is_done_once_for_every_target() -> None:
    from aoai_diag.runner import run_check

    calls: list[str] = []

    def fetch() -> str:
        calls.append("fetch")
        time.sleep(0.05)  # long enough for every target to ask while the first asks
        return "answer"

    async def uses_shared(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        value = await ctx.once_async("shared", lambda: in_thread(fetch))
        return Outcome(Status.PASS, value)

    targets = [parse_target(f"acct{i:02d}") for i in range(5)]
    report = run_check(targets, Settings(timeout=2), probes=[Probe(id="p", title="", run=uses_shared)])
    assert [t.checks[0].summary for t in report.targets] == ["answer"] * 5
    assert calls == ["fetch"]


def test_the_cli_default_is_the_runners() -> None:
    # cli.py repeats the number so that `--help` does not import the runner; they must not drift apart.
    from aoai_diag.cli import main
    from aoai_diag.runner import DEFAULT_MAX_PARALLEL_TARGETS

    for name in ("check", "collect"):
        (option,) = [p for p in main.commands[name].params if p.name == "max_parallel"]
        assert option.default == DEFAULT_MAX_PARALLEL_TARGETS


def test_every_probe_is_a_coroutine_function() -> None:
    from aoai_diag.checks import PROBES

    assert [p.id for p in PROBES if not asyncio.iscoroutinefunction(p.run)] == []


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_every_turn_runs_on_the_process_one_loop() -> None:
    # The CLI's phases before a run (run_sync), the run (run_check / run_probes) and `serve` take turns on one loop.
    first = blocking.run(_running_loop())
    seen_by_a_pre_run_phase = blocking.run_sync(blocking._LOOP.get, 5.0)
    seen_by_a_run = run_probes(TARGET, ctx_with(5.0), [Probe(id="p", title="p", run=loop_reporter)])
    assert blocking.run(_running_loop()) is first
    assert seen_by_a_pre_run_phase is first
    assert seen_by_a_run[0].summary == f"loop {id(first)}"


async def loop_reporter(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    return Outcome(Status.PASS, f"loop {id(asyncio.get_running_loop())}")


def test_a_turn_cancels_what_it_left_running() -> None:
    async def leave_a_task() -> asyncio.Task[None]:
        task = asyncio.ensure_future(asyncio.sleep(3600))
        await asyncio.sleep(0)
        return task

    left = blocking.run(leave_a_task())
    assert left.cancelled()


def test_a_turn_inside_a_turn_is_refused() -> None:
    async def nested() -> str:
        with pytest.raises(RuntimeError, match="already running"):
            blocking.run(asyncio.sleep(0))
        return "refused"

    assert blocking.run(nested()) == "refused"
