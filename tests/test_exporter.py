"""`serve`: scraped over loopback like Prometheus does, with concurrent scrapes and a slow target."""

from __future__ import annotations

import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aoai_diag.exporter import ExporterConfig, ProbeServer, make_server, scrape_budget
from tests.conftest import guarded_env
from tests.monitoring_support import Site, fake_getaddrinfo, loopback_site

SLOW_S = 3.0


@contextmanager
def exporter(site: Site, max_concurrent: int = 4, timeout: float = 2.0) -> Iterator[ProbeServer]:
    config = ExporterConfig(settings=site.settings(timeout=timeout), max_concurrent=max_concurrent)
    server = make_server(("127.0.0.1", 0), config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name} {labels} not in exposition")


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    # "slow" stands for an account whose name hangs in the OS resolver (a VPN resolver that never answers)
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo(slow={"slow": SLOW_S}))
    with loopback_site(["contoso", "fabrikam", "slow"]) as s:
        yield s


def test_probe_answers_metrics_for_the_target(site: Site) -> None:
    with exporter(site) as server:
        status, body = get(f"{server.url}/probe?target=contoso")
        assert status == 200
        host = "contoso.openai.azure.com"
        # nothing listens on the site's service port: DNS is private, but the data plane is unreachable
        assert metric(body, "aoai_diag_probe_success", target=host) == 0.0
        assert metric(body, "aoai_diag_check_status", target=host, check="dns_nameservers", status="pass") == 1.0
        assert metric(body, "aoai_diag_resolved_addresses", target=host, **{"class": "private"}) == 1.0
        status, own = get(f"{server.url}/metrics")
        assert status == 200
        assert metric(own, "aoai_diag_exporter_probes_total", result="ok") == 1.0
        assert metric(own, "aoai_diag_exporter_probe_duration_seconds_count") == 1.0


def test_concurrent_scrapes_and_a_slow_target_within_the_scrape_timeout(site: Site) -> None:
    with exporter(site, max_concurrent=8, timeout=5.0) as server:
        header = {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}
        urls = [f"{server.url}/probe?target={t}" for t in ("slow", "contoso", "fabrikam", "contoso")]
        with ThreadPoolExecutor(len(urls)) as pool:
            results = list(pool.map(lambda u: get(u, header), urls))
        # every scrape answered, the slow one (its resolver needs 3 s) cut by the scrape's budget: the run's deadline
        # became the header's 1.5 s less the offset (bench/bounds.py times it)
        for status, body in results:
            assert status == 200, body
        _, slow_body = results[0]
        host = "slow.openai.azure.com"
        # the OS resolver timed out inside the budget: observed (fail) or cut by the deadline (error), never pass
        stuck = sum(
            metric(slow_body, "aoai_diag_check_status", target=host, check="system_resolution", status=st)
            for st in ("fail", "error")
        )
        assert stuck == 1.0
        assert metric(slow_body, "aoai_diag_probe_success", target=host) == 0.0
        _, own = get(f"{server.url}/metrics")
        assert metric(own, "aoai_diag_exporter_probes_total", result="ok") == 4.0
        assert metric(own, "aoai_diag_exporter_probes_in_flight") == 0.0


def test_scrapes_over_the_limit_get_503_at_once(site: Site) -> None:
    with exporter(site, max_concurrent=1, timeout=5.0) as server:
        header = {"X-Prometheus-Scrape-Timeout-Seconds": "2"}
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(get, f"{server.url}/probe?target=slow", header)
            wait_until_in_flight(server.url, 1)
            status, body = get(f"{server.url}/probe?target=contoso", header)
            assert status == 503 and "too many concurrent probes" in body
            # answered while the first still runs: refused at once, not queued behind it
            assert not first.done()
            assert first.result()[0] == 200
        _, own = get(f"{server.url}/metrics")
        assert metric(own, "aoai_diag_exporter_probes_total", result="rejected") == 1.0


def test_connections_are_handled_at_once_up_to_the_worker_limit_then_queued(site: Site) -> None:
    # Below the limit, a second request never waits behind a long first one; at the limit it waits in the queue
    # and the worker that finishes takes it.
    server = make_server(("127.0.0.1", 0), ExporterConfig(settings=site.settings(), max_concurrent=1))
    release = threading.Event()
    handled: list[str] = []
    server.finish_request = lambda request, address: (handled.append(request), release.wait(5))  # type: ignore[method-assign,assignment]
    server.shutdown_request = lambda request: None  # type: ignore[method-assign]
    try:
        server.process_request("first", ("127.0.0.1", 1))
        server.process_request("second", ("127.0.0.1", 2))
        give_up = time.monotonic() + 2.0
        while len(handled) < 2 and time.monotonic() < give_up:
            time.sleep(0.01)
        assert sorted(handled) == ["first", "second"]  # both at once, not the second after the first's 5 s
        release.set()
        while server._handling and time.monotonic() < give_up + 2:
            time.sleep(0.01)
        assert server._handling == 0

        release.clear()
        handled.clear()
        server.max_workers = 1
        server.process_request("third", ("127.0.0.1", 3))
        server.process_request("fourth", ("127.0.0.1", 4))
        give_up = time.monotonic() + 2.0
        while not handled and time.monotonic() < give_up:
            time.sleep(0.01)
        time.sleep(0.05)
        assert handled == ["third"], "the fourth connection went past the worker limit"
        release.set()
        while len(handled) < 2 and time.monotonic() < give_up + 2:
            time.sleep(0.01)
        assert handled == ["third", "fourth"]
    finally:
        release.set()
        server.server_close()


def wait_until_in_flight(url: str, count: int, within: float = 5.0) -> None:
    """Synchronise on the exporter's own gauge instead of sleeping: `count` probes hold a slot now."""
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        if metric(get(f"{url}/metrics")[1], "aoai_diag_exporter_probes_in_flight") == count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{count} probe(s) never in flight within {within} s")


@pytest.mark.parametrize(
    ("query", "needle"),
    [("", "missing"), ("target=", "missing"), ("target=a&target=b", "more than once"), ("target=10.0.0.5", "IP address"),
     ("target=https://u:p@contoso.openai.azure.com", "user information"), ("target=bad_name!", "not a valid DNS label")],
)  # fmt: skip
def test_bad_target_is_400_with_one_line(site: Site, query: str, needle: str) -> None:
    with exporter(site) as server:
        status, body = get(f"{server.url}/probe?{query}")
    assert status == 400
    assert needle in body and body.count("\n") == 1
    assert ":p@" not in body


def test_unknown_path_is_404(site: Site) -> None:
    with exporter(site) as server:
        assert get(f"{server.url}/nope")[0] == 404
        assert get(f"{server.url}/-/healthy") == (200, "OK\n")


def test_scrape_budget_honours_the_header() -> None:
    from aoai_diag.context import Settings

    settings = Settings(timeout=5.0)  # run deadline 10 s
    assert scrape_budget(None, settings, 0.5) == 10.0
    assert scrape_budget("4", settings, 0.5) == 3.5
    assert scrape_budget("0.6", settings, 0.5) == pytest.approx(0.3)
    assert scrape_budget("junk", settings, 0.5) == 10.0
    assert scrape_budget("60", settings, 0.5) == 10.0


def test_serve_command_binds_loopback_by_default_and_answers() -> None:
    # The CLI, unmodified, in a guarded subprocess: listen on a free port, scrape /metrics, stop.
    proc = subprocess.Popen(
        [sys.executable, "-m", "aoai_diag", "serve", "--listen", "127.0.0.1:0", "--no-azure"],
        stderr=subprocess.PIPE,
        text=True,
        env=guarded_env(),
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ", 1)[1].split()[0]
        status, body = get(f"{url}/metrics")
        assert status == 200 and "aoai_diag_exporter_probes_total" in body
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_serve_default_listen_is_loopback() -> None:
    from aoai_diag.exporter import DEFAULT_LISTEN, is_loopback

    assert is_loopback(DEFAULT_LISTEN[0])


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def _client(kind: str, port: int) -> socket.socket | None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if kind == "slow":  # half a request line, then nothing: holds a worker until the read timeout
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        return sock
    if kind == "silent":  # connects and never sends a byte
        return sock
    # aborted: a whole request, then a reset before the answer is read (the server's write fails)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to count threads")
def test_serve_stays_healthy_under_a_burst_of_slow_and_aborted_clients() -> None:
    # The installed CLI, on loopback: 240 clients (slow, silent, aborting) at once; a worker per connection
    # would mean 240 threads and a traceback per reset.
    read_timeout, max_concurrent = 1.0, 2
    proc = subprocess.Popen(
        [sys.executable, "-m", "aoai_diag", "serve", "--listen", "127.0.0.1:0", "--no-azure", "--log-requests",
         "--max-concurrent", str(max_concurrent), "--read-timeout", str(read_timeout)],
        stderr=subprocess.PIPE, text=True, env=guarded_env(),
    )  # fmt: skip
    held: list[socket.socket] = []
    peak = 0
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = line.split("listening on ", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        for i in range(240):
            sock = _client(("slow", "silent", "aborted")[i % 3], port)
            if sock is not None:
                held.append(sock)
            if i % 20 == 0:
                peak = max(peak, _threads(proc.pid))
        # while the slow clients still hold their sockets, the exporter answers once their time is up
        status, body = 0, ""
        give_up = time.monotonic() + 4 * read_timeout + 5
        while time.monotonic() < give_up:
            peak = max(peak, _threads(proc.pid))
            try:
                status, body = get(f"{url}/metrics", timeout=2)
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, "/metrics did not answer after the burst"
        assert metric(body, "aoai_diag_exporter_connections_dropped_total", reason="timeout") >= 1
        assert metric(body, "aoai_diag_exporter_probes_total", result="ok") == 0.0
        # a /probe still runs (bad target: answered at once, no network)
        assert get(f"{url}/probe?target=10.0.0.5", timeout=5)[0] == 400
        peak = max(peak, _threads(proc.pid))
    finally:
        for sock in held:
            sock.close()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # connection workers (--max-concurrent + 8), the accept loop, the checks' executor work and the main thread;
    # never one per connection
    assert peak <= max_concurrent + 8 + 4, peak
    assert "Traceback" not in err and "Exception" not in err, err[:2000]
    # one line per event (a request, a timeout, a disconnect), then the CLI's own line for Ctrl-C
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "aoai-diag: interrupted"
    strays = [line for line in lines[:-1] if not line.startswith("aoai-diag serve: 127.0.0.1 ")]
    assert not strays, strays[:5]
    assert proc.returncode == 130


def test_a_client_trickling_its_request_is_cut_at_the_read_timeout() -> None:
    # One byte every 0.1 s never trips a per-read timeout; the watchdog bounds the whole request instead.
    from aoai_diag.context import Settings

    # 1 s: ten times the gap between bytes, so a busy machine's scheduling delays stay below the per-read timeout
    # and only the watchdog can end the request.
    config = ExporterConfig(settings=Settings(azure=False, env={}), read_timeout=1.0)
    server = make_server(("127.0.0.1", 0), config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
            cut = False
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x" * 8:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    cut = True
                    break
                readable, _, _ = select.select([sock], [], [], 0.1)
                if readable and not sock.recv(4096):
                    cut = True
                    break
        assert cut, "the server kept reading a request that never ends"
        _, own = get(f"{server.url}/metrics")
        assert metric(own, "aoai_diag_exporter_connections_dropped_total", reason="timeout") >= 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_closing_server_writes_no_more_lines(capsys: pytest.CaptureFixture[str]) -> None:
    # Workers may still finish connections while `serve` closes; nothing they log may follow the CLI's last line.
    from aoai_diag.context import Settings

    server = make_server(("127.0.0.1", 0), ExporterConfig(settings=Settings(), log=True))
    try:
        server.log("127.0.0.1 disconnected: BrokenPipeError")
        server.stop_logging()
        server.log("127.0.0.1 disconnected: ConnectionResetError")
    finally:
        server.server_close()
    assert capsys.readouterr().err.splitlines() == ["aoai-diag serve: 127.0.0.1 disconnected: BrokenPipeError"]
