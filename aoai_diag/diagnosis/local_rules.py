"""Rules that need only what this machine observed."""

from __future__ import annotations

from aoai_diag.diagnosis.evidence import Rule

RULES: tuple[Rule, ...] = ()
