"""One Nagios/Icinga plugin line: `AOAI-DIAG STATE - summary | perfdata`.

Format from the Nagios plugin guidelines (https://nagios-plugins.org/doc/guidelines.html#AEN200): one line of text,
`|`, then space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`. The state word comes from
verdict.nagios_code, the one place plugin states are decided; the caller exits with that code.
"""

from __future__ import annotations

import re

from aoai_diag.model import Finding, Report, Role, Status, TargetReport, Verdict
from aoai_diag.render import measures
from aoai_diag.verdict import nagios_code

STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
_MAX_SUMMARY = 300


def _clean(text: str) -> str:
    # `|` starts perfdata and a newline starts long output: neither may appear in the summary.
    return re.sub(r"\s+", " ", text.replace("|", "/")).strip()


def _label(text: str) -> str:
    text = text.replace("'", "").replace("=", "_")
    return f"'{text}'" if re.search(r"[^A-Za-z0-9_.-]", text) else text


def _named(finding: Finding) -> str:
    return finding.cause_id if finding.role is Role.ROOT else f"{finding.cause_id} ({finding.role.value})"


def _target_summary(target: TargetReport) -> str:
    host = str(target.target.get("host", "?"))
    unexplained = f"; not explained: {', '.join(target.unexplained)}" if target.unexplained else ""
    if target.findings:
        # The merger already put roots first; consequences and advisories say what they are.
        named = ", ".join(_named(f) for f in target.findings)
        return f"{host} {target.verdict.value}: {named}{unexplained}"
    if target.verdict is Verdict.HEALTHY:
        return f"{host} healthy: reached over its private endpoint"
    if unexplained:
        return f"{host} {target.verdict.value}: no cause named{unexplained}"
    unsure = [c.id for c in target.checks if c.status in (Status.ERROR, Status.FAIL)]
    if unsure:
        return f"{host} {target.verdict.value}: could not determine ({', '.join(unsure)} failed or errored)"
    return f"{host} {target.verdict.value}: the private path was not proven"


def _perfdata(report: Report) -> list[str]:
    total = len(report.targets)
    out = [f"targets={total};;;0"]
    for verdict in Verdict:
        count = sum(1 for t in report.targets if t.verdict is verdict)
        out.append(f"{verdict.value}={count};;;0;{total}")
    out.append(f"findings={sum(len(t.findings) for t in report.targets)};;;0")
    for target in report.targets:
        prefix = "" if total == 1 else f"{target.target.get('label', '?')}_"
        for phase, seconds in measures.phase_seconds(target).items():
            out.append(f"{_label(prefix + phase)}={seconds:.6f}s;;;0")
    return out


def render_nagios(report: Report) -> str:
    state = STATES[nagios_code(report)]
    if len(report.targets) == 1:
        summary = _target_summary(report.targets[0])
    else:
        counts = ", ".join(f"{n} {v.value}" for v in Verdict if (n := sum(1 for t in report.targets if t.verdict is v)))
        worst = [_target_summary(t) for t in report.targets if t.verdict is not Verdict.HEALTHY]
        summary = f"{len(report.targets)} targets: {counts}" + (f"; {'; '.join(worst)}" if worst else "")
    summary = _clean(summary)
    if len(summary) > _MAX_SUMMARY:
        summary = summary[: _MAX_SUMMARY - 3] + "..."
    return f"AOAI-DIAG {state} - {summary} | {' '.join(_perfdata(report))}\n"
