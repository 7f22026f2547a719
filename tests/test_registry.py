"""The explicit probe registry (STYLE.md §5)."""

from __future__ import annotations

import importlib
import pkgutil

import aoai_diag.checks as checks_pkg
from aoai_diag.checks import PROBES


def test_probe_id_equals_module_name() -> None:
    for probe in PROBES:
        module = importlib.import_module(f"aoai_diag.checks.{probe.id}")
        assert module.PROBE is probe, f"{probe.id}: id must equal its module name"


def test_every_probe_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(checks_pkg.__path__) if not m.name.startswith("_")}
    registered = {p.id for p in PROBES}
    helpers = {m for m in modules if not hasattr(importlib.import_module(f"aoai_diag.checks.{m}"), "PROBE")}
    assert modules - helpers == registered


def test_dependencies_exist_and_come_earlier() -> None:
    seen: set[str] = set()
    for probe in PROBES:
        for dep in (*probe.requires, *probe.after):
            assert dep in seen, f"{probe.id} depends on {dep}, which is not registered before it"
        seen.add(probe.id)
    assert len(seen) == len(PROBES), "duplicate probe ids"


def test_layers() -> None:
    for probe in PROBES:
        assert probe.layer in ("local", "azure")
        assert probe.layer == ("azure" if probe.id.startswith("arm_") else "local"), probe.id
