"""The mypy configuration CI runs (`[tool.mypy]` in pyproject.toml): --strict for the diagnosis and the evidence
types, every function body checked everywhere else.

`strict = true` cannot be set per module, so the override spells out --strict's flags; these tests catch a flag that
a newer mypy adds to --strict and the override does not list yet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy.main import process_options
from mypy.options import PER_MODULE_OPTIONS, Options

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
STRICT_MODULES = ("aoai_diag.diagnosis", "aoai_diag.diagnosis.facts", "aoai_diag.evidence", "aoai_diag.evidence.base")
OTHER_MODULES = ("aoai_diag.cli", "aoai_diag.render.table", "aoai_diag.diagnosis_extra")


def _options(*args: str) -> Options:
    _, options = process_options(list(args), require_targets=False)
    return options


@pytest.fixture(scope="module")
def strict_flags() -> dict[str, object]:
    """The per-module flags --strict changes, with the value it gives them (no config file read)."""
    strict, plain = _options("--config-file", "", "--strict"), _options("--config-file", "")
    flags = {k: getattr(strict, k) for k in PER_MODULE_OPTIONS if getattr(strict, k, None) != getattr(plain, k, None)}
    assert "disallow_untyped_defs" in flags and "warn_return_any" in flags
    return flags


def test_diagnosis_and_evidence_get_every_per_module_flag_of_strict(strict_flags: dict[str, object]) -> None:
    ours = _options("--config-file", str(PYPROJECT))
    for module in STRICT_MODULES:
        clone = ours.clone_for_module(module)
        assert {k: getattr(clone, k) for k in strict_flags} == strict_flags, module
    assert ours.warn_redundant_casts  # --strict's one global-only flag


def test_other_modules_are_checked_without_strict() -> None:
    ours = _options("--config-file", str(PYPROJECT))
    for module in OTHER_MODULES:
        clone = ours.clone_for_module(module)
        assert clone.check_untyped_defs, module
        assert not clone.disallow_untyped_defs and not clone.warn_return_any and clone.implicit_reexport, module
