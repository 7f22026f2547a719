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
    """answer | nxdomain | nodata | servfail | refused | timeout | unreachable (the query could not be sent, or the
    network rejected it) | error; None when not recorded."""
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
    """ip:port."""
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)
    """Query name -> answer."""


@dataclass(frozen=True, kw_only=True)
class HostsEntry(Evidence):
    name: str = ""
    """One of the target's names, or its privatelink name."""
    address: str = ""
    line: int | None = None
    """1-based line number."""


@dataclass(frozen=True, kw_only=True)
class HostsFile(Evidence):
    path: str | None = None
    """The file read."""
    entries: tuple[HostsEntry, ...] = ()
    """The lines mapping one of the target's names (or its privatelink name) to an address."""
    size_bytes: int | None = None
    """The file's size."""
    truncated: bool = False
    """The file is larger than the read limit: entries after `read_limit` bytes were not read."""
    read_limit: int | None = None
    """Bytes read at most."""


@dataclass(frozen=True, kw_only=True)
class SkippedLine(Evidence):
    line: int = 0
    text: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ResolverConfig(Evidence):
    source: str | None = None
    """Where the list came from: system | option (`--resolver`)."""
    nameservers: tuple[str, ...] = ()
    """ip:port in the configured order; IPv6 as `[::1]:53`."""
    search: tuple[str, ...] = ()
    """Search domains."""
    path: str | None = None
    """The file read, when one was."""
    error: str | None = None
    """Why the configuration could not be read."""
    skipped: tuple[SkippedLine, ...] = ()
    """Lines of the configuration that could not be used (`nameserver foo`); the rest still counts, as it does for
    the C library, which ignores such lines too."""
    truncated: int = 0
    """Nameservers listed past the first 8 (resolver_config.MAX_NAMESERVERS), left out and not asked by any probe."""


@dataclass(frozen=True, kw_only=True)
class NameResult(Evidence):
    addresses: tuple[str, ...] = ()
    address_classes: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    """null (resolved), `EAI_NONAME: <text>` style (the EAI_* code name, then its text), or `timeout`."""


@dataclass(frozen=True, kw_only=True)
class SystemResolution(Evidence):
    results: Mapping[str, NameResult] = field(default_factory=dict)
    """Target name -> getaddrinfo's result for it (both families)."""
    addresses: tuple[str, ...] = ()
    """The primary host's addresses in getaddrinfo order, de-duplicated, both families."""
    address_classes: Mapping[str, str] = field(default_factory=dict)
    """address -> class, for `addresses`."""
    timeout_s: float | None = None
    """How long the probe waited."""


@dataclass(frozen=True, kw_only=True)
class DnsNameservers(Evidence):
    servers: tuple[ServerAnswers, ...] = ()
    """In the configured order."""
    names: tuple[str, ...] = ()
    """The names asked."""
    verdicts: Mapping[str, str] = field(default_factory=dict)
    """server -> how it answered for the primary host: private | mixed | public | nxdomain | nodata | servfail |
    refused | timeout | unreachable | error (`mixed`: private A records together with a public address;
    `unreachable`: the query could not reach the server)."""


@dataclass(frozen=True, kw_only=True)
class PublicDns(Evidence):
    servers: tuple[ServerAnswers, ...] = ()
    """Every public resolver tried, in order; the next is tried only when the previous gave no usable answer
    (timeout, error, SERVFAIL, REFUSED)."""
    answered_by: str | None = None
    """ip:port of the resolver whose answer is used; null: none."""
    privatelink_hop: bool | None = None
    """The primary chain contains `<label>.privatelink.<suffix>`."""
    vnet_proxy: bool | None = None
    """The primary chain contains `.prod.vnet.cog.trafficmanager.net` or a `vnetproxy` host."""
    public_addresses: tuple[str, ...] = ()
    """The primary host's addresses (A, then AAAA) from that resolver."""


@dataclass(frozen=True, kw_only=True)
class AzureDns(Evidence):
    server: str | None = None
    """ip:port of the Azure DNS address asked."""
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)
    """Query name -> answer, for the same names as dns_nameservers."""
