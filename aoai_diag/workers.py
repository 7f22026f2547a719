"""Threads for blocking work, started at once and reused.

Probes and their fan-outs (a getaddrinfo per name, a TLS handshake per address) block on I/O that cannot all be
interrupted (getaddrinfo), so each job gets a thread of its own the moment it is submitted: a job never waits
behind another one, however long that one hangs. What is saved is the thread's creation: a worker that finished
its job waits a few seconds for the next one instead of exiting. A fleet run starts about ten jobs per target,
and creating, starting and joining a thread costs about 0.1 ms of CPU under the interpreter lock each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# How long an idle worker waits for a next job before it exits.
IDLE_SECONDS = 5.0

_lock = threading.Lock()
_idle: list[_Worker] = []


class _Worker:
    __slots__ = ("job", "wake")

    def __init__(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        self.job: tuple[Callable[..., Any], tuple[Any, ...]] | None = job
        self.wake = threading.Lock()
        self.wake.acquire()  # released by `start` when it hands this worker a job

    def loop(self) -> None:
        while True:
            job = self.job
            self.job = None
            if job is not None:
                job[0](*job[1])
            with _lock:
                _idle.append(self)
            if not self.wake.acquire(timeout=IDLE_SECONDS):
                with _lock:
                    if self in _idle:
                        _idle.remove(self)
                        return
                self.wake.acquire()  # `start` took this worker just as it timed out: its job is on the way


def start(fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)` in a daemon thread now: an idle worker if there is one, else a new thread.

    `fn` handles its own errors; one that escapes ends that worker's thread (and is printed), as with a plain thread.
    """
    with _lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        threading.Thread(target=_Worker((fn, args)).loop, daemon=True).start()
        return
    worker.job = (fn, args)
    worker.wake.release()
