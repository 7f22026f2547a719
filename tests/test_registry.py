"""The explicit probe registry: the modules, and the metadata `aoai-diag checks` lists without importing them."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import aoai_diag.checks as checks_pkg
from aoai_diag.checks import PROBES, REGISTRY
from tests.conftest import REPO


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


def test_registry_metadata_matches_the_modules() -> None:
    assert [info.id for info in REGISTRY] == [p.id for p in PROBES]
    for info, probe in zip(REGISTRY, PROBES, strict=True):
        assert (info.layer, info.requires, info.title) == (probe.layer, probe.requires, probe.title), probe.id


def test_listing_the_checks_imports_no_probe_module() -> None:
    code = (
        "import sys\n"
        "from aoai_diag.cli import main\n"
        "try:\n    main(['checks'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aoai_diag.checks.', 'dns', 'azure'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert "arm_nsg" in out.stdout  # the listing itself was printed
    assert lines[-1] == "[]", lines[-1]
