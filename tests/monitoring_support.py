"""A loopback-only site for the monitoring tests (bundle round trip, exporter, bench).

Real parts: a dnspython DNS server on loopback answers the resolver and the "public" resolver; IMDS and the
service port are loopback ports with nothing listening (connection refused, as off Azure with a firewall).
The one stand-in is the OS resolver: getaddrinfo cannot be pointed at a test server without root, so a
replacement answers the account's names from a table (127.0.0.x, a "private" address class) and can be told to
be slow for some names, as a hung VPN resolver is.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.servers import dns_server

SUFFIXES = ("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com")


def dns_config(labels: list[str]) -> dict[str, Any]:
    """Views: `corp` answers privately through the privatelink zone, `public` through a public front end."""
    corp: dict[str, Any] = {}
    public: dict[str, Any] = {}
    for label in labels:
        for suffix in SUFFIXES:
            name, pl = f"{label}.{suffix}", f"{label}.privatelink.{suffix}"
            corp[name] = {"cname": pl, "ttl": 900}
            corp[pl] = {"a": ["10.0.0.5"], "ttl": 10}
            public[name] = {"cname": pl, "ttl": 900}
            public[pl] = {"cname": "frontend.example.trafficmanager.net", "ttl": 300}
    public["frontend.example.trafficmanager.net"] = {"a": ["20.43.132.10"], "ttl": 60}
    zones = {
        f"privatelink.{s}": {"mname": "azureprivatedns.net", "rname": "h.microsoft.com", "minimum": 10}
        for s in SUFFIXES
    }
    return {
        "views": {
            "corp": {"records": corp, "zones": zones, "default": "nxdomain"},
            "public": {"records": public, "default": "nxdomain"},
        }
    }


def closed_port() -> int:
    """A loopback port with nothing listening (bound then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_getaddrinfo(slow: dict[str, float] | None = None) -> Callable[..., Any]:
    """getaddrinfo answering `*.openai.azure.com` & co. with 127.0.0.1; names in `slow` first wait that long."""
    delays = slow or {}
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = str(host).rstrip(".").lower()
        if name == "localhost" or _is_literal(name):
            return real(host, port, family, type, proto, flags)
        label = name.split(".", 1)[0]
        if label in delays:
            time.sleep(delays[label])
        if not any(name.endswith("." + s) for s in SUFFIXES):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port or 0)))]

    return resolve


def _is_literal(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Site:
    resolver: str
    public_resolver: str
    imds: str
    port: int

    def cli_args(self, timeout: float = 1.0) -> list[str]:
        return [
            "--resolver", self.resolver,
            "--public-resolver", self.public_resolver,
            "--azure-dns", self.resolver,
            "--imds-endpoint", self.imds,
            "--port", str(self.port),
            "--no-azure",
            "--timeout", str(timeout),
        ]  # fmt: skip

    def settings(self, timeout: float = 1.0, **extra: Any) -> Any:
        from aoai_diag.context import Settings, parse_endpoint

        return Settings(
            timeout=timeout,
            resolvers=(parse_endpoint(self.resolver),),
            public_resolvers=(parse_endpoint(self.public_resolver),),
            azure_dns=parse_endpoint(self.resolver),
            imds_endpoint=self.imds,
            port=self.port,
            azure=False,
            env={},
            **extra,
        )


@contextmanager
def loopback_site(labels: list[str], delay_ms: float = 0.0) -> Iterator[Site]:
    """DNS views on 127.0.0.1 (corp) and 127.0.0.2 (public); `delay_ms` delays every DNS answer."""
    config = dns_config(labels)
    if delay_ms:
        for view in config["views"].values():
            view["delay_ms"] = delay_ms
    with dns_server.serve(config, "corp", "public") as (_server, endpoints):
        (corp_host, corp_port), (pub_host, pub_port) = endpoints
        yield Site(
            resolver=f"{corp_host}:{corp_port}",
            public_resolver=f"{pub_host}:{pub_port}",
            imds=f"http://127.0.0.1:{closed_port()}",
            port=closed_port(),
        )
