"""route_lookup against the real kernel routing table (UDP connect sends no packet)."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Any

import pytest

from aoai_diag.checks import route_lookup
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.evidence.osnet import OsRoute
from aoai_diag.evidence.path import RouteLookup
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
    """route_lookup's result, its evidence read through the declared type."""
    settings = Settings(public_resolvers=((reference, 53),))
    ctx = ProbeContext(settings=settings, deadline=time.monotonic() + 5)
    outcome = asyncio.run(route_lookup.run(parse_target("contoso"), ctx, {"system_resolution": resolution(*addresses)}))
    # Nothing observed (a skip) is recorded as the type at its defaults, as the engine does.
    evidence = outcome.evidence if outcome.evidence is not None else RouteLookup()
    return CheckResult("route_lookup", outcome.status, outcome.summary, evidence, 0.0, outcome.reason)


def test_loopback_relay_counts_as_local_route() -> None:
    result = run("127.0.0.5")
    evidence = result.typed(RouteLookup)
    (route,) = evidence.routes
    assert result.status is Status.PASS
    assert route.local is True and route.via_default is None and route.source == "127.0.0.1"
    assert (route.tunnel, route.tunnel_basis, route.address_class) == (None, "local address", "private")
    assert evidence.reference is not None and evidence.reference.source == "127.0.0.1"
    assert evidence.profile_routes == ()  # no VPN profile: nothing looked up for one


def test_ipv6_loopback() -> None:
    result = run("::1", reference="::1")
    assert result.status is Status.PASS and result.typed(RouteLookup).routes[0].source == "::1"


def test_no_private_address_is_a_skip_not_a_pass() -> None:
    result = run()
    assert result.status is Status.SKIP


class _NoRouteSocket(socket.socket):
    """A real UDP socket whose kernel has no route to 10.0.0.0/8: connect fails with ENETUNREACH, nothing is sent.

    A routing table without that route needs a network namespace (tests/e2e, net_vpn_disconnected proves it for
    real); here only the kernel's answer is stood in for, before the guarded connect is reached.
    """

    def connect(self, address: Any) -> None:
        if str(address[0]).startswith("10."):
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        super().connect(address)


def test_unreachable_destination_fails_naming_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(route_lookup.socket, "socket", _NoRouteSocket)
    result = run("10.0.0.5")
    evidence = result.typed(RouteLookup)
    (route,) = evidence.routes
    assert result.status is Status.FAIL
    assert (route.source, route.error, route.via_default) == (None, "network unreachable", None)
    assert evidence.reference is not None and evidence.reference.source == "127.0.0.1"
    assert "10.0.0.5: network unreachable" in result.summary


def test_reference_route_is_read_once_per_run_and_a_failed_read_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from aoai_diag.osnet import commands, linux

    asked: list[list[str]] = []
    answers = {"127.0.0.1": [OsRoute(error="ip timed out"), OsRoute(interface="lo")]}

    def read_routes(addresses: list[str], timeout: float) -> dict[str, OsRoute]:
        asked.append(list(addresses))
        found = {}
        for address in addresses:
            queued = answers.get(address)
            found[address] = queued.pop(0) if queued else OsRoute(interface="lo")
        return found

    monkeypatch.setattr(commands, "platform", lambda: "linux")
    monkeypatch.setattr(linux, "read_routes", read_routes)
    ctx = ProbeContext(settings=Settings(public_resolvers=(("127.0.0.1", 53),)), deadline=time.monotonic() + 5)
    refs = []
    for address in ("127.0.0.5", "127.0.0.6", "127.0.0.7"):
        outcome = asyncio.run(
            route_lookup.run(parse_target("contoso"), ctx, {"system_resolution": resolution(address)})
        )
        assert isinstance(outcome.evidence, RouteLookup) and outcome.evidence.reference is not None
        refs.append(outcome.evidence.reference.os_route)
    # One lookup per target for all its addresses. The first reference read failed (not kept), the second
    # succeeded (kept): the third target asks only for its own address.
    assert asked == [["127.0.0.1", "127.0.0.5"], ["127.0.0.1", "127.0.0.6"], ["127.0.0.7"]]
    assert refs[0] == OsRoute(error="ip timed out")
    assert refs[1] == refs[2] == OsRoute(interface="lo")


def test_the_reference_source_is_looked_up_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every target of a run compares its route with the same public reference: its source address is asked once,
    # unless the lookup failed (then the next target asks again).
    asked: list[str] = []
    answers = iter([(None, "network unreachable"), ("127.0.0.1", None)])
    real = route_lookup.source_for

    def counting(address: str, port: int) -> tuple[str | None, str | None]:
        if port == 53:
            asked.append(address)
            return next(answers)
        return real(address, port)

    monkeypatch.setattr(route_lookup, "source_for", counting)
    settings = Settings(public_resolvers=(("127.0.0.9", 53),))
    ctx = ProbeContext(settings=settings, deadline=time.monotonic() + 5)
    deps = {"system_resolution": resolution("127.0.0.5")}
    sources = []
    for _ in range(4):
        outcome = asyncio.run(route_lookup.run(parse_target("contoso"), ctx.for_target(), deps))
        assert isinstance(outcome.evidence, RouteLookup) and outcome.evidence.reference is not None
        sources.append(outcome.evidence.reference.source)
    assert asked == ["127.0.0.9", "127.0.0.9"]  # the failure was not kept; the answer was
    assert sources == [None, "127.0.0.1", "127.0.0.1", "127.0.0.1"]
