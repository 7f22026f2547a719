"""Proofs the tier rests on: the namespace has nothing but loopback, drops time out, files are bind-mounted, cleanup."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import namespace
from tests.e2e.namespace import PREFIX, Namespace

PROBE = """
import json, socket, sys, time
out = {}
for host, port in json.loads(sys.argv[1]):
    s = socket.socket(); s.settimeout(0.5); t = time.monotonic()
    try:
        s.connect((host, port)); outcome = "connected"
    except TimeoutError:
        outcome = "timeout"
    except OSError as exc:
        outcome = f"errno{exc.errno}"
    out[f"{host}:{port}"] = [outcome, round(time.monotonic() - t, 3)]
    s.close()
print(json.dumps(out))
"""


def _connects(ns: Namespace, targets: list[tuple[str, int]]) -> dict[str, list]:
    proc = ns.run([sys.executable, "-c", PROBE, json.dumps(targets)], env={"PATH": "/usr/bin:/bin"}, timeout=20)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_namespace_has_only_loopback_and_nothing_leaves() -> None:
    with Namespace("proof-lo") as ns:
        ns.create(["10.1.2.5", "1.1.1.1"], "nameserver 1.1.1.1\n", "127.0.0.1 localhost\n")
        links = subprocess.run(["ip", "-n", ns.name, "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
        got = _connects(ns, [("10.1.2.5", 443), ("10.9.9.9", 443), ("93.184.215.14", 443)])
    # An assigned address with no listener refuses at once; anything else is unreachable at once (errno 101).
    assert got["10.1.2.5:443"][0] == "errno111"
    assert got["10.9.9.9:443"][0] == "errno101"
    assert got["93.184.215.14:443"][0] == "errno101"
    assert max(v[1] for v in got.values()) < 0.4  # at once: well below the probe's own 0.5 s timeout


def test_nft_drop_gives_a_real_connect_timeout() -> None:
    reason = namespace.nft_reason()
    if reason:
        pytest.skip(reason)
    with Namespace("proof-drop") as ns:
        ns.create(["10.1.2.5"], "", "127.0.0.1 localhost\n")
        ns.drop_rules([("10.1.2.5", 443)])
        got = _connects(ns, [("10.1.2.5", 443), ("10.1.2.5", 444)])
    outcome, elapsed = got["10.1.2.5:443"]
    assert outcome == "timeout", got
    assert 0.45 <= elapsed < 1.5, got  # the socket's own 0.5 s timeout, not an instant refusal
    assert got["10.1.2.5:444"][0] == "errno111"  # only the dropped port is silent


def test_resolv_conf_and_hosts_are_what_processes_inside_see() -> None:
    with Namespace("proof-etc") as ns:
        ns.create(["10.1.2.5"], "nameserver 10.0.0.4\n", "127.0.0.1 localhost\n10.1.2.5 contoso.openai.azure.com\n")
        code = (
            "import socket; print(open('/etc/resolv.conf').read().strip());"
            "print(socket.getaddrinfo('contoso.openai.azure.com', 443, socket.AF_INET)[0][4][0])"
        )
        proc = ns.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, timeout=20)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["nameserver", "10.0.0.4", "10.1.2.5"]
    # The host's own files were never touched.
    assert "contoso.openai.azure.com" not in Path("/etc/hosts").read_text()


def test_close_removes_namespace_files_and_processes(tmp_path: Path) -> None:
    ns = Namespace("proof-clean")
    try:
        ns.create(["10.1.2.5"], "", "127.0.0.1 localhost\n")
        proc = ns.start(
            [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
            env={"PATH": "/usr/bin:/bin"},
            cwd=str(tmp_path),
            log_dir=tmp_path,
        )
        assert proc.poll() is None
        assert ns.name in _netns_names()
    finally:
        ns.close()
    assert proc.poll() is not None
    assert ns.name not in _netns_names()
    assert not ns.etc.exists()


def test_server_that_never_gets_ready_fails_clearly(tmp_path: Path) -> None:
    with Namespace("proof-notready") as ns:
        ns.create([], "", "127.0.0.1 localhost\n")
        t = time.monotonic()
        with pytest.raises(namespace.NamespaceError, match="did not print 'ready'"):
            ns.start([sys.executable, "-c", "import sys; sys.exit(3)"], {"PATH": "/usr/bin"}, str(tmp_path), tmp_path)
        assert time.monotonic() - t < 5


def test_sweep_removes_namespaces_of_dead_sessions() -> None:
    stale = f"{PREFIX}999999999-1-stale"  # no such pid can exist (pid_max is at most 2^22)
    subprocess.run(["ip", "netns", "add", stale], check=True)
    (namespace.NETNS_ETC / stale).mkdir(parents=True, exist_ok=True)
    try:
        removed = namespace.sweep_stale()
        assert stale in removed
        assert stale not in _netns_names()
        assert not (namespace.NETNS_ETC / stale).exists()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)
