"""Is this machine an Azure VM? The Instance Metadata Service answers only there, and names the VM and its subnet.

`GET /metadata/instance?api-version=2021-02-01` with `Metadata: true`, never through a proxy
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service). The connect timeout is short
(`settings.imds_timeout`): off Azure nothing answers on 169.254.169.254 and a laptop must not wait. The answer
is asked once per run (`ctx.once_async("imds")`): every target and the Azure layer reuse it.

Evidence: `AzurePlatform` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aoai_diag.blocking import in_thread
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.host import AppHost
from aoai_diag.evidence.path import AzurePlatform
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.imds import fetch_instance
from aoai_diag.osnet.apphost import no_imds_summary
from aoai_diag.targets import Target


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    settings = ctx.settings

    async def fetch() -> AzurePlatform:
        connect, read = ctx.op_timeout(cap=settings.imds_timeout), ctx.op_timeout()
        return await in_thread(fetch_instance, settings.imds_endpoint, connect, read)

    evidence: AzurePlatform = await ctx.once_async("imds", fetch)
    if evidence.on_azure and evidence.vm is not None:
        vm = evidence.vm
        return Outcome(
            Status.PASS, f"Azure VM {vm.name} in {vm.location}, {vm.private_ip} in {vm.subnet_prefix}", evidence
        )
    if evidence.on_azure is None:
        return Outcome(Status.ERROR, f"IMDS gave no usable answer: {evidence.error}", evidence, evidence.error)
    host = deps.get("app_host")
    summary = no_imds_summary(host.typed(AppHost) if host is not None else None, evidence.error)
    return Outcome(Status.SKIP, summary, evidence, evidence.error)


PROBE = Probe(
    id="azure_platform",
    title="Azure VM (Instance Metadata Service)",
    evidence=AzurePlatform,
    run=run,
    after=("app_host",),  # an app host without IMDS is not "not an Azure VM" (issue 18)
)
