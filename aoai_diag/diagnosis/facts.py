"""Facts: what the diagnosis knows about one link of the path, or why it does not know.

A fact is *known* (a value and the checks it came from) or *unknown* (why: not read, forbidden, throttled, timed
out, not applicable, failed), with what would decide it. A read that failed is never taken as "absent": rules ask
`fact.is_true()` / `fact.is_false()`, both False while the fact is unknown, and a cause is named only when the facts it
rests on are known (catalogue `premises`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


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
class Fact(Generic[T]):
    """One derived fact. Build with `known(...)` or `unknown(...)`."""

    known: bool
    value: T | None = None
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


def unknown(why: Unknown, *sources: str, detail: str | None = None, decide: str | None = None) -> Fact[object]:
    return Fact(known=False, why=why, sources=tuple(sources), detail=detail, decide=decide)
