"""Which route this machine would use toward each resolved private address: a specific one, or the default.

Troubleshooting net.not_on_private_network means running `ip route get <PE-IP>` / `Find-NetRoute`: a PE address
that only the default route covers means the machine is not on (or tunnelled into) the private network, while a
specific route means the network is there and something drops the packets. Connecting a UDP socket asks the
kernel for that route and sends nothing; the source address it picks names the interface. Comparing it with the
source picked for a public reference address (the first public resolver, overridable) tells "default route" apart.

The OS's own route lookup (`ip -j route get`, `route -n get`, `Find-NetRoute`: aoai_diag/osnet/routes.py) adds
the interface and next hop it picks, and whether that is the VPN tunnel; with `--vpn-profile`, each route the
profile carries is looked up too, so "the tunnel's routes are not in the routing table" is observed.

Evidence: `RouteLookup` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Mapping

from aoai_diag.blocking import map_in_threads
from aoai_diag.checks.base import Probe, skip
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.osnet import OsRoute, VpnProfile, VpnProfileContent
from aoai_diag.evidence.path import KernelRoute, ProfileRoute, RouteLookup, RouteReference
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import classify
from aoai_diag.osnet import commands
from aoai_diag.osnet import routes as os_routes
from aoai_diag.targets import Target

MAX_PROFILE_ROUTES = 16

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


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    addresses = deps["system_resolution"].typed(SystemResolution).addresses
    private = [a for a in addresses if classify(a) == "private"]
    if not private:
        return skip("no private address resolved: no route to look up")
    if not ctx.settings.public_resolvers:
        return skip("no public reference address (no public resolver configured)")
    ref_address = ctx.settings.public_resolvers[0][0]
    # The source address toward the reference is the same for every target of a run: asked once (not kept when
    # the lookup failed).
    # (ctx.shared is read and written here on the loop's one thread: no lock.)
    source_key = f"route.reference_source:{ref_address}"
    known_source = ctx.shared.get(source_key)
    ref_source, ref_error = known_source or source_for(ref_address, 53)
    if known_source is None and ref_error is None:
        ctx.shared.setdefault(source_key, (ref_source, None))
    platform = commands.platform()
    profile_check = deps.get("vpn_profile")
    profile = profile_check.typed(VpnProfile).profile if profile_check else None
    probes = _profile_probes(profile) if profile is not None else {}
    # One lookup for every address at once: on Windows each PowerShell start costs about a second. Elsewhere the
    # reference address, the same for every target of a run, is looked up once per run (one process fewer per
    # target: in a fleet of 50, starting `ip` was a fifth of the run's CPU); a failed lookup is not kept.
    ref_key = f"route.reference:{ref_address}"
    ref_known: OsRoute | None = ctx.shared.get(ref_key) if platform != "windows" else None
    wanted = [*([] if ref_known is not None else [ref_address]), *private, *probes.values()]
    timeout = ctx.op_timeout()
    # One command for every address (one `ip -json -batch`, one PowerShell script), in the executor.
    (os_found,) = await map_in_threads(
        lambda w: os_routes.lookup_routes(w, timeout, platform),
        [wanted],
        timeout + 0.5,
        lambda w: {a: OsRoute(error="route lookup timed out") for a in w},
    )
    if ref_known is not None:
        ref_os = ref_known
        os_found = {**os_found, ref_address: ref_os}
    else:
        ref_os = os_found[ref_address]
        if not ref_os.error and platform != "windows":
            ctx.shared.setdefault(ref_key, ref_os)
    routes: list[KernelRoute] = []
    for address in private:
        source, error = source_for(address, ctx.settings.port)
        # A loopback destination (an SSH tunnel or local relay) or one of this machine's own addresses is local.
        local = source == address or ipaddress.ip_address(address).is_loopback
        via_default = None if source is None or ref_source is None or local else source == ref_source
        os_route = os_found[address]
        is_tunnel, basis = os_routes.tunnel(os_route, source, profile)
        routes.append(
            KernelRoute(
                address=address,
                address_class="private",
                source=source,
                error=error,
                local=local,
                via_default=via_default,
                os_route=os_route,
                tunnel=None if local else is_tunnel,
                tunnel_basis="local address" if local else basis,
            )
        )
    evidence = RouteLookup(
        reference=RouteReference(address=ref_address, source=ref_source, error=ref_error, os_route=ref_os),
        routes=tuple(routes),
        platform=platform,
        profile_routes=_profile_routes(probes, os_found, profile, ref_os) if profile is not None else (),
    )
    shown = "; ".join(
        f"{r.address}: {r.error}"
        if r.error
        else f"{r.address} via source {r.source}" + (" (default route)" if r.via_default else "")
        for r in routes
    )
    if any(r.error for r in routes):
        return Outcome(Status.FAIL, f"no route: {shown}", evidence)
    if any(r.via_default for r in routes):
        return Outcome(Status.WARN, f"only the default route covers {shown}", evidence)
    return Outcome(Status.PASS, f"route: {shown}", evidence)


def _profile_probes(profile: VpnProfileContent) -> dict[str, str]:
    """{prefix: the address looked up for it (its first host)} for each route the profile carries."""
    probes: dict[str, str] = {}
    prefixes = list(dict.fromkeys([*profile.advertised_routes, *profile.include_routes]))
    for prefix in prefixes[:MAX_PROFILE_ROUTES]:
        network = ipaddress.ip_network(prefix)
        if network.prefixlen == 0:
            continue  # 0/0 (forced tunnel) always matches something: it proves nothing about the tunnel
        probes[prefix] = str(network.network_address + (1 if network.num_addresses > 2 else 0))
    return probes


def _profile_routes(
    probes: Mapping[str, str],
    os_found: Mapping[str, OsRoute],
    profile: VpnProfileContent,
    reference: OsRoute,
) -> tuple[ProfileRoute, ...]:
    """Each route the profile carries, as the OS's table answers for its first host: is it the tunnel?"""
    found = []
    for prefix, address in probes.items():
        os_route = os_found[address]
        # Only the OS's answer: a UDP connect toward a prefix nothing resolved to is not worth a socket.
        is_tunnel, basis = os_routes.tunnel(os_route, os_route.source, profile)
        found.append(
            ProfileRoute(
                prefix=prefix,
                address=address,
                interface=os_route.interface,
                next_hop=os_route.next_hop,
                error=os_route.error,
                no_route=os_route.no_route,
                local=os_route.local,
                via_default=os_routes.via_default(os_route, reference),
                tunnel=is_tunnel,
                tunnel_basis=basis,
            )
        )
    return tuple(found)


PROBE = Probe(
    id="route_lookup",
    title="Route toward the resolved private addresses",
    evidence=RouteLookup,
    stage=1,
    run=run,
    requires=("system_resolution",),
    after=("vpn_profile",),
)
