"""The app host this run is for (`--from KIND:NAME`, or the App Service host this run is inside), read from
Resource Manager, and its path to the private endpoint link by link.

Reads (plain ARM GETs, azure/app_hosts.py): Microsoft.Web/sites and `config/web` (`virtualNetworkSubnetId`,
`vnetRouteAllEnabled` / `outboundVnetRouting`, `dnsConfiguration`), Microsoft.App/containerApps and their
managedEnvironments (`vnetConfiguration.infrastructureSubnetId`), Microsoft.ContainerService/managedClusters
(`agentPoolProfiles[].vnetSubnetID`, `networkProfile`). The host's subnet is the client subnet of
arm_client_network and arm_nsg; this probe runs after them and judges the host's path from their evidence
(diagnosis/app_facts.host_path): with `--from` nothing is sent from the host, and this is the path check.

Evidence: `ArmAppHost` (aoai_diag/evidence/azure.py).

pass = every link is ok; fail = a link is broken; warn = a link could not be judged; error = the host could not be
read (a refused read is unknown, never "no integration"); skip = the run is for no host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.azure import ArmAppHost
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target


def judge(target: Target, deps: Mapping[str, CheckResult], read: ArmAppHost) -> Outcome:
    """The outcome for the host as read (azure/app_hosts.py: the evidence before its path), its path judged from
    the other arm_* checks in `deps`."""
    from aoai_diag.diagnosis.app_facts import describe, host_path
    from aoai_diag.diagnosis.evidence import Evidence

    if read.host is None:
        why = read.error or "not read"
        if len(read.matches) > 1:
            why = f"{len(read.matches)} hosts match {read.ref}: {', '.join(read.matches)}"
        return Outcome(Status.ERROR, f"could not read the host: {why}", read, why)
    links = host_path(Evidence(target, dict(deps)), read.host)
    evidence = replace(read, path=links)
    broken = [f"{link.link}: {link.detail}" for link in links if link.state == "broken"]
    unknown = [f"{link.link}: {link.detail}" for link in links if link.state == "unknown"]
    where = describe(read.host)
    if broken:
        return Outcome(Status.FAIL, f"{where}: " + "; ".join(broken), evidence)
    if unknown:
        return Outcome(Status.WARN, f"{where}: not judged: " + "; ".join(unknown), evidence)
    return Outcome(Status.PASS, f"{where}: every link of its path is in place in Resource Manager", evidence)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import app_hosts, snapshot

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        if app_hosts.reference(ctx.settings, deps) is None:
            return Outcome(Status.SKIP, "the run is for no app host (no --from)", None, "no app host")
        sess = snapshot.session(ctx, on_azure)
        read = app_hosts.read(ctx, sess, on_azure, deps)
        if read is None:  # reference() named a host above: read() names the same one
            return Outcome(Status.SKIP, "the run is for no app host (no --from)", None, "no app host")
        return judge(target, deps, read)

    return probe_support.guarded(body, ArmAppHost)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_app_host",
    title="The app host's path, read from Resource Manager",
    evidence=ArmAppHost,
    run=run,
    requires=("arm_access",),
    # The host's path is judged from the other Azure probes' evidence, which read the host's subnet as the client's.
    after=(
        "app_host",
        "azure_platform",
        "arm_account",
        "arm_private_endpoints",
        "arm_dns_zones",
        "arm_client_network",
        "arm_nsg",
    ),
    layer="azure",
    disabled=probe_support.disabled,
)
