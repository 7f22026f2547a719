"""Evidence of the name-resolution probes: hosts file, resolver configuration, getaddrinfo and DNS queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aoai_diag.evidence.base import Evidence


@dataclass(frozen=True, kw_only=True)
class DnsAnswer(Evidence):
    """One query name against one server (aoai_diag.net.dnsquery)."""

    name: str = ""
    outcome: str | None = None
    """answer | nxdomain | nodata | servfail | refused | timeout | error; None when not recorded."""
    rcode: str | None = None
    chain: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    address_classes: Mapping[str, str] = field(default_factory=dict)
    addresses6: tuple[str, ...] = ()
    ttl: int | None = None
    soa_mname: str | None = None
    truncated_udp: bool = False
    tcp_retry: str | None = None
    elapsed_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServerAnswers(Evidence):
    server: str = ""
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HostsEntry(Evidence):
    name: str = ""
    address: str = ""
    line: int | None = None


@dataclass(frozen=True, kw_only=True)
class HostsFile(Evidence):
    path: str | None = None
    entries: tuple[HostsEntry, ...] = ()
    size_bytes: int | None = None
    truncated: bool = False
    """The file is larger than the read limit: entries after `read_limit` bytes were not read."""
    read_limit: int | None = None


@dataclass(frozen=True, kw_only=True)
class SkippedLine(Evidence):
    line: int = 0
    text: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ResolverConfig(Evidence):
    source: str | None = None
    """system | option."""
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    path: str | None = None
    error: str | None = None
    skipped: tuple[SkippedLine, ...] = ()
    """Lines of the configuration that could not be used (the rest still counts)."""
    truncated: int = 0
    """Nameservers listed past the first 8, left out and not asked."""


@dataclass(frozen=True, kw_only=True)
class NameResult(Evidence):
    addresses: tuple[str, ...] = ()
    address_classes: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class SystemResolution(Evidence):
    results: Mapping[str, NameResult] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    address_classes: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class DnsNameservers(Evidence):
    servers: tuple[ServerAnswers, ...] = ()
    names: tuple[str, ...] = ()
    verdicts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PublicDns(Evidence):
    servers: tuple[ServerAnswers, ...] = ()
    answered_by: str | None = None
    privatelink_hop: bool | None = None
    vnet_proxy: bool | None = None
    public_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AzureDns(Evidence):
    server: str | None = None
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)
