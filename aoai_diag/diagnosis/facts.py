"""Facts: what the diagnosis knows about one link of the path, or why it does not know.

A fact is *known* (a value and the checks it came from) or *unknown* (why: not read, forbidden, throttled, timed
out, not applicable, failed), with what would decide it. A read that failed is never taken as "absent": rules ask
`fact.is_true()` / `fact.is_false()`, both False while the fact is unknown, and a cause is named only when the facts it
rests on are known (catalogue `premises`).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from aoai_diag.evidence.azure import RECORDS_DENIED, Denied
from aoai_diag.model import CheckResult, Status

if TYPE_CHECKING:
    # typing_extensions is only read by the type checker (Never and TypeIs are in `typing` from 3.11 and 3.13).
    from typing_extensions import Never, TypeIs

    from aoai_diag.diagnosis.evidence import Evidence

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Unknown(str, enum.Enum):
    """Why a fact is not known."""

    NOT_READ = "not read"
    """Nothing tried to observe it (probe switched off, skipped, or a read that was never attempted)."""
    FORBIDDEN = "forbidden"
    """The read was refused (HTTP 401/403, no role on the scope)."""
    THROTTLED = "throttled"
    """The read was throttled (HTTP 429) and the deadline left no room to retry."""
    TIMED_OUT = "timed out"
    """The read or the probe did not finish before its deadline."""
    NOT_APPLICABLE = "not applicable"
    """The question does not arise here (e.g. VNet links of a machine that is not on Azure)."""
    FAILED = "failed"
    """The read ran and failed in another way (error answer, unparsable data)."""


@dataclass(frozen=True)
class Fact(Generic[T_co]):
    """One derived fact. Build with `known(...)` or `unknown(...)`.

    Covariant, and an unknown fact is a `Fact[Never]` (it has no value), so an unknown fact answers any question."""

    known: bool
    value: T_co | None = None
    sources: tuple[str, ...] = ()
    """Check ids whose evidence gave the value (or whose failure left it unknown)."""
    why: Unknown | None = None
    """Set exactly when the fact is unknown."""
    detail: str | None = None
    """One line on why it is unknown (the scope that was forbidden, the probe that timed out)."""
    decide: str | None = None
    """What would decide it, for a person: "Reader on subscription X would show whether the zone exists"."""

    def is_true(self) -> bool:
        return self.known and bool(self.value)

    def is_false(self) -> bool:
        return self.known and not self.value

    def describe(self) -> str:
        """`unknown (forbidden: ...)` for sentences; the value's str when known."""
        if self.known:
            return str(self.value)
        text = f"unknown ({self.why.value if self.why else 'not read'}"
        return text + (f": {self.detail})" if self.detail else ")")


def known(value: T, *sources: str) -> Fact[T]:
    return Fact(known=True, value=value, sources=tuple(sources))


def unknown(why: Unknown, *sources: str, detail: str | None = None, decide: str | None = None) -> Fact[Never]:
    return Fact(known=False, why=why, sources=tuple(sources), detail=detail, decide=decide)


def is_unknown(fact: Fact[object]) -> TypeIs[Fact[Never]]:
    """`not fact.known`, telling the type checker that the fact (having no value) can stand for any other fact."""
    return not fact.known


# --- the registry: named facts, each derived once per target ------------------------------------------------------

FactFn = Callable[["Evidence"], Fact[object]]
"""Derives one fact from a target's evidence; never raises on odd evidence (reads as unknown instead)."""

_REGISTRY: dict[str, FactFn] = {}
# Modules that register facts; imported on first use so the registry is full whoever asks first.
_FACT_MODULES = ("aoai_diag.diagnosis.azure_facts", "aoai_diag.diagnosis.local_facts", "aoai_diag.diagnosis.app_facts")
_loaded = False


FactFnT = TypeVar("FactFnT", bound=FactFn)


def fact(name: str) -> Callable[[FactFnT], FactFnT]:
    """Register `fn` as the one way to derive the fact `name` (`arm.zone_search_complete`, `local.…`).

    The decorated function keeps its own signature (a fact function may take optional arguments of its own)."""

    def register(fn: FactFnT) -> FactFnT:
        previous = _REGISTRY.get(name)
        if previous is not None and _where(previous) != _where(fn):
            raise ValueError(f"fact {name!r} is registered twice ({_where(previous)}, {_where(fn)})")
        _REGISTRY[name] = fn
        return fn

    return register


def _where(fn: FactFn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _registered() -> dict[str, FactFn]:
    global _loaded
    if not _loaded:
        for module in _FACT_MODULES:
            importlib.import_module(module)
        _loaded = True
    return _REGISTRY


def registry() -> Mapping[str, FactFn]:
    """Every registered fact, by name."""
    return dict(_registered())


def why_unread(denied: Denied) -> Unknown:
    """Why a failed read (`{scope, status, code, message}`) leaves a fact unknown: from its HTTP status and the code
    the Azure layer set where the read failed (aoai_diag/azure/arm_clients.py `denied_from`), never its message."""
    status, code = denied.status, denied.code or ""
    if status in (401, 403) or code in ("AuthorizationFailed", "CredentialUnavailableError"):
        return Unknown.FORBIDDEN
    if status == 429:
        return Unknown.THROTTLED
    if code in ("Timeout", "Unfinished"):
        return Unknown.TIMED_OUT
    return Unknown.FAILED


def why_failed(result: CheckResult) -> Unknown:
    """Why a probe in error observed nothing, from its typed `failure`."""
    return Unknown.TIMED_OUT if result.failure == "timeout" else Unknown.FAILED


_WORST = (Unknown.FORBIDDEN, Unknown.THROTTLED, Unknown.TIMED_OUT, Unknown.FAILED)


def unread(evidence: Evidence, check_id: str, decide: str | None = None) -> Fact[Never] | None:
    """Why `check_id` observed nothing, as an unknown fact; None when it observed something (pass/fail/warn).

    A check in error names what refused it in `denied` (`{scope, status, code, message}`, docs/evidence.md) or
    in its reason; a skipped or missing check was not read.
    """
    result = evidence.checks.get(check_id)
    if result is None:
        return unknown(Unknown.NOT_READ, check_id, detail=f"{check_id} did not run", decide=decide)
    if result.status in (Status.PASS, Status.FAIL, Status.WARN):
        return None
    if result.status is Status.SKIP:
        return unknown(Unknown.NOT_READ, check_id, detail=result.reason or result.summary, decide=decide)
    entries = result.evidence.denied if isinstance(result.evidence, RECORDS_DENIED) else ()
    if not entries:
        return unknown(why_failed(result), check_id, detail=result.reason or result.summary, decide=decide)
    whys = {why_unread(d) for d in entries}
    text = "; ".join(f"{d.scope or '?'} ({d.status or d.code or 'error'})" for d in entries)
    return unknown(next(w for w in _WORST if w in whys), check_id, detail=text, decide=decide)


class FactCache:
    """The facts of one target's evidence, each computed at most once (rules and the merger share it)."""

    def __init__(self) -> None:
        self._values: dict[str, Fact[object]] = {}
        self._busy: set[str] = set()

    def get(self, evidence: Evidence, name: str) -> Fact[object]:
        if name in self._values:
            return self._values[name]
        fn = _registered().get(name)
        if fn is None:
            raise KeyError(f"no fact named {name!r} is registered")
        if name in self._busy:
            raise RecursionError(f"fact {name!r} depends on itself")
        self._busy.add(name)
        try:
            value = fn(evidence)
        finally:
            self._busy.discard(name)
        self._values[name] = value
        return value
