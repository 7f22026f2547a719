"""`aoai-diag serve`: a small exporter in the style of Prometheus' blackbox_exporter.

`GET /probe?target=contoso` runs one check and answers its metrics (render/prometheus.py); `GET /metrics` answers
the exporter's own. Like blackbox_exporter (https://github.com/prometheus/blackbox_exporter, prober/handler.go), a
scrape keeps inside Prometheus' scrape timeout: the `X-Prometheus-Scrape-Timeout-Seconds` header, minus a small
offset, becomes the run's deadline. Concurrent probes are bounded; one more is answered 503 at once rather than
queued, so a slow target cannot pile up threads. It binds to loopback unless told otherwise.

It runs on the tool's one model: an asyncio loop runs the checks (aoai_diag/engine.py) and the watchdog; the
blocking HTTP handling of the standard library's server runs in the one executor (aoai_diag/blocking.py).
Under abuse it stays up: at most `max_concurrent + EXTRA_WORKERS` connections are handled at once with a bounded
queue behind them (beyond that a connection gets a short 503 and is closed), a client has `read_timeout` seconds to
send its request (a watchdog cuts one that trickles it in), a client that goes away costs one log line at most (with --log-requests),
and every body and log line passes through redact.py.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aoai_diag import blocking
from aoai_diag.checks.base import Probe
from aoai_diag.context import Settings, parse_endpoint
from aoai_diag.errors import first_line, one_line
from aoai_diag.redact import redact_report, redact_text
from aoai_diag.targets import TargetError, parse_target

T = TypeVar("T")

DEFAULT_LISTEN = ("127.0.0.1", 9877)
DEFAULT_MAX_CONCURRENT = 4
# blackbox_exporter's --timeout-offset default: time kept for rendering and the network back to Prometheus.
DEFAULT_TIMEOUT_OFFSET = 0.5
MIN_DEADLINE = 0.2
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
DEFAULT_READ_TIMEOUT = 10.0
# Worker threads beyond the probe slots, so /metrics and bad requests are served while every slot runs a check.
EXTRA_WORKERS = 8
# Accepted connections waiting for a worker; beyond that a connection is answered 503 and closed at once.
BACKLOG = 64


@dataclass(frozen=True)
class ExporterConfig:
    settings: Settings
    """Settings from `serve`'s options; each scrape narrows the deadline to the scrape timeout."""
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    timeout_offset: float = DEFAULT_TIMEOUT_OFFSET
    probes: Sequence[Probe] | None = None
    """None means the registry (aoai_diag.checks.PROBES)."""
    log: bool = False
    """Log one line per request to stderr."""
    read_timeout: float = DEFAULT_READ_TIMEOUT
    """Seconds a client has to send its request line and headers (and for each later read or write)."""


def scrape_budget(header: str | None, settings: Settings, offset: float) -> float:
    """Seconds one /probe may run: the configured deadline, cut to the scrape timeout minus `offset`."""
    budget = settings.run_deadline
    if header:
        try:
            limit = float(header)
        except ValueError:
            limit = 0.0
        if limit > 0:
            # A tiny scrape timeout would leave nothing after the offset; keep at least half of it.
            budget = min(budget, max(limit - offset, limit / 2))
    return max(MIN_DEADLINE, budget)


class ExporterMetrics:
    """The exporter's own metrics (GET /metrics)."""

    def __init__(self) -> None:
        from prometheus_client import ProcessCollector

        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(namespace="aoai_diag_exporter", registry=self.registry)
        self.probes = Counter(
            "aoai_diag_exporter_probes",
            "Probe requests by result: ok, bad_request, rejected (concurrency limit), error.",
            ("result",),
            registry=self.registry,
        )
        for result in ("ok", "bad_request", "rejected", "error"):
            self.probes.labels(result=result)
        self.duration = Histogram(
            "aoai_diag_exporter_probe_duration_seconds",
            "Wall time of /probe requests that ran a check.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
            registry=self.registry,
        )
        self.in_flight = Gauge("aoai_diag_exporter_probes_in_flight", "Checks running now.", registry=self.registry)
        resolver = Gauge(
            "aoai_diag_exporter_resolver_calls_running",
            "System resolver (getaddrinfo) calls not returned yet, abandoned ones included; at "
            f"{blocking.RESOLVER.limit} a check's lookup is refused as 'system resolver busy' instead of waiting.",
            registry=self.registry,
        )
        resolver.set_function(lambda: blocking.RESOLVER.in_flight)
        threads = Gauge(
            "aoai_diag_exporter_worker_threads",
            f"Threads of the one executor for blocking calls (at most {blocking.MAX_THREADS}).",
            registry=self.registry,
        )
        threads.set_function(lambda: len(blocking.executor()._threads))
        self.limit = Gauge(
            "aoai_diag_exporter_max_concurrent_probes", "Concurrent checks allowed.", registry=self.registry
        )
        self.dropped = Counter(
            "aoai_diag_exporter_connections_dropped",
            "Connections closed without an answer to a request: busy (every worker and queue slot taken), "
            "timeout (no complete request within --read-timeout, idle keep-alive included), gone (client left).",
            ("reason",),
            registry=self.registry,
        )
        for reason in ("busy", "timeout", "gone"):
            self.dropped.labels(reason=reason)


class Watchdog:
    """Cuts connections whose request has not arrived by its deadline (a per-read timeout alone lets a client
    that sends one byte at a time hold a worker forever). One coroutine on the server's loop for all connections."""

    def __init__(self, on_cut: Any = None, tick: float = 0.1) -> None:
        self._deadlines: dict[socket.socket, float] = {}
        self._lock = threading.Lock()  # armed and disarmed from the connections' workers, read by the loop
        self._tick = tick
        self._on_cut = on_cut

    def arm(self, conn: socket.socket, seconds: float) -> None:
        """Cut `conn` in `seconds` unless disarmed; a deadline already running is kept (it started at accept)."""
        with self._lock:
            self._deadlines.setdefault(conn, time.monotonic() + seconds)

    def disarm(self, conn: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(conn, None)

    async def watch(self) -> None:
        """Until cancelled: every tick, cut what is overdue."""
        while True:
            await asyncio.sleep(self._tick)
            self.cut_overdue(time.monotonic())

    def cut_overdue(self, now: float) -> None:
        with self._lock:
            overdue = [c for c, t in self._deadlines.items() if t <= now]
            for conn in overdue:
                del self._deadlines[conn]
        for conn in overdue:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the worker's blocked read returns at once
            except OSError:
                pass
            if self._on_cut:
                self._on_cut()


class ProbeServer(HTTPServer):
    """HTTPServer on the process's one model: `serve_forever` runs the asyncio loop that runs every check; the
    accept loop and each connection's blocking request handling run in the one executor (aoai_diag/blocking.py),
    at most `max_workers` connections at once, a bounded queue behind them, and a short 503 beyond that."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, listen: tuple[str, int], config: ExporterConfig) -> None:
        host = listen[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.config = config
        self.metrics = ExporterMetrics()
        self.metrics.limit.set(config.max_concurrent)
        self.slots = threading.BoundedSemaphore(config.max_concurrent)
        # Half the executor at most: the other half stays for the checks' own blocking work.
        self.max_workers = min(config.max_concurrent + EXTRA_WORKERS, blocking.MAX_THREADS // 2)
        self._waiting: collections.deque[tuple[Any, Any]] = collections.deque()
        self._handling = 0  # connections being handled now, each in a worker of the executor
        self._pool_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watchdog = Watchdog(on_cut=lambda: self.metrics.dropped.labels(reason="timeout").inc())
        self._log_lock = threading.Lock()
        self._logging = True
        super().__init__(listen, ProbeHandler)

    def log(self, text: str) -> None:
        """One line on stderr, unless the server is closing: a worker still finishing a connection must not write
        after the CLI's last line ("aoai-diag: interrupted")."""
        with self._log_lock:
            if self._logging:
                log_line(text)

    def stop_logging(self) -> None:
        with self._log_lock:  # a line being written ends first
            self._logging = False

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Run the loop (checks, the watchdog) in this thread until `shutdown()`; accept in a worker."""
        blocking.run(self._serve(poll_interval))

    async def _serve(self, poll_interval: float) -> None:
        self.loop = asyncio.get_running_loop()
        watching = asyncio.ensure_future(self.watchdog.watch())
        try:
            await blocking.in_thread(HTTPServer.serve_forever, self, poll_interval)
        finally:
            watching.cancel()

    def run_check(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on the server's loop from a connection's worker; its result within `timeout` seconds."""
        if self.loop is None:
            coro.close()
            raise RuntimeError("the exporter's loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def process_request(self, request: Any, client_address: Any) -> None:
        # The clock starts at accept: a connection waiting in the queue uses up its own time, not a worker's.
        self.watchdog.arm(request, self.config.read_timeout)
        with self._pool_lock:
            if self._handling < self.max_workers:
                self._handling += 1
                start = True
            elif len(self._waiting) < BACKLOG:
                self._waiting.append((request, client_address))
                return
            else:
                start = False
        if not start:
            self.metrics.dropped.labels(reason="busy").inc()
            self.watchdog.disarm(request)
            self._refuse(request)
            return
        blocking.executor().submit(self._work, request, client_address)

    def _refuse(self, request: Any) -> None:
        """A short 503 without waiting for the request (the client may be the one flooding us), then close."""
        body = b"busy: too many connections\n"
        head = f"HTTP/1.1 503 Service Unavailable\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        try:
            request.setblocking(False)
            request.send(head.encode("ascii") + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def _work(self, request: Any, client_address: Any) -> None:
        """Handle this connection, then the queued ones, while there are any (this worker's turn)."""
        while True:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.watchdog.disarm(request)
                self.shutdown_request(request)
            with self._pool_lock:
                if not self._waiting:
                    self._handling -= 1
                    return
                request, client_address = self._waiting.popleft()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line at most, never socketserver's traceback: a client that went away is not the exporter's fault."""
        exc = sys.exc_info()[1]
        host = client_address[0] if isinstance(client_address, tuple) else client_address
        if isinstance(exc, ConnectionError | TimeoutError):
            self.metrics.dropped.labels(reason="gone").inc()
            if self.config.log:
                self.log(f"{host} disconnected: {type(exc).__name__}")
            return
        self.log(f"{host} error: {one_line(exc) if exc else 'unknown'}")

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang for
        # seconds on a machine without reachable DNS.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    @property
    def url(self) -> str:
        # server_name, not server_address[0]: typeshed types the latter str | bytes (AF_UNIX paths).
        host = self.server_name
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port}"


def log_line(text: str) -> None:
    """One redacted line on stderr; a stderr that is gone must not take the exporter with it."""
    try:
        sys.stderr.write(redact_text(f"aoai-diag serve: {text}").replace("\n", " ") + "\n")
        sys.stderr.flush()
    except Exception:  # nothing left to report to
        pass


class ProbeHandler(BaseHTTPRequestHandler):
    server: ProbeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # Every read and write on the connection is bounded too (a client that never reads its answer).
        # typeshed declares `timeout` a ClassVar; socketserver reads it from the instance.
        self.timeout = self.server.config.read_timeout  # type: ignore[misc]
        super().setup()

    def handle_one_request(self) -> None:
        # The request line and headers must arrive within read_timeout in total; do_GET disarms once they have.
        self.server.watchdog.arm(self.connection, self.server.config.read_timeout)
        try:
            super().handle_one_request()
        finally:
            self.server.watchdog.disarm(self.connection)

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds the raw query (a target may carry user:password@, percent-encoded): redacted.
        if self.server.config.log:
            self.server.log(f"{self.address_string()} {format % args}")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server quotes the raw request line in its error pages.
        super().send_error(
            code, redact_text(message) if message else message, redact_text(explain) if explain else explain
        )

    def _send(self, code: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = redact_text(body).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.server.watchdog.disarm(self.connection)
        parts = urlsplit(self.path)
        if parts.path == "/probe":
            self._probe(parse_qs(parts.query))
        elif parts.path == "/metrics":
            self._send(200, generate_latest(self.server.metrics.registry).decode("utf-8"), CONTENT_TYPE_LATEST)
        elif parts.path == "/-/healthy":
            self._send(200, "OK\n")
        elif parts.path == "/":
            self._send(
                200,
                "aoai-diag exporter\n\nGET /probe?target=NAME   run a check, answer its metrics\n"
                "GET /metrics             the exporter's own metrics\n",
            )
        else:
            self._send(404, f"not found: {parts.path}\n")

    def _probe(self, query: dict[str, list[str]]) -> None:
        server = self.server
        metrics = server.metrics
        values = query.get("target", [])
        if len(values) != 1 or not values[0].strip():
            metrics.probes.labels(result="bad_request").inc()
            self._send(400, "target parameter is missing or given more than once\n")
            return
        try:
            target = parse_target(values[0], server.config.settings.cloud)
        except TargetError as exc:
            metrics.probes.labels(result="bad_request").inc()
            self._send(400, f"{redact_text(first_line(str(exc)))}\n")
            return
        if not server.slots.acquire(blocking=False):
            metrics.probes.labels(result="rejected").inc()
            self._send(503, f"too many concurrent probes (limit {server.config.max_concurrent}); try again\n")
            return
        started = time.monotonic()
        metrics.in_flight.inc()
        try:
            budget = scrape_budget(
                self.headers.get(SCRAPE_TIMEOUT_HEADER), server.config.settings, server.config.timeout_offset
            )
            settings = dataclasses.replace(
                server.config.settings, deadline=budget, timeout=min(server.config.settings.timeout, budget)
            )
            from aoai_diag.render.prometheus import render_prometheus
            from aoai_diag.runner import check, run_bound

            run = check([target], settings, probes=server.config.probes)
            report = redact_report(server.run_check(run, run_bound(1, 1, budget) + 1.0))
            body = render_prometheus(report, duration_s=time.monotonic() - started)
        except Exception as exc:  # a bug must not kill the exporter: answer 500 with one line
            metrics.probes.labels(result="error").inc()
            self._send(500, f"check failed: {one_line(exc)}\n")
            return
        finally:
            metrics.in_flight.dec()
            server.slots.release()
            metrics.duration.observe(time.monotonic() - started)
        metrics.probes.labels(result="ok").inc()
        self._send(200, body, CONTENT_TYPE_LATEST)


def parse_listen(text: str) -> tuple[str, int]:
    """`IP:PORT`, `[IPv6]:PORT` or `IP` (port 9877); port 0 picks a free port. Raises ValueError."""
    return parse_endpoint(text, default_port=DEFAULT_LISTEN[1], min_port=0)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(listen: tuple[str, int], config: ExporterConfig) -> ProbeServer:
    """A bound server (port 0 picks a free port); call serve_forever() on it. Raises OSError."""
    return ProbeServer(listen, config)


def serve(listen: tuple[str, int], config: ExporterConfig) -> None:
    """Serve until interrupted; tells stderr where it listens."""
    server = make_server(listen, config)
    if not is_loopback(listen[0]):
        sys.stderr.write(
            f"aoai-diag serve: listening on non-loopback {listen[0]}: anyone who reaches it can trigger checks\n"
        )
    sys.stderr.write(f"aoai-diag serve: listening on {server.url} (GET /probe?target=NAME, GET /metrics)\n")
    sys.stderr.flush()
    try:
        # Ctrl-C propagates: the CLI exits 130 (interrupted), as every command does.
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stop_logging()
        server.server_close()
