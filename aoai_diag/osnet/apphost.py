"""Where the tool runs, when that is an app host: read from the signals each platform documents for the processes
it runs, never guessed from the network. Pure over (environment, file paths): tests give their own.

- App Service / Functions: https://learn.microsoft.com/azure/app-service/reference-app-settings (WEBSITE_SITE_NAME,
  WEBSITE_RESOURCE_GROUP, WEBSITE_OWNER_NAME = `<subscription>+<rg>-<region>webspace[-Linux]`, WEBSITE_INSTANCE_ID,
  WEBSITE_PRIVATE_IP, WEBSITE_DNS_SERVER, WEBSITE_DNS_ALT_SERVER, WEBSITE_VNET_ROUTE_ALL,
  WEBSITE_ALWAYS_FALLBACK_TO_PUBLIC_DNS, FUNCTIONS_EXTENSION_VERSION); name resolution:
  https://learn.microsoft.com/azure/app-service/overview-name-resolution.
- Container Apps: https://learn.microsoft.com/azure/container-apps/environment-variables (CONTAINER_APP_NAME,
  CONTAINER_APP_REVISION, CONTAINER_APP_HOSTNAME, CONTAINER_APP_ENV_DNS_SUFFIX, CONTAINER_APP_REPLICA_NAME,
  CONTAINER_APP_PORT).
- Managed identity endpoints (App Service, Functions, Container Apps: IDENTITY_ENDPOINT + IDENTITY_HEADER):
  https://learn.microsoft.com/azure/app-service/overview-managed-identity,
  https://learn.microsoft.com/azure/container-apps/managed-identity; Azure ML compute (MSI_ENDPOINT + MSI_SECRET)
  and the order azure-identity tries them: azure-identity `_credentials/managed_identity.py`.
- Kubernetes pods: KUBERNETES_SERVICE_HOST/PORT
  (https://kubernetes.io/docs/concepts/services-networking/connect-applications-service/), the service-account
  mount (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/), resolv.conf's search list and
  ndots (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/, resolv.conf(5)); Microsoft Entra
  Workload ID's injected AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST
  (https://learn.microsoft.com/azure/aks/workload-identity-overview).

Secrets the platform hands the process (IDENTITY_HEADER, MSI_SECRET, the tokens) are never copied: only whether
they are there.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping

from aoai_diag.evidence.host import (
    AppHost,
    AppServiceSignals,
    AzureMlSignals,
    ContainerAppSignals,
    HostIdentity,
    HostResolverConfig,
    KubernetesSignals,
)

RESOLV_CONF = "/etc/resolv.conf"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RESOLV_CONF_VARIABLE = "AOAI_DIAG_RESOLV_CONF"
"""Overrides the resolv.conf the app host's resolver reads (tests; a copy taken from the host)."""
SERVICE_ACCOUNT_VARIABLE = "AOAI_DIAG_SERVICE_ACCOUNT_DIR"
"""Overrides the Kubernetes service-account mount looked at."""

# glibc caps ndots at 15 (resolv/res_init.c, RES_MAXNDOTS); resolv.conf(5): the default is 1.
MAX_NDOTS = 15
_READ_LIMIT = 64 * 1024

KINDS = ("app_service", "function_app", "container_app", "kubernetes", "azure_ml")
AZURE_ONLY_KINDS = ("app_service", "function_app", "container_app", "azure_ml")
"""Platforms that exist only on Azure: their signals say "on Azure" without IMDS. A Kubernetes pod may run on any
cluster; the Azure-provided DNS suffix in its search list says AKS (see `on_azure`)."""
AZURE_VNET_DNS_SUFFIX = ".internal.cloudapp.net"
"""Azure-provided name resolution gives VMs (AKS nodes, whose search list pods inherit) this suffix
(https://learn.microsoft.com/azure/virtual-network/virtual-networks-name-resolution-for-vms-and-role-instances)."""


def _flag(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def read_resolv_conf(path: str) -> HostResolverConfig:
    """resolv.conf as a stub resolver reads it (resolv.conf(5)): nameservers in order, the last search/domain line,
    `options ndots:n`. An unreadable file is an error, never an empty configuration."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(_READ_LIMIT)
    except OSError as exc:
        return HostResolverConfig(path=path, error=f"cannot read {path}: {exc.strerror or exc}")
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    ndots = 1
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0]
        fields = line.split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            nameservers.append(values[0])
        elif key in ("search", "domain"):
            # The last of these lines wins (resolv.conf(5)); `domain` names one domain.
            search = [v.rstrip(".") for v in (values if key == "search" else values[:1])]
        elif key == "options":
            for option in values:
                options.append(option)
                name, _, number = option.partition(":")
                if name == "ndots" and number.isdigit():
                    ndots = min(int(number), MAX_NDOTS)
    return HostResolverConfig(
        path=path, nameservers=tuple(nameservers), search=tuple(search), ndots=ndots, options=tuple(options)
    )


def _app_service(env: Mapping[str, str], windows: bool) -> AppServiceSignals | None:
    site = _get(env, "WEBSITE_SITE_NAME")
    if site is None:
        return None
    owner = _get(env, "WEBSITE_OWNER_NAME")
    subscription, _, webspace = (owner or "").partition("+")
    private_ip = _get(env, "WEBSITE_PRIVATE_IP")
    os_name = "windows" if windows else "linux"
    if webspace.endswith("-Linux"):
        os_name = "linux"
    return AppServiceSignals(
        site_name=site,
        resource_group=_get(env, "WEBSITE_RESOURCE_GROUP"),
        subscription_id=subscription or None if owner and "+" in owner else None,
        webspace=webspace or None,
        instance_id=_get(env, "WEBSITE_INSTANCE_ID"),
        private_ip=private_ip,
        vnet_integration=private_ip is not None,
        dns_server=_get(env, "WEBSITE_DNS_SERVER"),
        dns_alt_server=_get(env, "WEBSITE_DNS_ALT_SERVER"),
        route_all=_flag(env.get("WEBSITE_VNET_ROUTE_ALL")),
        always_fallback_to_public_dns=_flag(env.get("WEBSITE_ALWAYS_FALLBACK_TO_PUBLIC_DNS")),
        functions_extension_version=_get(env, "FUNCTIONS_EXTENSION_VERSION"),
        os=os_name,
    )


def _container_app(env: Mapping[str, str]) -> ContainerAppSignals | None:
    name = _get(env, "CONTAINER_APP_NAME")
    if name is None:
        return None
    return ContainerAppSignals(
        app_name=name,
        revision=_get(env, "CONTAINER_APP_REVISION"),
        replica=_get(env, "CONTAINER_APP_REPLICA_NAME"),
        env_dns_suffix=_get(env, "CONTAINER_APP_ENV_DNS_SUFFIX"),
        hostname=_get(env, "CONTAINER_APP_HOSTNAME"),
        port=_get(env, "CONTAINER_APP_PORT"),
    )


def _kubernetes(env: Mapping[str, str], sa_dir: str) -> KubernetesSignals | None:
    host = _get(env, "KUBERNETES_SERVICE_HOST")
    mounted = os.path.isfile(os.path.join(sa_dir, "token"))
    if host is None and not mounted:
        return None
    namespace = None
    try:
        with open(os.path.join(sa_dir, "namespace"), encoding="utf-8", errors="replace") as fh:
            namespace = fh.read(256).strip() or None
    except OSError:
        pass
    return KubernetesSignals(
        service_host=host,
        service_port=_get(env, "KUBERNETES_SERVICE_PORT"),
        service_account_dir=sa_dir,
        service_account_mounted=mounted,
        namespace=namespace,
        pod_name=_get(env, "HOSTNAME"),
    )


def _azure_ml(env: Mapping[str, str]) -> AzureMlSignals | None:
    endpoint = _get(env, "MSI_ENDPOINT")
    if endpoint is None or _get(env, "MSI_SECRET") is None:
        return None
    return AzureMlSignals(msi_endpoint=endpoint, msi_secret_present=True)


def identity(env: Mapping[str, str]) -> HostIdentity:
    """The platform identity azure-identity's ManagedIdentityCredential would pick, in its order (App Service's
    IDENTITY_ENDPOINT + IDENTITY_HEADER, then MSI_ENDPOINT [+ MSI_SECRET], then workload identity); secrets as
    presence only."""
    endpoint, header = _get(env, "IDENTITY_ENDPOINT"), _get(env, "IDENTITY_HEADER")
    msi, msi_secret = _get(env, "MSI_ENDPOINT"), _get(env, "MSI_SECRET")
    token_file = _get(env, "AZURE_FEDERATED_TOKEN_FILE")
    client_id, tenant_id = _get(env, "AZURE_CLIENT_ID"), _get(env, "AZURE_TENANT_ID")
    readable: bool | None = None
    if token_file:
        try:
            with open(token_file, "rb"):
                readable = True
        except OSError:
            readable = False
    found = HostIdentity(
        client_id=client_id,
        tenant_id=tenant_id,
        authority_host=_get(env, "AZURE_AUTHORITY_HOST"),
        token_file=token_file,
        token_file_readable=readable,
    )
    if endpoint and header:
        return dataclasses.replace(found, source="app_service", endpoint=endpoint, secret_present=True)
    if msi:
        source = "azure_ml" if msi_secret else "cloud_shell"
        return dataclasses.replace(found, source=source, endpoint=msi, secret_present=bool(msi_secret))
    if token_file and client_id and tenant_id:
        return dataclasses.replace(found, source="workload_identity")
    return found


def on_azure(host: AppHost) -> bool | None:
    """The platform says this runs on Azure (True), or cannot say (None): never "not on Azure"."""
    if host.kind in AZURE_ONLY_KINDS:
        return True
    search = host.resolver.search if host.resolver is not None else ()
    if any(s.endswith(AZURE_VNET_DNS_SUFFIX) for s in search):
        return True
    return None


def _short(text: str | None, keep: int = 8) -> str | None:
    return text if text is None or len(text) <= keep + 1 else text[:keep] + "…"


def describe(host: AppHost) -> str | None:
    """One line for the report's header: where the run happened."""
    kind = host.kind
    if kind in ("app_service", "function_app"):
        app = host.app_service if host.app_service is not None else AppServiceSignals()
        what = "Functions app" if kind == "function_app" else "App Service app"
        parts = [f"{what} {app.site_name}"]
        if app.instance_id:
            parts.append(f"instance {_short(app.instance_id)}")
        if app.private_ip:
            parts.append(f"VNet integration {app.private_ip}")
        else:
            parts.append("no VNet integration (WEBSITE_PRIVATE_IP not set)")
        if app.dns_server:
            alt = f", alt {app.dns_alt_server}" if app.dns_alt_server else ""
            parts.append(f"WEBSITE_DNS_SERVER {app.dns_server}{alt}")
        return ", ".join(parts)
    if kind == "container_app":
        container = host.container_app if host.container_app is not None else ContainerAppSignals()
        parts = [f"Container App {container.app_name}"]
        if container.revision:
            parts.append(f"revision {container.revision}")
        if container.env_dns_suffix:
            parts.append(f"environment {container.env_dns_suffix}")
        return ", ".join(parts)
    if kind == "kubernetes":
        pod = host.kubernetes if host.kubernetes is not None else KubernetesSignals()
        parts = [f"Kubernetes pod {pod.pod_name or '?'}"]
        if pod.namespace:
            parts.append(f"namespace {pod.namespace}")
        if host.resolver is not None and host.resolver.nameservers:
            parts.append(f"DNS {', '.join(host.resolver.nameservers)} ndots:{host.resolver.ndots}")
        if host.identity is not None and host.identity.source == "workload_identity":
            parts.append("workload identity")
        return ", ".join(parts)
    if kind == "azure_ml":
        return "Azure ML compute (MSI_ENDPOINT identity)"
    return None


def read_host(env: Mapping[str, str], resolv_conf: str | None = None, sa_dir: str | None = None) -> AppHost:
    """Everything the platform tells a process about where it runs (the `app_host` evidence, docs/evidence.md)."""
    resolv_conf = resolv_conf or env.get(RESOLV_CONF_VARIABLE) or RESOLV_CONF
    sa_dir = sa_dir or env.get(SERVICE_ACCOUNT_VARIABLE) or SERVICE_ACCOUNT_DIR
    app_service = _app_service(env, sys.platform.startswith("win"))
    container_app = _container_app(env)
    kubernetes = _kubernetes(env, sa_dir)
    azure_ml = _azure_ml(env)
    kind: str | None = None
    if app_service is not None:
        kind = "function_app" if app_service.functions_extension_version else "app_service"
    elif container_app is not None:
        kind = "container_app"
    elif kubernetes is not None:
        kind = "kubernetes"
    elif azure_ml is not None:
        kind = "azure_ml"
    signals = [
        name
        for name in (
            "WEBSITE_SITE_NAME",
            "WEBSITE_PRIVATE_IP",
            "WEBSITE_DNS_SERVER",
            "WEBSITE_DNS_ALT_SERVER",
            "FUNCTIONS_EXTENSION_VERSION",
            "CONTAINER_APP_NAME",
            "KUBERNETES_SERVICE_HOST",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "MSI_ENDPOINT",
            "MSI_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
        )
        if _get(env, name)
    ]
    if kubernetes is not None and kubernetes.service_account_mounted:
        signals.append(sa_dir)
    host = AppHost(
        kind=kind,
        signals=tuple(signals),
        app_service=app_service,
        container_app=container_app,
        kubernetes=kubernetes,
        azure_ml=azure_ml,
        identity=identity(env),
        resolver=None if sys.platform.startswith("win") else read_resolv_conf(resolv_conf),
        subscription_id=app_service.subscription_id if app_service is not None else None,
        resource_group=app_service.resource_group if app_service is not None else None,
        name=(app_service.site_name if app_service is not None else None)
        or (container_app.app_name if container_app is not None else None),
    )
    host = dataclasses.replace(host, on_azure=on_azure(host))
    return dataclasses.replace(host, description=describe(host))


def no_imds_summary(host: AppHost | None, error: str | None) -> str:
    """What the azure_platform probe says when IMDS did not answer: "not an Azure VM" only when no app host signal
    says otherwise (App Service, Functions, Container Apps and Azure ML have no IMDS; a pod may not reach it)."""
    if host is not None and host.on_azure is True:
        return f"no IMDS answer ({error or 'no answer'}); the platform says Azure: {host.description}"
    if host is not None and host.kind:
        return f"no IMDS answer ({error or 'no answer'}); {host.description}"
    return "not an Azure VM (IMDS did not answer)"
