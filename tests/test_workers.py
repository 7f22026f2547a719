"""aoai_diag/workers.py: every job starts at once, whatever else is running; finished workers are reused."""

from __future__ import annotations

import threading
import time

import pytest

from aoai_diag import workers


def run_and_wait(fn: object = None) -> int:
    """Start one job and return the id of the thread that ran it."""
    ran: list[int] = []
    done = threading.Event()

    def job() -> None:
        ran.append(threading.get_ident())
        done.set()

    workers.start(job)
    assert done.wait(2)
    return ran[0]


def test_a_hung_job_does_not_delay_the_next_one() -> None:
    release = threading.Event()
    started = threading.Event()
    workers.start(lambda: (started.set(), release.wait(5)))
    assert started.wait(2)
    t0 = time.monotonic()
    try:
        run_and_wait()
        assert time.monotonic() - t0 < 1.0
    finally:
        release.set()


def test_many_blocked_jobs_all_run_at_once() -> None:
    barrier = threading.Barrier(30, timeout=5)
    passed: list[bool] = []
    done = threading.Semaphore(0)

    def job() -> None:
        barrier.wait()  # only returns once all 30 jobs are running together
        passed.append(True)
        done.release()

    for _ in range(30):
        workers.start(job)
    for _ in range(30):
        assert done.acquire(timeout=5)
    assert len(passed) == 30


def test_a_finished_worker_runs_the_next_job() -> None:
    first = run_and_wait()
    time.sleep(0.05)  # let the worker go back to the idle list
    assert run_and_wait() == first


def test_idle_workers_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "IDLE_SECONDS", 0.05)
    release = threading.Event()
    idents: list[int] = []
    lock = threading.Lock()

    def job() -> None:
        with lock:
            idents.append(threading.get_ident())
        release.wait(2)

    for _ in range(5):
        workers.start(job)
    time.sleep(0.1)
    release.set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        alive = {t.ident for t in threading.enumerate()} & set(idents)
        if not alive:
            break
        time.sleep(0.02)
    assert len(set(idents)) == 5
    assert not alive


def test_a_job_that_raises_is_reported_and_does_not_break_later_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))

    def boom() -> None:
        raise RuntimeError("probe bug")

    workers.start(boom)
    deadline = time.monotonic() + 2
    while not reported and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [str(e) for e in reported] == ["probe bug"]
    run_and_wait()
