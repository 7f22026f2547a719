"""Properties every report must have, whatever produced it (fixtures, the ARM emulator, bundles, e2e scenarios).

Each function returns the violations as one line each (empty: the report is sound), so callers can assert `== []`
and a failure names what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aoai_diag import catalogue
from aoai_diag.bundle import BUNDLE_VERSION, analyze, make_bundle, parse_bundle, scrub
from aoai_diag.context import Settings
from aoai_diag.model import CheckResult, Report, TargetReport
from aoai_diag.render.json_report import report_to_dict
from aoai_diag.runner import build_report, build_target_report
from aoai_diag.targets import Target

ROLE_RANK = {"root": 0, "consequence": 1, "advisory": 2}


def exclusive_pairs(target: Mapping[str, Any]) -> list[str]:
    """(b) no two causes that exclude each other (declared either way round)."""
    causes = catalogue.load()
    named = [f["id"] for f in target["diagnosis"]]
    return [
        f"{a} and {b} exclude each other"
        for i, a in enumerate(named)
        for b in named[i + 1 :]
        if b in causes[a].excludes or a in causes[b].excludes
    ]


def roles(target: Mapping[str, Any]) -> list[str]:
    """(c) an unhealthy target names a root; roots come first; a consequence follows from a cause in the report."""
    problems: list[str] = []
    findings = target["diagnosis"]
    named = {f["id"] for f in findings}
    if target["verdict"] == "unhealthy" and not any(f["role"] == "root" for f in findings):
        problems.append(f"unhealthy without a root: {[(f['id'], f['role']) for f in findings]}")
    ranks = [ROLE_RANK[f["role"]] for f in findings]
    if ranks != sorted(ranks):
        problems.append(f"roots are not first: {[(f['id'], f['role']) for f in findings]}")
    for f in findings:
        if f["role"] == "consequence" and not (f["consequence_of"] and set(f["consequence_of"]) <= named):
            problems.append(f"{f['id']} is a consequence of {f['consequence_of']}, not all in the report")
        if f["role"] != "consequence" and f["consequence_of"]:
            problems.append(f"{f['id']} is a {f['role']} but lists consequence_of")
    return problems


def unexplained_stated(target: Mapping[str, Any]) -> list[str]:
    """A target with a failure no finding explains is never healthy, and says which checks those are."""
    failed = {c["id"] for c in target["checks"] if c["status"] == "fail"}
    problems = [f"unexplained {c} did not fail" for c in target["unexplained"] if c not in failed]
    if target["unexplained"] and target["verdict"] == "healthy":
        problems.append(f"healthy with unexplained failures {target['unexplained']}")
    return problems


def failures_explained(target: Mapping[str, Any]) -> list[str]:
    """(e) every FAIL is explained by a root or a consequence of one (it cites the check, or breaks the data path at or
    before it), or the report lists it as unexplained; an advisory explains nothing (issue 17, class 6)."""
    from aoai_diag.verdict import _FAMILY_STAGE, path_stages

    causes = catalogue.load()
    stage_of = path_stages()
    explaining = [f for f in target["diagnosis"] if f["role"] in ("root", "consequence")]
    cited = {c for f in explaining for c in f["checks"]}
    stages = [
        min([stage_of[c] for c in f["checks"] if c in stage_of] or [_FAMILY_STAGE[causes[f["id"]].family]])
        for f in explaining
    ]
    earliest = min(stages, default=None)
    problems = []
    for check in target["checks"]:
        if check["status"] != "fail" or check["id"] in target["unexplained"] or check["id"] in cited:
            continue
        if earliest is not None and check["id"] in stage_of and stage_of[check["id"]] >= earliest:
            continue
        problems.append(f"{check['id']} failed, no root explains it and the report does not say so")
    for f in target["diagnosis"]:
        if f["role"] == "advisory" and {c["id"] for c in target["checks"] if c["status"] == "fail"} & set(f["checks"]):
            problems.append(f"advisory {f['id']} cites a failed check: the cause that explains a failure is a root")
    return problems


def report_violations(report: Mapping[str, Any]) -> list[str]:
    """Every property above over every target of a JSON report (report_to_dict / `-o json`)."""
    out: list[str] = []
    for target in report["targets"]:
        host = target["target"].get("host", "?")
        found = (*exclusive_pairs(target), *roles(target), *unexplained_stated(target), *failures_explained(target))
        out += [f"{host}: {p}" for p in found]
    return out


def live_report(target: Target, checks: Sequence[CheckResult]) -> Report:
    return build_report([build_target_report(target, checks)])


def bundle_roundtrip(report: Report) -> list[str]:
    """(d) the report `analyze` gives for the bundle `collect` would write equals the live report."""
    written = json.loads(json.dumps(make_bundle(report, Settings())))
    again = analyze(parse_bundle(written))
    live, analysed = report_to_dict(report), report_to_dict(again)
    problems = []
    for before, after in zip(live["targets"], analysed["targets"], strict=True):
        if (before["verdict"], before["diagnosis"], before["unexplained"]) != (
            after["verdict"],
            after["diagnosis"],
            after["unexplained"],
        ):
            problems.append(
                f"{before['target']['host']}: live {before['verdict']} {[f['id'] for f in before['diagnosis']]}, "
                f"analysed {after['verdict']} {[f['id'] for f in after['diagnosis']]}"
            )
    return problems


def json_roundtrip(report: Mapping[str, Any]) -> list[str]:
    """(d) for a JSON report of a live run (`check -o json`): a bundle of its evidence, as `collect` writes it
    (scrubbed), analyses to the same verdict, diagnosis and unexplained checks."""
    bundle = {
        "bundle_version": BUNDLE_VERSION,
        "tool_version": report["tool_version"],
        "targets": [
            {"target": scrub(dict(t["target"])), "checks": [scrub(dict(c)) for c in t["checks"]]}
            for t in report["targets"]
        ],
    }
    analysed = report_to_dict(analyze(parse_bundle(json.loads(json.dumps(bundle)))))
    problems = []
    for live, again in zip(report["targets"], analysed["targets"], strict=True):
        keys = ("verdict", "diagnosis", "unexplained")
        if [live[k] for k in keys] != [again[k] for k in keys]:
            problems.append(
                f"{live['target']['host']}: live {live['verdict']} {[f['id'] for f in live['diagnosis']]}, "
                f"analysed {again['verdict']} {[f['id'] for f in again['diagnosis']]}"
            )
    return problems


def target_report_violations(report: TargetReport) -> list[str]:
    return report_violations(report_to_dict(build_report([report])))
