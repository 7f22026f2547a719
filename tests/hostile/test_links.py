"""Class 6 (issue 19): the Resource Manager token goes to the chosen cloud's Resource Manager endpoint only. An
absolute link elsewhere (a nextLink in our paging or in the SDK's, a long-running operation's Location) is refused
and reported; the other host never sees an Authorization header."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from aoai_diag.azure.arm_clients import ArmFailure, ArmSession
from aoai_diag.azure.credential import CachingCredential
from aoai_diag.context import Settings
from tests.azure_harness import topology
from tests.hostile.peers import HostileArm, seen
from tests.hostile.support import ArmLab, assert_bounded, cli, local_args
from tests.servers import arm_emulator

DEADLINE = 3.0


@contextmanager
def two_hosts(modes: dict[str, str], tmp_path: Path) -> Iterator[tuple[ArmLab, arm_emulator.ArmEmulator]]:
    """Resource Manager on 127.0.0.1 and another host on 127.0.0.2, both trusted (one CA): only the token policy
    can keep the token from the second."""
    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    servers: list[arm_emulator.ArmEmulator] = []
    try:
        for host in ("127.0.0.2", "127.0.0.1"):
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert(host).configure_cert(tls)
            topo = {**topology("healthy_jumpbox"), "hostile": modes}
            topo.pop("imds")
            if servers:
                topo["foreign_base"] = servers[0].endpoint
            server = arm_emulator.ArmEmulator((host, 0), topo, tls)
            server.RequestHandlerClass = HostileArm
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            servers.append(server)
        yield ArmLab(servers[1], ca_path), servers[0]
    finally:
        for server in servers:
            arm_emulator.stop(server)


def test_a_next_link_to_another_host_is_refused_and_reported(tmp_path: Path) -> None:
    with two_hosts({"subscriptions": "foreign"}, tmp_path) as (lab, other):
        run = cli(*local_args(DEADLINE), *lab.args(), env=lab.env())
        reached = seen(other)
    assert_bounded(run, DEADLINE)
    assert reached == [], reached  # not even asked: the link was refused before any connection
    access = run.checks()["arm_access"]
    assert access["status"] == "error" and "ForeignLink" in str(access["evidence"]["denied"]), access
    assert "127.0.0.2" in access["summary"]


def test_the_sdk_paging_to_another_host_never_carries_the_token(tmp_path: Path) -> None:
    # Graph forbidden: the inventory comes from the SDK's own list calls, whose every page links to the other host.
    with two_hosts({"lists": "foreign"}, tmp_path) as (lab, other):
        lab.arm.topology["graph"] = False
        subscriptions = [a for s in lab.arm.topology["subscriptions"] for a in ("--subscription", s["subscriptionId"])]
        run = cli(*local_args(DEADLINE), *lab.args(), *subscriptions, env=lab.env())
        reached = seen(other)
    assert_bounded(run, DEADLINE)
    assert not [r for r in reached if r[3]], reached  # nothing with Authorization reached 127.0.0.2
    account = run.checks()["arm_account"]
    denied = str(account["evidence"].get("denied"))
    assert "ForeignLink" in denied and "127.0.0.2" in denied, denied


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.2:443/x", "http://127.0.0.1:443/x", "https://127.0.0.1:444/x", "https://evil.example/x", "x"],
)
def test_links_off_the_resource_manager_origin_are_refused(url: str) -> None:
    session = ArmSession(
        Settings(arm_endpoint="https://127.0.0.1:443", env={}),
        CachingCredential(object(), "none"),
        time.monotonic() + 1,
    )
    with pytest.raises(ArmFailure) as info:
        session.check_link("scope", url, "Location")
    assert info.value.denied.code == "ForeignLink"
    session.check_link("scope", "https://127.0.0.1/ok", "Location")  # the same origin (default port) is fine
    session.check_link("scope", "/subscriptions/x", "nextLink")
