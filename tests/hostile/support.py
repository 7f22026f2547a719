"""The hostile tier's harness: the installed CLI in a child process, its wall time and peak memory, and the checks
every run must pass whatever its peers did (issue 19): on time, bounded memory, a strict and valid JSON report.

Peak RSS is the CLI process's own (`os.wait4` returns the rusage of that one process, see `_SPAWN`), not
RUSAGE_CHILDREN's maximum over every child the test session ever waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from tests.conftest import REPO, guarded_env
from tests.servers import arm_emulator

SCHEMA = json.loads((REPO / "aoai_diag" / "data" / "report.schema.json").read_text())
SLACK_S = 3.0
"""What a run may take past its `--deadline`: interpreter start (~0.3 s), imports of the Azure SDK (~0.7 s) and
rendering, on a shared 2-core CI machine."""
RSS_BOUND_MB = 200
"""Peak resident memory of one run (a healthy Azure run: ~110 MB)."""
KILL_AFTER_S = 40.0
"""A child still running this long is killed (the test then fails on time, not by hanging the suite)."""
# Nothing listens on the discard port of loopback: a machine "off Azure" whose IMDS does not answer.
DEAD_IMDS = "http://127.0.0.1:9"
NAMESERVER = "127.0.0.1:9"
"""The tier's loopback DNS server (set by tests/hostile/conftest.py): the account's names answer at once."""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    elapsed: float
    peak_rss_mb: float

    def report(self) -> dict[str, Any]:
        """The JSON report, parsed strictly (NaN/Infinity refused) and validated against the published schema."""

        def refuse(constant: str) -> Any:
            pytest.fail(f"{constant} in the JSON report: not strict JSON")

        try:
            data = json.loads(self.stdout, parse_constant=refuse)
        except json.JSONDecodeError as exc:
            pytest.fail(f"no JSON report (exit {self.code}): {exc}; stderr: {self.stderr[-400:]}")
        jsonschema.validate(data, SCHEMA)
        return data  # type: ignore[no-any-return]

    def checks(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.report()["targets"][0]["checks"]}


# Started between the test process and the CLI: a child's peak RSS (ru_maxrss) includes what its parent had mapped
# when it forked, and the test process may hold hundreds of MB of fixtures. This small process forks the CLI instead,
# reaps it with wait4 (that one child's rusage) and writes its exit status and peak RSS to the file named first.
_SPAWN = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "aoai_diag", *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, fh)
"""


def cli(*argv: str, env: Mapping[str, str] | None = None) -> Run:
    """Run `python -m aoai_diag ARGV` (as the installed command does) and wait for it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rusage.json"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _SPAWN, str(result), *argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=guarded_env(dict(env or {})),
            cwd=REPO,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its spawner: the test then fails on time
            proc.wait()
        elapsed = time.monotonic() - started
        usage = json.loads(result.read_text()) if result.exists() else {"code": -9, "maxrss_kb": 0}
        out.seek(0)
        err.seek(0)
        return Run(
            code=int(usage["code"]),
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
            elapsed=elapsed,
            peak_rss_mb=usage["maxrss_kb"] / 1024,  # kilobytes on Linux
        )


def local_args(deadline: float = 2.0, timeout: float = 1.0, imds: str = DEAD_IMDS) -> list[str]:
    """A `check contoso -o json` that asks nothing off loopback: no public DNS, the tier's nameserver, an empty
    hosts file, the given IMDS."""
    return [
        "check",
        "contoso",
        "-o",
        "json",
        "--no-public-dns",
        "--resolver",
        NAMESERVER,
        "--hosts-file",
        os.devnull,
        "--imds-endpoint",
        imds,
        "--timeout",
        str(timeout),
        "--deadline",
        str(deadline),
    ]


def assert_bounded(run: Run, deadline: float, rss_mb: float = RSS_BOUND_MB) -> None:
    """Ended within the deadline and the slack, in bounded memory, with one line at most on stderr after the
    progress line and no traceback."""
    print(f"measured: {run.elapsed:.2f} s (deadline {deadline:g} s), peak RSS {run.peak_rss_mb:.0f} MB")  # pytest -s
    assert run.elapsed < deadline + SLACK_S, f"took {run.elapsed:.1f} s with --deadline {deadline}"
    assert run.peak_rss_mb < rss_mb, f"peak RSS {run.peak_rss_mb:.0f} MB (bound {rss_mb} MB)"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr[-2000:]


@dataclass
class ArmLab:
    """An ARM emulator (HTTPS) with its CA, and the CLI options and environment aimed at it."""

    arm: arm_emulator.ArmEmulator
    ca: Path

    def env(self) -> dict[str, str]:
        return {
            "REQUESTS_CA_BUNDLE": str(self.ca),
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_CLIENT_ID": "app-1",
            "AZURE_CLIENT_SECRET": "s3cret",
            "PATH": "",  # no `az`: the client secret is the one credential
        }

    def args(self) -> list[str]:
        return ["--arm-endpoint", self.arm.endpoint, "--authority-host", self.arm.endpoint]

    def authorized(self) -> list[tuple[str, str]]:
        """(method, path) of the requests that carried an Authorization header."""
        with self.arm.lock:
            return list(getattr(self.arm, "authorized", []))


@contextmanager
def arm_lab(topology: dict[str, Any], handler: type | None = None, host: str = "127.0.0.1") -> Iterator[ArmLab]:
    with tempfile.TemporaryDirectory() as tmp:
        ca = Path(tmp) / "ca.pem"
        tls, _ = arm_emulator.make_tls(ca)
        server = arm_emulator.ArmEmulator((host, 0), topology, tls)
        if handler is not None:
            server.RequestHandlerClass = handler
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield ArmLab(server, ca)
        finally:
            arm_emulator.stop(server)
