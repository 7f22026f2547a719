"""Shared builders for the path-probe tests (tcp_connect, tls_handshake, https_dataplane, proxy_settings)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aoai_diag.context import ProbeContext, Settings
from aoai_diag.model import CheckResult, Status
from aoai_diag.net.addresses import classes
from aoai_diag.targets import Target, parse_target

TARGET: Target = parse_target("contoso")


def resolution(*addresses: str) -> CheckResult:
    """A system_resolution result as docs/evidence.md describes it, for the primary host."""
    evidence = {
        "results": {
            TARGET.host: {"addresses": list(addresses), "address_classes": classes(list(addresses)), "error": None}
        },
        "addresses": list(addresses),
        "address_classes": classes(list(addresses)),
    }
    status = Status.PASS if addresses else Status.FAIL
    return CheckResult("system_resolution", status, "resolved (test)", evidence, 1.0)


def context(
    port: int, env: Mapping[str, str] | None = None, timeout: float = 1.0, deadline: float = 5.0
) -> ProbeContext:
    settings = Settings(port=port, timeout=timeout, env=dict(env or {}))
    return ProbeContext(settings=settings, deadline=time.monotonic() + deadline)


def trust(ca: Path) -> dict[str, Any]:
    return {"SSL_CERT_FILE": str(ca)}
