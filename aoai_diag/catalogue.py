"""The cause catalogue, kept as data in `data/causes.json` (ids from ../shared/reference/causes.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aoai_diag.model import Severity

FAMILIES = ("dns", "net", "edge", "svc")
# The three causes Microsoft's guide lists when the manual test fails:
# https://learn.microsoft.com/azure/ai-services/openai/how-to/network
DOCUMENTED_CAUSES = ("dns_issue", "not_on_private_network", "firewall_blocking")


@dataclass(frozen=True)
class Cause:
    id: str
    family: str
    documented_cause: str | None
    """dns_issue | not_on_private_network | firewall_blocking | None (outside those three)."""
    severity: Severity
    title: str
    explanation: str
    remediation: str
    """What to do, with the `az` command where one exists (placeholders in <angle brackets>)."""
    docs: tuple[str, ...]
    """Microsoft Learn (first) and other sources."""
    supersedes: tuple[str, ...] = ()
    """Generic causes this more specific one replaces when both are found."""


@lru_cache(maxsize=1)
def load() -> dict[str, Cause]:
    # A plain path, not importlib.resources: `aoai-diag causes` must start fast.
    raw = json.loads((Path(__file__).parent / "data" / "causes.json").read_text(encoding="utf-8"))
    causes: dict[str, Cause] = {}
    for entry in raw["causes"]:
        cause = Cause(
            id=entry["id"],
            family=entry["family"],
            documented_cause=entry.get("documented_cause"),
            severity=Severity(entry["severity"]),
            title=entry["title"],
            explanation=entry["explanation"],
            remediation=entry["remediation"],
            docs=tuple(entry["docs"]),
            supersedes=tuple(entry.get("supersedes", ())),
        )
        causes[cause.id] = cause
    return causes


def get(cause_id: str) -> Cause:
    return load()[cause_id]
