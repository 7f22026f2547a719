"""TLS handshake with SNI = the account host, verified against the system trust store (SSL_CERT_FILE honoured).

An issuer that is not the one Azure uses, with a verification failure, points at a TLS-inspecting proxy or
firewall (cause edge.tls_inspection); a name mismatch at a connection by IP or privatelink name, or at
another service answering on the address (cause edge.tls_wrong_name).

Evidence: `TlsHandshake` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace

from aoai_diag.blocking import in_thread, map_in_threads
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.path import TcpConnect, TlsAttempt, TlsHandshake
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import classify
from aoai_diag.net.certinfo import describe_der
from aoai_diag.net.connect import (
    classify_connect_error,
    classify_tls_error,
    millis,
    one_line,
    open_connection,
    unverified_context,
)
from aoai_diag.targets import Target

# OpenSSL reasons for bytes that are not a TLS record at all: what listens does not speak TLS. A TLS alert (even
# "protocol version") comes from a TLS peer and is not among them.
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "RECORD_TOO_LARGE",
        "UNEXPECTED_RECORD",
        "WRONG_SSL_VERSION",
        "BAD_PACKET_LENGTH",
    }
)


def classify_handshake_error(exc: BaseException) -> str:
    """The outcome word for a failed handshake: net.connect's classes, plus `protocol` when the peer does not speak TLS."""
    outcome = classify_tls_error(exc)
    if outcome == "error" and isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in _NOT_TLS_REASONS:
        return "protocol"
    return outcome


def fetch_certificate(address: str, port: int, server_name: str, timeout: float) -> bytes:
    """The DER certificate the server presents, without verifying it. Raises OSError/ssl.SSLError."""
    sock = open_connection(address, port, timeout)
    with unverified_context().wrap_socket(sock, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server presented no certificate")
    return der


def handshake(address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> TlsAttempt:
    """One verified handshake; on a verification failure, one unverified handshake to read the certificate."""
    attempt = TlsAttempt(address=address, address_class=classify(address), outcome="error")
    t_end = time.monotonic() + timeout
    try:
        sock = open_connection(address, port, timeout)
    except OSError as exc:
        return _reconnect_failed(attempt, exc)
    t0 = time.perf_counter()
    attempt, der = _verified_handshake(attempt, sock, server_name, context, t_end)
    attempt = replace(attempt, handshake_ms=millis(time.perf_counter() - t0))
    cert_error: str | None = None
    if der is None and attempt.verify_error is not None:
        der, cert_error = _reread_certificate(address, port, server_name, timeout)
    if der is not None:
        try:
            cert = describe_der(der)
        except ValueError as exc:
            cert_error = str(exc)[:200]
        else:
            attempt = replace(
                attempt,
                issuer=cert.issuer,
                issuer_text=cert.issuer_text,
                subject_text=cert.subject_text,
                sans=cert.sans,
                not_after=cert.not_after,
                days_left=cert.days_left,
            )
    return replace(attempt, cert_error=cert_error)


def _reconnect_failed(attempt: TlsAttempt, exc: OSError) -> TlsAttempt:
    """tcp_connect connected a moment ago; what changed is the handshake's outcome."""
    kind = classify_connect_error(exc)
    outcome = "timeout" if kind == "timeout" else "reset" if kind == "refused" else "error"
    return replace(attempt, outcome=outcome, error=f"reconnect failed: {one_line(exc)}")


def _verified_handshake(
    attempt: TlsAttempt, sock: socket.socket, server_name: str, context: ssl.SSLContext, t_end: float
) -> tuple[TlsAttempt, bytes | None]:
    """Handshake on `sock` within the deadline: the attempt with its outcome, and the DER certificate when it worked."""
    try:
        sock.settimeout(max(0.01, t_end - time.monotonic()))
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            protocol = tls.version()
            der = tls.getpeercert(binary_form=True)
        return replace(attempt, outcome="ok", protocol=protocol), der
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        verify_error = None
        if isinstance(exc, ssl.SSLCertVerificationError):
            verify_error = str(exc.verify_message or exc.reason or exc)[:200]
        failed = replace(attempt, outcome=classify_handshake_error(exc), error=one_line(exc), verify_error=verify_error)
        return failed, None


def _reread_certificate(address: str, port: int, server_name: str, timeout: float) -> tuple[bytes | None, str | None]:
    """(the certificate read without verification, or None and why not)."""
    try:
        # a fresh bound: reading the certificate is a new network operation
        return fetch_certificate(address, port, server_name, timeout), None
    except (OSError, ssl.SSLError) as exc:
        return None, f"could not re-read the certificate: {one_line(exc)}"


def unfinished(address: str) -> TlsAttempt:
    return TlsAttempt(address=address, outcome="timeout", error="no result in time")


def _summary(a: TlsAttempt) -> str:
    issuer = (a.issuer.CN or a.issuer.O) if a.issuer is not None else None
    text = f"{a.address} {a.outcome}"
    if a.outcome == "ok" and a.protocol:
        text += f" ({a.protocol})"
    if issuer and a.outcome != "ok":
        text += f" (issuer {issuer})"
    return text


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    tcp = deps.get("tcp_connect")
    attempts_in = tcp.typed(TcpConnect).attempts if tcp else ()
    connected = [a.address for a in attempts_in if a.outcome == "connected"]
    if not connected:
        return skip("no address accepted a TCP connection", "nothing connected")
    port = ctx.settings.port
    try:
        context = await in_thread(ctx.ssl_context)  # reads every CA file: not on the loop
    except (OSError, ssl.SSLError) as exc:
        return Outcome(Status.ERROR, f"cannot load the trust store: {one_line(exc)}", None, "trust store unreadable")
    timeout = ctx.op_timeout()
    attempts = await map_in_threads(
        lambda a: handshake(a, port, target.host, context, timeout), connected, 2 * timeout + 1.0, unfinished
    )
    evidence = TlsHandshake(server_name=target.host, port=port, attempts=tuple(attempts))
    shown = ", ".join(_summary(a) for a in attempts[:4])
    if all(a.outcome == "ok" for a in attempts):
        return Outcome(Status.PASS, f"TLS ok for {target.host}: {shown}", evidence)
    return Outcome(Status.FAIL, f"TLS failed for {target.host}: {shown}", evidence, "handshake or verification failed")


PROBE = Probe(
    id="tls_handshake",
    title="TLS handshake and certificate for the account host",
    evidence=TlsHandshake,
    stage=3,
    run=run,
    requires=("tcp_connect",),
)
