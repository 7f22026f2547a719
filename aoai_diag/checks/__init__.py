"""The probe registry: one module per probe, listed once here, in the order of the report.

Everything else about a probe (its title, layer, what it requires) is said once, by its module's `PROBE`.
`aoai-diag checks` lists that metadata without importing any probe module: the probes import dnspython and the
HTTP, TLS and Azure helpers, about half a second on a small machine, which a listing must not pay; `REGISTRY`
reads each module's `PROBE = Probe(...)` literal from its source instead (a test asserts it equals the imported
objects). `PROBES` (the probe objects) is imported on first use. Azure-layer probes import the SDK only inside
their run functions.
"""

from __future__ import annotations

import ast
import importlib
import os
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from aoai_diag.checks.base import Probe

PROBE_MODULES: tuple[str, ...] = (
    "hosts_file",
    "resolver_config",
    "system_resolution",
    "vpn_profile",
    "dns_nameservers",
    "os_resolvers",
    "public_dns",
    "app_host",
    "app_dns",
    "azure_platform",
    "azure_dns",
    "proxy_settings",
    "tcp_connect",
    "route_lookup",
    "tls_handshake",
    "https_dataplane",
    "arm_access",
    "arm_account",
    "arm_private_endpoints",
    "arm_dns_zones",
    "arm_client_network",
    "arm_nsg",
    "arm_app_host",
)
"""Modules under aoai_diag.checks, one per probe; the probe id is the module name (a test asserts it)."""


class ProbeInfo(NamedTuple):
    id: str
    """The module name under aoai_diag.checks."""
    layer: str
    requires: tuple[str, ...]
    title: str


def _literal_info(module: str) -> ProbeInfo:
    """The metadata of `module`'s `PROBE = Probe(...)`, read from its source without importing it: only that
    statement is parsed (parsing every probe module whole cost `aoai-diag checks` ~60 ms of CPU)."""
    try:
        with open(os.path.join(os.path.dirname(__file__), f"{module}.py"), encoding="utf-8") as fh:
            source = fh.read()
        start = source.index("\nPROBE = Probe(") + 1
        call = _first_statement(source, start)
        assert isinstance(call, ast.Assign) and isinstance(call.value, ast.Call)
        args: dict[str, Any] = {k.arg: ast.literal_eval(k.value) for k in call.value.keywords if k.arg in _LITERAL}
    except (OSError, ValueError, SyntaxError, AssertionError, IndexError):
        probe = importlib.import_module(f"{__name__}.{module}").PROBE  # not plain literals: ask the module
        return ProbeInfo(probe.id, probe.layer, tuple(probe.requires), probe.title)
    return ProbeInfo(
        id=str(args.get("id", module)),
        layer=str(args.get("layer", "local")),
        requires=tuple(args.get("requires", ())),
        title=str(args.get("title", "")),
    )


_LITERAL = ("id", "title", "layer", "requires")


def _first_statement(source: str, start: int) -> ast.stmt:
    """The statement that begins at `start`: the shortest run of whole lines from there that parses."""
    end = source.find("\n", start)
    while end != -1:
        try:
            return ast.parse(source[start:end]).body[0]
        except SyntaxError:
            end = source.find("\n", end + 1)
    return ast.parse(source[start:]).body[0]


@cache
def registry() -> tuple[ProbeInfo, ...]:
    """What `aoai-diag checks` lists (id, layer, requires, title), in report order, without importing a probe."""
    return tuple(_literal_info(m) for m in PROBE_MODULES)


@cache
def load_probes() -> tuple[Probe, ...]:
    """Import every probe module (once) and return their PROBE objects, in registry order."""
    return tuple(importlib.import_module(f"{__name__}.{m}").PROBE for m in PROBE_MODULES)


def __getattr__(name: str) -> Any:
    # `from aoai_diag.checks import PROBES` (or REGISTRY) keeps working; the modules load (or are read) only then.
    if name == "PROBES":
        return load_probes()
    if name == "REGISTRY":
        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
