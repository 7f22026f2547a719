"""Is this machine an Azure VM? The Instance Metadata Service answers only there, and names the VM and its subnet.

`GET /metadata/instance?api-version=2021-02-01` with `Metadata: true`, never through a proxy
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service). The connect timeout is short
(`settings.imds_timeout`): off Azure nothing answers on 169.254.169.254 and a laptop must not wait. The answer
is cached for the run (`ctx.once("imds")`): every target and the Azure layer reuse it.

Evidence:
    on_azure (bool | null): IMDS answered with instance metadata (null: something answered but unusably).
    vm ({subscription_id, resource_group, name, vm_id, location, resource_id, private_ip, subnet_prefix, mac}
        | null): from compute.* and network.interface[0].
    endpoint (str): the IMDS base URL asked.
    http_status (int | null): status of the metadata answer.
    error (str | null): why IMDS gave nothing usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aoai_diag.checks.base import Probe, driven
from aoai_diag.context import ProbeContext
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.connect import map_concurrently_steps
from aoai_diag.net.imds import fetch_instance
from aoai_diag.osnet.apphost import no_imds_summary
from aoai_diag.steps import Steps
from aoai_diag.targets import Target


def steps(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Steps[Outcome]:
    settings = ctx.settings

    def fetch(_: object = None) -> dict[str, Any]:
        return ctx.once(  # type: ignore[no-any-return]
            "imds",
            lambda: fetch_instance(settings.imds_endpoint, ctx.op_timeout(cap=settings.imds_timeout), ctx.op_timeout()),
        )

    if ctx.once_ready("imds"):  # asked for an earlier target of the run: no wait
        evidence = dict(fetch())
    else:  # asked over HTTP (or being asked for another target): waited for in a worker thread
        (found,) = yield from map_concurrently_steps(fetch, [None], None, lambda _: {})
        evidence = dict(found)
    if evidence["on_azure"]:
        vm = evidence["vm"]
        return Outcome(
            Status.PASS,
            f"Azure VM {vm['name']} in {vm['location']}, {vm['private_ip']} in {vm['subnet_prefix']}",
            evidence,
        )
    if evidence["on_azure"] is None:
        return Outcome(Status.ERROR, f"IMDS gave no usable answer: {evidence['error']}", evidence, evidence["error"])
    host = deps.get("app_host")
    summary = no_imds_summary(host.evidence if host else None, evidence["error"])
    return Outcome(Status.SKIP, summary, evidence, evidence["error"])


run = driven(steps)


PROBE = Probe(
    id="azure_platform",
    title="Azure VM (Instance Metadata Service)",
    run=run,
    steps=steps,
    after=("app_host",),  # an app host without IMDS is not "not an Azure VM" (issue 18)
)
