"""Evidence on demand: which Azure reads the local evidence leaves open.

The NIC's effective routes and effective NSGs are long-running operations (POST, 202, poll): seconds on the real
service. They answer one question, "does the VNet carry TCP from this VM to the private endpoint?", and a packet
that got through already answers it. So they are asked only when a TCP connect to a private address failed and
the static reads (peerings, NSG rules evaluated here) do not already explain the failure.

Each plan is recorded in the evidence as `{"state", "reason"}`:
    state "not_needed": not asked, `reason` says what made it unnecessary;
    "done": asked and answered; "unfinished": still running at the deadline (an unknown, never a longer wait);
    "failed": the read was refused or failed (the ArmDenied is in `denied`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aoai_diag.model import CheckResult

# Outcomes of a TCP attempt that leave the VNet path in question.
FAILED_CONNECTS = ("timeout", "refused", "unreachable")
NOT_NEEDED = "not_needed"
DONE = "done"
UNFINISHED = "unfinished"
FAILED = "failed"


@dataclass(frozen=True)
class Plan:
    ask: bool
    reason: str

    def evidence(self) -> dict[str, Any]:
        return {"state": "asked" if self.ask else NOT_NEEDED, "reason": self.reason}


def failed_private_connects(deps: Mapping[str, CheckResult]) -> list[str] | None:
    """Private addresses whose TCP connect failed in this run; None when the local TCP probe was not part of it."""
    result = deps.get("tcp_connect")
    if result is None:
        return None
    attempts = result.evidence.get("attempts")
    return [
        str(a.get("address"))
        for a in (attempts if isinstance(attempts, list) else ())
        if isinstance(a, Mapping) and a.get("class") == "private" and a.get("outcome") in FAILED_CONNECTS
    ]


def plan(deps: Mapping[str, CheckResult], what: str, explained_by: Sequence[str] = ()) -> Plan:
    """Whether to ask the long-running operation `what`, given the local evidence and the static explanations."""
    failed = failed_private_connects(deps)
    if failed is None:
        # Only the Azure probes ran (no local TCP evidence): nothing proves the path, so it is asked.
        return Plan(True, f"no local TCP evidence in this run: {what} asked")
    if not failed:
        connected = [
            str(a.get("address"))
            for a in deps["tcp_connect"].evidence.get("attempts") or ()
            if isinstance(a, Mapping) and a.get("class") == "private" and a.get("outcome") == "connected"
        ]
        if connected:
            return Plan(False, f"TCP to {', '.join(connected)} connected: the VNet path is proven, {what} not asked")
        return Plan(False, f"no TCP connect to a private address failed: {what} not asked")
    if explained_by:
        return Plan(
            False,
            f"TCP to {', '.join(failed)} failed, already explained by {'; '.join(explained_by)}: {what} not asked",
        )
    return Plan(True, f"TCP to {', '.join(failed)} failed and the static reads do not explain it: {what} asked")


def outcome_state(denied_code: str | None) -> str:
    """`unfinished` for an operation cut by the deadline, `failed` for any other failed read."""
    return UNFINISHED if denied_code == "Unfinished" else FAILED
