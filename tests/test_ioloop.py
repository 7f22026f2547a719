"""The I/O thread: batches of socket jobs settle on a reply, at their deadline, or as errors, and it survives bugs."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from aoai_diag.net import ioloop
from aoai_diag.steps import drive


class PairJob:
    """A job on one end of a socket pair; the test writes to the other end to make it readable."""

    waits_to_write = False

    def __init__(self, start_delay: float = 0.0, start_settles: bool = False, breaks: bool = False) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.start_delay = start_delay
        self.start_settles = start_settles
        self.breaks = breaks
        self.events: list[str] = []
        self.closed = threading.Event()

    def start(self) -> socket.socket | None:
        time.sleep(self.start_delay)
        self.events.append("start")
        return None if self.start_settles else self.ours

    def on_readable(self) -> bool:
        data = self.ours.recv(64)
        if self.breaks:
            raise RuntimeError("a bug")
        self.events.append(f"read {data.decode()}")
        return data == b"last"

    def expire(self) -> None:
        self.events.append("expire")

    def fail(self, exc: BaseException) -> None:
        self.events.append(f"fail {exc}")

    def close(self) -> None:
        self.events.append("close")
        self.ours.close()
        self.theirs.close()
        self.closed.set()


@pytest.fixture
def fresh_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ioloop, "_LOOP", ioloop._Loop())


def send_later(job: PairJob, *chunks: bytes, after: float = 0.05) -> None:
    def send() -> None:
        for chunk in chunks:
            time.sleep(after)
            job.theirs.send(chunk)

    threading.Thread(target=send, daemon=True).start()


@pytest.mark.usefixtures("fresh_loop")
def test_a_job_settles_when_its_reply_comes_and_the_others_wait_until_their_deadline() -> None:
    answered, silent, settled_at_start = PairJob(), PairJob(), PairJob(start_settles=True)
    send_later(answered, b"first", b"last")
    started = time.monotonic()
    settled = drive(ioloop.batch([answered, silent, settled_at_start], started + 0.4, margin=0.5))
    elapsed = time.monotonic() - started
    assert settled == [True, True, True]
    assert answered.events == ["start", "read first", "read last", "close"]
    assert silent.events == ["start", "expire", "close"]
    assert settled_at_start.events == ["start", "close"]
    assert 0.35 <= elapsed < 0.4 + 0.3


@pytest.mark.usefixtures("fresh_loop")
def test_a_batch_ends_as_soon_as_every_job_settled() -> None:
    job = PairJob()
    send_later(job, b"last")
    started = time.monotonic()
    assert drive(ioloop.batch([job], started + 5.0, margin=0.5)) == [True]
    assert time.monotonic() - started < 1.0


@pytest.mark.usefixtures("fresh_loop")
def test_a_bug_in_a_job_settles_it_as_an_error_and_the_loop_goes_on() -> None:
    broken = PairJob(breaks=True)
    send_later(broken, b"x")
    assert drive(ioloop.batch([broken], time.monotonic() + 1.0, margin=0.5)) == [True]
    assert broken.events == ["start", "fail a bug", "close"]
    fine = PairJob()
    send_later(fine, b"last")
    assert drive(ioloop.batch([fine], time.monotonic() + 1.0, margin=0.5)) == [True]
    assert fine.events == ["start", "read last", "close"]


@pytest.mark.usefixtures("fresh_loop")
def test_a_caller_stops_waiting_for_a_late_loop_and_the_job_is_closed_later() -> None:
    # The loop is held up (here by a slow start) past the batch's deadline and the caller's margin: the caller
    # returns on time with the job unsettled, and the loop drops the job (closing it) without settling it.
    slow = PairJob(start_delay=0.4)
    started = time.monotonic()
    settled = drive(ioloop.batch([slow], started + 0.05, margin=0.1))
    assert settled == [False]
    assert time.monotonic() - started < 0.35
    assert slow.closed.wait(2.0)
    assert "expire" not in slow.events


def test_no_job_no_wait() -> None:
    started = time.monotonic()
    assert drive(ioloop.batch([], started + 5.0, margin=1.0)) == []
    assert time.monotonic() - started < 0.1


class BrokenRegistration(PairJob):
    """A job the loop cannot even register: the error escapes the job's own steps and stops the loop."""

    @property  # type: ignore[override]
    def waits_to_write(self) -> bool:
        raise RuntimeError("broken registration")


@pytest.mark.usefixtures("fresh_loop")
def test_a_bug_that_stops_the_loop_settles_its_jobs_as_errors_and_the_next_batch_starts_a_new_loop() -> None:
    broken, bystander = BrokenRegistration(), PairJob()
    started = time.monotonic()
    assert drive(ioloop.batch([bystander, broken], started + 2.0, margin=0.5)) == [True, True]
    assert time.monotonic() - started < 1.0  # settled at once, not at the deadline
    assert "fail broken registration" in broken.events and "fail broken registration" in bystander.events
    fine = PairJob()
    send_later(fine, b"last")
    assert drive(ioloop.batch([fine], time.monotonic() + 1.0, margin=0.5)) == [True]
    assert fine.events == ["start", "read last", "close"]


def test_under_polling_a_batch_is_driven_by_the_polling_thread_and_wakes_its_waiter() -> None:
    answered, silent = PairJob(), PairJob()
    readers: list[str] = []
    original = answered.on_readable

    def on_readable() -> bool:
        readers.append(threading.current_thread().name)
        return original()

    answered.on_readable = on_readable  # type: ignore[method-assign]
    woken: list[float] = []
    started = time.monotonic()
    with ioloop.Polling() as polling:
        wait = ioloop.BatchWait([answered, silent], started + 0.3, margin=0.5)
        wait.begin(lambda: woken.append(time.monotonic() - started))
        assert answered.events == ["start"] and silent.events == ["start"]  # started at once, by this thread
        send_later(answered, b"last")
        while not woken and time.monotonic() - started < 2.0:
            polling.poll(1.0)
    assert readers == [threading.current_thread().name]
    assert wait.settled() == [True, True]
    assert answered.events == ["start", "read last", "close"]
    assert silent.events == ["start", "expire", "close"]  # at the batch's deadline, by a poll
    assert len(woken) == 1 and 0.25 <= woken[0] < 1.0


def test_another_threads_notify_ends_a_poll_and_stopping_gives_up_what_still_runs() -> None:
    job = PairJob()
    with ioloop.Polling() as polling:
        ioloop.BatchWait([job], time.monotonic() + 30.0, margin=1.0).begin(lambda: None)
        threading.Timer(0.1, polling.notify).start()
        started = time.monotonic()
        polling.poll(5.0)
        assert 0.05 <= time.monotonic() - started < 1.0
        assert job.events == ["start"]
    assert job.events == ["start", "close"]  # given up, not expired: nobody waits for it any more
    assert job.closed.is_set()


@pytest.mark.usefixtures("fresh_loop")
def test_without_polling_and_from_other_threads_batches_go_to_the_io_thread() -> None:
    job = PairJob()
    with ioloop.Polling():
        found: list[list[bool]] = []
        other = threading.Thread(target=lambda: found.append(drive(ioloop.batch([job], time.monotonic() + 1, 0.5))))
        send_later(job, b"last")
        other.start()
        other.join(3.0)
    assert found == [[True]] and job.events == ["start", "read last", "close"]
