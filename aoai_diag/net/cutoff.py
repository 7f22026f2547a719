"""A bound on a whole exchange, not on each read.

A socket timeout restarts with every byte received: a peer that trickles one byte a second never trips a 5 s read
timeout and holds the read for as long as it likes (158 s for a slow Resource Manager page under `--deadline 5`,
issue 19). `Cutoff` shuts the watched sockets down when the time is up, which wakes any thread blocked on them (its
read returns end-of-file or fails); the code that owns the exchange then sees `fired` and reports a timeout.
One timer thread per cutoff, cancelled when the exchange ends.
"""

from __future__ import annotations

import socket
import threading
import weakref
from typing import Any


class Cutoff:
    """Shut down every socket handed to `watch` once `seconds` have passed (or when `fire` is called)."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        self._plain: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, seconds), self.fire)
        self._timer.daemon = True
        self._timer.name = "aoai-diag-cutoff"
        self._timer.start()

    def watch(self, holder: Any) -> None:
        """Watch a socket, or an object whose `sock` attribute holds the current one (an HTTP connection that may
        reconnect). A holder watched after the cutoff fired is shut down at once."""
        with self._lock:
            if isinstance(holder, socket.socket):
                self._plain.append(holder)
            else:
                self._watched.add(holder)
            fired = self.fired
        if fired:
            _shut(getattr(holder, "sock", holder))

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            holders = [*self._plain, *self._watched]
        for holder in holders:
            _shut(holder if isinstance(holder, socket.socket) else getattr(holder, "sock", None))

    def cancel(self) -> None:
        self._timer.cancel()
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
