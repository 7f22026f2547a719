"""Prometheus text exposition of a Report (node_exporter textfile collector, and `serve`'s /probe answer).

Label sets are bounded on purpose: blackbox_exporter's users asked for the connected IP as a label and were
refused for cardinality (https://github.com/prometheus/blackbox_exporter/issues/740), and asked for the failure
reason and never got it (https://github.com/prometheus/blackbox_exporter/issues/459). So we export the address
*class* and the *cause id*, both drawn from closed sets, and every per-status / per-cause series is always
present (0 or 1) so alerts and `changes()` work without absent-series tricks.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from aoai_diag import catalogue
from aoai_diag.model import Report, Role, Status, Verdict
from aoai_diag.render import measures

PREFIX = "aoai_diag_"


def render_prometheus(report: Report, duration_s: float | None = None) -> str:
    """The exposition text for `report`; `duration_s` is the run's wall time when the caller measured it."""
    registry = CollectorRegistry(auto_describe=False)

    def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(PREFIX + name, doc, labels, registry=registry)

    info = gauge("build_info", "aoai-diag version that produced these metrics.", ("version",))
    success = gauge("probe_success", "1 when the account is reached over its private endpoint (healthy).", ("target",))
    verdict = gauge("verdict", "1 for the target's verdict, 0 for the others.", ("target", "verdict"))
    check_status = gauge(
        "check_status", "1 for each check's status, 0 for the other statuses.", ("target", "check", "status")
    )
    check_seconds = gauge("check_duration_seconds", "Wall time of each check.", ("target", "check"))
    cause = gauge(
        "cause",
        "1 when the diagnosis names this cause for the target, else 0 (one series per catalogue cause).",
        ("target", "cause", "family", "severity"),
    )
    findings = gauge("findings", "Number of causes the diagnosis named.", ("target", "severity"))
    by_role = gauge(
        "findings_by_role",
        "Number of named causes by role: root (fix first), consequence (follows from a root), advisory.",
        ("target", "role"),
    )
    unexplained = gauge("unexplained_checks", "Checks that observed a failure no named cause explains.", ("target",))
    resolved = gauge(
        "resolved_addresses",
        "Addresses the OS resolver returned for the account host, by class (never the address itself).",
        ("target", "class"),
    )
    path = gauge(
        "data_path",
        "1 for how the application path reached the service: private, public, proxy, or none.",
        ("target", "path"),
    )
    phases = gauge("phase_duration_seconds", "Seconds per phase of the data-plane path.", ("target", "phase"))
    cert = gauge(
        "cert_expiry_timestamp_seconds",
        "Earliest certificate notAfter seen on the TLS handshake, Unix seconds.",
        ("target",),
    )
    info.labels(version=report.tool_version).set(1)
    causes = catalogue.load()
    for target_report in report.targets:
        host = str(target_report.target.get("host", "?"))
        success.labels(target=host).set(1 if target_report.verdict is Verdict.HEALTHY else 0)
        for v in Verdict:
            verdict.labels(target=host, verdict=v.value).set(1 if target_report.verdict is v else 0)
        for check in target_report.checks:
            for status in Status:
                check_status.labels(target=host, check=check.id, status=status.value).set(
                    1 if check.status is status else 0
                )
            check_seconds.labels(target=host, check=check.id).set(check.duration_ms / 1000.0)
        named = {f.cause_id for f in target_report.findings}
        for c in causes.values():
            cause.labels(target=host, cause=c.id, family=c.family, severity=c.severity.value).set(
                1 if c.id in named else 0
            )
        for severity in ("error", "warning"):
            count = sum(1 for cid in named if cid in causes and causes[cid].severity.value == severity)
            findings.labels(target=host, severity=severity).set(count)
        for role in Role:
            by_role.labels(target=host, role=role.value).set(sum(1 for f in target_report.findings if f.role is role))
        unexplained.labels(target=host).set(len(target_report.unexplained))
        counts = measures.resolved_address_classes(target_report)
        if counts is not None:
            for cls, n in counts.items():
                resolved.labels(target=host, **{"class": cls}).set(n)
        taken = measures.data_path(target_report)
        if taken is not None:
            for p in measures.DATA_PATHS:
                path.labels(target=host, path=p).set(1 if p == taken else 0)
        for phase, seconds in measures.phase_seconds(target_report).items():
            phases.labels(target=host, phase=phase).set(seconds)
        expiry = measures.earliest_cert_expiry(target_report)
        if expiry is not None:
            cert.labels(target=host).set(expiry)
    if duration_s is not None:
        gauge("run_duration_seconds", "Wall time of the whole run.", ()).set(duration_s)
    return generate_latest(registry).decode("utf-8")
