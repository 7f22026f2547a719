"""The engine: concurrency, dependencies, skips, exceptions and the deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import pytest

from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target, parse_target

TARGET = parse_target("contoso")


def ctx_with(deadline_s: float, timeout: float = 1.0) -> ProbeContext:
    return ProbeContext(settings=Settings(timeout=timeout), deadline=time.monotonic() + deadline_s)


def sleeper(seconds: float, status: Status = Status.PASS):
    def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        time.sleep(seconds)
        return Outcome(status, f"slept {seconds}", {"deps": sorted(deps)})

    return run


def test_independent_probes_run_concurrently() -> None:
    probes = [Probe(id=f"p{i}", title="", run=sleeper(0.3)) for i in range(5)]
    t0 = time.monotonic()
    results = run_probes(TARGET, ctx_with(5), probes)
    elapsed = time.monotonic() - t0
    assert [r.status for r in results] == [Status.PASS] * 5
    assert elapsed < 0.9, f"5 x 0.3 s probes took {elapsed:.2f} s: not concurrent"


def test_dependency_results_are_passed_and_order_kept() -> None:
    seen: dict[str, list[str]] = {}

    def record(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
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
    def boom(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        raise RuntimeError("library exploded\nsecond line")

    probes = [
        Probe(id="a", title="", run=boom),
        Probe(id="b", title="", run=sleeper(0), requires=("a",)),
        Probe(id="c", title="", run=sleeper(0), requires=("b",)),
        Probe(id="d", title="", run=sleeper(0), after=("a",)),
    ]
    a, b, c, d = run_probes(TARGET, ctx_with(5), probes)
    assert a.status is Status.ERROR and "RuntimeError: library exploded" in a.summary and "\n" not in a.summary
    assert b.status is Status.SKIP and "a (error)" in (b.reason or "")
    assert c.status is Status.SKIP and "b (skip)" in (c.reason or "")
    assert d.status is Status.PASS, "`after` orders without propagating failure"


def test_disabled_probe_is_skipped_with_reason() -> None:
    probes = [Probe(id="a", title="", run=sleeper(0), disabled=lambda s: "--no-azure given")]
    (a,) = run_probes(TARGET, ctx_with(5), probes)
    assert a.status is Status.SKIP and a.reason == "--no-azure given"


def test_hung_probe_becomes_error_at_deadline_and_run_returns() -> None:
    release = threading.Event()

    def hang(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        release.wait(10)
        return Outcome(Status.PASS, "too late")

    probes = [Probe(id="hung", title="", run=hang), Probe(id="quick", title="", run=sleeper(0))]
    t0 = time.monotonic()
    hung, quick = run_probes(TARGET, ctx_with(0.4), probes)
    elapsed = time.monotonic() - t0
    release.set()
    assert hung.status is Status.ERROR and "deadline" in hung.summary
    assert quick.status is Status.PASS
    assert elapsed < 0.4 + 0.4, f"run took {elapsed:.2f} s past a 0.4 s deadline"


def test_op_timeout_never_exceeds_deadline_or_timeout() -> None:
    ctx = ctx_with(0.5, timeout=5.0)
    assert ctx.op_timeout() <= 0.5
    ctx = ctx_with(30, timeout=2.0)
    assert 1.9 < ctx.op_timeout() <= 2.0
    assert ctx.op_timeout(cap=0.5) == 0.5


def test_probe_returning_wrong_type_is_an_error_not_a_pass() -> None:
    probes = [Probe(id="bad", title="", run=lambda t, c, d: True)]  # type: ignore[arg-type,return-value]
    (bad,) = run_probes(TARGET, ctx_with(5), probes)
    assert bad.status is Status.ERROR


def test_each_target_has_its_own_deadline() -> None:
    # 20 targets, 8 at a time, each needing 0.3 s of a 0.5 s budget: with one deadline for the whole run the
    # third wave (targets 17-20) would start at 0.6 s, past it, and come out inconclusive.
    from aoai_diag.runner import run_bound, run_check

    settings = Settings(timeout=0.5, deadline=0.5)
    probes = [Probe(id="slow_dns", title="", run=sleeper(0.3))]
    targets = [parse_target(f"acct{i:02d}") for i in range(20)]
    t0 = time.monotonic()
    report = run_check(targets, settings, probes=probes, max_parallel=8)
    elapsed = time.monotonic() - t0
    statuses = [t.checks[0].status for t in report.targets]
    assert statuses == [Status.PASS] * 20, [t.checks[0].summary for t in report.targets]
    # The whole run keeps the documented bound: ceil(20 / 8) = 3 budgets.
    assert run_bound(20, 8, 0.5) == 3 * (0.5 + 0.15)
    assert elapsed < run_bound(20, 8, 0.5)


def test_a_hung_target_does_not_eat_the_next_targets_budget() -> None:
    release = threading.Event()

    def hang_first(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        if target.label == "acct00":
            release.wait(5)
        return Outcome(Status.PASS, "done")

    from aoai_diag.runner import run_check

    targets = [parse_target(f"acct{i:02d}") for i in range(3)]
    report = run_check(
        targets, Settings(timeout=0.4, deadline=0.4), probes=[Probe(id="p", title="", run=hang_first)], max_parallel=1
    )
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


def test_the_cli_default_is_the_runners() -> None:
    # cli.py repeats the number so that `--help` does not import the runner; they must not drift apart.
    from aoai_diag.cli import main
    from aoai_diag.runner import DEFAULT_MAX_PARALLEL_TARGETS

    for name in ("check", "collect"):
        (option,) = [p for p in main.commands[name].params if p.name == "max_parallel"]
        assert option.default == DEFAULT_MAX_PARALLEL_TARGETS


def test_inline_probes_run_in_the_engines_thread_after_the_others_of_their_pass_started() -> None:
    events: list[tuple[str, str]] = []
    engine_thread = threading.current_thread().name

    def threaded(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        events.append(("threaded started", threading.current_thread().name))
        time.sleep(0.1)
        return Outcome(Status.PASS, "threaded")

    def local(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        time.sleep(0.02)  # the threaded probe, listed after this one, has started meanwhile
        events.append(("inline ran", threading.current_thread().name))
        return Outcome(Status.PASS, "inline", {"deps": sorted(deps)})

    def broken(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        raise ValueError("bad line")

    probes = [
        Probe(id="local", title="", run=local, inline=True),
        Probe(id="threaded", title="", run=threaded),
        Probe(id="broken", title="", run=broken, inline=True),
        Probe(id="after", title="", run=local, inline=True, requires=("threaded",)),
    ]
    results = run_probes(TARGET, ctx_with(5), probes)
    assert [r.status for r in results] == [Status.PASS, Status.PASS, Status.ERROR, Status.PASS]
    assert "bad line" in results[2].summary
    assert results[3].evidence == {"deps": ["threaded"]}
    assert events[0][0] == "threaded started" and events[0][1] != engine_thread
    assert [e for e in events if e[0] == "inline ran"] == [("inline ran", engine_thread)] * 2


def test_only_local_reads_are_inline() -> None:
    # An inline probe holds up the scheduling of its target: none may wait on the network or run a command.
    from aoai_diag.checks import PROBES

    assert sorted(p.id for p in PROBES if p.inline) == [
        "hosts_file",
        "proxy_settings",
        "resolver_config",
        "vpn_profile",
    ]
