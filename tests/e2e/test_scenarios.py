"""Every scenario in fixtures/scenarios/: the installed CLI inside its namespace must conclude what the file expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import namespace, scenario
from tests.e2e.harness import Pki, RunResult, ScenarioRun, ServerMissing

SCENARIOS = scenario.load_all()


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


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(sc: scenario.Scenario, pki: Pki, results: list[RunResult], tmp_path: Path) -> None:
    nft_missing = namespace.nft_reason() if sc.needs_nft else None
    if nft_missing:
        pytest.skip(nft_missing)
    run = ScenarioRun(sc, tmp_path, pki)
    try:
        try:
            run.setup()
        except ServerMissing as exc:
            pytest.skip(str(exc))
        result = run.run_cli()
    finally:
        run.close()
    results.append(result)
    assert result.report is not None, f"no JSON on stdout (exit {result.exit_code}); stderr: {result.stderr[-800:]}"
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    problem = result.mismatch()
    assert problem is None, (
        f"{sc.id}: {problem}\nchecks: {result.check_statuses}\nstderr: {result.stderr[-500:]}\n"
        f"server logs: {result.server_logs}"
    )
