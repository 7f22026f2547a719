"""routes.lookup_routes: every address in one OS process (one `ip -json -batch`, one PowerShell, `route get`s started
together), answers matched to their addresses, failures as errors, never as routes.

The `ip` here is a fake on PATH that prints answers recorded from iproute2 6.1 (`ip -force -json -batch -` with one
`route get` line per address); the one real `ip` asked is about 127.0.0.1 (a route lookup sends no packet).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from aoai_diag.evidence.osnet import OsRoute
from aoai_diag.osnet import commands, linux, macos, routes, windows
from aoai_diag.osnet.commands import CommandResult
from tests.conftest import FIXTURES

OSNET = FIXTURES / "osnet"
ASKED = [
    "127.0.0.1",
    "10.1.2.4",
    "10.9.9.9",  # line 3: the kernel has no route (RTNETLINK answers: Network is unreachable)
    "fd00:1::4",
    "fe80::1%wlp2s0",  # a zone: asked as `oif wlp2s0`
    "fe80::2%nosuch0",  # line 6: ip refuses the interface
    "10.1.2.5",  # never answered (ip stopped early)
]


def fake_ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: Path, stderr: Path, code: int = 1) -> Path:
    """An `ip` first on PATH that logs its argv and stdin and prints the recorded answers; the log's path."""
    log = tmp_path / "ip.log"
    script = tmp_path / "bin" / "ip"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as fh:\n"
        "    fh.write(json.dumps({'argv': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n"
        f"sys.stdout.write(open({str(stdout)!r}).read())\n"
        f"sys.stderr.write(open({str(stderr)!r}).read())\n"
        f"sys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


@pytest.mark.skipif(sys.platform.startswith("win"), reason="a script standing in for `ip` needs POSIX exec")
def test_one_ip_process_answers_every_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the recorded answers of one batch, two of whose lines the kernel or ip refused
    log = fake_ip(tmp_path, monkeypatch, OSNET / "linux/ip_batch_stdout.txt", OSNET / "linux/ip_batch_stderr.txt")
    monkeypatch.setattr(linux.socket, "if_indextoname", lambda index: "wlp2s0")
    # when
    found = routes.lookup_routes([*ASKED, "10.1.2.4"], 2.0, "linux")
    # then: one process, one line per distinct address, the zone as the output interface
    (call,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["argv"] == ["-force", "-json", "-batch", "-"]
    assert call["stdin"].splitlines() == [
        "route get 127.0.0.1",
        "route get 10.1.2.4",
        "route get 10.9.9.9",
        "route get fd00:1::4",
        "route get fe80::1 oif wlp2s0",
        "route get fe80::2 oif nosuch0",
        "route get 10.1.2.5",
    ]
    assert list(found) == ASKED and all(isinstance(r, OsRoute) for r in found.values())
    assert found["127.0.0.1"] == OsRoute(interface="lo", source="127.0.0.1", local=True)
    assert found["10.1.2.4"] == OsRoute(interface="tun0", next_hop="172.16.201.1", source="172.16.201.2")
    assert found["10.9.9.9"] == OsRoute(error="network unreachable", no_route=True)
    assert (found["fd00:1::4"].interface, found["fd00:1::4"].next_hop) == ("wlp2s0", "fe80::1")
    assert found["fe80::1%wlp2s0"].interface == "wlp2s0"
    # a refused line and a line never answered are errors, and not "no route" (the kernel did not say that)
    assert found["fe80::2%nosuch0"] == OsRoute(error='Cannot find device "nosuch0"')
    assert found["10.1.2.5"].error == "ip gave no answer" and found["10.1.2.5"].no_route is False


def test_ip_batch_parser_matches_answers_by_destination_not_by_order() -> None:
    # ip prints an answer per line that worked: with line 1 refused, the first JSON line is line 2's answer
    out = (OSNET / "linux/ip_batch_stdout.txt").read_text().splitlines()
    found = linux.parse_ip_batch(
        ["10.9.9.9", "10.1.2.4", "127.0.0.1"], out[1] + "\n" + out[0] + "\n", "RTNETLINK answers: No route to host\n"
    )
    assert found["10.1.2.4"].interface == "tun0" and found["127.0.0.1"].local is True
    # no line number named the refused line: it is an error carrying ip's words, never a route
    assert found["10.9.9.9"] == OsRoute(error="ip gave no answer (RTNETLINK answers: No route to host)")
    garbage = linux.parse_ip_batch(["10.1.2.4"], "Usage: ip route { list | flush } SELECTOR\n[{]\n", "")
    assert garbage == {"10.1.2.4": OsRoute(error="ip gave no answer")}


@pytest.mark.parametrize(
    "bad",
    ["10.0.0.1\nroute flush all", "fe80::1%a';Remove-Item C:\\", "fe80::1%eth0 table 5", "example.com"],
)
def test_only_addresses_reach_a_command_line(bad: str) -> None:
    with pytest.raises(ValueError):
        routes.lookup_routes([bad], 1.0, "linux")
    with pytest.raises(ValueError):
        windows.read_routes([bad], 1.0)
    with pytest.raises(ValueError):
        macos.read_routes([bad], 1.0)


def test_ip_that_cannot_run_leaves_every_route_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    found = routes.lookup_routes(["10.1.2.4", "::1"], 1.0, "linux")
    assert {a: (r.error, r.no_route) for a, r in found.items()} == {
        "10.1.2.4": ("ip not found", False),
        "::1": ("ip not found", False),
    }


def test_windows_routes_are_read_in_one_powershell_process(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts: list[str] = []

    def powershell(script: str, timeout: float) -> CommandResult:
        scripts.append(script)
        out = (
            f"{windows.MARK}1.1.1.1\r\n{(OSNET / 'windows/find_netroute_default.txt').read_text()}"
            f"{windows.MARK}10.1.2.4\r\n{(OSNET / 'windows/find_netroute_tunnel.txt').read_text()}"
        )
        return CommandResult(("powershell.exe",), 0, out, "")

    monkeypatch.setattr(commands, "powershell", powershell)
    found = routes.lookup_routes(["1.1.1.1", "10.1.2.4", "10.1.2.4"], 5.0, "windows")
    assert len(scripts) == 1 and scripts[0].count("Find-NetRoute") == 2
    assert found["10.1.2.4"].interface == "contoso-vnet" and found["1.1.1.1"].prefix == "0.0.0.0/0"


def test_macos_route_gets_start_together_and_each_answers_for_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def run_all(argvs: list[list[str]], timeout: float) -> list[CommandResult]:
        started.extend(argvs)
        texts = {"10.1.2.4": (OSNET / "macos/route_get_tunnel.txt").read_text(), "::1": ""}
        return [
            CommandResult(tuple(a), 0, texts[a[-1]], "")
            if a[-1] in texts and texts[a[-1]]
            else CommandResult(tuple(a), 1, "", "route: writing to routing socket: not in table\n")
            for a in argvs
        ]

    monkeypatch.setattr(commands, "run_all", run_all)
    found = routes.lookup_routes(["10.1.2.4", "::1"], 2.0, "macos")
    assert started == [["route", "-n", "get", "-inet", "10.1.2.4"], ["route", "-n", "get", "-inet6", "::1"]]
    assert found["10.1.2.4"].prefix == "10.1.0.0/16" and found["::1"].no_route is True


def test_run_all_starts_every_command_before_waiting_for_any(tmp_path: Path) -> None:
    # each command marks that it started, then waits (at most 3 s) until all three have: run one after another,
    # the first would give up alone
    meet = (
        "import pathlib, sys, time\n"
        f"d = pathlib.Path({str(tmp_path)!r}); (d / sys.argv[1]).touch()\n"
        "end = time.monotonic() + 3\n"
        "while len(list(d.iterdir())) < 3 and time.monotonic() < end: time.sleep(0.01)\n"
        "print(len(list(d.iterdir())))\n"
    )
    results = commands.run_all([[sys.executable, "-c", meet, str(n)] for n in range(3)] + [["aoai-diag-nope"]], 10.0)
    assert [r.stdout.strip() for r in results[:3]] == ["3", "3", "3"]
    assert results[3].returncode is None and results[3].failure() == "aoai-diag-nope not found"
    slow = commands.run_all([[sys.executable, "-c", "import time; time.sleep(5)"]], 0.2)
    assert slow[0].returncode is None and "did not finish within 0.2 s" in slow[0].failure()


@pytest.mark.skipif(
    commands.platform() != "linux" or shutil.which("ip") is None or commands.run(["ip", "-V"], 5).returncode != 0,
    reason="needs iproute2",
)
def test_real_ip_route_get_loopback() -> None:
    # the real thing, for 127.0.0.1 only: a lookup asks the kernel and sends nothing
    real = commands.run(["ip", "-j", "route", "get", "127.0.0.1"], 5.0)
    found = routes.lookup_routes(["127.0.0.1"], 5.0, "linux")
    assert found["127.0.0.1"] == OsRoute(interface="lo", source="127.0.0.1", local=True)
    assert linux.parse_ip_route_get(real.stdout) == found["127.0.0.1"]
