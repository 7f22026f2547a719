"""Settings and the context every probe receives.

Every address that points at something real (public resolvers, Azure DNS, IMDS, ARM, the login
authority) lives here with its default and can be overridden by an option or an environment variable,
so tests never aim at a real address.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aoai_diag.clouds import Cloud, get_cloud

T = TypeVar("T")

# 168.63.129.16 is the Azure-provided recursive resolver, reachable only from inside Azure VNets:
# https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16
DEFAULT_AZURE_DNS = ("168.63.129.16", 53)
DEFAULT_PUBLIC_RESOLVERS = (("1.1.1.1", 53), ("8.8.8.8", 53))
# https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254"
# Documented GA data-plane version; any documented path works for a key-less probe
# (https://learn.microsoft.com/azure/ai-services/openai/reference; docs/dataplane-answers.md).
DEFAULT_DATA_PLANE_API_VERSION = "2024-10-21"

Endpoint = tuple[str, int]


def parse_endpoint(text: str, default_port: int = 53, min_port: int = 1) -> Endpoint:
    """`1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` -> (host, port). Raises ValueError.

    `min_port=0` lets a listener ask for a free port.
    """
    import ipaddress

    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad address {text!r}")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad address {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    ipaddress.ip_address(host)
    if not min_port <= port < 65536:
        raise ValueError(f"bad port in {text!r}")
    return host, port


def check_url_endpoint(text: str, schemes: tuple[str, ...] = ("http", "https"), bare_host: bool = False) -> str:
    """A service endpoint given as an option (`--imds-endpoint`, `--arm-endpoint`, `--authority-host`): the URL
    without a trailing slash. Raises ValueError with a message that never repeats a credential.

    `bare_host` also accepts `host[:port]` alone (an authority host); it is returned as given.
    """
    from urllib.parse import urlsplit

    value = text.strip()
    if not value:
        raise ValueError("empty")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("holds spaces or control characters")
    if "@" in value:
        raise ValueError("holds user information (user:password@); give credentials through the environment")
    candidate = value if "://" in value or not bare_host else f"https://{value}"
    if "://" not in candidate:
        raise ValueError(f"is not a URL; expected {' or '.join(s + '://HOST[:PORT]' for s in schemes)}")
    try:
        parts = urlsplit(candidate)
        port = parts.port  # raises ValueError for a port that is not a number or is out of range
    except ValueError:
        raise ValueError("is not a URL (bad port or brackets)") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"scheme must be {' or '.join(schemes)}, got {parts.scheme.lower() or 'none'}")
    if not parts.hostname:
        raise ValueError("has no host")
    if port == 0:
        raise ValueError("port 0 is not a port to connect to")
    if parts.query or parts.fragment:
        raise ValueError("must not hold a query or fragment")
    return value.rstrip("/")


def format_endpoint(server: Endpoint) -> str:
    """`1.2.3.4:53`, `[::1]:53`: the form `parse_endpoint` reads back."""
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with. Built once by the CLI (or a test)."""

    timeout: float = 5.0
    """Seconds allowed for one network operation."""
    deadline: float | None = None
    """Seconds allowed for the whole run; None means 2 x timeout."""
    cloud: str = "AzureCloud"
    port: int = 443
    hosts_file: str | None = None
    """None means the OS hosts file."""
    resolvers: tuple[Endpoint, ...] = ()
    """Replaces the system nameserver list when not empty."""
    public_resolvers: tuple[Endpoint, ...] = DEFAULT_PUBLIC_RESOLVERS
    public_dns: bool = True
    azure_dns: Endpoint = DEFAULT_AZURE_DNS
    imds_endpoint: str = DEFAULT_IMDS_ENDPOINT
    imds_timeout: float = 0.5
    data_plane_api_version: str = DEFAULT_DATA_PLANE_API_VERSION
    azure: bool = True
    subscriptions: tuple[str, ...] = ()
    vnet_id: str | None = None
    arm_endpoint: str | None = None
    """Overrides the cloud's ARM endpoint (e.g. an emulator)."""
    authority_host: str | None = None
    from_host: str | None = None
    """`--from`: the app host whose path is diagnosed from Resource Manager instead of this machine's (a resource id
    once the CLI has found it, else `KIND:NAME` as given)."""
    from_resource_group: str | None = None
    """`-g` with `--from`: the resource group that holds the host."""
    vpn_profile: str | None = None
    """Path of the point-to-site VPN profile (azurevpnconfig.xml, VpnSettings.xml or the package zip)."""
    source_ip: str | None = None
    """Off Azure: the address the private endpoint sees this machine's traffic come from (a point-to-site pool
    address, an on-premises address over ExpressRoute): the PE subnet's NSG is evaluated for it."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    """Process environment as seen by the probes (proxy variables, CA bundles)."""

    @property
    def cloud_obj(self) -> Cloud:
        return get_cloud(self.cloud)

    @property
    def run_deadline(self) -> float:
        return self.deadline if self.deadline is not None else 2 * self.timeout


class DeadlineExceeded(Exception):
    """Raised by ProbeContext.remaining() when the run's deadline has passed."""


@dataclass
class ProbeContext:
    """What a probe may use: settings, the clock and the deadline, shared caches and factories.

    Probes must bound every network operation by `op_timeout()` so that the run keeps its deadline.
    """

    settings: Settings
    deadline: float
    """time.monotonic() value after which probes must stop: this target's own budget."""
    run_bound: float | None = None
    """time.monotonic() value by which the whole run (every target) ends; None = `deadline` (one target).
    Work shared by targets (the ARM session) lives until then; each target's probes stop at `deadline`."""
    clock: Callable[[], float] = time.monotonic
    shared: dict[str, Any] = field(default_factory=dict)
    """Per-run cache shared across targets (e.g. IMDS answer, Azure credential, ARM snapshot)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    getaddrinfo: Callable[..., Any] = field(default_factory=lambda: socket.getaddrinfo)
    """The OS resolver (hosts file, nsswitch). Unit tests replace it; end-to-end tests use the real one."""

    def for_target(self) -> ProbeContext:
        """The same run (shared caches, lock, resolver) with a budget of its own that starts now.

        Targets of one run each get the full `run_deadline`, so a target that waited for a free slot behind
        slow ones is still probed (the shared deadline used to leave the last ones inconclusive).
        """
        return dataclasses.replace(self, deadline=self.clock() + self.settings.run_deadline)

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise DeadlineExceeded("the run's deadline has passed")
        return left

    def op_timeout(self, cap: float | None = None) -> float:
        """Seconds the next network operation may take: the per-operation timeout, never past the deadline."""
        limit = self.settings.timeout if cap is None else min(cap, self.settings.timeout)
        return max(0.01, min(limit, self.remaining()))

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a run-wide value once, even when several targets ask concurrently."""
        with self.lock:
            slot = self.shared.get(key)
            if slot is None:
                slot = self.shared[key] = _Once()
        return slot.get(compute)

    async def once_async(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """Await a run-wide value computed once by the coroutine `compute()`, even when several targets ask at once.
        A target whose deadline cancels its wait does not cancel the computation the others wait for."""
        task = self.shared.get(key)
        if task is None:
            task = self.shared[key] = asyncio.ensure_future(compute())
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    def ssl_context(self) -> ssl.SSLContext:
        """The system trust store; SSL_CERT_FILE / SSL_CERT_DIR are honoured by OpenSSL itself.

        Built once per run: loading the trust store reads every CA file, and each target's TLS and HTTPS
        probes need the same one (an SSLContext is safe to share between threads).
        """

        def build() -> ssl.SSLContext:
            ctx = ssl.create_default_context()
            cafile = self.settings.env.get("SSL_CERT_FILE")
            if cafile and os.path.exists(cafile) and cafile != os.environ.get("SSL_CERT_FILE"):
                ctx.load_verify_locations(cafile)
            return ctx

        return self.once("ssl_context", build)  # type: ignore[no-any-return]


class _Once:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if not self._done:
                try:
                    self._value = compute()
                except BaseException as exc:  # remembered so every caller sees the same failure
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value
