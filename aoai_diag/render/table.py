"""The human view: a table of checks, then the diagnosis."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from aoai_diag import catalogue
from aoai_diag.evidence.azure import ArmAppHost
from aoai_diag.model import CheckResult, Finding, Report, Role, Status, TargetReport, Verdict
from aoai_diag.render.json_report import run_host
from aoai_diag.verdict import FROM_CHECK, from_host, path_checks

_STATUS_COLOUR = {
    Status.PASS: "32",
    Status.FAIL: "31",
    Status.WARN: "33",
    Status.ERROR: "35",
    Status.SKIP: "90",
}
_VERDICT_COLOUR = {Verdict.HEALTHY: "32", Verdict.UNHEALTHY: "31", Verdict.INCONCLUSIVE: "33"}
_BUCKET = {
    "dns_issue": "DNS issue",
    "not_on_private_network": "machine not on the private network",
    "firewall_blocking": "firewall blocking port 443",
    None: "outside the three documented causes",
}


def want_colour(stream: Any, env: Mapping[str, str]) -> bool:
    """ANSI colour only for a terminal that renders it: a tty, NO_COLOR unset or empty (https://no-color.org),
    and TERM not `dumb` (terminfo's name for a terminal without escape sequences)."""
    try:
        tty = bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        tty = False
    return tty and not env.get("NO_COLOR") and env.get("TERM", "") != "dumb"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _role_note(finding: Finding) -> str:
    if finding.role is Role.CONSEQUENCE:
        return f" (consequence of {', '.join(finding.consequence_of)})"
    if finding.role is Role.ADVISORY:
        return " (advisory)"
    return ""


def _unexplained(target: TargetReport) -> list[str]:
    if not target.unexplained:
        return []
    summaries = {c.id: c.summary for c in target.checks}
    out = ["Observed but not explained:"]
    for check_id in target.unexplained:
        out.append(f"  {check_id}: {summaries.get(check_id, '')}".rstrip())
    return [*out, ""]


def _check_table(checks: Sequence[CheckResult], colour: bool) -> str:
    rows = []
    for check in checks:
        summary = check.summary if len(check.summary) <= 90 else check.summary[:87] + "..."
        rows.append([check.id, _paint(check.status.value, _STATUS_COLOUR[check.status], colour), summary])
    return str(tabulate(rows, headers=["check", "status", "summary"], tablefmt="simple"))


def _host_name(target: TargetReport) -> str:
    for check in target.checks:
        if check.id != FROM_CHECK:
            continue
        data = check.typed(ArmAppHost)
        if data.host is not None and data.host.name:
            return f"{data.host.kind} {data.host.name}"
        return data.ref or "the host"
    return "the host"


def render_table(report: Report, colour: bool = False, width: int = 100) -> str:
    out: list[str] = []
    host = run_host(report)
    if host:  # the first line says where the run happened: an app host's path is not this laptop's
        out.extend([f"Run on: {host['description']}", ""])
    for target in report.targets:
        host = target.target.get("host", "?")
        out.append(f"{host}: {_paint(target.verdict.value.upper(), _VERDICT_COLOUR[target.verdict], colour)}")
        if from_host(target.checks):
            # `--from`: the verdict is the host's path; this machine's own checks are shown apart, outside it.
            path = path_checks(target.checks)
            mine = [c for c in target.checks if c not in path]
            out.append(f"Path of {_host_name(target)}, read from Resource Manager (nothing was sent from the host):")
            out.append(_check_table(path, colour))
            out.append("")
            out.append("This machine's own checks (not the host's path, not in the verdict):")
            out.append(_check_table(mine, colour))
        else:
            out.append(_check_table(target.checks, colour))
        out.append("")
        if not target.findings:
            if target.verdict is Verdict.HEALTHY and from_host(target.checks):
                out.append(
                    f"Diagnosis: {_host_name(target)}'s configuration in Resource Manager lets it reach the account "
                    "over its private endpoint (read, not sent from the host)."
                )
            elif target.verdict is Verdict.HEALTHY:
                out.append("Diagnosis: reaches the account over its private endpoint.")
            elif target.unexplained:
                out.append("Diagnosis: no cause could be named for what was observed.")
            else:
                out.append("Diagnosis: no cause could be named; see the checks marked error/skip above.")
            out.append("")
            out.extend(_unexplained(target))
            continue
        out.append("Diagnosis:")
        for n, finding in enumerate(target.findings, 1):
            cause = catalogue.get(finding.cause_id)
            sev = _paint(cause.severity.value, "31" if cause.severity.value == "error" else "33", colour)
            out.append(f"{n}. [{sev}] {cause.id}{_role_note(finding)} — {cause.title}")
            out.append(f"   Microsoft's guide: {_BUCKET[cause.documented_cause]}")
            for line in textwrap.wrap(finding.detail or cause.explanation, width - 6):
                out.append(f"   {line}")
            if finding.candidates:
                out.append(f"   Not ruled out: {', '.join(finding.candidates)}")
            if finding.decide:
                for line in textwrap.wrap(f"To decide: {finding.decide}", width - 6):
                    out.append(f"   {line}")
            out.append("   Fix:")
            for line in (finding.remediation or cause.remediation).splitlines():
                out.append(f"     {line}")
            for ref in finding.resources:
                out.append(f"   Resource: {ref}")
            out.append(f"   Docs: {cause.docs[0]}")
            out.append("")
        out.extend(_unexplained(target))
    if len(report.targets) > 1:
        out.append(f"Overall: {_paint(report.verdict.value.upper(), _VERDICT_COLOUR[report.verdict], colour)}")
    return "\n".join(out).rstrip() + "\n"
