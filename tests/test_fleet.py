"""Fleets: work shared by the targets of one run is done once (counted on the loopback DNS server)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from aoai_diag.checks import dns_nameservers, public_dns, resolver_config
from aoai_diag.context import ProbeContext, Settings, parse_endpoint
from aoai_diag.evidence.dns import DnsNameservers
from aoai_diag.runner import new_context, run_check
from aoai_diag.targets import parse_target
from tests.monitoring_support import closed_port, dns_config
from tests.servers import dns_server


def test_the_same_dns_question_is_asked_once_per_run() -> None:
    # Two forms of one account ask the same names of the same servers: each question goes out once.
    config = dns_config(["contoso"])
    with dns_server.serve(config, "corp", "public") as (server, (corp, public)):
        settings = Settings(
            timeout=1.0,
            resolvers=(corp,),
            public_resolvers=(public,),
            imds_endpoint=f"http://127.0.0.1:{closed_port()}",
            azure=False,
            env={},
        )
        targets = [parse_target("contoso"), parse_target("contoso.cognitiveservices.azure.com")]
        probes = [resolver_config.PROBE, dns_nameservers.PROBE, public_dns.PROBE]
        report = run_check(targets, settings, probes=probes, max_parallel=1)
        asked = Counter((q["view"], q["name"], q["type"]) for q in server.queries)
    assert all(c.status.value in ("pass", "fail", "warn") for t in report.targets for c in t.checks)
    assert asked, "no question reached the server"
    assert max(asked.values()) == 1, [k for k, n in asked.items() if n > 1]
    # Both targets still carry the full answers in their own evidence.
    for target in report.targets:
        servers = next(c for c in target.checks if c.id == "dns_nameservers").typed(DnsNameservers).servers
        assert servers[0].answers[target.target["host"]].outcome == "answer"


def test_a_timed_out_answer_is_not_shared() -> None:
    from aoai_diag.net.dns_cache import query_many_cached

    ctx: ProbeContext = new_context(Settings(timeout=0.2, env={}))
    dead = parse_endpoint(f"127.0.0.1:{closed_port()}")
    first = asyncio.run(query_many_cached(ctx, [(dead, "contoso.openai.azure.com")], 0.2))[
        (dead, "contoso.openai.azure.com")
    ]
    assert first.outcome in ("timeout", "error")
    assert not [k for k in ctx.shared if k.startswith("dns:")]


def test_targets_of_one_run_share_the_azure_reads(tmp_path: Path) -> None:
    # Three targets, one at a time: one IMDS answer, one token, one subscription list, one Resource Graph query;
    # the later targets still get their reads though they start after the first one's budget began.
    from tests.azure_harness import AZURE_PROBES, lab, topology

    with lab(topology("healthy_jumpbox"), tmp_path, timeout=1.0, deadline=3.0) as env:
        targets = [parse_target(t) for t in ("contoso", "contoso.cognitiveservices.azure.com", "fabrikam")]
        report = run_check(targets, env.settings, probes=AZURE_PROBES, max_parallel=1)
        arm = list(env.arm.requests)
        imds_requests = list(env.imds.requests)
    statuses = [{c.id: c.status.value for c in t.checks} for t in report.targets]
    assert [s["arm_account"] for s in statuses] == ["pass", "pass", "fail"]  # fabrikam does not exist
    assert sum(1 for m, p in arm if m == "POST" and "ResourceGraph" in p) == 1
    assert sum(1 for m, p in arm if m == "GET" and p == "/subscriptions") == 1
    assert sum(1 for r in imds_requests if r["path"] == "/metadata/identity/oauth2/token") == 1
    assert sum(1 for r in imds_requests if r["path"] == "/metadata/instance") == 1
