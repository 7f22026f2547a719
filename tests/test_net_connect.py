"""net.connect.map_concurrently_steps (driven to its end): one deadline for all items, and a bug in `fn` surfaces instead of posing as a timeout."""

from __future__ import annotations

import threading
import time

import pytest

from aoai_diag.net.connect import map_concurrently_steps
from aoai_diag.steps import drive


def test_stuck_items_share_one_deadline() -> None:
    release = threading.Event()

    def stuck(item: int) -> str:
        release.wait(5)
        return f"done {item}"

    started = time.monotonic()
    try:
        results = drive(map_concurrently_steps(stuck, [1, 2, 3, 4], 0.3, lambda item: f"late {item}"))
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert results == ["late 1", "late 2", "late 3", "late 4"]
    assert elapsed < 1.0  # joining each thread for the full timeout would take 4 x 0.3 s


def test_results_keep_the_order_of_items() -> None:
    def slow_first(item: int) -> int:
        time.sleep(0.05 if item == 1 else 0)
        return item * 10

    assert drive(map_concurrently_steps(slow_first, [1, 2, 3], 1.0, lambda item: -1)) == [10, 20, 30]


def test_an_escaping_exception_is_raised_not_reported_as_late() -> None:
    def broken(item: int) -> int:
        if item == 2:
            raise RuntimeError("bug in the probe")
        return item

    with pytest.raises(RuntimeError, match="bug in the probe"):
        drive(map_concurrently_steps(broken, [1, 2, 3], 1.0, lambda item: -1))
