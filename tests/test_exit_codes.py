"""Every row of the README's exit-code table, through the installed CLI in a subprocess (CliRunner would swallow
exceptions and tracebacks), plus the streams: one line at most on stderr, no traceback, no ANSI colour where the
terminal cannot show it."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aoai_diag.exit_status import ExitStatus
from tests.conftest import FIXTURES, REPO, guarded_env

BUNDLES = FIXTURES / "bundles"
README = (REPO / "README.md").read_text()


def cli() -> list[str]:
    script = Path(sys.executable).with_name("aoai-diag")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aoai_diag"]


def run(*argv: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), *argv], capture_output=True, text=True, env=env or guarded_env(), timeout=60, check=False, **kwargs
    )  # type: ignore[call-overload,no-any-return]


def assert_clean_stderr(stderr: str, lines: int = 1) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) <= lines, stderr


def inconclusive_bundle(tmp_path: Path) -> Path:
    # The private path could not be proven: the data-plane probe errored (a deadline), no cause is named.
    data = json.loads((BUNDLES / "healthy.json").read_text())
    for check in data["targets"][0]["checks"]:
        if check["id"] == "https_dataplane":
            check["status"], check["summary"], check["reason"] = "error", "did not finish before the deadline", "t"
    path = tmp_path / "inconclusive.json"
    path.write_text(json.dumps(data))
    return path


def test_readme_table_lists_every_exit_status() -> None:
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README, re.M))
    assert {int(code) for code in table} == {int(s) for s in ExitStatus}, table


def test_0_healthy() -> None:
    proc = run("analyze", str(BUNDLES / "healthy.json"))
    assert proc.returncode == ExitStatus.HEALTHY == 0
    assert_clean_stderr(proc.stderr)


def test_1_unhealthy() -> None:
    proc = run("analyze", str(BUNDLES / "firewall-blocks-443.json"), "-o", "json")
    assert proc.returncode == ExitStatus.UNHEALTHY == 1
    assert json.loads(proc.stdout)["verdict"] == "unhealthy"


@pytest.mark.parametrize(
    "argv",
    [["check", "10.0.0.5"], ["check", "contoso", "--timeout", "nan"], ["check", "contoso", "--deadline", "inf"],
     ["check", "contoso", "--imds-endpoint", "notaurl"], ["check", "contoso", "--arm-endpoint", "ftp://x"],
     ["check", "contoso", "--authority-host", "::::"], ["check", "https://contoso.openai.azure.com:8443/"],
     ["collect", "contoso", "-o", "/dev/null"], ["analyze", "/nonexistent/bundle.json"], ["nosuch"]],
)  # fmt: skip
def test_2_usage(argv: list[str]) -> None:
    proc = run(*argv)
    assert proc.returncode == ExitStatus.USAGE == 2, proc.stderr
    assert proc.stdout == ""
    assert_clean_stderr(proc.stderr)


def test_3_inconclusive(tmp_path: Path) -> None:
    proc = run("analyze", str(inconclusive_bundle(tmp_path)), "-o", "json")
    assert proc.returncode == ExitStatus.INCONCLUSIVE == 3
    assert json.loads(proc.stdout)["verdict"] == "inconclusive"


def test_4_internal_error_is_one_line_through_the_real_entry_point() -> None:
    # A bug planted in a renderer (the only way to reach this row without shipping one), then the console
    # script's own entry point, aoai_diag.cli:console.
    code = (
        "import sys\n"
        "import aoai_diag.render.json_report as j\n"
        "def boom(*a, **k):\n    raise KeyError('planted bug')\n"
        "j.render_json = boom\n"
        f"sys.argv = ['aoai-diag', 'analyze', {str(BUNDLES / 'healthy.json')!r}, '-o', 'json']\n"
        "from aoai_diag.cli import console\nconsole()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=guarded_env(), timeout=60, check=False
    )
    assert proc.returncode == ExitStatus.INTERNAL == 4
    assert "internal error: KeyError" in proc.stderr
    assert_clean_stderr(proc.stderr, lines=2)  # the "analysing ..." note, then the error


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["causes"], ["analyze", str(BUNDLES / "healthy.json"), "-o", "json"]])
def test_5_output_failed_on_a_full_disk(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*cli(), *argv], stdout=full, stderr=subprocess.PIPE, text=True, env=guarded_env(), timeout=60, check=False
        )
    assert proc.returncode == ExitStatus.OUTPUT_FAILED == 5
    assert "cannot write to stdout: No space left on device" in proc.stderr
    assert "internal error" not in proc.stderr
    assert_clean_stderr(proc.stderr, lines=2)


def test_5_collect_cannot_write_its_bundle(tmp_path: Path) -> None:
    # The folder was writable when checked before the run, and is gone when the bundle is written.
    folder = tmp_path / "gone"
    folder.mkdir()
    code = (
        "import os, shutil, sys\n"
        "import aoai_diag.runner as r\n"
        "real = r.run_check\n"
        f"def run_check(*a, **k):\n    shutil.rmtree({str(folder)!r})\n    return real(*a, **k)\n"
        "r.run_check = run_check\n"
        f"sys.argv = ['aoai-diag', 'collect', 'contoso', '-o', {str(folder / 'b.json')!r}, '--no-azure',"
        " '--no-public-dns', '--resolver', '127.0.0.1:9', '--timeout', '0.2']\n"
        "from aoai_diag.cli import console\nconsole()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=guarded_env(), timeout=60, check=False
    )
    assert proc.returncode == ExitStatus.OUTPUT_FAILED, proc.stderr
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_130_ctrl_c_during_a_check() -> None:
    # A nameserver that never answers keeps the run busy; Ctrl-C must end it at once with 130, not 1.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    host, port = silent.getsockname()
    proc = subprocess.Popen(
        [*cli(), "check", "contoso", "--resolver", f"{host}:{port}", "--no-public-dns", "--no-azure",
         "--imds-endpoint", "http://127.0.0.1:9", "--timeout", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=guarded_env(),
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert "checking" in proc.stderr.readline()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        # The silent nameserver holds the run for its 20 s timeout, so only the interrupt can end it within the
        # 15 s allowed here (TimeoutExpired fails the test); 130 says it was the interrupt that ended it.
        out, err = proc.communicate(timeout=15)
    finally:
        silent.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitStatus.INTERRUPTED == 130
    assert "interrupted" in err and out == ""
    assert_clean_stderr(err)


def test_130_ctrl_c_stops_serve() -> None:
    proc = subprocess.Popen(
        [*cli(), "serve", "--listen", "127.0.0.1:0", "--no-azure"], stderr=subprocess.PIPE, text=True, env=guarded_env()
    )
    assert proc.stderr is not None
    assert "listening on" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert_clean_stderr(err)


@pytest.mark.parametrize(("output", "expected"), [("json", 141), ("table", 141), ("nagios", 3)])
def test_141_closed_pipe_exits_quietly_without_a_verdict(output: str, expected: int) -> None:
    # Under -o nagios every run without a verdict is UNKNOWN (3), the plugin state a monitor reads.
    # The reader is gone before anything is written (`| head -c0`): deterministic, no race with the reader.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [*cli(), "analyze", str(BUNDLES / "healthy.json"), "-o", output],
            stdout=write_end, stderr=subprocess.PIPE, text=True, env=guarded_env(), timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.returncode == expected
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr and "Broken" not in proc.stderr


def test_nagios_gets_unknown_for_a_usage_error() -> None:
    proc = run("check", "contoso", "--timeout", "nan", "-o", "nagios")
    assert proc.returncode == 3  # UNKNOWN, never CRITICAL (2) for bad input
    proc = run("analyze", "/nonexistent.json", "-o", "nagios")
    assert proc.returncode == 3


def test_collect_exits_0_once_written(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    proc = run(
        "collect", "contoso", "-o", str(path), "--no-azure", "--no-public-dns",
        "--resolver", "127.0.0.1:9", "--imds-endpoint", "http://127.0.0.1:9", "--timeout", "0.3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(path.read_text())["bundle_version"]


def _run_on_a_terminal(argv: list[str], env: dict[str, str]) -> str:
    """stdout of the CLI when it is a terminal (a pseudo-terminal the test reads)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*cli(), *argv], stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(30)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(
    ("extra", "coloured"), [({"TERM": "xterm"}, True), ({"TERM": "dumb"}, False), ({"TERM": "xterm", "NO_COLOR": "1"}, False)]
)  # fmt: skip
def test_colour_only_on_a_terminal_that_shows_it(extra: dict[str, str], coloured: bool) -> None:
    env = guarded_env(extra)
    if "NO_COLOR" not in extra:
        env.pop("NO_COLOR", None)
    text = _run_on_a_terminal(["analyze", str(BUNDLES / "healthy.json")], env)
    assert "HEALTHY" in text
    assert ("\x1b[" in text) is coloured


def test_no_colour_when_stdout_is_not_a_terminal() -> None:
    proc = run("analyze", str(BUNDLES / "healthy.json"), env=guarded_env({"TERM": "xterm"}))
    assert "HEALTHY" in proc.stdout and "\x1b[" not in proc.stdout


@pytest.mark.parametrize("entry", ["console", "run"])
def test_the_console_entry_point_keeps_the_code_and_skips_the_interpreter_shutdown(entry: str) -> None:
    # `console` (the installed command) leaves through os._exit once `run` has flushed the output: the code and
    # the output are those of `run`, and the interpreter's shutdown (which took ~0.16 s after an Azure SDK run)
    # does not happen. `run` itself ends with SystemExit, for callers in the same process.
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('interpreter shutdown ran', file=sys.stderr))\n"
        f"sys.argv = ['aoai-diag', 'analyze', {str(BUNDLES / 'healthy.json')!r}, '-o', 'nagios']\n"
        f"from aoai_diag.cli import {entry}\n{entry}()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=guarded_env(), timeout=60, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("AOAI-DIAG OK")
    assert ("interpreter shutdown ran" in proc.stderr) is (entry == "run")
