"""Suite-wide network safety: nothing but loopback, enforced for this process and for subprocesses."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NETGUARD_DIR = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD_DIR))

import netguard  # noqa: E402

netguard.install()

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def guarded_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess under test: the loopback-only guard is loaded via sitecustomize."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD_DIR), env.get("PYTHONPATH", "")]))
    env["AOAI_DIAG_NETGUARD"] = "1"
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    env.update(extra or {})
    return env


@pytest.fixture(autouse=True)
def _no_non_loopback_traffic() -> Iterator[None]:
    """Fail any test during which something tried to reach a non-loopback address, even if it was caught."""
    netguard.guard_connect_in_front()
    before = len(netguard.VIOLATIONS)
    yield
    new = netguard.VIOLATIONS[before:]
    assert not new, f"non-loopback traffic attempted: {new}"
