"""Scenario files (fixtures/scenarios/*.json): one machine, its network and what the tool must conclude.

Shape (every key but `description`, `client`, `pattern`, `resolv_conf` and `expect` is optional):

    {
      "description": "one line",
      "client": "jumpbox" | "vpn" | "app_service" | "container_app" | "pod",
      "pattern": "jumpbox-azure-dns" | "jumpbox-custom-dns" | "vpn-hosts" | "hub-spoke" | "broken",
      "family": "healthy" | "dns" | "net" | "edge" | "svc" | "app",
      "account": "contoso",
      "addresses": {"pe": "10.1.2.4", ...},          # overrides of DEFAULT_ADDRESSES (names used below)
      "resolv_conf": ["azure_dns"],                  # the machine's nameservers (address names or IPs)
      "search": ["payments.svc.cluster.local"],      # resolv.conf's search list (a pod's)
      "ndots": 5,                                    # resolv.conf's `options ndots:N` (a pod's)
      "identity": {"protocol": "app_service"},      # the platform's identity endpoint on 127.0.0.1:41741
                                                     # (tests.servers.identity_endpoint): app_service sets
                                                     # IDENTITY_ENDPOINT + IDENTITY_HEADER, azure_ml MSI_ENDPOINT +
                                                     # MSI_SECRET in the CLI's environment
      "dns": {"azure_dns": "private", "public_dns1": "public", "public_dns2": "public"},
                                                     # DNS server address -> view (see views.py)
      "hosts": {"contoso.openai.azure.com": "pe"},  # the machine's /etc/hosts entries
      "endpoints": {"pe": "private_endpoint", "front_door": "public_disabled"},
                                                     # TLS endpoint address -> service behaviour (services.py)
      "proxy": {"address": "proxy", "resolve": "public"},  # CONNECT proxy; upstream names resolved by a view
      "env": {"HTTPS_PROXY": "http://{proxy}:3128"}, # environment of the CLI ({name} -> address)
      "drop": [["pe", 443]],                         # nftables drop rules inside the namespace
      "azure": {"vm": "jumpbox-01", "arm": "healthy_jumpbox"},  # IMDS + MI + ARM topology (fixtures/arm);
                                                     # without "vm" no IMDS (an app host)
      "args": ["--from", "webapp:app-contoso"],      # more options for `check` (an app host's path: --from)
      "vpn_profile": {"azurevpnconfig": "azurevpnconfig_entra.xml", "vpnsettings": "VpnSettings.xml"},
                                                     # files of fixtures/osnet/vpn given as --vpn-profile (both: the
                                                     # package zip, AzureVPN/ and Generic/ as downloaded)
      "args": ["--source-ip", "172.16.201.5"],       # more CLI options ({name} -> address)
      "expect": {"verdict": "healthy", "causes": [], "also_allowed": [], "exit_code": 0,
                 "roles": {"svc.ip_not_allowed": "consequence"}}
    }

`causes` must all appear in the report; any other cause id reported must be in `also_allowed`; `roles` (optional)
names the role the report must give a cause. Endpoint behaviours: tests/e2e/servers.py (`plaintext_http` and
`garbage` listen on 443 without speaking TLS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "fixtures" / "scenarios"

# The address plan every scenario starts from. Addresses live only on the namespace's `lo`.
DEFAULT_ADDRESSES: dict[str, str] = {
    "pe": "10.1.2.4",  # pe-contoso.nic in vnet-app (fixtures/arm topologies)
    "front_door": "20.43.132.10",  # the account's public front end (vnetproxyv1-*-prod, state 3c)
    "custom_dns": "10.0.0.4",  # a customer DNS server in the hub
    "azure_dns": "168.63.129.16",
    "public_dns1": "1.1.1.1",
    "public_dns2": "8.8.8.8",
    "home_router": "192.168.1.1",  # a VPN laptop's home DNS
    "imds": "169.254.169.254",
    "arm": "4.150.240.10",  # management.azure.com
    "login": "20.190.160.20",  # login.microsoftonline.com
    "proxy": "10.0.0.8",
    "vm": "10.2.1.4",  # jumpbox-01-nic in vnet-jumpbox
    # App hosts: Docker's embedded DNS (App Service / Container Apps Linux containers), a cluster's CoreDNS service,
    # a custom DNS server named by WEBSITE_DNS_SERVER, and a search domain's wildcard target.
    "docker_dns": "127.0.0.11",
    "coredns": "10.0.0.10",
    "app_dns_server": "10.0.0.5",
}
CLIENTS = ("jumpbox", "vpn", "app_service", "container_app", "pod")
IDENTITY_LISTEN = ("127.0.0.1", 41741)
IDENTITY_SECRET = "e2e-identity-header"  # a test value: stands for the platform's per-process secret
FAMILIES = ("healthy", "dns", "net", "edge", "svc", "app")


@dataclass(frozen=True)
class Expectation:
    verdict: str
    causes: tuple[str, ...] = ()
    also_allowed: tuple[str, ...] = ()
    exit_code: int | None = None
    roles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    client: str
    pattern: str
    family: str
    account: str
    addresses: dict[str, str]
    resolv_conf: tuple[str, ...]
    dns: dict[str, str]
    hosts: dict[str, str]
    endpoints: dict[str, str]
    proxy: dict[str, Any] | None
    env: dict[str, str]
    drop: tuple[tuple[str, int], ...]
    azure: dict[str, Any] | None
    expect: Expectation
    vpn_profile: dict[str, str] | None = None
    search: tuple[str, ...] = ()
    ndots: int | None = None
    identity: dict[str, str] | None = None
    args: tuple[str, ...] = ()
    """More options for `check` (e.g. `--from webapp:NAME`: the app host's path, read from the ARM emulator)."""
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def ip(self, name_or_ip: str) -> str:
        """An address by its plan name (`pe`), or the literal IP itself."""
        return self.addresses.get(name_or_ip, name_or_ip)

    def all_addresses(self) -> set[str]:
        """Every address the namespace's loopback needs (servers, the VM itself)."""
        needed = {self.ip(a) for a in self.dns} | {self.ip(a) for a in self.endpoints}
        # A dropped address is routable (it is in the VNet) but nothing answers: connects time out, not fail at once.
        needed |= {self.ip(a) for a, _ in self.drop}
        if self.proxy:
            needed.add(self.ip(self.proxy.get("address", "proxy")))
        if self.azure:
            needed |= {self.ip("arm"), self.ip("login")}
            if self.azure.get("vm"):
                needed |= {self.ip("imds"), self.ip("vm")}
        return needed

    @property
    def needs_nft(self) -> bool:
        return bool(self.drop)


def load(path: Path) -> Scenario:
    data = json.loads(path.read_text())
    addresses = {**DEFAULT_ADDRESSES, **(data.get("addresses") or {})}
    exp = data["expect"]
    family = data.get("family", "healthy")
    if family not in FAMILIES:
        raise ValueError(f"{path.name}: family {family!r} not in {FAMILIES}")
    if data["client"] not in CLIENTS:
        raise ValueError(f"{path.name}: client must be one of {CLIENTS}")
    env = {k: v.format(**addresses) for k, v in (data.get("env") or {}).items()}
    identity = data.get("identity")
    if identity:
        url = f"http://{IDENTITY_LISTEN[0]}:{IDENTITY_LISTEN[1]}/msi/token"
        if identity["protocol"] == "app_service":
            env.update({"IDENTITY_ENDPOINT": url, "IDENTITY_HEADER": IDENTITY_SECRET})
        elif identity["protocol"] == "azure_ml":
            env.update({"MSI_ENDPOINT": url, "MSI_SECRET": IDENTITY_SECRET})
        else:
            raise ValueError(f"{path.name}: identity protocol must be app_service or azure_ml")
    return Scenario(
        id=path.stem,
        description=data["description"],
        client=data["client"],
        pattern=data["pattern"],
        family=family,
        account=data.get("account", "contoso"),
        addresses=addresses,
        resolv_conf=tuple(data["resolv_conf"]),
        dns=dict(data.get("dns") or {}),
        hosts=dict(data.get("hosts") or {}),
        endpoints=dict(data.get("endpoints") or {}),
        proxy=data.get("proxy"),
        env=env,
        drop=tuple((str(a), int(p)) for a, p in data.get("drop") or ()),
        azure=data.get("azure"),
        expect=Expectation(
            verdict=exp["verdict"],
            causes=tuple(exp.get("causes") or ()),
            also_allowed=tuple(exp.get("also_allowed") or ()),
            exit_code=exp.get("exit_code"),
            roles=dict(exp.get("roles") or {}),
        ),
        vpn_profile=data.get("vpn_profile"),
        search=tuple(data.get("search") or ()),
        ndots=data.get("ndots"),
        identity=identity,
        args=tuple(str(a).format(**addresses) for a in data.get("args") or ()),
        raw=data,
    )


def load_all() -> list[Scenario]:
    return [load(p) for p in sorted(SCENARIOS.glob("*.json"))]
