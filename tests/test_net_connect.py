"""blocking.map_in_threads and net.connect.connect_all: one deadline for all items, results in order, and a bug in
`fn` surfaces instead of posing as a timeout."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from aoai_diag.blocking import map_in_threads
from aoai_diag.net.connect import connect_all


def test_stuck_items_share_one_deadline() -> None:
    release = threading.Event()
    started: list[int] = []

    def stuck(item: int) -> str:
        started.append(item)
        release.wait(5)
        return f"done {item}"

    try:
        results = asyncio.run(map_in_threads(stuck, [1, 2, 3, 4], 0.3, lambda item: f"late {item}"))
    finally:
        release.set()
    # Every item ran at once (not one after the other): all four had started before the one deadline came.
    assert sorted(started) == [1, 2, 3, 4]
    assert results == ["late 1", "late 2", "late 3", "late 4"]


def test_results_keep_the_order_of_items() -> None:
    def slow_first(item: int) -> int:
        time.sleep(0.05 if item == 1 else 0)
        return item * 10

    assert asyncio.run(map_in_threads(slow_first, [1, 2, 3], 1.0, lambda item: -1)) == [10, 20, 30]


def test_an_escaping_exception_is_raised_not_reported_as_late() -> None:
    def broken(item: int) -> int:
        if item == 2:
            raise RuntimeError("bug in the probe")
        return item

    with pytest.raises(RuntimeError, match="bug in the probe"):
        asyncio.run(map_in_threads(broken, [1, 2, 3], 1.0, lambda item: -1))


def test_connect_all_reports_connected_and_refused_in_order() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        open_port = listener.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]  # bound, never listening: refused
        found = asyncio.run(connect_all([("127.0.0.1", open_port), ("127.0.0.1", closed_port)], 1.0))
    assert [c.port for c in found] == [open_port, closed_port]
    assert found[0].error is None and not found[0].timed_out and found[0].elapsed_s is not None
    assert isinstance(found[1].error, ConnectionRefusedError) and not found[1].timed_out
