"""Every scenario in fixtures/scenarios/: the installed CLI inside its namespace must conclude what the file expects."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import soundness
from tests.e2e import namespace, scenario
from tests.e2e.harness import Pki, RunResult, ScenarioRun, ServerMissing

SCENARIOS = scenario.load_all()
# Scenarios run a few at a time: most of a broken scenario's wall time is the tool waiting out a timeout
# (dropped packets, a dead DNS server), which overlaps well with the others' process start-up on 2 cores.
PARALLEL = 4

# Scenarios the tool currently gets wrong: bugs in aoai_diag/, kept visible (strict: fixing the bug fails the xfail,
# so the entry must then be removed).
TOOL_BUGS: dict[str, str] = {}


def _param(sc: scenario.Scenario) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=TOOL_BUGS[sc.id])] if sc.id in TOOL_BUGS else []
    return pytest.param(sc, id=sc.id, marks=marks)


def test_scenario_set_covers_every_family_and_access_pattern() -> None:
    families = {s.family for s in SCENARIOS}
    patterns = {s.pattern for s in SCENARIOS if s.expect.verdict == "healthy"}
    assert set(scenario.FAMILIES) <= families
    assert {"jumpbox-azure-dns", "jumpbox-custom-dns", "vpn-hosts", "hub-spoke"} <= patterns
    for s in SCENARIOS:
        assert (s.expect.verdict == "healthy") == (s.family == "healthy"), s.id
        if s.family != "healthy":
            assert s.expect.causes, f"{s.id}: a broken scenario must name the cause it proves"
            assert all(c.startswith(s.family + ".") for c in s.expect.causes[:1]), s.id


def test_tool_bug_list_names_existing_scenarios() -> None:
    assert set(TOOL_BUGS) <= {s.id for s in SCENARIOS}


@dataclass(frozen=True)
class Outcome:
    result: RunResult | None = None
    skip: str | None = None


def run_scenario(sc: scenario.Scenario, pki: Pki, workdir: Path) -> Outcome:
    nft_missing = namespace.nft_reason() if sc.needs_nft else None
    if nft_missing:
        return Outcome(skip=nft_missing)
    run = ScenarioRun(sc, workdir, pki)
    try:
        try:
            run.setup()
        except ServerMissing as exc:
            return Outcome(skip=str(exc))
        return Outcome(result=run.run_cli())
    finally:
        run.close()


def _waits_out_a_timeout(sc: scenario.Scenario) -> bool:
    return bool(sc.drop) or "silent" in sc.dns.values()


@pytest.fixture(scope="session")
def outcomes(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Future[Outcome]]:
    """Every selected scenario, started at once on a small pool; each test waits for its own."""
    selected = [
        item.callspec.params["sc"]
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("sc"), scenario.Scenario)
    ]
    # The slow ones first, so their waiting overlaps with everything else.
    selected.sort(key=lambda sc: not _waits_out_a_timeout(sc))
    pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="e2e")
    request.addfinalizer(lambda: pool.shutdown(wait=True, cancel_futures=True))
    base = tmp_path_factory.mktemp("scenarios")
    return {sc.id: pool.submit(run_scenario, sc, pki, base / sc.id) for sc in selected}


@pytest.mark.parametrize("sc", [_param(s) for s in SCENARIOS])
def test_scenario(sc: scenario.Scenario, outcomes: dict[str, Future[Outcome]], results: list[RunResult]) -> None:
    outcome = outcomes[sc.id].result()
    if outcome.skip:
        pytest.skip(outcome.skip)
    result = outcome.result
    assert result is not None
    results.append(result)
    assert result.report is not None, f"no JSON on stdout (exit {result.exit_code}); stderr: {result.stderr[-800:]}"
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    problem = result.mismatch()
    assert problem is None, (
        f"{sc.id}: {problem}\nchecks: {result.check_statuses}\nstderr: {result.stderr[-500:]}\n"
        f"server logs: {result.server_logs}"
    )
    # and tells one story per broken link, roots first; a bundle of its evidence analyses to the same report
    assert soundness.report_violations(result.report) == []
    assert soundness.json_roundtrip(result.report) == []
