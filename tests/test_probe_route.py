"""route_lookup against the real kernel routing table (UDP connect sends no packet)."""

from __future__ import annotations

import time

from aoai_diag.checks import route_lookup
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.model import CheckResult, Status
from aoai_diag.targets import parse_target


def resolution(*addresses: str) -> CheckResult:
    return CheckResult(
        id="system_resolution",
        status=Status.PASS,
        summary="",
        evidence={"addresses": list(addresses)},
        duration_ms=1.0,
    )


def run(*addresses: str, reference: str = "127.0.0.1") -> CheckResult:
    settings = Settings(public_resolvers=((reference, 53),))
    ctx = ProbeContext(settings=settings, deadline=time.monotonic() + 5)
    outcome = route_lookup.run(parse_target("contoso"), ctx, {"system_resolution": resolution(*addresses)})
    return CheckResult("route_lookup", outcome.status, outcome.summary, outcome.evidence, 0.0, outcome.reason)


def test_loopback_relay_counts_as_local_route() -> None:
    result = run("127.0.0.5")
    (route,) = result.evidence["routes"]
    assert result.status is Status.PASS
    assert route["local"] is True and route["via_default"] is None and route["source"] == "127.0.0.1"
    assert result.evidence["reference"]["source"] == "127.0.0.1"


def test_ipv6_loopback() -> None:
    result = run("::1", reference="::1")
    assert result.status is Status.PASS and result.evidence["routes"][0]["source"] == "::1"


def test_no_private_address_is_a_skip_not_a_pass() -> None:
    result = run()
    assert result.status is Status.SKIP


def test_unreachable_destination_is_reported_by_the_e2e_tier() -> None:
    """ENETUNREACH needs a routing table without a default route: tests/e2e (net_vpn_disconnected) proves it.

    Here only the mapping from errno to the evidence text is checked.
    """
    import errno

    assert route_lookup._ERRORS[errno.ENETUNREACH] == "network unreachable"
