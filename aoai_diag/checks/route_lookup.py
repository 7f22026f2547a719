"""Which route this machine would use toward each resolved private address: a specific one, or the default.

causes.md (net.not_on_private_network) tells people to run `ip route get <PE-IP>` / `Find-NetRoute`: a PE address
that only the default route covers means the machine is not on (or tunnelled into) the private network, while a
specific route means the network is there and something drops the packets. Connecting a UDP socket asks the
kernel for that route and sends nothing; the source address it picks names the interface. Comparing it with the
source picked for a public reference address (the first public resolver, overridable) tells "default route" apart.

Evidence:
    reference (dict): {address, source, error} for the public reference address.
    routes (list): {address, class, source, error ("network unreachable", ...), local (bool: the address is
        this machine's own), via_default (bool | None: same source as the reference)} per private address.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

from aoai_diag.addresses import classify
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

_ERRORS = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "no source address",
}


def source_for(address: str, port: int) -> tuple[str | None, str | None]:
    """The source address the kernel would use toward `address` (UDP connect: no packet is sent)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address, port))
        except OSError as exc:
            return None, _ERRORS.get(exc.errno or 0, f"{type(exc).__name__}: {exc.strerror or exc}")
        return str(sock.getsockname()[0]), None


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    resolution = deps["system_resolution"].evidence
    addresses = [str(a) for a in resolution.get("addresses") or []]
    private = [a for a in addresses if classify(a) == "private"]
    if not private:
        return skip("no private address resolved: no route to look up")
    if not ctx.settings.public_resolvers:
        return skip("no public reference address (no public resolver configured)")
    ref_address = ctx.settings.public_resolvers[0][0]
    ref_source, ref_error = source_for(ref_address, 53)
    routes: list[dict[str, Any]] = []
    for address in private:
        source, error = source_for(address, ctx.settings.port)
        # A loopback destination (an SSH tunnel or local relay) or one of this machine's own addresses is local.
        local = source == address or ipaddress.ip_address(address).is_loopback
        via_default = None if source is None or ref_source is None or local else source == ref_source
        routes.append(
            {
                "address": address,
                "class": "private",
                "source": source,
                "error": error,
                "local": local,
                "via_default": via_default,
            }
        )
    evidence = {"reference": {"address": ref_address, "source": ref_source, "error": ref_error}, "routes": routes}
    shown = "; ".join(
        f"{r['address']}: {r['error']}"
        if r["error"]
        else f"{r['address']} via source {r['source']}" + (" (default route)" if r["via_default"] else "")
        for r in routes
    )
    if any(r["error"] for r in routes):
        return Outcome(Status.FAIL, f"no route: {shown}", evidence)
    if any(r["via_default"] for r in routes):
        return Outcome(Status.WARN, f"only the default route covers {shown}", evidence)
    return Outcome(Status.PASS, f"route: {shown}", evidence)


PROBE = Probe(
    id="route_lookup",
    title="Route toward the resolved private addresses",
    run=run,
    requires=("system_resolution",),
)
