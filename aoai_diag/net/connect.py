"""Bounded socket and TLS helpers shared by the path probes (tcp_connect, tls_handshake, https_dataplane).

Every call takes an explicit timeout: library defaults wait minutes (a socket has none, the
OS connect timeout is ~2 minutes on Linux).
Expected network outcomes come back as short outcome words, never as exceptions escaping a probe.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from aoai_diag import errors, workers
from aoai_diag.net import ioloop
from aoai_diag.steps import Steps

T = TypeVar("T")
R = TypeVar("R")

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, getattr(errno, "ENONET", -1)}
_RESET = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h) grouped by what they mean for a diagnosis.
_UNTRUSTED_CODES = {2, 18, 19, 20, 21, 27, 28}
_EXPIRED_CODES = {10, 9}  # CERT_HAS_EXPIRED, CERT_NOT_YET_VALID
_NAME_CODES = {62}  # HOSTNAME_MISMATCH


def one_line(exc: BaseException) -> str:
    """`TypeName: message` on one line, short enough for evidence.

    OpenSSL's verify_message and the OS error text say the same as str(exc) without the errno/library noise.
    """
    text = getattr(exc, "verify_message", None) or getattr(exc, "strerror", None) or str(exc)
    return errors.one_line(exc, limit=200, text=str(text))


def classify_connect_error(exc: BaseException) -> str:
    """`refused`, `timeout`, `unreachable` or `error` for an exception raised by connect()."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return "refused"
    code = getattr(exc, "errno", None)
    if code == errno.ETIMEDOUT:
        return "timeout"
    if code in _UNREACHABLE:
        return "unreachable"
    return "error"


def classify_tls_error(exc: BaseException) -> str:
    """`untrusted`, `name_mismatch`, `expired`, `reset`, `timeout` or `error` for a failed handshake."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code in _EXPIRED_CODES:
            return "expired"
        if code in _NAME_CODES:
            return "name_mismatch"
        if code in _UNTRUSTED_CODES:
            return "untrusted"
        return "error"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, ssl.SSLError) and "EOF" in str(exc):
        return "reset"
    if getattr(exc, "errno", None) in _RESET:
        return "reset"
    return "error"


def open_connection(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP socket connected to an IP literal, bounded by `timeout`. Raises OSError."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, getattr(errno, "WSAEWOULDBLOCK", -1)}


class Connect:
    """A non-blocking TCP connect to an IP literal, driven by a poll loop (an `ioloop.Job`).

    Afterwards: `error` is None when it connected, else the OSError a blocking connect would have raised;
    `timed_out` when the deadline came first; `elapsed_s` how long it took (None if it never started).
    """

    waits_to_write = True

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.sock: socket.socket | None = None
        self.error: OSError | None = None
        self.timed_out = False
        self.elapsed_s: float | None = None
        self._t0 = 0.0

    def start(self) -> socket.socket | None:
        self._t0 = time.perf_counter()
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        try:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            code = self.sock.connect_ex((self.address, self.port))
        except OSError as exc:  # out of descriptors, an address the OS refuses
            self._finish(exc)
            return None
        if code in _IN_PROGRESS:
            return self.sock
        self._finish(None if code == 0 else OSError(code, os.strerror(code)))
        return None

    def on_readable(self) -> bool:  # writable: the handshake is over, one way or the other
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self._finish(None if code == 0 else OSError(code, os.strerror(code)))
        return True

    def expire(self) -> None:
        self.timed_out = True
        self._finish(TimeoutError("timed out"))

    def fail(self, exc: BaseException) -> None:
        self._finish(exc if isinstance(exc, OSError) else OSError(f"{type(exc).__name__}: {exc}"))

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def _finish(self, error: OSError | None) -> None:
        self.error = error
        self.elapsed_s = time.perf_counter() - self._t0


def connect_all_steps(targets: Sequence[tuple[str, int]], timeout: float) -> Steps[list[Connect | None]]:
    """Connect to every (address, port) at once, then close; None for one the poll loop did not finish in time.

    The connects are driven by one poll loop (aoai_diag/net/ioloop.py) instead of a thread each.
    """
    jobs = [Connect(address, port) for address, port in targets]
    settled = yield from ioloop.batch(jobs, time.monotonic() + timeout, margin=1.0)
    return [job if done else None for job, done in zip(jobs, settled, strict=True)]


def unverified_context() -> ssl.SSLContext:
    """A context that accepts any certificate: used only to *read* a certificate that failed verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Concurrently(Generic[T, R]):
    """`fn` over `items` in parallel threads, as a `steps.Wait`; `result()` gives `fallback(item)` for an item still
    running after `timeout`.

    `fn` must bound its own I/O and translate expected errors itself; the timeout only keeps a stuck thread from
    holding the probe. An exception `fn` lets escape is re-raised by `result()`, so that the engine reports the
    probe as `error` naming it, rather than as an attempt that timed out. `start()` may come before `begin`: the
    work then starts at once (a TCP retry as soon as the truncated reply arrives) and is waited for later.
    """

    def __init__(
        self, fn: Callable[[T], R], items: Sequence[T], timeout: float | None, fallback: Callable[[T], R]
    ) -> None:
        self._fn, self._items, self._fallback = fn, list(items), fallback
        self.give_up_at = None if timeout is None else time.monotonic() + timeout
        self._results: list[R | None] = [None] * len(self._items)
        self._failures: list[BaseException] = []
        self._lock = threading.Lock()
        self._left = len(self._items)
        self._started = False
        self._wake: Callable[[], None] | None = None
        self._done = threading.Lock()  # released when every item is done: a lock, cheaper to wait on than an Event
        self._done.acquire()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        if not self._items:
            self._finish()
        for i, item in enumerate(self._items):
            workers.start(self._work, i, item)

    def begin(self, wake: Callable[[], None]) -> None:
        with self._lock:
            finished = self._started and not self._left
            if not finished:
                self._wake = wake
        if finished:
            wake()
        else:
            self.start()

    def block(self) -> None:
        self.start()
        wait = -1.0 if self.give_up_at is None else max(0.0, self.give_up_at - time.monotonic())
        if self._done.acquire(timeout=wait):
            self._done.release()  # a later `block` or `result` finds it finished too

    def give_up(self) -> None:
        pass  # the threads cannot be stopped; what they return later is not read

    def result(self) -> list[R]:
        if self._failures:
            raise self._failures[0]
        return [r if r is not None else self._fallback(it) for it, r in zip(self._items, self._results, strict=True)]

    def _work(self, i: int, item: T) -> None:
        try:
            self._results[i] = self._fn(item)
        except Exception as exc:
            self._failures.append(exc)
        finally:
            with self._lock:
                self._left -= 1
                last = not self._left
            if last:
                self._finish()

    def _finish(self) -> None:
        self._done.release()
        with self._lock:
            wake = self._wake
        if wake is not None:
            wake()


def map_concurrently_steps(
    fn: Callable[[T], R], items: Sequence[T], timeout: float | None, fallback: Callable[[T], R]
) -> Steps[list[R]]:
    """`Concurrently` in a generator: `fn(item)` for each item, or `fallback(item)` for one not done in time (no
    timeout: the run's deadline only)."""
    wait = Concurrently(fn, items, timeout, fallback)
    yield wait
    return wait.result()
