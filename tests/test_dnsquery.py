"""dnsquery against a real DNS server on loopback (tests/servers/dns_server.py)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from aoai_diag.evidence.answers import AnswerKind, classify_dns
from aoai_diag.net.dnsquery import describe, format_endpoint, query, query_many
from tests.conftest import FIXTURES
from tests.servers.dns_server import DnsServer, serve

HOST = "contoso.openai.azure.com"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "dns" / f"{name}.json").read_text())


def test_private_answer_follows_cname_to_privatelink_record() -> None:
    with serve(fixture("private_3d")) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.outcome == "answer"
    assert answer.rcode == "NOERROR"
    assert answer.chain == (HOST, "contoso.privatelink.openai.azure.com")
    assert answer.addresses == ("10.20.1.5",)
    assert answer.address_classes == {"10.20.1.5": "private"}
    assert answer.ttl == 10
    assert answer.soa_mname is None and answer.truncated_udp is False and answer.tcp_retry is None
    assert classify_dns(answer) is AnswerKind.PRIVATE


def test_public_chain_with_privatelink_hop_ends_at_public_vnet_proxy() -> None:
    with serve(fixture("public_privatelink_3c")) as (_, [server]):
        answer = asyncio.run(query(server, HOST.upper() + ".", 1.0))
    assert answer.name == HOST
    assert answer.chain == (
        HOST,
        "contoso.privatelink.openai.azure.com",
        "westeurope.prod.vnet.cog.trafficmanager.net",
        "vnetproxyv1-weu-prod.westeurope.cloudapp.azure.com",
    )
    assert answer.address_classes == {"20.61.93.17": "public"}
    assert classify_dns(answer) is AnswerKind.PUBLIC


def test_nxdomain_records_private_zone_soa_and_the_chain_up_to_it() -> None:
    with serve(fixture("nxdomain_private_soa")) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.outcome == "nxdomain"
    assert answer.rcode == "NXDOMAIN"
    assert answer.chain == (HOST, "contoso.privatelink.openai.azure.com")
    assert answer.soa_mname == "azureprivatedns.net"
    assert answer.addresses == () and answer.ttl is None
    assert describe(answer) == "NXDOMAIN (SOA azureprivatedns.net)"


def test_nodata_records_soa() -> None:
    config = {
        "records": {HOST: {"aaaa": ["fd00::5"]}},
        "zones": {"openai.azure.com": {"mname": "ns1-01.azure-dns.com"}},
    }
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.outcome == "nodata"
    assert answer.soa_mname == "ns1-01.azure-dns.com"
    assert answer.addresses6 == ("fd00::5",)
    assert answer.address_classes == {"fd00::5": "private"}


@pytest.mark.parametrize(
    ("action", "outcome", "rcode"), [("servfail", "servfail", "SERVFAIL"), ("refused", "refused", "REFUSED")]
)
def test_server_failures_are_outcomes(action: str, outcome: str, rcode: str) -> None:
    with serve({"default": action}) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert (answer.outcome, answer.rcode, answer.addresses) == (outcome, rcode, ())


def test_silent_server_times_out_within_the_timeout() -> None:
    with serve({"default": "silent"}) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 0.4))
    assert answer.outcome == "timeout"
    assert answer.rcode is None
    assert format_endpoint(server) in answer.error


def test_garbage_bytes_become_a_one_line_error() -> None:
    with serve({"default": "garbage"}) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.outcome == "error"
    assert answer.error and "\n" not in answer.error


def test_long_chain_truncates_over_udp_and_is_retried_over_tcp() -> None:
    with serve(fixture("long_chain_truncates")) as (server_obj, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
        transports = {(q["transport"], q["type"]) for q in server_obj.queries}
    assert answer.truncated_udp is True
    assert answer.tcp_retry == "ok"
    assert answer.outcome == "answer"
    assert len(answer.chain) == 9
    assert answer.addresses == ("20.103.221.188",)
    assert ("udp", "A") in transports and ("tcp", "A") in transports


def test_truncation_without_tcp_listener_is_an_error_not_nodata() -> None:
    config = {**fixture("long_chain_truncates"), "tcp": False}
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.truncated_udp is True
    assert answer.tcp_retry == "failed"
    assert answer.outcome == "error"
    assert "TCP retry failed" in answer.error and "refused" in answer.error.lower()


def test_truncation_with_tcp_connection_closed() -> None:
    config = {"records": {HOST: {"a": ["10.1.2.3"], "action": "truncate_no_tcp"}}}
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert (answer.truncated_udp, answer.tcp_retry, answer.outcome) == (True, "failed", "error")


def test_forced_truncation_gets_full_answer_over_tcp() -> None:
    config = {"records": {HOST: {"a": ["10.1.2.3"], "action": "truncate"}}}
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert (answer.truncated_udp, answer.tcp_retry, answer.addresses) == (True, "ok", ("10.1.2.3",))


def test_public_aaaa_next_to_private_a_is_recorded_and_not_private_only() -> None:
    with serve(fixture("private_with_public_aaaa")) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.addresses == ("10.20.1.5",)
    assert answer.addresses6 == ("2603:1020:203:3::12",)
    assert answer.address_classes["2603:1020:203:3::12"] == "public"
    # The dual-stack rule (aoai_diag/evidence/answers.py): a client with IPv6 prefers the public AAAA.
    assert classify_dns(answer) is AnswerKind.MIXED


def test_silent_aaaa_query_leaves_outcome_and_stays_bounded() -> None:
    config = {"records": {HOST: {"a": ["10.1.2.3"], "action": "silent", "action_qtypes": ["AAAA"]}}}
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 0.4))
    assert answer.outcome == "answer" and answer.addresses == ("10.1.2.3",) and answer.addresses6 == ()


def test_cname_loop_stops() -> None:
    config = {"records": {HOST: {"cname": "b.example.test"}, "b.example.test": {"cname": HOST}}}
    with serve(config) as (_, [server]):
        answer = asyncio.run(query(server, HOST, 1.0))
    assert answer.outcome == "nodata"
    assert answer.chain[:2] == (HOST, "b.example.test")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_server_address() -> None:
    server = DnsServer(fixture("private_3d"))
    try:
        endpoint = server.listen("::1", 0)
        answer = asyncio.run(query(endpoint, HOST, 1.0))
    finally:
        server.close()
    assert answer.addresses == ("10.20.1.5",)
    assert format_endpoint(endpoint).startswith("[::1]:")


def test_views_on_different_addresses_disagree() -> None:
    config = {"views": {"corp": fixture("public_privatelink_3c"), "azure": fixture("private_3d")}}
    with serve(config, "corp", "azure") as (_, [corp, azure]):
        found = asyncio.run(query_many([(corp, HOST), (azure, HOST)], 1.0))
    assert found[(corp, HOST)].address_classes == {"20.61.93.17": "public"}
    assert found[(azure, HOST)].address_classes == {"10.20.1.5": "private"}


def test_query_many_is_concurrent_and_bounded() -> None:
    config = {"views": {"silent": {"default": "silent"}, "ok": fixture("private_3d")}}
    names = [HOST, "contoso.cognitiveservices.azure.com", "contoso.services.ai.azure.com"]
    with serve(config, "silent", "ok") as (_, [silent, ok]):
        pairs = [(s, n) for s in (silent, ok) for n in names]
        found = asyncio.run(query_many(pairs, 0.4))
    # Six queries, three of them silent, all within one call's timeout: the silent ones time out, the others answer
    # (test_dnswire.test_query_many_has_every_question_in_flight_at_once shows they are asked at once).
    assert [found[(silent, n)].outcome for n in names] == ["timeout"] * 3
    assert [found[(ok, n)].addresses for n in names] == [("10.20.1.5",)] * 3


def test_closed_port_is_a_timeout_or_error_never_a_crash() -> None:
    # Find a port with nothing behind it: bind, note, close.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = asyncio.run(query(("127.0.0.1", port), HOST, 0.3))
    assert answer.outcome in ("timeout", "error")
    assert answer.addresses == ()


def test_standalone_server_answers_per_listen_address(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO, guarded_env

    ports = []
    for _ in range(2):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    config = {
        "views": {"corp": fixture("public_privatelink_3c"), "azure": fixture("private_3d")},
        "bind": {f"127.0.0.1:{ports[0]}": "corp", "127.0.0.2": "azure"},
    }
    path = tmp_path / "dns.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.servers.dns_server", "--config", str(path)),
            *("--listen", f"127.0.0.1:{ports[0]}", "--listen", f"127.0.0.2:{ports[1]}"),
        ],
        cwd=REPO,
        env=guarded_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        corp = asyncio.run(query(("127.0.0.1", ports[0]), HOST, 1.0))
        azure = asyncio.run(query(("127.0.0.2", ports[1]), HOST, 1.0))
    finally:
        proc.terminate()
        proc.wait(5)
    assert corp.addresses == ("20.61.93.17",)
    assert azure.addresses == ("10.20.1.5",)
    assert proc.returncode == 0


def test_why_a_query_failed_comes_from_the_errno_not_the_text() -> None:
    import errno

    import dns.rdatatype

    from aoai_diag.net.dnsquery import _Exchange

    exchange = _Exchange(("127.0.0.1", 53), HOST, dns.rdatatype.A, 0.0)
    exchange.fail(OSError(errno.ENETUNREACH, "a localized text without the usual words"))
    assert exchange.failure == "unreachable"
    exchange.fail(OSError(errno.EINVAL, "Network is unreachable (a misleading text)"))
    assert exchange.failure == "error"
