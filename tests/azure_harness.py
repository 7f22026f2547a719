"""Shared set-up for the Azure-layer tests: the ARM emulator (HTTPS), the IMDS emulator, settings aimed at them,
and a run of the real probes plus the diagnosis. Nothing here reaches beyond loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aoai_diag.checks import PROBES
from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.engine import run_probes
from aoai_diag.evidence import read
from aoai_diag.model import CheckResult, Outcome, Status, TargetReport
from aoai_diag.runner import build_target_report
from aoai_diag.targets import Target, parse_target
from tests.conftest import FIXTURES
from tests.servers import arm_emulator, imds

ARM_FIXTURES = FIXTURES / "arm"
AZURE_PROBES = tuple(p for p in PROBES if p.layer == "azure" or p.id == "azure_platform")
# Nothing listens on the discard port: a machine "off Azure" whose IMDS does not answer.
DEAD_IMDS = "http://127.0.0.1:9"


def topology(name: str) -> dict[str, Any]:
    return arm_emulator.load_topology(ARM_FIXTURES / f"{name}.json")


@dataclass
class AzureLab:
    settings: Settings
    arm: arm_emulator.ArmEmulator
    imds: Any | None

    def run(self, target: str = "contoso", settings: Settings | None = None) -> tuple[TargetReport, float]:
        """Run the Azure probes (and azure_platform) for `target`; local evidence comes from the topology's `local`."""
        settings = settings or self.settings
        tgt = parse_target(self.arm.topology.get("target", target))
        ctx = ProbeContext(settings=settings, deadline=time.monotonic() + settings.run_deadline)
        # The topology's local evidence runs as probes, so the Azure probes see it as they do in a real run
        # (e.g. a failed TCP connect is what makes them ask the effective routes).
        local = tuple(
            _fixture_probe(check_id, data) for check_id, data in (self.arm.topology.get("local") or {}).items()
        )
        t0 = time.monotonic()
        checks = list(run_probes(tgt, ctx, local + AZURE_PROBES))
        elapsed = time.monotonic() - t0
        return build_target_report(tgt, checks), elapsed


def _fixture_probe(check_id: str, data: Mapping[str, Any]) -> Probe:
    # The fixture's JSON is read through the one door, into the type the check declares (as a bundle would be).
    outcome = Outcome(Status(data["status"]), "fixture", read(check_id, data["evidence"]))

    async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
        return outcome

    return Probe(id=check_id, title="fixture", run=run)


@contextmanager
def lab(topo: Mapping[str, Any], tmp_path: Path, **overrides: Any) -> Iterator[AzureLab]:
    """Emulators for `topo`; managed identity through the IMDS emulator when the topology has `imds`."""
    with ExitStack() as stack:
        ca = tmp_path / "arm-ca.pem"
        arm = stack.enter_context(arm_emulator.serve(dict(topo), ca))
        server = None
        env = {"REQUESTS_CA_BUNDLE": str(ca), "PATH": ""}
        if "imds" in topo:
            server = stack.enter_context(imds.serve({"instance": topo["imds"]}))
            imds_endpoint = server.endpoint
        else:
            imds_endpoint = DEAD_IMDS
            env.update({"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "app-1", "AZURE_CLIENT_SECRET": "s3cret"})
        settings = Settings(
            timeout=2.0,
            deadline=6.0,
            arm_endpoint=arm.endpoint,
            authority_host=arm.endpoint,
            imds_endpoint=imds_endpoint,
            imds_timeout=0.3,
            public_dns=False,
            env=env,
        )
        yield AzureLab(replace(settings, **overrides), arm, server)


def causes(report: TargetReport) -> set[str]:
    return {f.cause_id for f in report.findings}


def status(report: TargetReport) -> dict[str, str]:
    return {c.id: c.status.value for c in report.checks}
