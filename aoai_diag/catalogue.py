"""The cause catalogue, kept as data in `data/causes.json`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from aoai_diag.model import Severity

FAMILIES = ("dns", "net", "edge", "svc", "app")
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
    premises: tuple[str, ...] = ()
    """Fact names (diagnosis/facts) that must be known and true for this cause to be named; when one is unknown the
    merger names the cause's `generic` instead, with this cause among its candidates and what would decide."""
    generic: str | None = None
    """The cause to name instead when a premise is unknown (None: the finding is dropped, the check still shows)."""
    excludes: tuple[str, ...] = ()
    """Causes that cannot be true together with this one; when both are concluded, this one is kept."""
    consequence_of: tuple[str, ...] = ()
    """Root causes this one follows from: when one of them is in the report, this finding's role is `consequence`."""
    remediation_variants: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Named alternatives to `remediation` for one situation of the cause (a platform, an excluded route, a stale
    hosts line), each a template with its own `<placeholders>`; a rule picks one with `fill(..., variant=name)`."""


@lru_cache(maxsize=1)
def load() -> dict[str, Cause]:
    # A plain os.path, not importlib.resources or pathlib (~5 ms to import): `aoai-diag causes` must start fast.
    with open(os.path.join(os.path.dirname(__file__), "data", "causes.json"), encoding="utf-8") as fh:
        raw = json.load(fh)
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
            premises=tuple(entry.get("premises", ())),
            generic=entry.get("generic"),
            excludes=tuple(entry.get("excludes", ())),
            consequence_of=tuple(entry.get("consequence_of", ())),
            remediation_variants=dict(entry.get("remediation_variants", {})),
        )
        causes[cause.id] = cause
    return causes


def get(cause_id: str) -> Cause:
    return load()[cause_id]


def fill(cause_id: str, variant: str | None = None, **values: str | None) -> str:
    """The cause's remediation template (or its named `variant`) with each `<placeholder>` replaced by this
    instance's value (`pe_ip` fills `<pe-ip>`); a value that is None or empty leaves its placeholder for the reader.
    A list is filled as one value the rule joined. The one template mechanism: rules never spell a command
    themselves. An unknown variant is a KeyError (tests/test_catalogue.py checks every variant a rule names)."""
    cause = get(cause_id)
    if variant is None:
        text = cause.remediation
    elif variant in cause.remediation_variants:
        text = cause.remediation_variants[variant]
    else:
        raise KeyError(f"{cause_id} has no remediation variant {variant!r}")
    for key, value in values.items():
        if value:
            text = text.replace(f"<{key.replace('_', '-')}>", value)
    return text
