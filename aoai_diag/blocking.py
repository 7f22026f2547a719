"""The process's one event loop (`run`) and its one executor for blocking calls (`in_thread`).

Every synchronous entry into asyncio goes through `run`: the CLI's phases before a run (reading `--vpn-profile`,
`--all-accounts`, `--from`), the run itself, `serve`. They take turns on the same loop (an `asyncio.Runner` kept for
the process), so a process has one loop, never two, and never one per phase.

Blocking work has no asyncio form we can use: getaddrinfo (the OS resolver, with no timeout of its own), the Azure
SDK (synchronous clients), subprocesses that read the OS's configuration, and TLS/HTTPS exchanges on plain sockets.
Each goes through `in_thread`; nothing else in the tool makes threads or pools. The pool is bounded: a peer that
never answers holds one worker, not one more thread per call, and a call that outlives its caller's deadline is
abandoned (threads cannot be stopped), its result never read. The installed command leaves through `os._exit`
(aoai_diag/cli.py), so a worker stuck in getaddrinfo does not hold the process at exit either.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

MAX_THREADS = 64
"""Workers at most: enough for a fleet's blocking calls in parallel; a stuck call holds one until it returns.
The Azure layer's probe bodies, which wait on reads of their own in the pool, are fewer at once
(`AZURE_BODIES`), so those reads always find a worker."""

AZURE_BODIES = 16
"""Azure-layer probe bodies running at once, at most (aoai_diag/checks/base.py)."""

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="aoai-diag")


def executor() -> ThreadPoolExecutor:
    """The one pool (the exporter reports its size)."""
    return _executor


_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar("aoai_diag_loop", default=None)
"""The loop whose `in_thread` call the current worker runs: where `call_later` puts its timers."""


async def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the pool, awaited. Cancelling the awaiting task stops the waiting only: the call
    runs to its end in its worker and its result is dropped."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    context.run(_LOOP.set, loop)
    return await loop.run_in_executor(_executor, functools.partial(context.run, fn, *args, **kwargs))


def submit(fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """`fn(*args)` in the pool from blocking code already in it (the Azure layer's parallel reads), with the caller's
    context (so its timers still find the loop): a Future."""
    return _executor.submit(contextvars.copy_context().run, fn, *args)


_PROCESS_LOOP: asyncio.AbstractEventLoop | None = None
_PROCESS_LOOP_LOCK = threading.Lock()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`coro` to its end on the process's one loop, from synchronous code. As `asyncio.run` does, what the coroutine
    left running is cancelled before this returns, so the next turn starts clean. RuntimeError when the loop is
    already running (a turn from inside a turn, or from another thread while one runs: a bug, not input).
    (`asyncio.Runner` does the same from Python 3.11; the package supports 3.10.)"""
    global _PROCESS_LOOP
    with _PROCESS_LOOP_LOCK:
        if _PROCESS_LOOP is None or _PROCESS_LOOP.is_closed():
            _PROCESS_LOOP = asyncio.new_event_loop()
            atexit.register(_close, _PROCESS_LOOP)
        loop = _PROCESS_LOOP
        if loop.is_running():
            coro.close()
            raise RuntimeError("the process's event loop is already running")
        asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(_cancel_left_over())


def _close(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_running() and not loop.is_closed():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _cancel_left_over() -> None:
    here = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not here]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)


def run_sync(fn: Callable[..., T], timeout: float, /, *args: Any) -> T:
    """`fn(*args)` from synchronous code (the CLI before the run: account discovery, `--from`, the `--vpn-profile`
    pre-check): in the pool, awaited on the process's loop, within `timeout` seconds, else TimeoutError (the call is
    left to finish on its own; the installed command leaves through os._exit)."""

    async def bounded() -> T:
        return await asyncio.wait_for(in_thread(fn, *args), max(0.0, timeout))

    try:
        return run(bounded())
    except asyncio.TimeoutError:
        raise TimeoutError(f"not done within {timeout:g} s") from None


def call_later(seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
    """`callback()` on the loop, `seconds` from now, from blocking code running under `in_thread`; returns the
    function that cancels it. No timer thread: the loop the call was awaited from keeps the time. Raises
    RuntimeError outside `in_thread` (a timer nobody would fire)."""
    loop = _LOOP.get()
    if loop is None:
        raise RuntimeError("call_later needs blocking code started by in_thread (or run_sync)")
    handles: list[asyncio.TimerHandle] = []
    cancelled = threading.Event()

    def schedule() -> None:
        if not cancelled.is_set():
            handles.append(loop.call_later(max(0.0, seconds), callback))

    def cancel_on_loop() -> None:
        for handle in handles:
            handle.cancel()

    def cancel() -> None:
        cancelled.set()
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to fire
            loop.call_soon_threadsafe(cancel_on_loop)

    try:
        loop.call_soon_threadsafe(schedule)
    except RuntimeError:
        pass  # the loop has closed (its run ended): the caller's own deadline is past
    return cancel


R = TypeVar("R")


async def map_in_threads(
    fn: Callable[[T], R], items: Sequence[T], timeout: float | None, fallback: Callable[[T], R]
) -> list[R]:
    """`fn(item)` for every item at once in the pool, in order; `fallback(item)` for one not done within `timeout`
    seconds (None: no limit of its own, only the caller's deadline).

    `fn` bounds its own I/O and translates expected errors itself: an exception it lets escape is raised here, so
    the engine reports the probe as `error` naming it, rather than as an attempt that timed out.
    """
    if not items:
        return []
    tasks = [asyncio.ensure_future(in_thread(fn, item)) for item in items]
    await asyncio.wait(tasks, timeout=timeout)
    found: list[R] = []
    for item, task in zip(items, tasks, strict=True):
        if task.done():
            found.append(task.result())
        else:
            task.cancel()
            found.append(fallback(item))
    return found


class Gate:
    """At most `limit` blocking calls of one kind running at once, those whose caller gave up included.

    glibc's getaddrinfo has no timeout of its own for a reply that comes truncated and then stalls over TCP: an
    abandoned call holds its worker until the OS gives up. Without a gate, every new check (a `serve` scrape each
    few seconds) parks one more worker behind the same stuck server; with it, the calls still stuck are counted
    (`in_flight`) and a call beyond the limit is refused at once, as evidence of a resolver that does not answer.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """True (and the call counted until the block ends) when there is room, else False."""
        with self._lock:
            room = self._in_flight < self.limit
            if room:
                self._in_flight += 1
        try:
            yield room
        finally:
            if room:
                with self._lock:
                    self._in_flight -= 1


RESOLVER = Gate(limit=16)
"""The OS resolver's calls (getaddrinfo): a quarter of the pool at most, stuck ones included."""
