"""https_dataplane end to end against the data-plane emulator, directly and through a CONNECT proxy."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.checks import https_dataplane, proxy_settings, tcp_connect, tls_handshake
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.engine import run_probes
from aoai_diag.evidence.path import HttpAttempt, HttpsDataplane
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.connect import connect_all
from aoai_diag.targets import Target
from tests.conftest import REPO, guarded_env
from tests.pathprobe_support import TARGET, context, resolution, trust
from tests.servers import connect_proxy, service, tlsca

PE = "127.0.0.2"  # the "private endpoint" listener
FRONT_DOOR = "127.0.0.3"  # the "public front door", reached only through a proxy that resolves publicly


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tlsca.Pki:
    return tlsca.make_pki(tmp_path_factory.mktemp("pki"))


def fake_resolution(*addresses: str) -> Probe:
    result = resolution(*addresses)

    async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        return Outcome(result.status, result.summary, result.evidence)

    return Probe("system_resolution", "test", run)


def run_chain(port: int, env: dict[str, str], *addresses: str, timeout: float = 1.0) -> dict[str, CheckResult]:
    """The four path probes through the real engine, with system_resolution given."""
    probes = [fake_resolution(*addresses), proxy_settings.PROBE, tcp_connect.PROBE, tls_handshake.PROBE]
    probes.append(https_dataplane.PROBE)
    results = run_probes(TARGET, context(port, env, timeout=timeout, deadline=10 * timeout), probes)
    return {r.id: r for r in results}


def attempts(check: CheckResult) -> tuple[HttpAttempt, ...]:
    return check.typed(HttpsDataplane).attempts


EXPECTED = {
    "H1": (401, Status.PASS),
    "H2": (403, Status.FAIL),
    "H3": (403, Status.FAIL),
    "H4": (403, Status.FAIL),
    "H5": (403, Status.FAIL),
    "H6": (404, Status.PASS),
    "H7": (404, Status.FAIL),
    "H8": (400, Status.FAIL),
    "H9": (401, Status.PASS),
    "H10": (403, Status.FAIL),
    "H11": (401, Status.FAIL),
    "H12": (403, Status.FAIL),
}


@pytest.mark.parametrize("label", list(EXPECTED))
def test_every_label_end_to_end(label: str, pki: tlsca.Pki) -> None:
    config = {"cert": str(pki.cert("azure")), "behaviour": label, "caller_ip": "203.0.113.7"}
    with service.serve(config, host=PE) as srv:
        results = run_chain(srv.address[1], {**trust(pki.azure_ca), "AZURE_OPENAI_API_KEY": "must-not-leak"}, PE)
    check = results["https_dataplane"]
    status, expected = EXPECTED[label]
    (a,) = attempts(check)
    assert (a.via, a.address, a.address_class, a.outcome) == ("direct", PE, "private", "response")
    assert (a.status, a.classification, check.status) == (status, label, expected)
    assert check.typed(HttpsDataplane).app_path == "direct"
    assert a.azure_answered is (label not in ("H11", "H12"))
    assert a.elapsed_ms is not None and a.elapsed_ms >= 0 and a.proxy_auth_withheld is None
    if label == "H3":
        assert a.caller_ip == "203.0.113.7"
    if label in ("H2", "H3"):
        assert a.headers["policy-id"] == "ThrowExceptionDueToTrafficDenied"
    if label == "H1":
        assert a.headers["x-ms-region"] == "East US 2" and a.error_code == "401"
    (request,) = srv.requests
    assert request["path"] == "/openai/models?api-version=2024-10-21" and request["host"] == TARGET.host
    assert not {"api-key", "authorization", "proxy-authorization"} & set(request["headers"])
    assert "must-not-leak" not in json.dumps(request)


def test_502_html_from_an_intermediary_is_h12(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure")), "behaviour": "502"}, host=PE) as srv:
        check = run_chain(srv.address[1], trust(pki.azure_ca), PE)["https_dataplane"]
    a = attempts(check)[0]
    assert (a.status, a.classification, a.headers["via"]) == (502, "H12", "1.1 proxy.corp (squid/5.7)")
    assert check.status is Status.FAIL


def test_public_address_answering_h1_is_a_warning() -> None:
    attempt = replace(
        https_dataplane.new_attempt("direct", "20.42.0.10", None),
        outcome="response",
        status=401,
        classification="H1",
        azure_answered=True,
    )
    outcome = https_dataplane.judge(HttpsDataplane(attempts=(attempt,), app_path="direct"))
    assert outcome.status is Status.WARN and "public" in outcome.summary


def test_h1_without_azure_headers_is_not_a_pass() -> None:
    attempt = replace(
        https_dataplane.new_attempt("direct", "127.0.0.2", None),
        outcome="response",
        status=401,
        classification="H1",
        azure_answered=False,
    )
    assert https_dataplane.judge(HttpsDataplane(attempts=(attempt,), app_path="direct")).status is Status.FAIL


def test_body_read_is_capped(pki: tlsca.Pki) -> None:
    config = {"cert": str(pki.cert("azure")), "behaviour": "H12", "pad_bytes": 4 * 1024 * 1024}
    with service.serve(config, host=PE) as srv:
        check = run_chain(srv.address[1], trust(pki.azure_ca), PE)["https_dataplane"]
    a = attempts(check)[0]
    assert a.body_truncated is True and a.classification == "H12"


def test_server_that_never_answers_times_out_within_the_bound(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure")), "mode": "hang_http"}, host=PE) as srv:
        check = run_chain(srv.address[1], trust(pki.azure_ca), PE, timeout=0.3)["https_dataplane"]
    # The probe's own bound ended the wait: a timeout recorded as evidence (FAIL), not the engine's deadline (ERROR,
    # 3 s here). bench/bounds.py times it.
    assert attempts(check)[0].outcome == "timeout" and check.status is Status.FAIL


def test_reset_is_recorded_when_tls_was_not_checked(pki: tlsca.Pki) -> None:
    with service.serve({"mode": "reset"}, host=PE) as srv:
        ctx = context(srv.address[1], trust(pki.azure_ca))
        outcome = asyncio.run(
            https_dataplane.run(TARGET, ctx, {"system_resolution": resolution(PE), "proxy_settings": proxy_result({})})
        )
    assert isinstance(outcome.evidence, HttpsDataplane)
    assert outcome.evidence.attempts[0].outcome == "reset" and outcome.status is Status.FAIL


def test_untrusted_certificate_means_no_direct_request(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("inspection"))}, host=PE) as srv:
        results = run_chain(srv.address[1], trust(pki.azure_ca), PE)
    assert results["tls_handshake"].status is Status.FAIL
    assert results["https_dataplane"].status is Status.SKIP
    assert srv.requests == []


def proxy_result(env: dict[str, str]) -> CheckResult:
    outcome = proxy_settings.collect(TARGET, context(443, env), {})
    return CheckResult("proxy_settings", outcome.status, outcome.summary, outcome.evidence, 0.0)


# --- through a proxy ---------------------------------------------------------------------------------------------


def two_listeners(pki: tlsca.Pki, port: int = 0) -> tuple[service.ServiceServer, service.ServiceServer]:
    """The private endpoint (H1) and the public front door (H2, public access disabled) on the same port."""
    pe = service.start({"cert": str(pki.cert("azure")), "behaviour": "H1"}, PE, port)
    front = service.start({"cert": str(pki.cert("azure")), "behaviour": "H2"}, FRONT_DOOR, pe.address[1])
    return pe, front


def proxy_env(pki: tlsca.Pki, proxy: connect_proxy.ConnectProxy, userinfo: str = "") -> dict[str, str]:
    host, port = proxy.address
    return {**trust(pki.azure_ca), "HTTPS_PROXY": f"http://{userinfo}{host}:{port}"}


def test_proxy_that_resolves_publicly_reaches_the_front_door(pki: tlsca.Pki) -> None:
    pe, front = two_listeners(pki)
    try:
        with connect_proxy.serve({"upstream": f"{FRONT_DOOR}:{front.address[1]}"}) as proxy:
            results = run_chain(pe.address[1], proxy_env(pki, proxy), PE)
    finally:
        pe.stop()
        front.stop()
    check = results["https_dataplane"]
    by_via = {a.via: a for a in attempts(check)}
    assert check.typed(HttpsDataplane).app_path == "proxy" and check.status is Status.FAIL
    assert (by_via["direct"].classification, by_via["direct"].address) == ("H1", PE)
    assert (by_via["proxy"].classification, by_via["proxy"].address) == ("H2", "127.0.0.1")
    assert by_via["proxy"].proxy == f"http://127.0.0.1:{proxy.address[1]}"
    assert proxy.requests[0]["target"] == f"{TARGET.host}:{pe.address[1]}"


def test_tunnel_to_the_private_endpoint_is_a_warning(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure")), "behaviour": "H1"}, host=PE) as srv:
        with connect_proxy.serve({"resolve": {TARGET.host: PE}}) as proxy:
            check = run_chain(srv.address[1], proxy_env(pki, proxy), PE)["https_dataplane"]
    proxied = next(a for a in attempts(check) if a.via == "proxy")
    assert (proxied.outcome, proxied.classification) == ("response", "H1")
    assert check.status is Status.WARN and "proxy" in check.summary
    assert len(srv.requests) == 2  # direct and tunnelled


@pytest.mark.parametrize(("mode", "status"), [("407", 407), ("502", 502)])
def test_proxy_errors_are_recorded(mode: str, status: int, pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure"))}, host=PE) as srv:
        with connect_proxy.serve({"mode": mode}) as proxy:
            env = proxy_env(pki, proxy, userinfo="alice:s3cr3t@")
            results = run_chain(srv.address[1], env, PE)
    check = results["https_dataplane"]
    proxied = next(a for a in attempts(check) if a.via == "proxy")
    assert (proxied.outcome, proxied.status, proxied.classification) == ("proxy_error", status, "H12")
    assert check.status is Status.FAIL
    assert str(proxied.proxy).startswith("http://***@127.0.0.1:")
    # true only when the proxy asked for the credentials this tool holds back; null (not recorded) otherwise
    assert proxied.proxy_auth_withheld is (True if mode == "407" else None)
    assert "proxy-authorization" not in proxy.requests[0]["headers"]
    assert "s3cr3t" not in json.dumps({k: v.evidence.to_dict() for k, v in results.items()})


def test_connect_timeout_is_bounded(pki: tlsca.Pki) -> None:
    with service.serve({"cert": str(pki.cert("azure"))}, host=PE) as srv:
        with connect_proxy.serve({"mode": "hang"}) as proxy:
            check = run_chain(srv.address[1], proxy_env(pki, proxy), PE, timeout=0.3)["https_dataplane"]
    # As above: the probe's bound (FAIL with a timeout attempt), not the engine's deadline (ERROR).
    proxied = next(a for a in attempts(check) if a.via == "proxy")
    assert proxied.outcome == "timeout" and check.status is Status.FAIL


def test_inspecting_proxy_is_a_tls_error(pki: tlsca.Pki) -> None:
    pe = service.start({"cert": str(pki.cert("azure")), "behaviour": "H1"}, PE, 0)
    inspector = service.start({"cert": str(pki.cert("inspection")), "behaviour": "H1"}, FRONT_DOOR, 0)
    try:
        with connect_proxy.serve({"upstream": f"{FRONT_DOOR}:{inspector.address[1]}"}) as proxy:
            check = run_chain(pe.address[1], proxy_env(pki, proxy), PE)["https_dataplane"]
    finally:
        pe.stop()
        inspector.stop()
    proxied = next(a for a in attempts(check) if a.via == "proxy")
    assert proxied.outcome == "tls_error" and "unable to get local issuer" in str(proxied.error)
    assert check.status is Status.FAIL


def test_unsupported_proxy_scheme_is_an_error_attempt(pki: tlsca.Pki) -> None:
    env: dict[str, Any] = {**trust(pki.azure_ca), "HTTPS_PROXY": "socks5://127.0.0.1:1080"}
    with service.serve({"cert": str(pki.cert("azure"))}, host=PE) as srv:
        check = run_chain(srv.address[1], env, PE)["https_dataplane"]
    proxied = next(a for a in attempts(check) if a.via == "proxy")
    assert proxied.outcome == "error" and "socks5" in str(proxied.error)


# --- the servers run standalone too (the end-to-end tier starts them inside namespaces) -----------------------


def start_standalone(module: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", f"tests.servers.{module}", *args],
        cwd=REPO,
        env=guarded_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        pytest.fail(f"{module} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def test_standalone_service_and_proxy_serve_the_probe(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.servers.tlsca", "--out", str(tmp_path)],
        cwd=REPO,
        env=guarded_env(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    pki = tlsca.Pki(tmp_path, tmp_path / "azure-ca.pem", tmp_path / "inspection-ca.pem")
    port = free_port(PE)
    config = {
        "listeners": [
            {"listen": f"{PE}:{port}", "cert": str(pki.cert("azure")), "behaviour": "H1"},
            {"listen": f"{FRONT_DOOR}:{port}", "cert": str(pki.cert("azure")), "behaviour": "H2"},
        ]
    }
    (tmp_path / "service.json").write_text(json.dumps(config))
    (tmp_path / "proxy.json").write_text(json.dumps({"upstream": f"{FRONT_DOOR}:{port}"}))
    proxy_port = free_port("127.0.0.1")
    procs = [
        start_standalone("service", "--config", str(tmp_path / "service.json")),
        start_standalone(
            "connect_proxy", "--listen", f"127.0.0.1:{proxy_port}", "--config", str(tmp_path / "proxy.json")
        ),
    ]
    try:
        env = {**trust(pki.azure_ca), "HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}"}
        check = run_chain(port, env, PE)["https_dataplane"]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=5)
    by_via = {a.via: a.classification for a in attempts(check)}
    assert by_via == {"direct": "H1", "proxy": "H2"}
    assert [proc.returncode for proc in procs] == [0, 0]


def test_standalone_blackhole_times_out() -> None:
    port = free_port("127.0.0.8")
    proc = start_standalone("blackhole", "--listen", f"127.0.0.8:{port}")
    try:
        (connect,) = asyncio.run(connect_all([("127.0.0.8", port)], 0.3))
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    attempt = tcp_connect.attempt_of("127.0.0.8", connect, 0.3)
    assert (attempt.outcome, attempt.error) == ("timeout", "no answer within 0.30 s")


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
