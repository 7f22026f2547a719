"""Bounded socket and TLS helpers shared by the path probes (tcp_connect, tls_handshake, https_dataplane).

Every call takes an explicit timeout: library defaults wait minutes (a socket has none, the
OS connect timeout is ~2 minutes on Linux).
Expected network outcomes come back as short outcome words, never as exceptions escaping a probe.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aoai_diag import errors

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, getattr(errno, "ENONET", -1)}
_RESET = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h) grouped by what they mean for a diagnosis.
_UNTRUSTED_CODES = {2, 18, 19, 20, 21, 27, 28}
_EXPIRED_CODES = {10, 9}  # CERT_HAS_EXPIRED, CERT_NOT_YET_VALID
_NAME_CODES = {62}  # HOSTNAME_MISMATCH


def millis(seconds: float | None) -> float | None:
    """A measured duration in milliseconds (2 decimals), or None when there is no finite measurement: evidence
    never holds NaN or Infinity (the bundle door refuses them; a live report must not carry one either)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    ms = round(seconds * 1000.0, 2)
    return ms if math.isfinite(ms) else None


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


@dataclass
class Connect:
    """One TCP connect to an IP literal: `error` is None when it connected, else the OSError a blocking connect
    would have raised; `timed_out` when the timeout came first; `elapsed_s` how long it took."""

    address: str
    port: int
    error: OSError | None = None
    timed_out: bool = False
    elapsed_s: float | None = None


async def connect_one(address: str, port: int, timeout: float) -> Connect:
    """Connect with the loop's own socket methods (no thread), then close."""
    loop = asyncio.get_running_loop()
    result = Connect(address, port)
    t0 = time.perf_counter()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # out of descriptors: evidence for this address, not a crash
        result.error, result.elapsed_s = exc, time.perf_counter() - t0
        return result
    try:
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), max(0.001, timeout))
    except (asyncio.TimeoutError, TimeoutError):
        result.timed_out, result.error = True, TimeoutError("timed out")
    except OSError as exc:
        result.error = exc
    finally:
        sock.close()
    result.elapsed_s = time.perf_counter() - t0
    return result


async def connect_all(targets: Sequence[tuple[str, int]], timeout: float) -> list[Connect]:
    """Connect to every (address, port) at once, each bounded by `timeout`; results in order."""
    return list(await asyncio.gather(*(connect_one(address, port, timeout) for address, port in targets)))


def unverified_context() -> ssl.SSLContext:
    """A context that accepts any certificate: used only to *read* a certificate that failed verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
