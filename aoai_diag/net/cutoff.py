"""A bound on a whole exchange, not on each read.

A socket timeout restarts with every byte received: a peer that trickles one byte a second never trips a 5 s read
timeout and holds the read for as long as it likes (158 s for a slow Resource Manager page under `--deadline 5`,
issue 19). `Cutoff` shuts the watched sockets down when the time is up, which wakes any thread blocked on them (its
read returns end-of-file or fails); the code that owns the exchange then sees `fired` and reports a timeout.
The timer is kept by the run's asyncio loop (`blocking.call_later`), cancelled when the exchange ends: the code
it bounds runs under `blocking.in_thread` or `blocking.run_sync`.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from aoai_diag import blocking


class Cutoff:
    """Shut down every socket handed to `watch` once `seconds` have passed (or when `fire` is called)."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        self._plain: list[socket.socket] = []
        self._ends = time.monotonic() + max(0.0, seconds)
        self._cancel_timer: Callable[[], None] | None = None  # set when the first socket is watched

    def watch(self, holder: Any) -> None:
        """Watch a socket, or an object whose `sock` attribute holds the current one (an HTTP connection that may
        reconnect). A holder watched after the cutoff fired is shut down at once."""
        with self._lock:
            if isinstance(holder, socket.socket):
                self._plain.append(holder)
            else:
                self._watched.add(holder)
            fired = self.fired
            start = self._cancel_timer is None and not fired
            if start:  # the first exchange: its timer, on the run's loop, for what is left of the bound
                self._cancel_timer = blocking.call_later(self._ends - time.monotonic(), self.fire)
        if fired:
            _shut(getattr(holder, "sock", holder))

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            holders = [*self._plain, *self._watched]
        for holder in holders:
            _shut(holder if isinstance(holder, socket.socket) else getattr(holder, "sock", None))

    def cancel(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
        with self._lock:
            self._plain.clear()

    def __enter__(self) -> Cutoff:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _shut(sock: Any) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):  # already closed, or never connected
        pass
