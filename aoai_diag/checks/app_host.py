"""Is this an app host (App Service / Functions, Container Apps, a Kubernetes pod, Azure ML compute)? The platform
says so in the process's environment and files; aoai_diag/osnet/apphost.py reads them (each signal's source URL is
cited there). The environment is `settings.env`; resolv.conf and the service-account mount can be pointed elsewhere
with AOAI_DIAG_RESOLV_CONF / AOAI_DIAG_SERVICE_ACCOUNT_DIR in it (tests, or a copy taken from the host).

Secrets (IDENTITY_HEADER, MSI_SECRET, tokens) are recorded as present or not, never copied.

Evidence: `AppHost` (aoai_diag/evidence/host.py).

pass = an app host, named; skip = none of these signals (a VM, a laptop).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.blocking import in_thread
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.host import AppHost
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.osnet.apphost import read_host
from aoai_diag.targets import Target


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    # Files on a container's overlay or a network mount can block: read in the executor, once for the run.
    evidence: AppHost = await in_thread(ctx.once, "app_host", lambda: read_host(ctx.settings.env))
    if evidence.kind is None:
        return Outcome(
            Status.SKIP,
            "not an app host (no App Service, Container Apps, Kubernetes or Azure ML signal)",
            evidence,
            "no app host signal",
        )
    return Outcome(Status.PASS, str(evidence.description), evidence)


PROBE = Probe(
    id="app_host",
    title="App host (App Service, Functions, Container Apps, AKS pod, Azure ML)",
    evidence=AppHost,
    run=run,
)
