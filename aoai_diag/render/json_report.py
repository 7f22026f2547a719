"""The stable, versioned JSON report (schema: aoai_diag/data/report.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from aoai_diag import catalogue
from aoai_diag.evidence.host import AppHost
from aoai_diag.model import Finding, Report, TargetReport

SCHEMA_VERSION = "1.3"
"""1.2: `host`, where the run happened when that is an app host (issue 18). 1.3: a check's evidence is its type
serialised, every declared field present (defaults included), also for a check that observed nothing (issue 16)."""


def run_host(report: Report) -> dict[str, Any] | None:
    """Where the run happened when that is an app host (the `app_host` check's evidence, the same for every target
    of a run), else None."""
    for target in report.targets:
        for check in target.checks:
            host = check.typed(AppHost) if check.id == "app_host" else None
            if host is not None and host.kind:
                return {
                    "kind": host.kind,
                    "description": host.description,
                    "name": host.name,
                    "resource_group": host.resource_group,
                    "subscription_id": host.subscription_id,
                    "on_azure": host.on_azure,
                }
    return None


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    cause = catalogue.get(finding.cause_id)
    return {
        "id": cause.id,
        "family": cause.family,
        "documented_cause": cause.documented_cause,
        "severity": cause.severity.value,
        "title": cause.title,
        "explanation": cause.explanation,
        "detail": finding.detail,
        "remediation": finding.remediation or cause.remediation,
        "docs": list(cause.docs),
        "checks": list(finding.checks),
        "resources": list(finding.resources),
        "candidates": list(finding.candidates),
        "decide": finding.decide,
        "role": finding.role.value,
        "consequence_of": list(finding.consequence_of),
    }


def target_to_dict(target: TargetReport) -> dict[str, Any]:
    return {
        "target": dict(target.target),
        "verdict": target.verdict.value,
        "checks": [c.to_dict() for c in target.checks],
        "diagnosis": [finding_to_dict(f) for f in target.findings],
        "unexplained": list(target.unexplained),
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": report.tool_version,
        "verdict": report.verdict.value,
        "host": run_host(report),
        "targets": [target_to_dict(t) for t in report.targets],
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n"
