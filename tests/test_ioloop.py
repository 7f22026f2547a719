"""The I/O thread: batches of socket jobs settle on a reply, at their deadline, or as errors, and it survives bugs."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from aoai_diag.net import ioloop


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
    settled = ioloop.run_batch([answered, silent, settled_at_start], started + 0.4, margin=0.5)
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
    assert ioloop.run_batch([job], started + 5.0, margin=0.5) == [True]
    assert time.monotonic() - started < 1.0


@pytest.mark.usefixtures("fresh_loop")
def test_a_bug_in_a_job_settles_it_as_an_error_and_the_loop_goes_on() -> None:
    broken = PairJob(breaks=True)
    send_later(broken, b"x")
    assert ioloop.run_batch([broken], time.monotonic() + 1.0, margin=0.5) == [True]
    assert broken.events == ["start", "fail a bug", "close"]
    fine = PairJob()
    send_later(fine, b"last")
    assert ioloop.run_batch([fine], time.monotonic() + 1.0, margin=0.5) == [True]
    assert fine.events == ["start", "read last", "close"]


@pytest.mark.usefixtures("fresh_loop")
def test_a_caller_stops_waiting_for_a_late_loop_and_the_job_is_closed_later() -> None:
    # The loop is held up (here by a slow start) past the batch's deadline and the caller's margin: the caller
    # returns on time with the job unsettled, and the loop drops the job (closing it) without settling it.
    slow = PairJob(start_delay=0.4)
    started = time.monotonic()
    settled = ioloop.run_batch([slow], started + 0.05, margin=0.1)
    assert settled == [False]
    assert time.monotonic() - started < 0.35
    assert slow.closed.wait(2.0)
    assert "expire" not in slow.events


def test_no_job_no_wait() -> None:
    started = time.monotonic()
    assert ioloop.run_batch([], started + 5.0, margin=1.0) == []
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
    assert ioloop.run_batch([bystander, broken], started + 2.0, margin=0.5) == [True, True]
    assert time.monotonic() - started < 1.0  # settled at once, not at the deadline
    assert "fail broken registration" in broken.events and "fail broken registration" in bystander.events
    fine = PairJob()
    send_later(fine, b"last")
    assert ioloop.run_batch([fine], time.monotonic() + 1.0, margin=0.5) == [True]
    assert fine.events == ["start", "read last", "close"]
