"""Probe code as generators: the engine runs it in its own thread and hands out only its waits.

Most probes spend their time waiting: on DNS questions and connects that a poll loop drives
(aoai_diag/net/ioloop.py), or on getaddrinfo calls and handshakes in worker threads. Written as a generator
(`Steps`), a probe yields a `Wait` each time it must wait and reads the wait's result once resumed. The engine
starts the wait, goes on with the target's other probes, and resumes the generator when the wait wakes it; the
probe needs no thread of its own. In a fleet of 50 targets, handing each probe to a thread and its result back
cost a dozen interpreter-lock switches per probe, and those switches were a third of the run's CPU.

`drive` runs the same generator synchronously, each wait blocking: what `Probe.run` does for such probes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Wait(Protocol):
    """Something a generator waits for. The waiter reads its result (the wait's own accessor) once resumed."""

    @property
    def give_up_at(self) -> float | None:
        """`time.monotonic()` at which the waiter stops waiting (see `give_up`); None: only the run's deadline."""

    def begin(self, wake: Callable[[], None]) -> None:
        """Start, and call `wake()` once (from any thread, possibly at once) when the result is ready."""

    def block(self) -> None:
        """Start, and return when the result is ready or `give_up_at` has passed (then `give_up` was called)."""

    def give_up(self) -> None:
        """The waiter stops waiting: the result is what was ready by now."""


Steps = Generator[Wait, None, T]
"""A generator yielding waits and returning a `T`."""


def drive(steps: Steps[T]) -> T:
    """Run `steps` to its end in this thread, each wait blocking; its return value."""
    try:
        while True:
            steps.send(None).block()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
