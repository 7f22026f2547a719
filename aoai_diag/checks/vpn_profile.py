"""The point-to-site VPN profile given with `--vpn-profile`, read as evidence (aoai_diag/osnet/vpnprofile.py).

What it promises is compared with what this machine resolved: the account's private addresses against the routes
the profile carries into the tunnel, its names against the DNS suffixes, and whether it pushes a DNS server at all.
Secrets in the profile (server secret, certificates, the Entra tenant, issuer and audience) are never copied.

Evidence: `VpnProfile` (aoai_diag/evidence/osnet.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aoai_diag.checks.base import Probe, blocking_body, error
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.osnet import RouteCoverage, VpnProfile, VpnProfileContent
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.addresses import class_or_none
from aoai_diag.osnet.vpnprofile import VpnProfileError, covering_route, load_profile, suffix_covers
from aoai_diag.targets import Target


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    path = str(ctx.settings.vpn_profile)
    try:
        profile: VpnProfileContent = ctx.once(f"vpn_profile:{path}", lambda: load_profile(path))
    except VpnProfileError as exc:
        return error(f"VPN profile unreadable: {exc}", str(exc), VpnProfile(file=os.path.basename(path)))
    resolution = deps.get("system_resolution")
    addresses = resolution.typed(SystemResolution).addresses if resolution else ()
    private = [a for a in addresses if class_or_none(a) == "private"]
    coverage: dict[str, RouteCoverage] = {}
    for address in private:
        route, excluded = covering_route(profile, address)
        coverage[address] = RouteCoverage(route=route, excluded_by=excluded)
    suffixes = profile.dns_suffixes
    suffix_coverage = (
        {name: next((s for s in suffixes if suffix_covers(s, name)), None) for name in target.names} if suffixes else {}
    )
    evidence = VpnProfile(
        file=os.path.basename(path), profile=profile, coverage=coverage, suffix_coverage=suffix_coverage
    )
    problems = []
    if not profile.dns_servers:
        problems.append("pushes no DNS server")
    uncovered = [n for n, s in suffix_coverage.items() if s is None]
    if uncovered:
        problems.append(f"DNS suffixes {', '.join(suffixes)} do not cover {', '.join(uncovered)}")
    outside = [a for a, c in coverage.items() if c.excluded_by or (profile.routes_known and not c.route)]
    if outside:
        problems.append(f"no route into the tunnel for {', '.join(outside)}")
    gateway = profile.gateway or "unknown gateway"
    routes = [*profile.advertised_routes, *profile.include_routes]
    shown = f"{gateway}; routes {', '.join(routes) or 'none listed'}; DNS {', '.join(profile.dns_servers) or 'none'}"
    if problems:
        return Outcome(Status.WARN, f"VPN profile {shown}: {'; '.join(problems)}", evidence, "; ".join(problems))
    return Outcome(Status.PASS, f"VPN profile {shown}", evidence)


def _disabled(settings: Settings) -> str | None:
    return None if settings.vpn_profile else "no --vpn-profile given"


run = blocking_body(collect)


PROBE = Probe(
    id="vpn_profile",
    title="VPN profile (routes, DNS servers, suffixes)",
    evidence=VpnProfile,
    stage=1,
    run=run,
    after=("system_resolution",),
    disabled=_disabled,
)
