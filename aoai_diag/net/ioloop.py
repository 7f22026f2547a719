"""A poll loop over the non-blocking sockets of many exchanges at once.

A fleet runs dozens of targets at once, each with probes waiting on their own sockets. A thread that wakes for
each datagram hands the interpreter lock over at every system call, and with hundreds of threads runnable at once
those hand-offs (futex calls, context switches) cost more CPU than the exchanges themselves (measured: most of a
50-target run). Here the exchanges are state machines (`Job`) in batches, driven by one `_Driver` that waits for
all their sockets at once. The engine's thread drives the batches its probes begin (`Polling`, `BatchWait.begin`);
any other caller submits its batch to the process's I/O thread and sleeps on one lock until every job of it is
settled or its time is up (`BatchWait.block`, what `steps.drive` calls).
"""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aoai_diag.steps import Steps

# Without its wake-up sockets (no descriptor left when the loop started), how often the loop looks for new batches.
NO_WAKE_POLL_S = 0.005


class Job(Protocol):
    def start(self) -> socket.socket | None:
        """Send; the socket to wait on, or None when the job settled at once (a send that failed)."""

    @property
    def waits_to_write(self) -> bool:
        """The job waits for its socket to be writable (a connect), not readable."""

    def on_readable(self) -> bool:
        """Its socket is ready (readable, or writable for `waits_to_write`): act; True when the job is settled."""

    def expire(self) -> None:
        """The batch's time is up: settle as unanswered."""

    def fail(self, exc: BaseException) -> None:
        """A bug escaped `start` or `on_readable`: settle as an error naming it."""

    def close(self) -> None:
        """Release the job's socket (called once the job is settled or its batch given up)."""


class _Batch:
    def __init__(self, jobs: Sequence[Job], expires: float) -> None:
        self.jobs = list(jobs)
        self.expires = expires
        self.settled = [False] * len(self.jobs)
        self.left = len(self.jobs)
        # Released by the loop when every job is settled; a plain lock rather than an Event, whose Condition
        # costs several Python-level locks per wait (one batch per DNS probe per target in a fleet).
        self.done = threading.Lock()
        self.done.acquire()
        # Set by the caller when it stops waiting; the loop then drops the batch's jobs. The caller takes no lock:
        # a job's answer is complete before its `settled` flag is set, and unsettled jobs are not read.
        self.given_up = False
        # Called by the loop (after `done` is released) for a caller that does not sleep on `done` (`BatchWait`).
        self.on_done: Callable[[], None] | None = None
        if not self.jobs:
            self.done.release()

    def settle(self, index: int) -> None:
        self.jobs[index].close()
        self.settled[index] = True
        self.left -= 1
        if not self.left:
            self.done.release()
            if self.on_done is not None:
                self.on_done()


class BatchWait:
    """`jobs` driven until each is settled or `expires` (monotonic) has passed, as a `steps.Wait`; `settled()` says
    which ones settled. Begun under `Polling`, the jobs are driven by that thread's polls; otherwise (and always
    when blocking) by the process's I/O thread.

    The waiter waits `margin` seconds past `expires` at most (for a loop slowed by a busy machine); a job that had
    not settled by then is reported unsettled and left alone.
    """

    def __init__(self, jobs: Sequence[Job], expires: float, margin: float) -> None:
        self._batch = _Batch(jobs, expires)
        self.give_up_at: float | None = expires + margin

    def begin(self, wake: Callable[[], None]) -> None:
        if not self._batch.jobs:
            wake()
            return
        self._batch.on_done = wake
        polling: Polling | None = getattr(_local, "polling", None)
        if polling is not None:
            polling.submit(self._batch)
        else:
            _LOOP.submit(self._batch)

    def block(self) -> None:
        if self._batch.jobs:
            _LOOP.submit(self._batch)
            assert self.give_up_at is not None
            self._batch.done.acquire(timeout=max(0.0, self.give_up_at - time.monotonic()))
        self.give_up()

    def give_up(self) -> None:
        self._batch.given_up = True

    def settled(self) -> list[bool]:
        return list(self._batch.settled)


def batch(jobs: Sequence[Job], expires: float, margin: float) -> Steps[list[bool]]:
    """`BatchWait` in a generator: which of `jobs` settled."""
    wait = BatchWait(jobs, expires, margin)
    yield wait
    return wait.settled()


class _Poller:
    """`select.poll` (no descriptor of its own, no system call to register) where there is one; `select.select`
    elsewhere (Windows)."""

    def __init__(self) -> None:
        self._poll = select.poll() if hasattr(select, "poll") else None
        self._read: dict[int, socket.socket] = {}
        self._write: dict[int, socket.socket] = {}

    def add(self, sock: socket.socket, write: bool = False) -> None:
        (self._write if write else self._read)[sock.fileno()] = sock
        if self._poll is not None:
            self._poll.register(sock, select.POLLOUT if write else select.POLLIN)

    def remove(self, fd: int) -> None:
        self._read.pop(fd, None)
        self._write.pop(fd, None)
        if self._poll is not None:
            self._poll.unregister(fd)

    def wait(self, timeout: float | None) -> list[int]:
        if self._poll is not None:
            return [fd for fd, _ in self._poll.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))]
        if not self._read and not self._write:  # Windows' select refuses three empty lists
            time.sleep(NO_WAKE_POLL_S if timeout is None else min(timeout, NO_WAKE_POLL_S))
            return []
        # Windows reports a failed connect as an exception, not as writable.
        writers = list(self._write.values())
        ready, writable, failed = select.select(list(self._read.values()), writers, writers, timeout)
        return list(dict.fromkeys(s.fileno() for s in (*ready, *writable, *failed)))


class _Driver:
    """Batches of jobs over one poller: started when added, settled as their sockets answer, expired at their
    deadline, dropped when given up. The I/O thread runs one; so does a thread that polls for itself (`Polling`)."""

    def __init__(self, wake_in: socket.socket | None) -> None:
        self.wake_in = wake_in
        self.poller = _Poller()
        if wake_in is not None:
            self.poller.add(wake_in)
        self.live: dict[int, tuple[_Batch, int]] = {}
        self.batches: list[_Batch] = []

    def add(self, batch: _Batch) -> None:
        self.batches.append(batch)
        for index, job in enumerate(batch.jobs):
            sock = _guarded(job, job.start)
            if sock is None:
                batch.settle(index)
            else:
                self.live[sock.fileno()] = (batch, index)
                self.poller.add(sock, write=job.waits_to_write)

    def sweep(self, now: float) -> float | None:
        """Drop settled and given-up batches, expire those whose time is up; the time to the next expiry."""
        for batch in [b for b in self.batches if not b.left or b.given_up or b.expires <= now]:
            self.batches.remove(batch)
            for fd in [fd for fd, (b, _) in self.live.items() if b is batch]:
                self.poller.remove(fd)
                index = self.live.pop(fd)[1]
                if batch.given_up:
                    batch.jobs[index].close()
                else:
                    _guarded(batch.jobs[index], batch.jobs[index].expire)
                    batch.settle(index)
        return min(b.expires for b in self.batches) - now if self.batches else None

    def dispatch(self, ready: list[int]) -> None:
        for fd in ready:
            if self.wake_in is not None and fd == self.wake_in.fileno():
                _drain(self.wake_in)
                continue
            if fd not in self.live:
                continue
            batch, index = self.live[fd]
            if batch.given_up:
                continue  # dropped with its batch on the next sweep
            job = batch.jobs[index]
            settled = _guarded(job, job.on_readable)
            if settled is None or settled:
                self.poller.remove(fd)
                del self.live[fd]
                batch.settle(index)

    def fail_all(self, exc: BaseException) -> None:
        """A bug stopped the driver: every job still running is settled as an error naming it."""
        for batch in self.batches:
            for index, job in enumerate(batch.jobs):
                if not batch.settled[index]:
                    job.fail(exc)
                    batch.settle(index)


def _wake_sockets() -> tuple[socket.socket, socket.socket] | tuple[None, None]:
    """(read end, write end) of the sockets that wake a poll; (None, None) when out of descriptors (the poll then
    looks for new work every few milliseconds instead)."""
    try:
        wake_in, wake_out = socket.socketpair()
    except OSError:
        return None, None
    wake_in.setblocking(False)
    wake_out.setblocking(False)
    return wake_in, wake_out


class _Loop:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._incoming: list[_Batch] = []
        self._thread: threading.Thread | None = None
        self._wake_in: socket.socket | None = None
        self._wake_out: socket.socket | None = None
        self._driver: _Driver | None = None  # the running loop's, for `_guarded_run`
        # The loop may be in (or on its way to) its poll: a new batch must wake it. While it works through what
        # its poll returned it looks for new batches before polling again, and a wake-up would only cost a
        # system call and an interpreter-lock hand-off per batch.
        self._may_sleep = False

    def submit(self, batch: _Batch) -> None:
        with self._lock:
            self._incoming.append(batch)
            if self._thread is None or not self._thread.is_alive():  # never started, idle, or stopped by a bug
                if self._wake_out is None:
                    self._wake_in, self._wake_out = _wake_sockets()
                self._thread = threading.Thread(
                    target=self._guarded_run, args=(self._wake_in,), name="aoai-diag-io", daemon=True
                )
                self._thread.start()
            wake = self._wake_out if self._may_sleep else None
        if wake is None:
            return
        try:
            wake.send(b"\0")
        except OSError:  # full: a wake-up is already waiting to be read
            pass

    def _guarded_run(self, wake_in: socket.socket | None) -> None:
        """`_run`; a bug that stops it settles every job of its batches as an error naming the bug (their callers
        get evidence, not a wait), and the next batch starts a new loop."""
        try:
            self._run(wake_in)
        except Exception as exc:
            if self._driver is not None:
                self._driver.fail_all(exc)

    def _run(self, wake_in: socket.socket | None) -> None:
        driver = self._driver = _Driver(wake_in)
        while True:
            with self._lock:
                new, self._incoming = self._incoming, []
                self._may_sleep = True
                if wake_in is None and not new and not driver.batches:
                    self._thread = None  # idle, and nothing would wake it: the next batch starts a new loop
                    return
            for batch in new:
                driver.add(batch)
            timeout = driver.sweep(time.monotonic())
            if wake_in is None:
                timeout = NO_WAKE_POLL_S if timeout is None else min(timeout, NO_WAKE_POLL_S)
            ready = driver.poller.wait(timeout)
            self._may_sleep = False  # until the next look for new batches: submitters need not wake it
            driver.dispatch(ready)


_local = threading.local()


class Polling:
    """While active (`with Polling() as polling:`), the batches this thread begins (`BatchWait.begin`) are driven
    by this thread's own `poll` calls instead of the process's I/O thread.

    `engine.run_many` runs a fleet's probes in one thread that would otherwise sleep while the I/O thread works:
    two threads taking the interpreter lock from each other at every system call (thousands per run) cost more
    CPU than the exchanges themselves. Other threads reach a polling thread through `notify` (its wake-up
    sockets); batches still running when it stops are given up and their sockets closed.
    """

    def __init__(self) -> None:
        self._owner = threading.get_ident()
        self._wake_in, self._wake_out = _wake_sockets()
        self._driver = _Driver(self._wake_in)

    def __enter__(self) -> Polling:
        _local.polling = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.polling = None
        for batch in self._driver.batches:
            batch.given_up = True
        self._driver.sweep(time.monotonic())
        for sock in (self._wake_in, self._wake_out):
            if sock is not None:
                sock.close()

    def submit(self, batch: _Batch) -> None:
        self._driver.add(batch)

    def notify(self) -> None:
        """Wake this thread's poll (from another thread; the polling thread itself needs no wake-up)."""
        if self._wake_out is None or threading.get_ident() == self._owner:
            return
        try:
            self._wake_out.send(b"\0")
        except OSError:  # full: a wake-up is already waiting to be read
            pass

    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for sockets, a batch's expiry or a `notify`; settle what is ready."""
        driver = self._driver
        try:
            expiry = driver.sweep(time.monotonic())
            wait = timeout if expiry is None else min(timeout, max(0.0, expiry))
            if self._wake_in is None:
                wait = min(wait, NO_WAKE_POLL_S)
            driver.dispatch(driver.poller.wait(wait))
            driver.sweep(time.monotonic())
        except Exception as exc:  # a bug in the driver: its jobs are errors naming it, and it starts afresh
            driver.fail_all(exc)
            for fd in list(driver.live):
                driver.poller.remove(fd)
            driver.live.clear()
            driver.batches.clear()


def _guarded(job: Job, step: object) -> object:
    """`step()`; a bug in it settles the job as an error (None is returned) instead of stopping the loop."""
    try:
        return step()  # type: ignore[operator]
    except Exception as exc:
        job.fail(exc)
        return None


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(512):
            pass
    except OSError:
        pass


_LOOP = _Loop()
