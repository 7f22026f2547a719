"""Class 2 (issue 19): every phase runs under the run's deadline, and a peer that trickles one byte every 0.2 s
(each read well within `--timeout`) cannot hold a run past it: IMDS, the token, Resource Graph, account discovery
(`--all-accounts`), nextLink paging and the `--vpn-profile` pre-check."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from aoai_diag.blocking import run_sync
from aoai_diag.net.imds import fetch_instance
from tests.azure_harness import topology
from tests.hostile.peers import HostileArm, Trickler, seen
from tests.hostile.support import arm_lab, assert_bounded, cli, local_args
from tests.servers import imds

# Each read of a trickling peer takes 0.2 s, far below --timeout: only a bound on the whole exchange ends it.
DEADLINE = 2.0
TIMEOUT = 1.0


def hostile(**modes: str) -> dict[str, object]:
    topo = {**topology("healthy_jumpbox"), "hostile": modes}
    topo.pop("imds")  # off Azure: the client secret is the credential
    return topo


def test_imds_trickling_its_answer_is_cut_at_the_exchange_bound() -> None:
    body = json.dumps(imds.DEFAULT_INSTANCE).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with Trickler(answer) as peer:
        started = time.monotonic()
        evidence = run_sync(fetch_instance, 10.0, peer.endpoint, 0.3, 1.0)
        elapsed = time.monotonic() - started
    # Every byte came within the read timeout; the exchange as a whole was cut at connect + read timeout.
    assert elapsed < 1.3 + 0.5, elapsed
    assert evidence.on_azure is None and "did not finish" in str(evidence.error), evidence


def test_a_trickled_resource_graph_page_ends_with_the_deadline() -> None:
    with arm_lab(hostile(graph="trickle"), HostileArm) as lab:
        run = cli(*local_args(DEADLINE, TIMEOUT), *lab.args(), env=lab.env())
    assert_bounded(run, DEADLINE)
    account = run.checks()["arm_account"]
    # Stopped by the engine at the target's deadline, or by the transport at the run's: unknown either way.
    assert account["status"] == "error", account["summary"]


@pytest.mark.parametrize(
    "modes",
    [{"subscriptions": "endless"}, {"token": "trickle"}],
    ids=["endless-paging", "trickled-token"],  # a new nextLink every 0.3 s (100 pages: 30 s); a token a byte at a time
)
def test_all_accounts_discovery_ends_with_the_deadline(modes: dict[str, str]) -> None:
    with arm_lab(hostile(**modes), HostileArm) as lab:
        args = local_args(DEADLINE, TIMEOUT)
        args[args.index("contoso")] = "--all-accounts"
        run = cli(*args, *lab.args(), env=lab.env())
    assert_bounded(run, DEADLINE)
    assert run.code == 2 and "--all-accounts: cannot list the accounts" in run.stderr, run.stderr


def test_a_next_link_loop_stops_at_the_page_seen_before() -> None:
    with arm_lab(hostile(subscriptions="loop"), HostileArm) as lab:
        run = cli(*local_args(3.0, TIMEOUT), *lab.args(), env=lab.env())
        pages = [p for m, p, _, _ in seen(lab.arm) if p == "/subscriptions"]
    assert_bounded(run, 3.0)
    assert len(pages) == 2, pages  # the first page, and the link once: the repeat is not asked again
    access = run.checks()["arm_access"]["evidence"]
    assert [d["code"] for d in access["denied"]] == ["Truncated"], access
    # The cut list is an incomplete inventory: nothing may be concluded absent from it.
    account = run.checks()["arm_account"]
    assert account["status"] != "fail", account["summary"]


def test_a_vpn_profile_nobody_writes_is_given_up_at_the_deadline(tmp_path: Path) -> None:
    fifo = tmp_path / "profile.xml"
    os.mkfifo(fifo)
    run = cli(*local_args(DEADLINE, TIMEOUT), "--no-azure", "--vpn-profile", str(fifo))
    assert_bounded(run, DEADLINE)
    assert run.code == 2 and "could not be read within" in run.stderr, run.stderr


def test_a_resource_graph_skip_token_that_repeats_ends_the_inventory_as_truncated(tmp_path: Path) -> None:
    from aoai_diag.azure import snapshot
    from aoai_diag.context import ProbeContext
    from tests.azure_harness import lab

    with lab(hostile(graph="loop"), tmp_path) as env:
        env.arm.RequestHandlerClass = HostileArm
        ctx = ProbeContext(settings=env.settings, deadline=time.monotonic() + 5)
        inventory = run_sync(snapshot.inventory, 30.0, ctx, False)
        posts = [p for m, p, _, _ in seen(env.arm) if m == "POST" and "ResourceGraph" in p]
    assert len(posts) == 2, posts  # the first page and the token once: its repeat is not asked
    assert [d.code for d in inventory.denied] == ["Truncated"] and not inventory.complete
