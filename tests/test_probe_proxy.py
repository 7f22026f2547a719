"""proxy_settings: which proxy a typical client would use for https://<host>, NO_PROXY rules, redaction."""

from __future__ import annotations

import json

import pytest

from aoai_diag.checks import proxy_settings
from aoai_diag.checks.proxy_settings import evaluate, match_no_proxy, parse_winhttp_blob, redact
from aoai_diag.evidence.path import ProxySettings, WindowsProxy, WinHttpProxy, WinInetProxy
from aoai_diag.model import Status
from tests.pathprobe_support import TARGET, context, resolution

HOST = TARGET.host  # contoso.openai.azure.com


def run_with(env: dict[str, str], addresses: tuple[str, ...] = ()) -> tuple[Status, ProxySettings]:
    deps = {"system_resolution": resolution(*addresses)} if addresses else {}
    outcome = proxy_settings.collect(TARGET, context(443, env), deps)
    assert isinstance(outcome.evidence, ProxySettings)
    return outcome.status, outcome.evidence


def test_no_proxy_configured_passes_with_null_source() -> None:
    status, ev = run_with({"PATH": "/usr/bin"})
    assert status is Status.PASS
    assert (ev.applies, ev.proxy_url, ev.source, ev.variables) == (False, None, None, {})
    assert ev == ProxySettings()  # nothing configured: every field at its default


def test_https_proxy_applies_and_credentials_are_redacted() -> None:
    status, ev = run_with({"HTTPS_PROXY": "http://alice:s3cr3t@proxy.corp:3128"})
    assert status is Status.WARN
    assert ev.applies is True and ev.source == "env"
    assert ev.proxy_url == "http://***@proxy.corp:3128"
    assert (ev.proxy_host, ev.proxy_port) == ("proxy.corp", 3128)
    shown = json.dumps(ev.to_dict())
    assert "s3cr3t" not in shown and "alice" not in shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://proxy:3128", "http://proxy:3128"),
        ("http://u:p@proxy:3128/", "http://***@proxy:3128/"),
        ("u:p@proxy:3128", "***@proxy:3128"),
        ("http://u:p@ss@proxy:3128", "http://***@proxy:3128"),
        ("http://proxy:3128/path?user=a@b", "http://proxy:3128/path?user=a@b"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_lower_case_wins_and_all_proxy_is_the_fallback() -> None:
    _, ev = run_with({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"})
    assert ev.proxy_host == "lower"
    _, ev = run_with({"ALL_PROXY": "http://everything:8080"})
    assert (ev.applies, ev.proxy_host) == (True, "everything")


def test_http_proxy_alone_is_recorded_but_not_used_for_https() -> None:
    status, ev = run_with({"HTTP_PROXY": "http://u:pw@plain:80"})
    assert status is Status.PASS and ev.applies is False
    assert ev.variables == {"HTTP_PROXY": "http://***@plain:80"}


def test_proxy_without_scheme_defaults_to_http() -> None:
    _, ev = run_with({"https_proxy": "proxy.corp:8080"})
    assert (ev.proxy_host, ev.proxy_port) == ("proxy.corp", 8080)


@pytest.mark.parametrize(
    ("no_proxy", "matched"),
    [
        (HOST, HOST),
        (".openai.azure.com", ".openai.azure.com"),
        ("openai.azure.com", "openai.azure.com"),
        ("*.openai.azure.com", "*.openai.azure.com"),
        ("*", "*"),
        ("localhost, .OPENAI.AZURE.COM ", ".OPENAI.AZURE.COM"),
        (f"{HOST}:443", f"{HOST}:443"),
        (f"{HOST}:8443", None),
        ("penai.azure.com", None),
        ("contoso.openai.azure.co", None),
        (".cognitiveservices.azure.com,example.com", None),
        ("127.0.0.0/8,10.0.0.0/8", None),
        ("", None),
    ],
)
def test_no_proxy_matching(no_proxy: str, matched: str | None) -> None:
    assert match_no_proxy(HOST, 443, no_proxy) == matched


def test_no_proxy_bypass_passes_and_names_the_entry() -> None:
    status, ev = run_with({"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "localhost,.openai.azure.com"})
    assert status is Status.PASS
    assert (ev.applies, ev.bypassed_by, ev.bypass_rules) == (False, ".openai.azure.com", "no_proxy")
    assert ev.proxy_url == "http://proxy:3128"


def test_cidr_entry_matching_the_resolved_address_is_recorded_but_does_not_bypass() -> None:
    # Clients match IP/CIDR entries only against IP-literal URLs; the host name still goes to the proxy.
    status, ev = run_with({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.0/8"}, ("127.0.0.9",))
    assert status is Status.WARN and ev.applies is True
    assert ev.bypassed_by_address == "127.0.0.0/8"
    _, ev = run_with({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "::1,127.0.0.10"}, ("127.0.0.9",))
    assert ev.bypassed_by_address is None


def test_unusable_proxy_value_is_evidence_not_a_crash() -> None:
    status, ev = run_with({"HTTPS_PROXY": "http://proxy:notaport"})
    assert status is Status.WARN
    assert str(ev.error).startswith("unusable proxy setting") and ev.proxy_host is None


def winhttp_blob(proxy: str, bypass: str, flags: int = 3) -> bytes:
    def dword(n: int) -> bytes:
        return n.to_bytes(4, "little")

    return (
        dword(0x18)
        + dword(5)
        + dword(flags)
        + dword(len(proxy))
        + proxy.encode()
        + dword(len(bypass))
        + bypass.encode()
    )


def test_winhttp_blob_is_decoded() -> None:
    assert parse_winhttp_blob(winhttp_blob("proxy.corp:8080", "<local>;*.corp")) == WinHttpProxy(
        server="proxy.corp:8080", bypass="<local>;*.corp"
    )
    assert parse_winhttp_blob(winhttp_blob("", "", flags=1)) == WinHttpProxy(server=None, bypass=None)
    with pytest.raises(ValueError):
        parse_winhttp_blob(winhttp_blob("proxy.corp:8080", "x")[:20])


def test_windows_settings_apply_when_no_variable_is_set() -> None:
    winhttp = WinHttpProxy(server="winhttp.corp:3128", bypass="*.openai.azure.com")
    system = WindowsProxy(
        wininet=WinInetProxy(enabled=True, server="http=a:1;https=secure.corp:8443", bypass="*.local;<local>"),
        winhttp=winhttp,
    )
    ev = evaluate(HOST, 443, {}, system)
    assert (ev.source, ev.proxy_host, ev.proxy_port, ev.applies) == ("wininet", "secure.corp", 8443, True)
    assert ev.system == system  # recorded as read (nothing in it to redact)
    ev = evaluate(HOST, 443, {}, WindowsProxy(wininet=WinInetProxy(enabled=False), winhttp=winhttp))
    assert (ev.source, ev.applies, ev.bypassed_by, ev.bypass_rules) == (
        "winhttp",
        False,
        "*.openai.azure.com",
        "winhttp",
    )
    ev = evaluate(HOST, 443, {"HTTPS_PROXY": "http://envproxy:1"}, system)
    assert (ev.source, ev.proxy_host) == ("env", "envproxy")


def test_windows_settings_are_recorded_without_their_secrets() -> None:
    system = WindowsProxy(
        wininet=WinInetProxy(enabled=True, server="http://bob:Pr0xyS3cret@proxy.corp:8080", pac_url=None),
        winhttp=WinHttpProxy(),
    )
    ev = evaluate(HOST, 443, {}, system)
    assert ev.system is not None and ev.system.wininet is not None
    assert ev.system.wininet.server == "http://***@proxy.corp:8080" and ev.proxy_url == "http://***@proxy.corp:8080"
    assert "Pr0xyS3cret" not in json.dumps(ev.to_dict())


def test_system_proxy_finding_names_the_library_that_still_uses_it() -> None:
    from aoai_diag.diagnosis import diagnose
    from aoai_diag.model import CheckResult, Status
    from aoai_diag.targets import parse_target

    system = WindowsProxy(wininet=WinInetProxy(enabled=True, server="proxy.corp:8080", bypass="*.openai.azure.com"))
    evidence = evaluate(HOST, 443, {}, system)
    check = CheckResult("proxy_settings", Status.WARN, "", evidence, 1.0)
    (finding,) = [f for f in diagnose(parse_target(HOST), [check]) if f.cause_id == "edge.system_proxy_pac"]
    assert "for httpx (the openai Python SDK's client), which reads no ProxyOverride" in finding.detail
