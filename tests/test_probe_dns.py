"""DNS probes run through the engine against real DNS servers on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.checks import dns_nameservers, public_dns, resolver_config, system_resolution
from aoai_diag.checks.base import Probe
from aoai_diag.context import Endpoint, ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.evidence.dns import SkippedLine
from aoai_diag.model import CheckResult, Status
from aoai_diag.net.dnsquery import query
from aoai_diag.runner import new_context
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES
from tests.servers.dns_server import serve

TARGET = parse_target("contoso")
HOST = TARGET.host
# Never the real defaults: every address a probe could reach is a loopback server of the test.
NOWHERE: tuple[Endpoint, ...] = ()


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "dns" / f"{name}.json").read_text())


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "timeout": 1.0,
        "public_resolvers": NOWHERE,
        "azure_dns": ("127.0.0.1", 9),
        "imds_endpoint": "http://127.0.0.1:9",
    }
    base.update(overrides)
    return Settings(**base)


def run(probes: list[Probe], ctx: ProbeContext) -> dict[str, CheckResult]:
    return {r.id: r for r in run_probes(TARGET, ctx, probes)}


@pytest.fixture
def views() -> Iterator[Callable[..., list[Endpoint]]]:
    """Start one server with a loopback address per named view: views(corp=config, azure=config)."""
    stack: list[Any] = []

    def start(**named: dict[str, Any]) -> list[Endpoint]:
        manager = serve({"views": named}, *named)
        _, endpoints = manager.__enter__()
        stack.append(manager)
        return endpoints

    yield start
    for manager in stack:
        manager.__exit__(None, None, None)


# resolver_config -------------------------------------------------------------------------------------------


def test_read_system_config_parses_servers_search_and_ipv6(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# corp\nnameserver 10.1.0.53\nnameserver fd00::53\nsearch corp.example. lab.example\n")
    servers, search = resolver_config.read_system_config(str(conf))
    assert servers == ["10.1.0.53:53", "[fd00::53]:53"]
    assert search == ["corp.example", "lab.example"]


def test_resolver_config_probe_reads_system_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch internal.cloudapp.net\n")
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(conf))
    result = run([resolver_config.PROBE], new_context(settings()))["resolver_config"]
    assert result.status is Status.PASS
    assert result.evidence.source == "system"
    assert result.evidence.nameservers == ("127.0.0.53:53",)
    assert result.evidence.search == ("internal.cloudapp.net",)


def test_no_nameserver_configured_fails_and_dns_nameservers_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search corp.example\n")
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(conf))
    results = run([resolver_config.PROBE, dns_nameservers.PROBE], new_context(settings()))
    assert results["resolver_config"].status is Status.FAIL
    assert results["resolver_config"].evidence.nameservers == ()
    assert results["resolver_config"].evidence.search == ("corp.example",)
    assert results["dns_nameservers"].status is Status.SKIP
    assert results["dns_nameservers"].reason == "no nameservers configured"


def test_unreadable_resolver_config_is_error_and_dependent_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(tmp_path / "missing.conf"))
    results = run([resolver_config.PROBE, dns_nameservers.PROBE], new_context(settings()))
    assert results["resolver_config"].status is Status.ERROR
    assert "missing.conf" in results["resolver_config"].evidence.error
    assert results["dns_nameservers"].status is Status.SKIP


def test_resolver_option_replaces_system_list() -> None:
    ctx = new_context(settings(resolvers=(("127.0.0.7", 5353), ("::1", 53))))
    result = run([resolver_config.PROBE], ctx)["resolver_config"]
    assert result.status is Status.PASS
    assert result.evidence.source == "option"
    assert result.evidence.nameservers == ("127.0.0.7:5353", "[::1]:53")


# system_resolution ------------------------------------------------------------------------------------------


def getaddrinfo_via(server: Endpoint, lookup_timeout: float) -> Callable[..., list[Any]]:
    """A getaddrinfo that resolves through the loopback DNS server, failing the way glibc reports failures."""

    def gai(host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list[Any]:
        answer = asyncio.run(query(server, host, lookup_timeout))
        if answer.outcome == "nxdomain":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer.outcome not in ("answer", "nodata"):
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        v4 = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer.addresses]
        v6 = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) for a in answer.addresses6]
        if not v4 and not v6:
            raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
        return v6 + v4 + v4  # duplicates, as getaddrinfo gives for several socket types

    return gai


def system_run(server: Endpoint, lookup_timeout: float = 1.0, timeout: float = 1.0) -> CheckResult:
    ctx = new_context(settings(timeout=timeout))
    ctx.getaddrinfo = getaddrinfo_via(server, lookup_timeout)
    return run([system_resolution.PROBE], ctx)["system_resolution"]


def test_system_resolution_private(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(vnet=fixture("private_3d"))
    result = system_run(server)
    assert result.status is Status.PASS
    assert result.evidence.addresses == ("10.20.1.5",)
    assert set(result.evidence.results) == set(TARGET.names)
    assert all(r.error is None for r in result.evidence.results.values())


def test_system_resolution_public_and_ipv6_both_families(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(vnet=fixture("private_with_public_aaaa"))
    result = system_run(server)
    assert result.status is Status.WARN
    assert result.evidence.addresses == ("2603:1020:203:3::12", "10.20.1.5")
    assert result.evidence.address_classes == {"2603:1020:203:3::12": "public", "10.20.1.5": "private"}


def test_system_resolution_nxdomain_fails_with_eai_name(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(vnet=fixture("nxdomain_private_soa"))
    result = system_run(server)
    assert result.status is Status.FAIL
    assert result.evidence.results[HOST].error.startswith("EAI_NONAME: ")


def test_system_resolution_stops_waiting_at_the_timeout(views: Callable[..., list[Endpoint]]) -> None:
    # getaddrinfo takes no timeout: the stand-in lookup gives up after 3 s, the probe must not wait for it.
    [server] = views(dead={"default": "silent"})
    lookup = getaddrinfo_via(server, 3.0)
    returned = threading.Event()

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            return lookup(*args, **kwargs)
        finally:
            returned.set()

    ctx = new_context(settings(timeout=0.3))
    ctx.getaddrinfo = watched
    result = run([system_resolution.PROBE], ctx)["system_resolution"]
    assert not returned.is_set(), "the probe waited for getaddrinfo instead of its own timeout"
    assert result.status is Status.FAIL
    assert result.evidence.results[HOST].error == "timeout"


# dns_nameservers --------------------------------------------------------------------------------------------


def nameservers_run(*servers: Endpoint, timeout: float = 1.0) -> CheckResult:
    ctx = new_context(settings(resolvers=servers, timeout=timeout))
    return run([resolver_config.PROBE, dns_nameservers.PROBE], ctx)["dns_nameservers"]


def test_every_server_private_passes_and_privatelink_name_is_asked(views: Callable[..., list[Endpoint]]) -> None:
    a, b = views(one=fixture("private_3d"), two=fixture("private_3d"))
    result = nameservers_run(a, b)
    assert result.status is Status.PASS
    assert result.evidence.names == (*TARGET.names, "contoso.privatelink.openai.azure.com")
    assert [s.server for s in result.evidence.servers] == [f"{a[0]}:{a[1]}", f"{b[0]}:{b[1]}"]
    answers = result.evidence.servers[0].answers
    assert answers["contoso.privatelink.openai.azure.com"].addresses == ("10.20.1.5",)
    assert set(result.evidence.verdicts.values()) == {"private"}


def test_servers_that_disagree_warn(views: Callable[..., list[Endpoint]]) -> None:
    corp, forwarder = views(corp=fixture("private_3d"), forwarder=fixture("public_privatelink_3c"))
    result = nameservers_run(corp, forwarder)
    assert result.status is Status.WARN
    assert list(result.evidence.verdicts.values()) == ["private", "public"]


def test_public_answer_everywhere_fails(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(forwarder=fixture("public_privatelink_3c"))
    result = nameservers_run(server)
    assert result.status is Status.FAIL
    assert "20.61.93.17 (public)" in result.summary


def test_nxdomain_from_private_zone_fails_with_soa(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(zone=fixture("nxdomain_private_soa"))
    result = nameservers_run(server)
    assert result.status is Status.FAIL
    answer = result.evidence.servers[0].answers[HOST]
    assert (answer.outcome, answer.soa_mname) == ("nxdomain", "azureprivatedns.net")


def test_silent_and_servfail_servers_fail_within_the_timeout(views: Callable[..., list[Endpoint]]) -> None:
    dead, broken = views(dead={"default": "silent"}, broken={"default": "servfail"})
    result = nameservers_run(dead, broken, timeout=0.4)
    # FAIL, not the engine's ERROR at the run's deadline (2 x 0.4 s): the silent server's questions (every name, A
    # and AAAA) did not add up their timeouts (bench/bounds.py times them).
    assert result.status is Status.FAIL
    assert list(result.evidence.verdicts.values()) == ["timeout", "servfail"]


def test_garbage_server_is_evidence_not_crash(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(junk={"default": "garbage"})
    result = nameservers_run(server)
    assert result.status is Status.FAIL
    answer = result.evidence.servers[0].answers[HOST]
    assert answer.outcome == "error" and answer.error


# public_dns -------------------------------------------------------------------------------------------------


def public_run(*resolvers: Endpoint, timeout: float = 1.0, enabled: bool = True) -> CheckResult:
    ctx = new_context(settings(public_resolvers=resolvers, timeout=timeout, public_dns=enabled))
    return run([public_dns.PROBE], ctx)["public_dns"]


def test_public_chain_with_privatelink_hop(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(internet=fixture("public_privatelink_3c"))
    result = public_run(server)
    assert result.status is Status.PASS
    ev = result.evidence
    assert (ev.privatelink_hop, ev.vnet_proxy) == (True, True)
    assert ev.public_addresses == ("20.61.93.17",)
    assert ev.answered_by == f"{server[0]}:{server[1]}"
    assert set(ev.servers[0].answers) == set(TARGET.names)


@pytest.mark.parametrize(
    ("scenario", "hop", "proxy"), [("public_plain_3a", False, False), ("vnet_proxy_3b", False, True)]
)
def test_public_chain_fingerprints(views: Callable[..., list[Endpoint]], scenario: str, hop: bool, proxy: bool) -> None:
    [server] = views(internet=fixture(scenario))
    ev = public_run(server).evidence
    assert (ev.privatelink_hop, ev.vnet_proxy) == (hop, proxy)
    assert all(c == "public" for c in ev.servers[0].answers[HOST].address_classes.values())


def test_next_public_resolver_only_after_a_timeout(views: Callable[..., list[Endpoint]]) -> None:
    dead, alive, unused = views(
        dead={"default": "silent"}, alive=fixture("public_privatelink_3c"), unused=fixture("public_plain_3a")
    )
    result = public_run(dead, alive, unused, timeout=0.4)
    # PASS, not the engine's ERROR at the run's deadline (2 x 0.4 s): the silent resolver cost one timeout.
    assert result.status is Status.PASS
    assert [s.server for s in result.evidence.servers] == [f"{dead[0]}:{dead[1]}", f"{alive[0]}:{alive[1]}"]
    assert result.evidence.answered_by == f"{alive[0]}:{alive[1]}"


def test_public_nxdomain_fails(views: Callable[..., list[Endpoint]]) -> None:
    [server] = views(internet={"zones": {"openai.azure.com": {"mname": "ns1-01.azure-dns.com"}}})
    result = public_run(server)
    assert result.status is Status.FAIL
    assert result.evidence.privatelink_hop is False


def test_no_public_resolver_answers_is_error(views: Callable[..., list[Endpoint]]) -> None:
    dead, junk = views(dead={"default": "silent"}, junk={"default": "garbage"})
    result = public_run(dead, junk, timeout=0.3)
    assert result.status is Status.ERROR
    assert result.evidence.answered_by is None
    assert result.evidence.privatelink_hop is None and result.evidence.vnet_proxy is None


def test_no_public_dns_option_skips_without_sending() -> None:
    manager = serve(fixture("public_privatelink_3c"))
    server_obj, [server] = manager.__enter__()
    try:
        result = public_run(server, enabled=False)
    finally:
        manager.__exit__(None, None, None)
    assert result.status is Status.SKIP
    assert "--no-public-dns" in result.summary
    assert server_obj.queries == []


def test_garbage_resolver_config_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bad nameserver line is skipped and named (issue 9), not "unreadable"; with nothing else, none is configured.
    conf = tmp_path / "resolv.conf"
    conf.write_bytes(b"nameserver not-an-address\n\xff\xfe\x00junk\n")
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(conf))
    result = run([resolver_config.PROBE], new_context(settings()))["resolver_config"]
    assert result.status is Status.FAIL
    assert result.evidence.skipped == (
        SkippedLine(line=1, text="nameserver not-an-address", reason="not an IP address"),
    )
    assert "\n" not in result.summary
