"""Evidence of where the tool runs when that is an app host (App Service / Functions, Container Apps, a Kubernetes
pod, Azure ML compute), read from the platform's own signals (aoai_diag/checks/app_host.py), and of the DNS path
that host's resolver walks (aoai_diag/checks/app_dns.py).

Secrets the platform hands the process (IDENTITY_HEADER, MSI_SECRET, the federated token) are never copied: a
`*_present` flag records that they exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aoai_diag.evidence.base import Evidence
from aoai_diag.evidence.dns import DnsAnswer


@dataclass(frozen=True, kw_only=True)
class AppServiceSignals(Evidence):
    """What the App Service / Functions sandbox sets in the environment
    (https://learn.microsoft.com/azure/app-service/reference-app-settings)."""

    site_name: str | None = None
    """WEBSITE_SITE_NAME."""
    resource_group: str | None = None
    """WEBSITE_RESOURCE_GROUP."""
    subscription_id: str | None = None
    """WEBSITE_OWNER_NAME up to its `+` (`<subscription>+<rg>-<region>webspace[-Linux]`)."""
    webspace: str | None = None
    """WEBSITE_OWNER_NAME after its `+`."""
    instance_id: str | None = None
    """WEBSITE_INSTANCE_ID."""
    private_ip: str | None = None
    """WEBSITE_PRIVATE_IP: the instance's address in the integration subnet (set once the app is VNet-integrated)."""
    vnet_integration: bool = False
    """WEBSITE_PRIVATE_IP is set. False means the variable is absent, which the platform does when the app has no
    regional VNet integration; Resource Manager's `virtualNetworkSubnetId` is the authority."""
    dns_server: str | None = None
    """WEBSITE_DNS_SERVER as set (replaces the VNet's DNS servers for the app)."""
    dns_alt_server: str | None = None
    """WEBSITE_DNS_ALT_SERVER as set."""
    route_all: bool | None = None
    """WEBSITE_VNET_ROUTE_ALL parsed (1/true); null when not set (the site property `vnetRouteAllEnabled` then
    decides, which only Resource Manager shows)."""
    always_fallback_to_public_dns: bool | None = None
    """WEBSITE_ALWAYS_FALLBACK_TO_PUBLIC_DNS parsed; null when not set."""
    functions_extension_version: str | None = None
    """FUNCTIONS_EXTENSION_VERSION: set on Functions apps only."""
    os: str | None = None
    """linux | windows: the sandbox's operating system."""


@dataclass(frozen=True, kw_only=True)
class ContainerAppSignals(Evidence):
    """What Container Apps sets in every replica's environment
    (https://learn.microsoft.com/azure/container-apps/environment-variables)."""

    app_name: str | None = None
    """CONTAINER_APP_NAME."""
    revision: str | None = None
    """CONTAINER_APP_REVISION."""
    replica: str | None = None
    """CONTAINER_APP_REPLICA_NAME."""
    env_dns_suffix: str | None = None
    """CONTAINER_APP_ENV_DNS_SUFFIX: the environment's default domain."""
    hostname: str | None = None
    """CONTAINER_APP_HOSTNAME."""
    port: str | None = None
    """CONTAINER_APP_PORT (the ingress target port), as set."""


@dataclass(frozen=True, kw_only=True)
class KubernetesSignals(Evidence):
    """What a pod sees (https://kubernetes.io/docs/concepts/services-networking/connect-applications-service/,
    https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/)."""

    service_host: str | None = None
    """KUBERNETES_SERVICE_HOST: the API server's cluster address."""
    service_port: str | None = None
    """KUBERNETES_SERVICE_PORT."""
    service_account_dir: str | None = None
    """The service-account mount looked at."""
    service_account_mounted: bool = False
    """The mount holds a token (its content is never read into evidence)."""
    namespace: str | None = None
    """The mount's `namespace` file."""
    pod_name: str | None = None
    """HOSTNAME (a pod's name unless the spec sets another)."""


@dataclass(frozen=True, kw_only=True)
class AzureMlSignals(Evidence):
    """Azure ML / Foundry compute's identity variables (azure-identity `_credentials/azure_ml.py`)."""

    msi_endpoint: str | None = None
    """MSI_ENDPOINT."""
    msi_secret_present: bool = False
    """MSI_SECRET is set (never copied)."""


@dataclass(frozen=True, kw_only=True)
class HostIdentity(Evidence):
    """The identity the platform offers the process, as azure-identity would pick it."""

    source: str | None = None
    """app_service (IDENTITY_ENDPOINT + IDENTITY_HEADER: App Service, Functions, Container Apps) | azure_ml
    (MSI_ENDPOINT + MSI_SECRET) | cloud_shell (MSI_ENDPOINT alone) | workload_identity (AZURE_FEDERATED_TOKEN_FILE
    + AZURE_CLIENT_ID + AZURE_TENANT_ID) | null: none of these (IMDS, if the host has one)."""
    endpoint: str | None = None
    """IDENTITY_ENDPOINT or MSI_ENDPOINT (a URL; it carries no secret)."""
    secret_present: bool = False
    """IDENTITY_HEADER / MSI_SECRET is set (never copied)."""
    client_id: str | None = None
    """AZURE_CLIENT_ID (an identifier, not a secret)."""
    tenant_id: str | None = None
    """AZURE_TENANT_ID."""
    authority_host: str | None = None
    """AZURE_AUTHORITY_HOST."""
    token_file: str | None = None
    """AZURE_FEDERATED_TOKEN_FILE (the path; the token is never read into evidence)."""
    token_file_readable: bool | None = None
    """The token file exists and can be opened; null when there is no token file."""


@dataclass(frozen=True, kw_only=True)
class HostResolverConfig(Evidence):
    """resolv.conf as the app's stub resolver reads it (https://man7.org/linux/man-pages/man5/resolv.conf.5.html)."""

    path: str | None = None
    nameservers: tuple[str, ...] = ()
    """In the file's order (the order the resolver asks them)."""
    search: tuple[str, ...] = ()
    """The search list, in order (the last `search`/`domain` line wins)."""
    ndots: int = 1
    """`options ndots:n` (1 when absent, the resolver's default; capped at 15 as glibc does)."""
    options: tuple[str, ...] = ()
    """Every `options` token, as written."""
    error: str | None = None
    """Why the file could not be read: the fields above are then unknown, not empty."""


@dataclass(frozen=True, kw_only=True)
class AppHost(Evidence):
    """Where the run happens, when that is an app host."""

    kind: str | None = None
    """app_service | function_app | container_app | kubernetes | azure_ml | null (none of these signals)."""
    on_azure: bool | None = None
    """The signals name a platform that exists only on Azure (App Service, Functions, Container Apps, Azure ML), or a
    pod whose search list holds the Azure-provided `internal.cloudapp.net` suffix; null: the signals cannot say.
    Never false: a host without IMDS is not "off Azure" for that."""
    description: str | None = None
    """One line for the report's header ("App Service app app-contoso, instance 4f2a…, VNet integration 10.30.1.4")."""
    signals: tuple[str, ...] = ()
    """The environment variables and files that were found (names only)."""
    app_service: AppServiceSignals | None = None
    container_app: ContainerAppSignals | None = None
    kubernetes: KubernetesSignals | None = None
    azure_ml: AzureMlSignals | None = None
    identity: HostIdentity | None = None
    resolver: HostResolverConfig | None = None
    subscription_id: str | None = None
    """The host's subscription where the signals name it (App Service's WEBSITE_OWNER_NAME)."""
    resource_group: str | None = None
    """The host's resource group where the signals name it (WEBSITE_RESOURCE_GROUP)."""
    name: str | None = None
    """The host resource's name where the signals name it (WEBSITE_SITE_NAME, CONTAINER_APP_NAME)."""


@dataclass(frozen=True, kw_only=True)
class HostServerAnswers(Evidence):
    """One DNS server on the host's path and its answers."""

    server: str = ""
    """ip:port."""
    chosen_by: str | None = None
    """The setting that put it on the path: resolv.conf | WEBSITE_DNS_SERVER | WEBSITE_DNS_ALT_SERVER |
    azure_dns (168.63.129.16, asked for comparison)."""
    role: str | None = None
    """resolver (the app's stub resolver sends here) | upstream (the platform's forwarder at 127.0.0.11 sends
    here, per the app setting) | reference (asked for comparison only)."""
    answers: Mapping[str, DnsAnswer] = field(default_factory=dict)
    """Query name -> answer."""


@dataclass(frozen=True, kw_only=True)
class SearchExpansion(Evidence):
    """One name the stub resolver tries for the account host, in its order."""

    query: str = ""
    search_domain: str | None = None
    """The search domain appended; null for the name as given."""
    server: str | None = None
    """The server that gave the final answer (the resolver moves to the next server only when one does not answer)."""
    answer: DnsAnswer | None = None


@dataclass(frozen=True, kw_only=True)
class SearchWalk(Evidence):
    """The names the resolver tries for one host name, given the search list and ndots (resolv.conf(5))."""

    name: str = ""
    ndots: int = 1
    dots: int = 0
    """Dots in the name: fewer than ndots means the search list is tried first."""
    expansions: tuple[SearchExpansion, ...] = ()
    """In the resolver's order, up to and including the first that answered with addresses."""
    answered_by: str | None = None
    """The query that answered first with addresses (what the app connects to); null: none did."""
    hijacked_by: str | None = None
    """The search domain whose expansion answered before the name itself."""


@dataclass(frozen=True, kw_only=True)
class AppDns(Evidence):
    """The app host's DNS path as its resolver walks it."""

    source: str | None = None
    """What chose the servers: WEBSITE_DNS_SERVER (app setting) | vnet (App Service without the setting: the
    VNet's servers, behind the platform's forwarder) | resolv.conf."""
    servers: tuple[HostServerAnswers, ...] = ()
    """The path's servers in the order they are used: the resolver's, then the forwarder's upstreams."""
    walk: SearchWalk | None = None
    """The search-list walk for the account host (null when the resolver configuration is unknown)."""
    azure_dns: HostServerAnswers | None = None
    """168.63.129.16's answers (chosen_by azure_dns, role reference), asked directly where the VNet may be reachable;
    null: not asked (`azure_dns_skipped`)."""
    azure_dns_skipped: str | None = None
    """Why 168.63.129.16 was not asked."""
    verdicts: Mapping[str, str] = field(default_factory=dict)
    """server -> how it answered the account host (local_facts.classify_dns: private | public | nxdomain | ...)."""
    unusable_settings: tuple[str, ...] = ()
    """`NAME=value` of DNS app settings whose value is not an IP address (left off the path, as the platform must)."""
    forwarding_break: str | None = None
    """A configured server whose answer for the host differs from 168.63.129.16's private answer: the break is in
    its forwarding (CoreDNS `forward`, a custom server)."""
