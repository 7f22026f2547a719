"""Typed evidence: one frozen dataclass per probe (docs/evidence.md); each probe names its type (`Probe.evidence`).

`read(check_id, evidence, path)` is the one door from JSON (a bundle, a saved report) to the typed evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aoai_diag.evidence.base import Evidence, EvidenceError, json_value


def evidence_types() -> Mapping[str, type[Evidence]]:
    """Check id -> its evidence type, as each probe declares it (`Probe.evidence`), in registry order."""
    from aoai_diag.checks import load_probes

    return {p.id: p.evidence for p in load_probes() if p.evidence is not None}


_CHECK_OF: dict[type[Evidence], str] = {}


def check_of(kind: type[Evidence]) -> str:
    """The id of the one check whose evidence type is `kind`; KeyError for a type no probe declares."""
    if not _CHECK_OF:
        _CHECK_OF.update({declared: check_id for check_id, declared in evidence_types().items()})
    check_id = _CHECK_OF.get(kind)
    if check_id is None:
        raise KeyError(f"no probe declares evidence {kind.__name__}")
    return check_id


def parse(check_id: str, evidence: Any, path: str = "evidence", *, strict: bool = False) -> Evidence | None:
    """The typed evidence of `check_id`, or None for a check this version does not know. Raises EvidenceError."""
    kind = evidence_types().get(check_id)
    if kind is None:
        return None
    return kind.from_dict(evidence, path, strict=strict)


def read(check_id: str, evidence: Any, path: str = "evidence") -> Evidence:
    """`evidence` (a JSON mapping) as the typed evidence of `check_id`; a check this version does not know keeps
    its keys in `extra` (checked to be plain finite JSON). Raises EvidenceError."""
    typed = parse(check_id, evidence, path)
    if typed is not None:
        return typed
    if not isinstance(evidence, Mapping):
        raise EvidenceError(path, "must be an object")
    return Evidence(extra=dict(json_value(evidence, path)))


__all__ = [
    "Evidence",
    "EvidenceError",
    "parse",
    "read",
]
