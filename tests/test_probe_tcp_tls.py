"""tcp_connect and tls_handshake against real loopback listeners and a trustme PKI."""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import ssl
from collections.abc import Iterator

import pytest

from aoai_diag.checks import tcp_connect, tls_handshake
from aoai_diag.evidence.path import TcpAttempt, TcpConnect, TlsHandshake
from aoai_diag.model import CheckResult, Status
from aoai_diag.net.certinfo import describe_der
from aoai_diag.net.connect import Connect, classify_connect_error, classify_tls_error, millis
from aoai_diag.runner import build_target_report
from tests.pathprobe_support import TARGET, context, resolution, trust
from tests.servers import blackhole, not_tls, service, tlsca


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tlsca.Pki:
    return tlsca.make_pki(tmp_path_factory.mktemp("pki"))


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tcp(port: int, *addresses: str, timeout: float = 1.0) -> CheckResult:
    ctx = context(port, timeout=timeout)
    outcome = asyncio.run(tcp_connect.run(TARGET, ctx, {"system_resolution": resolution(*addresses)}))
    return CheckResult("tcp_connect", outcome.status, outcome.summary, outcome.evidence, 0.0)


# --- tcp_connect ---------------------------------------------------------------------------------------------


def test_connected_on_every_address_passes(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure"))}, host="127.0.0.2") as srv:
        result = tcp(srv.address[1], "127.0.0.2")
    assert result.status is Status.PASS
    evidence = result.typed(TcpConnect)
    (attempt,) = evidence.attempts
    assert attempt.outcome == "connected" and attempt.address_class == "private"
    assert attempt.connect_ms is not None and attempt.connect_ms >= 0  # the phase time is recorded
    assert evidence.port == srv.address[1]


def test_refused_port_fails() -> None:
    result = tcp(free_port(), "127.0.0.1")
    assert result.status is Status.FAIL
    (attempt,) = result.typed(TcpConnect).attempts
    assert attempt.outcome == "refused"
    assert "ConnectionRefusedError" in str(attempt.error)


def test_blackholed_connect_times_out_within_the_bound() -> None:
    with blackhole.blackhole("127.0.0.4") as hole:
        assert hole.held, "the accept queue could not be filled"
        result = tcp(hole.address[1], "127.0.0.4", timeout=0.3)
    attempt = result.typed(TcpConnect).attempts[0]
    # The probe's own 0.3 s bound ended the wait (a dropped SYN otherwise waits about two minutes), and the evidence
    # names it; the time it takes is measured by bench/bounds.py, not asserted here.
    assert (result.status, attempt.outcome) == (Status.FAIL, "timeout")
    assert attempt.error == "no answer within 0.30 s"


def test_every_address_is_tried_and_mixed_results_warn(pki: tlsca.Pki) -> None:
    # Three blackholed addresses on one port, each given the full timeout. That they are tried at once (one timeout,
    # not the 3 x 0.5 s sum) is a timing: bench/bounds.py measures it ("5 addresses, 3 blackholed").
    holes = [blackhole.Blackhole("127.0.0.5")]
    try:
        port = holes[0].address[1]
        holes += [blackhole.Blackhole(host, port) for host in ("127.0.0.8", "127.0.0.9")]
        assert all(hole.held for hole in holes), "an accept queue could not be filled"
        with service.serve({"cert": str(pki.cert("azure"))}, host="127.0.0.6", port=port) as _:
            result = tcp(port, "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9", timeout=0.5)
    finally:
        for hole in holes:
            hole.close()
    attempts = result.typed(TcpConnect).attempts
    outcomes = [(a.address, a.outcome) for a in attempts]
    assert outcomes == [
        ("127.0.0.5", "timeout"),
        ("127.0.0.6", "connected"),
        ("127.0.0.7", "refused"),
        ("127.0.0.8", "timeout"),
        ("127.0.0.9", "timeout"),
    ]
    assert result.status is Status.WARN
    timed_out = [a.error for a in attempts if a.outcome == "timeout"]
    assert timed_out == ["no answer within 0.50 s"] * 3


def test_nothing_resolved_is_a_skip() -> None:
    outcome = asyncio.run(tcp_connect.run(TARGET, context(443), {"system_resolution": resolution()}))
    assert outcome.status is Status.SKIP


def test_garbage_address_is_an_error_attempt() -> None:
    garbage = CheckResult("system_resolution", Status.PASS, "", {"addresses": ["not-an-ip"]}, 0.0)
    outcome = asyncio.run(tcp_connect.run(TARGET, context(443), {"system_resolution": garbage}))
    assert isinstance(outcome.evidence, TcpConnect)
    (attempt,) = outcome.evidence.attempts
    assert attempt.outcome == "error" and outcome.status is Status.FAIL
    assert "not an IP address" in str(attempt.error) and attempt.connect_ms is None


@pytest.mark.parametrize(
    ("exc", "word"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timeout"),
        (TimeoutError("timed out"), "timeout"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "refused"),
        (OSError(errno.EACCES, "Permission denied"), "error"),
    ],
)
def test_connect_errors_map_to_outcomes(exc: OSError, word: str) -> None:
    # Unreachable routes need a namespace to provoke for real; the end-to-end tier does that.
    assert classify_connect_error(exc) == word


# --- tls_handshake --------------------------------------------------------------------------------------------


@pytest.fixture()
def listener(pki: tlsca.Pki, request: pytest.FixtureRequest) -> Iterator[service.ServiceServer]:
    kind, mode = request.param
    config = {"cert": str(pki.cert(kind)), "mode": mode}
    with service.serve(config, host="127.0.0.2") as srv:
        yield srv


def tls(srv: service.ServiceServer, env: dict[str, str], timeout: float = 1.0) -> tuple[Status, TlsHandshake]:
    port = srv.address[1]
    connected = tcp(port, "127.0.0.2")
    outcome = asyncio.run(tls_handshake.run(TARGET, context(port, env, timeout=timeout), {"tcp_connect": connected}))
    assert isinstance(outcome.evidence, TlsHandshake)
    return outcome.status, outcome.evidence


@pytest.mark.parametrize("listener", [("azure", "respond")], indirect=True)
def test_trusted_azure_certificate_is_ok(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    status, ev = tls(listener, trust(pki.azure_ca))
    (a,) = ev.attempts
    assert status is Status.PASS and ev.server_name == TARGET.host
    assert a.outcome == "ok" and a.protocol in ("TLSv1.2", "TLSv1.3") and a.verify_error is None
    assert a.issuer is not None and a.issuer.O == "Microsoft Corporation" and "*.openai.azure.com" in (a.sans or ())
    assert a.days_left is not None and a.days_left > 300 and str(a.not_after).endswith("Z")
    assert a.handshake_ms is not None and a.handshake_ms >= 0 and a.cert_error is None


@pytest.mark.parametrize("listener", [("inspection", "respond")], indirect=True)
def test_foreign_issuer_is_untrusted_and_still_described(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    status, ev = tls(listener, trust(pki.azure_ca))
    (a,) = ev.attempts
    assert status is Status.FAIL and a.outcome == "untrusted"
    assert "unable to get local issuer certificate" in str(a.verify_error)
    assert a.issuer is not None and a.issuer.O == "Zscaler Inc." and "*.openai.azure.com" in (a.sans or ())


@pytest.mark.parametrize("listener", [("inspection", "respond")], indirect=True)
def test_ssl_cert_file_is_honoured(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    # A machine that trusts the corporate root: the handshake verifies, and the issuer still tells the story.
    status, ev = tls(listener, trust(pki.inspection_ca))
    issuer = ev.attempts[0].issuer
    assert status is Status.PASS and issuer is not None and issuer.O == "Zscaler Inc."


@pytest.mark.parametrize("listener", [("wrong-name", "respond")], indirect=True)
def test_wrong_name(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    status, ev = tls(listener, trust(pki.azure_ca))
    (a,) = ev.attempts
    assert (status, a.outcome, a.sans) == (Status.FAIL, "name_mismatch", ("www.example.test",))
    assert "Hostname mismatch" in str(a.verify_error)


@pytest.mark.parametrize("listener", [("expired", "respond")], indirect=True)
def test_expired(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    status, ev = tls(listener, trust(pki.azure_ca))
    (a,) = ev.attempts
    assert (status, a.outcome) == (Status.FAIL, "expired")
    assert a.days_left is not None and a.days_left < 0 and "expired" in str(a.verify_error)


@pytest.mark.parametrize("listener", [("azure", "reset_tls")], indirect=True)
def test_reset_during_handshake(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    status, ev = tls(listener, trust(pki.azure_ca))
    (a,) = ev.attempts
    assert (status, a.outcome) == (Status.FAIL, "reset")
    assert a.issuer is None and a.sans is None and a.error


@pytest.mark.parametrize("listener", [("azure", "hang")], indirect=True)
def test_silent_server_times_out_within_the_bound(listener: service.ServiceServer, pki: tlsca.Pki) -> None:
    # The server accepts and never speaks: the probe's own bound ends the handshake (timed by bench/bounds.py).
    status, ev = tls(listener, trust(pki.azure_ca), timeout=0.3)
    assert (status, ev.attempts[0].outcome) == (Status.FAIL, "timeout")


@pytest.mark.parametrize("mode", not_tls.MODES)
def test_no_tls_on_the_port_is_a_protocol_failure_and_names_tcp_ok_no_service(mode: str, pki: tlsca.Pki) -> None:
    # given a plaintext HTTP server (or a sender of non-TLS bytes) on the address the account resolved to
    with not_tls.serve({"mode": mode}, host="127.0.0.2") as srv:
        port = srv.address[1]
        connected = tcp(port, "127.0.0.2")
        outcome = asyncio.run(tls_handshake.run(TARGET, context(port, trust(pki.azure_ca)), {"tcp_connect": connected}))
        assert srv.connections >= 1
    # then the handshake fails with a protocol error as soon as the bytes arrive, not a timeout or a generic error
    assert isinstance(outcome.evidence, TlsHandshake)
    (a,) = outcome.evidence.attempts
    assert (outcome.status, a.outcome) == (Status.FAIL, "protocol")
    assert "WRONG_VERSION_NUMBER" in str(a.error) or "wrong version number" in str(a.error)
    # and the diagnosis names the port's service, not a certificate or firewall cause
    tls_result = CheckResult("tls_handshake", outcome.status, outcome.summary, outcome.evidence, 0.0)
    report = build_target_report(TARGET, [resolution("127.0.0.2"), connected, tls_result])
    assert [f.cause_id for f in report.findings] == ["edge.tcp_ok_no_service"]
    assert "does not speak TLS" in report.findings[0].detail


def test_a_tls_alert_is_not_a_protocol_failure() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version")
    alert.reason = "TLSV1_ALERT_PROTOCOL_VERSION"
    wrong = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    wrong.reason = "WRONG_VERSION_NUMBER"
    assert tls_handshake.classify_handshake_error(alert) == "error"
    assert tls_handshake.classify_handshake_error(wrong) == "protocol"


def test_nothing_connected_is_a_skip() -> None:
    refused = tcp(free_port(), "127.0.0.1")
    assert asyncio.run(tls_handshake.run(TARGET, context(443), {"tcp_connect": refused})).status is Status.SKIP


def test_certificate_decoder_reads_an_expired_certificate_and_refuses_garbage(pki: tlsca.Pki) -> None:
    pem = pki.cert("expired").read_text()
    der = ssl.PEM_cert_to_DER_cert(pem[: pem.index("-----END CERTIFICATE-----") + 25] + "\n")
    described = describe_der(der)
    assert described.days_left < 0
    assert described.issuer_text and described.not_after.endswith("Z")
    with pytest.raises(ValueError):
        describe_der(b"\x30\x03garbage")


def test_tls_error_words() -> None:
    assert classify_tls_error(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")) == "reset"
    assert classify_tls_error(ConnectionResetError(errno.ECONNRESET, "reset")) == "reset"
    assert classify_tls_error(TimeoutError("timed out")) == "timeout"


@pytest.mark.parametrize("elapsed", [math.nan, math.inf, 1e308])
def test_a_non_finite_measurement_is_recorded_as_unknown_never_as_a_number(elapsed: float) -> None:
    # given a connect whose measured time is not a finite number of milliseconds
    connect = Connect("127.0.0.1", 443, elapsed_s=elapsed)
    # when the probe records it
    attempt = tcp_connect.attempt_of("127.0.0.1", connect, 1.0)
    # then the time is unknown (null), so the evidence passes the bundle door and no renderer meets NaN or Infinity
    assert attempt.outcome == "connected" and attempt.connect_ms is None
    assert TcpAttempt.from_dict(attempt.to_dict(), strict=True) == attempt
    assert millis(0.0123456) == 12.35 and millis(None) is None
