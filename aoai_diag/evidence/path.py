"""Evidence of the path probes: proxy, IMDS, TCP, route, TLS and the HTTPS data plane."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from aoai_diag.evidence.base import Evidence
from aoai_diag.evidence.osnet import OsRoute


@dataclass(frozen=True, kw_only=True)
class WinInetProxy(Evidence):
    """Per-user Internet Options (the `Internet Settings` registry key of the user)."""

    enabled: bool = False
    server: str | None = None
    bypass: str | None = None
    pac_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class WinHttpProxy(Evidence):
    """The machine's WinHTTP proxy (`netsh winhttp show proxy`)."""

    server: str | None = None
    bypass: str | None = None


@dataclass(frozen=True, kw_only=True)
class WindowsProxy(Evidence):
    wininet: WinInetProxy | None = None
    winhttp: WinHttpProxy | None = None


@dataclass(frozen=True, kw_only=True)
class ProxySettings(Evidence):
    variables: Mapping[str, str] = field(default_factory=dict)
    """The proxy variables that are set, values redacted (`http://***@proxy:3128`)."""
    no_proxy: str | None = None
    """The NO_PROXY value in force, or the registry bypass list when the proxy came from there."""
    applies: bool = False
    """A typical client (curl, requests, httpx, Go) would use a proxy for `https://<host>`."""
    proxy_url: str | None = None
    """The proxy that applies, redacted."""
    proxy_host: str | None = None
    """Where the proxy listens (with `proxy_port`)."""
    proxy_port: int | None = None
    bypassed_by: str | None = None
    """The NO_PROXY entry that matched the host name."""
    bypassed_by_address: str | None = None
    """An IP/CIDR NO_PROXY entry that matches a resolved address of the host (from system_resolution, when it ran).
    Common clients compare IP/CIDR entries only with IP-literal URLs, so this does NOT change `applies`; it tells the
    reader that the entry they rely on is not used."""
    source: str | None = None
    """env | wininet | winhttp: where the proxy that applies (or, failing that, any proxy setting) was found; null
    when nothing is configured or the platform has no registry (Linux)."""
    bypass_rules: str | None = None
    """Whose rules judged the bypass list behind `applies` / `bypassed_by` (aoai_diag/osnet/winproxy.py): no_proxy
    (NO_PROXY as curl, requests, httpx and Go read it) | requests | httpx | urllib (for the WinINET ProxyOverride,
    the first Python library that would still use the proxy, else requests) | winhttp (WinHTTP's own) | null."""
    bypass_by_stack: Mapping[str, str | None] = field(default_factory=dict)
    """WinINET only: {requests | httpx | urllib: the ProxyOverride entry that makes that library bypass the proxy, or
    null} (httpx reads no registry bypass list: always null)."""
    system: WindowsProxy | None = None
    """Windows registry settings, secrets in them redacted (null elsewhere)."""
    error: str | None = None
    """The registry could not be read."""


@dataclass(frozen=True, kw_only=True)
class ImdsVm(Evidence):
    subscription_id: str | None = None
    resource_group: str | None = None
    name: str | None = None
    vm_id: str | None = None
    location: str | None = None
    resource_id: str | None = None
    private_ip: str | None = None
    subnet_prefix: str | None = None
    mac: str | None = None


@dataclass(frozen=True, kw_only=True)
class AzurePlatform(Evidence):
    on_azure: bool | None = None
    """IMDS answered with instance metadata; false: nothing answered as IMDS; null: something answered, unusably."""
    vm: ImdsVm | None = None
    """From compute.* and network.interface[0] of the instance metadata."""
    endpoint: str | None = None
    """The IMDS base URL asked."""
    http_status: int | None = None
    """Status of the metadata answer."""
    error: str | None = None
    """Why IMDS gave nothing usable."""


@dataclass(frozen=True, kw_only=True)
class TcpAttempt(Evidence):
    KEY_ALIASES: ClassVar[Mapping[str, str]] = {"class": "address_class"}

    address: str = ""
    address_class: str | None = None
    outcome: str | None = None
    """connected | refused | timeout | unreachable | error."""
    error: str | None = None
    connect_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class TcpConnect(Evidence):
    port: int | None = None
    """The port connected to."""
    attempts: tuple[TcpAttempt, ...] = ()
    """One per address of the primary host, in resolution order."""


@dataclass(frozen=True, kw_only=True)
class RouteReference(Evidence):
    address: str | None = None
    source: str | None = None
    error: str | None = None
    os_route: OsRoute | None = None
    """The operating system's own route entry, when read."""


@dataclass(frozen=True, kw_only=True)
class KernelRoute(Evidence):
    KEY_ALIASES: ClassVar[Mapping[str, str]] = {"class": "address_class"}

    address: str = ""
    address_class: str | None = None
    source: str | None = None
    """The source address the kernel picks toward `address` (it names the interface)."""
    error: str | None = None
    """Why there is no route (`network unreachable`, ...)."""
    local: bool = False
    """The address is this machine's own."""
    via_default: bool | None = None
    """Same source as toward the reference address."""
    os_route: OsRoute | None = None
    tunnel: bool | None = None
    """The route is the VPN tunnel (null: not known, or a local address)."""
    tunnel_basis: str | None = None
    """What `tunnel` rests on (the VPN client address pool, the interface name, ...)."""


@dataclass(frozen=True, kw_only=True)
class ProfileRoute(Evidence):
    """A route the VPN profile carries, as the OS's table answers for its first host."""

    prefix: str = ""
    address: str = ""
    """The prefix's first host, the address looked up."""
    interface: str | None = None
    next_hop: str | None = None
    error: str | None = None
    no_route: bool = False
    """The OS answered that nothing matches; a reader that failed leaves it false."""
    local: bool = False
    via_default: bool | None = None
    tunnel: bool | None = None
    tunnel_basis: str | None = None


@dataclass(frozen=True, kw_only=True)
class RouteLookup(Evidence):
    reference: RouteReference | None = None
    """The route toward the public reference address (the first public resolver, overridable)."""
    routes: tuple[KernelRoute, ...] = ()
    """One per resolved private address."""
    platform: str | None = None
    """Which OS route reader ran: windows | macos | linux | other."""
    profile_routes: tuple[ProfileRoute, ...] = ()
    """With a VPN profile: each route it carries (at most 16)."""


@dataclass(frozen=True, kw_only=True)
class CertName(Evidence):
    CN: str | None = None
    O: str | None = None  # noqa: E741 - the X.509 attribute's own name


@dataclass(frozen=True, kw_only=True)
class TlsAttempt(Evidence):
    KEY_ALIASES: ClassVar[Mapping[str, str]] = {"class": "address_class"}

    address: str = ""
    address_class: str | None = None
    outcome: str | None = None
    """ok | untrusted | name_mismatch | expired | reset | timeout | protocol (the peer's bytes are not TLS records,
    e.g. a plaintext HTTP server) | error."""
    verify_error: str | None = None
    """OpenSSL's verification message."""
    protocol: str | None = None
    """The negotiated version, e.g. `TLSv1.3`."""
    issuer: CertName | None = None
    issuer_text: str | None = None
    subject_text: str | None = None
    sans: tuple[str, ...] | None = None
    """null when no certificate was read (timeout, reset, not TLS)."""
    not_after: str | None = None
    """ISO 8601 UTC."""
    days_left: int | None = None
    handshake_ms: float | None = None
    error: str | None = None
    cert_error: str | None = None
    """On a verification failure the certificate is fetched again without verification, so issuer and SANs are
    still recorded; this says why that failed, if it did."""


@dataclass(frozen=True, kw_only=True)
class TlsHandshake(Evidence):
    server_name: str | None = None
    """The SNI sent and the name verified."""
    port: int | None = None
    attempts: tuple[TlsAttempt, ...] = ()
    """One per address tcp_connect connected to."""


@dataclass(frozen=True, kw_only=True)
class HttpAttempt(Evidence):
    via: str | None = None
    """direct | proxy."""
    address: str | None = None
    """The socket peer: the resolved address, or the proxy."""
    address_class: str | None = None
    proxy: str | None = None
    """The proxy, redacted."""
    outcome: str | None = None
    """response | timeout | refused | reset | tls_error | proxy_error | error."""
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    classification: str | None = None
    """H1..H12 | unknown (aoai_diag/dataplane_classify.py) | null."""
    azure_answered: bool = False
    caller_ip: str | None = None
    headers: Mapping[str, str | None] = field(default_factory=dict)
    """apim-request-id, x-ms-region, policy-id, server, content-type, via."""
    body_truncated: bool = False
    elapsed_ms: float | None = None
    """null when no finite time was measured."""
    error: str | None = None
    proxy_auth_withheld: bool | None = None
    """true: the proxy asked (407) for the credentials this tool never sends; else null."""


@dataclass(frozen=True, kw_only=True)
class HttpsDataplane(Evidence):
    path: str | None = None
    """The request path, with its query."""
    attempts: tuple[HttpAttempt, ...] = ()
    app_path: str | None = None
    """direct | proxy: the attempt an application would take."""
