"""Verdicts and the exit code, decided in one place (README: exit codes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aoai_diag import catalogue
from aoai_diag.evidence.azure import ArmAppHost
from aoai_diag.exit_status import ExitStatus
from aoai_diag.model import CheckResult, Finding, Report, Role, Severity, Status, Verdict

# The check that proves the private path end to end: it passes only when the service itself answered
# over a private address. Without it nothing may be called healthy.
PATH_CHECK = "https_dataplane"

# The verdict codes; every other code (usage, internal, output, interrupt, closed pipe) is in exit_status.py.
EXIT_HEALTHY = ExitStatus.HEALTHY
EXIT_UNHEALTHY = ExitStatus.UNHEALTHY
EXIT_USAGE = ExitStatus.USAGE
EXIT_INCONCLUSIVE = ExitStatus.INCONCLUSIVE
EXIT_INTERNAL = ExitStatus.INTERNAL


# The links of the data path, in the order a request walks them. A failure at one link is explained by a root or
# consequence found at that link or an earlier one (a name that resolves publicly explains the 403 that follows).
def path_stages() -> Mapping[str, int]:
    """Where each probe on the path looks (`Probe.stage`): 0 the name, 1 the route, 2 TCP, 3 TLS, 4 HTTPS."""
    from aoai_diag.checks import load_probes

    return {p.id: p.stage for p in load_probes() if p.stage is not None}


# Where on the path a finding that cites no path check (Azure evidence only) breaks it, by cause family.
# An app host's own causes (no VNet, its DNS setting, route-all) break the path where the host meets the network.
_FAMILY_STAGE = {"dns": 0, "net": 1, "edge": 1, "svc": 2, "app": 0}


# With `--from`, the path judged is the app host's, read from Resource Manager: this check (arm_app_host) proves it
# instead of the data-plane request, and this machine's own (local) checks are kept apart from the verdict.
FROM_CHECK = "arm_app_host"


def from_host(checks: Sequence[CheckResult]) -> bool:
    """The run diagnoses an app host's path from outside (`--from`): arm_app_host ran in mode `from`."""
    return any(c.id == FROM_CHECK and c.typed(ArmAppHost).mode == "from" for c in checks)


def path_checks(checks: Sequence[CheckResult]) -> list[CheckResult]:
    """The checks the verdict and the diagnosis rest on: all of them, or with `--from` the Resource Manager ones
    (nothing was sent from the host; this machine's own observations say nothing about the host's path)."""
    if not from_host(checks):
        return list(checks)
    from aoai_diag.checks import REGISTRY

    azure = {p.id for p in REGISTRY if p.layer == "azure"}
    return [c for c in checks if c.id in azure]


def unexplained(checks: Sequence[CheckResult], findings: Sequence[Finding]) -> tuple[str, ...]:
    """Ids of the checks that FAILed with no finding to explain them: not cited by one, and not downstream on the
    data path of where a root or consequence breaks it. An advisory explains nothing (a finding that explains a
    failure is a root or a consequence: diagnosis/merge.py)."""
    checks = path_checks(checks)
    causes = catalogue.load()
    cited = {check_id for f in findings if f.role is not Role.ADVISORY for check_id in f.checks}
    stages = path_stages()
    broken_at = []
    for f in findings:
        if f.role is Role.ADVISORY:
            continue
        on_path = [stages[c] for c in f.checks if c in stages]
        broken_at.append(min(on_path) if on_path else _FAMILY_STAGE[causes[f.cause_id].family])
    earliest = min(broken_at, default=None)
    return tuple(
        c.id
        for c in checks
        if c.status is Status.FAIL
        and c.id not in cited
        and not (earliest is not None and c.id in stages and stages[c.id] >= earliest)
    )


def target_verdict(checks: Sequence[CheckResult], findings: Sequence[Finding]) -> Verdict:
    causes = catalogue.load()
    if any(causes[f.cause_id].severity is Severity.ERROR for f in findings):
        return Verdict.UNHEALTHY
    path_id = FROM_CHECK if from_host(checks) else PATH_CHECK
    checks = path_checks(checks)
    by_id = {c.id: c for c in checks}
    path = by_id.get(path_id)
    if path is None or path.status is not Status.PASS:
        return Verdict.INCONCLUSIVE
    if any(c.status is Status.ERROR for c in checks):
        return Verdict.INCONCLUSIVE
    # Every failed check must be accounted for by a finding; an unexplained failure is not healthy.
    if unexplained(checks, findings):
        return Verdict.INCONCLUSIVE
    return Verdict.HEALTHY


def overall_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """The worst over targets: unhealthy > inconclusive > healthy."""
    if Verdict.UNHEALTHY in verdicts:
        return Verdict.UNHEALTHY
    if Verdict.INCONCLUSIVE in verdicts or not verdicts:
        return Verdict.INCONCLUSIVE
    return Verdict.HEALTHY


NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3


def nagios_code(report: Report) -> int:
    """Nagios/Icinga plugin state: healthy 0 (1 if warning-level causes were named), unhealthy 2, inconclusive 3."""
    if report.verdict is Verdict.UNHEALTHY:
        return NAGIOS_CRITICAL
    if report.verdict is Verdict.INCONCLUSIVE:
        return NAGIOS_UNKNOWN
    causes = catalogue.load()
    warned = any(causes[f.cause_id].severity is Severity.WARNING for t in report.targets for f in t.findings)
    return NAGIOS_WARNING if warned else NAGIOS_OK


def exit_code(report: Report) -> int:
    return {
        Verdict.HEALTHY: EXIT_HEALTHY,
        Verdict.UNHEALTHY: EXIT_UNHEALTHY,
        Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    }[report.verdict]
