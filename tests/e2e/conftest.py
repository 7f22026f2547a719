"""End-to-end tier: runs only where network namespaces can be made (root, iproute2), skipped visibly elsewhere."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import namespace, report_table
from tests.e2e.harness import Pki, RunResult

HERE = Path(__file__).parent
RESULTS: list[RunResult] = []


@functools.cache
def _unsupported() -> str | None:
    return namespace.unsupported_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        reason = _unsupported()
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"e2e: {reason}"))


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_namespaces() -> Iterator[None]:
    """Leftovers of a killed earlier session (our prefix, creator gone) are removed before anything runs."""
    if _unsupported() is None:
        namespace.sweep_stale()
    yield


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("e2e-pki"))


@pytest.fixture(scope="session")
def results() -> list[RunResult]:
    return RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    text = report_table.render(RESULTS)
    terminalreporter.write_sep("=", "aoai-diag end-to-end scenarios")
    terminalreporter.write_line(text)
    # The committed record changes only when asked, so an ordinary test run leaves the work tree clean.
    if os.environ.get("AOAI_DIAG_E2E_RECORD"):
        (HERE / "last_run.md").write_text(text)
