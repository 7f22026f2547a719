"""Numbers read off a finished TargetReport, shared by the Prometheus and Nagios renderers.

Everything here reads the probes' typed evidence (aoai_diag/evidence); a check that did not run (skip/error) or
evidence without a number (a field at its default None) simply yields no number, never a made-up zero.
"""

from __future__ import annotations

import math
import ssl
from datetime import datetime, timezone

from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.path import HttpAttempt, HttpsDataplane, TcpConnect, TlsHandshake
from aoai_diag.model import CheckResult, Status, TargetReport

PHASES = ("dns", "connect", "tls", "http")
"""Phases of the data-plane path, in order (blackbox_exporter's probe_http_duration_seconds{phase})."""

ADDRESS_CLASSES = ("private", "public", "link_local")
DATA_PATHS = ("private", "public", "proxy", "none")
"""How the application path reached the service: over a private address, a public one, through a proxy, or not."""

_OBSERVED = (Status.PASS, Status.FAIL, Status.WARN)


def _checks(target: TargetReport) -> dict[str, CheckResult]:
    return {c.id: c for c in target.checks}


def finite(value: float | None) -> float | None:
    """A finite number, or None: a metric must never read NaN or Inf (live evidence is not validated like a bundle:
    a probe's dataclass takes whatever number it is given)."""
    if value is None:
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _app_attempt(check: CheckResult | None) -> HttpAttempt | None:
    """The https_dataplane attempt an application would make (`app_path`), if recorded."""
    if check is None:
        return None
    data = check.typed(HttpsDataplane)
    return next((a for a in data.attempts if a.via == data.app_path), None)


def phase_seconds(target: TargetReport) -> dict[str, float]:
    """Seconds per phase for the phases whose check observed something.

    dns: the OS resolver (what applications get); connect: the fastest successful connect; tls: the handshake
    check; http: the application-path request. A phase falls back to its check's wall time when the evidence
    holds no finer number.
    """
    checks = _checks(target)
    out: dict[str, float | None] = {}
    dns = checks.get("system_resolution")
    if dns is not None and dns.status in _OBSERVED:
        out["dns"] = finite(dns.duration_ms)
    connect = checks.get("tcp_connect")
    if connect is not None and connect.status in _OBSERVED:
        times = [
            ms
            for a in connect.typed(TcpConnect).attempts
            if a.outcome == "connected" and (ms := finite(a.connect_ms)) is not None
        ]
        out["connect"] = min(times) if times else finite(connect.duration_ms)
    tls = checks.get("tls_handshake")
    if tls is not None and tls.status in _OBSERVED:
        out["tls"] = finite(tls.duration_ms)
    http = checks.get("https_dataplane")
    if http is not None and http.status in _OBSERVED:
        attempt = _app_attempt(http)
        ms = finite(attempt.elapsed_ms) if attempt is not None else None
        out["http"] = ms if ms is not None else finite(http.duration_ms)
    return {phase: ms / 1000.0 for phase, ms in out.items() if ms is not None}


def resolved_address_classes(target: TargetReport) -> dict[str, int] | None:
    """Count of the primary host's addresses per class, as the OS resolver returned them; None if not resolved."""
    check = _checks(target).get("system_resolution")
    if check is None or check.status not in _OBSERVED:
        return None
    data = check.typed(SystemResolution)
    counts = dict.fromkeys(ADDRESS_CLASSES, 0)
    for address in data.addresses:
        cls = data.address_classes.get(address)
        if cls in counts:
            counts[cls] += 1
    return counts


def data_path(target: TargetReport) -> str | None:
    """`private` / `public` / `proxy` when the service answered on the application path, `none` when it did not;
    None when the data-plane check did not run (nothing observed)."""
    check = _checks(target).get("https_dataplane")
    if check is None or check.status not in _OBSERVED:
        return None
    attempt = _app_attempt(check)
    if attempt is None or attempt.outcome != "response":
        return "none"
    if attempt.via == "proxy":
        return "proxy"
    cls = attempt.address_class
    return cls if cls in ("private", "public") else "none"


def parse_not_after(value: str | None) -> float | None:
    """Unix seconds of a certificate's notAfter: ISO 8601 or OpenSSL's `Jun  1 12:00:00 2030 GMT`."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return float(ssl.cert_time_to_seconds(text))
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.timestamp()
    except (ValueError, OverflowError):  # year 1 in a timezone east of UTC
        return None


def earliest_cert_expiry(target: TargetReport) -> float | None:
    """Unix seconds of the earliest notAfter over the TLS attempts (blackbox's probe_ssl_earliest_cert_expiry)."""
    check = _checks(target).get("tls_handshake")
    attempts = check.typed(TlsHandshake).attempts if check is not None else ()
    times = [t for a in attempts if (t := parse_not_after(a.not_after)) is not None]
    return min(times) if times else None
