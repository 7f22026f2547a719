"""The suite's network guard itself refuses non-loopback traffic, in this process and in guarded subprocesses.

The real socket functions are swapped for recorders first: if the guard were broken, the attempt is recorded
instead of sent, so proving the guard never sends anything beyond loopback.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import netguard
import pytest

from tests.conftest import guarded_env

TEST_NET = "192.0.2.1"  # documentation address (RFC 5737); never reached, see the recorders


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What got past the guard to the real functions; the violations the test provokes are forgotten after it.

    In this process TCP connect has a second guard behind ours (pytest-socket), so it is not replaced here.
    """
    calls: list[str] = []

    def recorder(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise OSError(f"{name} reached the real function")

        return record

    for name in ("connect_ex", "sendto", "getaddrinfo", "gethostbyname", "gethostbyaddr", "getnameinfo"):
        monkeypatch.setattr(netguard, f"_real_{name}", recorder(name))
    before = len(netguard.VIOLATIONS)
    yield calls
    del netguard.VIOLATIONS[before:]


def test_tcp_and_udp_to_a_non_loopback_address_are_refused(reached: list[str]) -> None:
    before = len(netguard.VIOLATIONS)
    with socket.socket() as tcp, pytest.raises(netguard.NonLoopbackTraffic):
        tcp.connect((TEST_NET, 443))
    with socket.socket() as tcp, pytest.raises(netguard.NonLoopbackTraffic):
        tcp.connect_ex((TEST_NET, 443))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(netguard.NonLoopbackTraffic):
        udp.sendto(b"\x00", (TEST_NET, 53))
    assert reached == []
    assert len(netguard.VIOLATIONS) - before == 3


def test_name_lookups_that_would_ask_the_real_resolver_are_refused(reached: list[str]) -> None:
    before = len(netguard.VIOLATIONS)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("management.azure.com", 443)
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("login.microsoftonline.com")
    with pytest.raises(socket.herror):
        socket.gethostbyaddr(TEST_NET)
    with pytest.raises(socket.gaierror):
        socket.getnameinfo((TEST_NET, 443), 0)
    assert reached == []
    assert len(netguard.VIOLATIONS) - before == 4


def test_loopback_and_address_literals_pass_through(reached: list[str]) -> None:
    for call in (
        lambda: socket.getaddrinfo("::1", 443),
        lambda: socket.getaddrinfo(TEST_NET, 443),  # a literal: no resolver is asked
        lambda: socket.gethostbyaddr("127.0.0.1"),
    ):
        with pytest.raises(OSError, match="reached the real function"):
            call()
    assert reached == ["getaddrinfo", "getaddrinfo", "gethostbyaddr"]
    # loopback connects really happen: nothing listens on the discard port
    with socket.socket() as tcp, pytest.raises(ConnectionRefusedError):
        tcp.connect(("127.0.0.2", 9))


def test_guarded_subprocess_refuses_too() -> None:
    code = (
        "import json, socket, netguard\n"
        "netguard._real_connect = lambda *a: print('SENT')\n"
        "s = socket.socket()\n"
        "try:\n    s.connect(('192.0.2.1', 443)); out = 'connected'\n"
        "except netguard.NonLoopbackTraffic:\n    out = 'refused'\n"
        "print(json.dumps([out, netguard.VIOLATIONS]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=guarded_env(), timeout=30)
    assert proc.returncode == 0, proc.stderr
    outcome, violations = json.loads(proc.stdout)
    assert outcome == "refused" and "SENT" not in proc.stdout
    assert violations == ["connect to ('192.0.2.1', 443)"]
