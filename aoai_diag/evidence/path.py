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
    no_proxy: str | None = None
    applies: bool = False
    proxy_url: str | None = None
    proxy_host: str | None = None
    proxy_port: int | None = None
    bypassed_by: str | None = None
    bypassed_by_address: str | None = None
    source: str | None = None
    bypass_rules: str | None = None
    """Whose rules judged the bypass list: no_proxy | requests | httpx | urllib | winhttp (aoai_diag/osnet/winproxy.py)."""
    bypass_by_stack: Mapping[str, str | None] = field(default_factory=dict)
    """WinINET ProxyOverride: {requests | httpx | urllib: the entry that makes it bypass the proxy, or null}."""
    system: WindowsProxy | None = None
    """Windows registry settings (null elsewhere)."""
    error: str | None = None


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
    vm: ImdsVm | None = None
    endpoint: str | None = None
    http_status: int | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class TcpAttempt(Evidence):
    KEY_ALIASES: ClassVar[Mapping[str, str]] = {"class": "address_class"}

    address: str = ""
    address_class: str | None = None
    outcome: str | None = None
    error: str | None = None
    connect_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class TcpConnect(Evidence):
    port: int | None = None
    attempts: tuple[TcpAttempt, ...] = ()


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
    error: str | None = None
    local: bool = False
    via_default: bool | None = None
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
    interface: str | None = None
    next_hop: str | None = None
    error: str | None = None
    no_route: bool = False
    local: bool = False
    via_default: bool | None = None
    tunnel: bool | None = None
    tunnel_basis: str | None = None


@dataclass(frozen=True, kw_only=True)
class RouteLookup(Evidence):
    reference: RouteReference | None = None
    routes: tuple[KernelRoute, ...] = ()
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
    verify_error: str | None = None
    protocol: str | None = None
    issuer: CertName | None = None
    issuer_text: str | None = None
    subject_text: str | None = None
    sans: tuple[str, ...] | None = None
    """null when no certificate was read (timeout, reset, not TLS)."""
    not_after: str | None = None
    days_left: int | None = None
    handshake_ms: float | None = None
    error: str | None = None
    cert_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class TlsHandshake(Evidence):
    server_name: str | None = None
    port: int | None = None
    attempts: tuple[TlsAttempt, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HttpAttempt(Evidence):
    via: str | None = None
    """direct | proxy."""
    address: str | None = None
    address_class: str | None = None
    proxy: str | None = None
    outcome: str | None = None
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    classification: str | None = None
    azure_answered: bool = False
    caller_ip: str | None = None
    headers: Mapping[str, str | None] = field(default_factory=dict)
    body_truncated: bool = False
    elapsed_ms: float | None = None
    error: str | None = None
    proxy_auth_withheld: bool | None = None


@dataclass(frozen=True, kw_only=True)
class HttpsDataplane(Evidence):
    path: str | None = None
    attempts: tuple[HttpAttempt, ...] = ()
    app_path: str | None = None
