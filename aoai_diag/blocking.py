"""The process's one executor for blocking calls, awaited from the asyncio loop that runs the probes.

Blocking work has no asyncio form we can use: getaddrinfo (the OS resolver, with no timeout of its own), the Azure
SDK (synchronous clients), subprocesses that read the OS's configuration, and TLS/HTTPS exchanges on plain sockets.
Each goes through `in_thread`; nothing else in the tool makes threads or pools. The pool is bounded: a peer that
never answers holds one worker, not one more thread per call, and a call that outlives its caller's deadline is
abandoned (threads cannot be stopped), its result never read. The installed command leaves through `os._exit`
(aoai_diag/cli.py), so a worker stuck in getaddrinfo does not hold the process at exit either.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

MAX_THREADS = 32
"""Workers at most: enough for a fleet's blocking calls in parallel; a stuck call holds one until it returns."""

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="aoai-diag")


def executor() -> ThreadPoolExecutor:
    """The one pool (the exporter reports its size)."""
    return _executor


async def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the pool, awaited. Cancelling the awaiting task stops the waiting only: the call
    runs to its end in its worker and its result is dropped."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(_executor, call)
