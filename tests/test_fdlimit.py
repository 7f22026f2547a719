"""A fleet runs within the open-file limit: the soft limit is raised first, then parallelism is capped by it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from aoai_diag import fdlimit
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target, parse_target


@pytest.mark.parametrize(
    ("requested", "soft", "in_use", "expected"),
    [
        (50, None, 500, 50),  # no limit (Windows): as asked
        (50, 8192, 20, 50),  # room for all
        (50, 1024, 20, (1024 - 20 - fdlimit.RESERVED) // fdlimit.SOCKETS_PER_TARGET),  # Linux's usual 1024
        (50, 256, 20, (256 - 20 - fdlimit.RESERVED) // fdlimit.SOCKETS_PER_TARGET),  # macOS's 256
        (8, 60, 50, 1),  # no room at all: still one at a time, never zero
    ],
)
def test_parallelism_fits_the_limit(requested: int, soft: int | None, in_use: int, expected: int) -> None:
    assert fdlimit.parallel_within(requested, soft, in_use) == expected


def test_the_soft_limit_is_raised_toward_the_hard_one() -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, 200)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        now = fdlimit.raise_soft_limit(fdlimit.WANTED)
        after = resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    expected = fdlimit.WANTED if hard == resource.RLIM_INFINITY else min(fdlimit.WANTED, hard)
    assert after == (expected, hard)
    assert now == expected
    assert fdlimit.open_descriptors() > 2  # stdin, stdout, stderr at least


def test_a_fleet_runs_no_more_targets_at_once_than_the_limit_leaves_room_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from aoai_diag.runner import run_check

    in_use = fdlimit.open_descriptors()
    room_for_three = in_use + fdlimit.RESERVED + 3 * fdlimit.SOCKETS_PER_TARGET + 5
    monkeypatch.setattr(fdlimit, "raise_soft_limit", lambda wanted=fdlimit.WANTED: room_for_three)
    active, most = [0], [0]

    async def count_active(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        active[0] += 1  # the fleet's targets all run on one loop: no lock needed
        most[0] = max(most[0], active[0])
        await asyncio.sleep(0.05)
        active[0] -= 1
        return Outcome(Status.PASS, "counted")

    targets = [parse_target(f"acct{i:02d}") for i in range(10)]
    probes = [Probe(id="p", title="", run=count_active)]
    report = run_check(targets, Settings(timeout=2), probes=probes, max_parallel=10)
    assert [t.checks[0].status for t in report.targets] == [Status.PASS] * 10
    assert most[0] == 3, most
