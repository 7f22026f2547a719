"""The OS's DNS configuration as its own commands and files show it (osnet/linux.py, macos.py, windows.py read and
parse them). These are parse results, not evidence: osnet/resolvers.py turns them into the `os_resolvers` evidence
(`SplitRule`, `NameChoice` in aoai_diag/evidence/osnet.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ResolverRule:
    """One resolver rule: a Windows NRPT rule, or a macOS resolver (`scutil --dns`, an /etc/resolver file)."""

    kind: str
    """nrpt | scoped (a macOS resolver for one domain) | default (a macOS resolver without a domain)."""
    match: str | None = None
    """The namespace or domain, lower-case (NRPT: `.suffix`, a host name, or `.`); None for a default resolver."""
    servers: tuple[str, ...] = ()
    interface: str | None = None
    order: int | None = None
    """macOS `order` / `search_order`: the lower wins between two resolvers for the same domain."""
    source: str | None = None
    """NRPT: policy (Get-DnsClientNrptPolicy) | local | group policy (the registry key it came from)."""
    file: str | None = None
    """macOS: the /etc/resolver file read."""
    exempt: bool = False
    """An NRPT rule without a DNS server: its names go to the interfaces' DNS servers."""
    truncated: bool = False
    """PowerShell's display cut the server list: the servers past the cut are unknown."""


@dataclass(frozen=True, kw_only=True)
class ResolvedLink:
    """One section of `resolvectl status` with DNS servers (or, for Global, fallback servers)."""

    kind: str
    """global | link."""
    interface: str | None = None
    servers: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    """Search and route-only (`~`) domains, lower-case; `~.` is the catch-all."""
    default_route: bool | None = None
    """The link's DefaultRoute as shown; None when resolvectl does not show it."""
    fallback: tuple[str, ...] = ()
    """Global only: the fallback servers."""


@dataclass(frozen=True, kw_only=True)
class InterfaceServers:
    """One row of Windows' `Get-DnsClientServerAddress`."""

    interface: str
    index: int
    family: str
    """IPv4 | IPv6."""
    servers: tuple[str, ...] = ()
    truncated: bool = False
    """PowerShell's display cut the row: the servers past the cut are unknown."""


@dataclass(frozen=True, kw_only=True)
class OsDnsConfig:
    """Everything read of the OS's DNS configuration, once per run."""

    platform: str
    """windows | macos | linux | other."""
    source: str
    """nrpt | scutil | resolvectl | resolv.conf (no per-name rules: the system list)."""
    rules: tuple[ResolverRule, ...] = ()
    """NRPT rules (nrpt) or resolvers (scutil)."""
    links: tuple[ResolvedLink, ...] = ()
    """systemd-resolved's sections (resolvectl)."""
    interfaces: tuple[InterfaceServers, ...] = ()
    """Windows: the interfaces' DNS servers (where names without an NRPT rule go)."""
    errors: tuple[str, ...] = ()
    """Commands that failed: the rules they would have shown are unknown, not absent."""
