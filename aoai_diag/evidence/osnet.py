"""Evidence of what the operating system itself decides (aoai_diag/osnet): the route it picks, the DNS server it
sends each name to, and what the imported VPN profile promises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aoai_diag.evidence.base import Evidence
from aoai_diag.evidence.dns import DnsAnswer


@dataclass(frozen=True, kw_only=True)
class OsRoute(Evidence):
    """The OS's own route lookup (`ip -j route get`, `route -n get`, `Find-NetRoute`)."""

    interface: str | None = None
    next_hop: str | None = None
    """null: on-link (no gateway)."""
    prefix: str | None = None
    """The table entry that matched; null where the OS does not name it (`ip route get`)."""
    source: str | None = None
    local: bool = False
    """The address is this machine's own (Linux names it)."""
    no_route: bool = False
    """The OS answered that no route matches; a reader that failed leaves it false."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class VpnProfileContent(Evidence):
    """The parsed profile (aoai_diag/osnet/vpnprofile.py); secrets are never copied, `omitted` names them."""

    files: tuple[str, ...] = ()
    name: str | None = None
    gateway: str | None = None
    vpn_type: str | None = None
    auth_type: str | None = None
    client_address_pool: tuple[str, ...] = ()
    advertised_routes: tuple[str, ...] = ()
    include_routes: tuple[str, ...] = ()
    exclude_routes: tuple[str, ...] = ()
    routes_known: bool = False
    """The package's advertised routes were read, so "no route covers the address" is a fact."""
    dns_servers: tuple[str, ...] = ()
    dns_suffixes: tuple[str, ...] = ()
    omitted: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RouteCoverage(Evidence):
    route: str | None = None
    """The profile route that carries the address into the tunnel."""
    excluded_by: str | None = None
    """The exclude route that keeps it out."""


@dataclass(frozen=True, kw_only=True)
class VpnProfile(Evidence):
    file: str | None = None
    """The file's base name (the directory may name the user)."""
    profile: VpnProfileContent | None = None
    """null: the profile could not be read."""
    coverage: Mapping[str, RouteCoverage] = field(default_factory=dict)
    """address -> its coverage, for each private address the OS resolved for the primary host."""
    suffix_coverage: Mapping[str, str | None] = field(default_factory=dict)
    """name -> the profile suffix covering it, for each of the account's names (null: the profile lists suffixes and
    none covers the name); empty when the profile lists no suffix."""


@dataclass(frozen=True, kw_only=True)
class SplitRule(Evidence):
    """A per-domain rule: NRPT namespace, macOS scoped resolver or systemd-resolved link domain."""

    kind: str | None = None
    """nrpt | scoped | link_domain."""
    match: str | None = None
    servers: tuple[str, ...] = ()
    interface: str | None = None


@dataclass(frozen=True, kw_only=True)
class NameChoice(Evidence):
    """The server(s) the OS sends one name to, the rule that chose them, and what they answer."""

    kind: str | None = None
    """nrpt | scoped | link_domain | default."""
    match: str | None = None
    """The rule's namespace or domain (`.`: systemd-resolved's `~.`); with `default`, the NRPT exemption that sent the
    name there, or null."""
    why: str | None = None
    interface: str | None = None
    servers: tuple[str, ...] = ()
    """ip:port."""
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)
    """server -> its answer for the name."""
    verdict: str | None = None
    """private | mixed | public | nxdomain | ... (one server), disagree (several differ), none (no server)."""
    app: str | None = None
    """What getaddrinfo gave the application: private | public | mixed | error | unknown."""
    disagree: bool = False
    """The OS's server and getaddrinfo disagree on whether the name is private (false when getaddrinfo's view is
    unknown or the servers gave no single verdict)."""


@dataclass(frozen=True, kw_only=True)
class OsResolvers(Evidence):
    platform: str | None = None
    """windows | macos | linux | other."""
    source: str | None = None
    """nrpt | scutil | resolvectl | resolv.conf."""
    errors: tuple[str, ...] = ()
    """OS commands that failed: the rules they would have shown are unknown, not absent."""
    split_rules: tuple[SplitRule, ...] = ()
    names: Mapping[str, NameChoice] = field(default_factory=dict)
    uncovered: Mapping[str, Mapping[str, DnsAnswer]] = field(default_factory=dict)
    """name no per-domain rule covers -> {server of a per-domain rule: its answer for the name} (would the tunnel's
    DNS have given the private address?)."""
