"""Where an app runs, from Resource Manager: App Service / Functions sites, Container Apps (their environment) and AKS
clusters, found by name or id and read with Reader; then the host's subnet as the client subnet of the usual
analysis (VNet DNS servers, zone links, peerings, NSGs, routes).

Plain ARM GETs and lists through the run's session (azure-core), no azure-mgmt-web / -appcontainers /
-containerservice: each would cost an import of its own (hundreds of milliseconds) for two or three reads, and the
REST shapes are stable (https://github.com/Azure/azure-rest-api-specs, `specification/web`, `app`,
`containerservice`). Names are searched with Resource Graph (what the caller may read), else with per-subscription
lists. A failed or forbidden read is kept as a Denied: the host's configuration is then unknown, never absent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from aoai_diag.azure import convert
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.evidence.azure import (
    AppHost,
    ArmAppHost,
    ArmClientNetwork,
    Denied,
    PeVnet,
    PrivateEndpoint,
    Route,
    RouteToPe,
    Subnet,
    Vnet,
)
from aoai_diag.evidence.host import AppHost as AppHostSignals
from aoai_diag.evidence.host import AppServiceSignals
from aoai_diag.model import CheckResult

if TYPE_CHECKING:
    from aoai_diag.azure.arm_clients import ArmSession

# API versions of the plain reads (REST specs, stable): outboundVnetRouting and dnsConfiguration on sites,
# vnetConfiguration on managed environments, agentPoolProfiles/networkProfile on managed clusters.
WEB_API = "2024-11-01"
APP_API = "2024-03-01"
AKS_API = "2024-09-01"
NETWORK_API = "2024-05-01"

SITES = "Microsoft.Web/sites"
CONTAINER_APPS = "Microsoft.App/containerApps"
CLUSTERS = "Microsoft.ContainerService/managedClusters"
KINDS: Mapping[str, str] = {
    "webapp": SITES,
    "functionapp": SITES,
    "containerapp": CONTAINER_APPS,
    "aks": CLUSTERS,
}
KIND_NAMES = ("webapp", "functionapp", "containerapp", "aks")
# Resource names these kinds allow (letters, digits, '-', '_', '.'); anything else never reaches a query.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$")
_GROUP = re.compile(r"^[-\w._()]{1,90}$")
# Azure reserves the first four addresses of every subnet; the first an instance can get is the fifth
# (https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq).
FIRST_HOST_OFFSET = 4
AZURE_DNS = "168.63.129.16"
RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class HostRefError(ValueError):
    """`--from` / `-g` could not be understood, or named no host / several hosts (one line, for the CLI)."""


@dataclass(frozen=True)
class HostRef:
    """What `--from` named: `kind:NAME` (with `-g`), or a full resource id."""

    kind: str | None
    """webapp | functionapp | containerapp | aks; None for a resource id (its type decides)."""
    name: str
    resource_group: str | None = None
    resource_id: str | None = None

    def describe(self) -> str:
        if self.resource_id:
            return self.resource_id
        where = f" in resource group {self.resource_group}" if self.resource_group else ""
        return f"{self.kind} {self.name}{where}"


def parse_ref(text: str, resource_group: str | None = None) -> HostRef:
    """`webapp:NAME`, `functionapp:NAME`, `containerapp:NAME`, `aks:NAME` or a resource id. Raises HostRefError."""
    value = text.strip()
    if resource_group is not None and not _GROUP.match(resource_group):
        raise HostRefError(f"-g {resource_group!r} is not a resource group name")
    if value.startswith("/"):
        rid = value.rstrip("/")
        kind = kind_of_id(rid)
        name = rid.rsplit("/", 1)[-1]
        if kind is None or not convert.id_part(rid, "subscriptions") or not convert.id_part(rid, "resourceGroups"):
            raise HostRefError(f"--from {value!r}: not the id of a {', '.join(sorted(set(KINDS.values())))} resource")
        if not _NAME.match(name):
            raise HostRefError(f"--from {value!r}: {name!r} is not a resource name")
        return HostRef(kind=None, name=name, resource_group=convert.id_part(rid, "resourceGroups"), resource_id=rid)
    kind, sep, name = value.partition(":")
    if not sep or kind.lower() not in KINDS:
        raise HostRefError(
            f"--from {value!r}: expected KIND:NAME (KIND one of {', '.join(KIND_NAMES)}) or a resource id"
        )
    if not _NAME.match(name):
        raise HostRefError(f"--from {value!r}: {name!r} is not a resource name")
    return HostRef(kind=kind.lower(), name=name, resource_group=resource_group)


def kind_of_id(resource_id: str) -> str | None:
    """`site`-family kinds are told apart only by the answer's `kind`; the id gives the resource type."""
    parts = resource_id.strip("/").split("/")
    low = [p.lower() for p in parts]
    for kind_type in (SITES, CONTAINER_APPS, CLUSTERS):
        namespace, rtype = kind_type.lower().split("/")
        for i in range(len(low) - 3):
            if low[i] == "providers" and low[i + 1] == namespace and low[i + 2] == rtype and i + 4 == len(low):
                return {SITES: "webapp", CONTAINER_APPS: "containerapp", CLUSTERS: "aks"}[kind_type]
    return None


# --- finding a host by name -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """Hosts of the asked kind and name among what the credential can read."""

    matches: tuple[str, ...]
    source: str
    """`resource_graph` or `list_calls`."""
    denied: tuple[Denied, ...] = ()
    subscriptions: int = 0

    @property
    def complete(self) -> bool:
        return not self.denied


def search(ctx: ProbeContext, sess: ArmSession, ref: HostRef, subscriptions: Sequence[str]) -> Search:
    """Ids of every host named `ref.name` (kind and resource group as asked), Resource Graph first."""
    from aoai_diag.azure.arm_clients import ArmFailure

    rtype = KINDS[ref.kind or "webapp"]
    try:
        rows = _graph(sess, rtype, ref, subscriptions)
        return Search(_ids(rows, ref), "resource_graph", (), len(subscriptions))
    except ArmFailure:
        pass
    # Resource Graph may be forbidden: ask each subscription (or the resource group) instead, all at once.
    calls: dict[str, Callable[[], list[dict[str, Any]]]] = {}
    for sub in subscriptions:
        scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{ref.resource_group}" if ref.resource_group else "")
        api = _api(rtype)
        calls[scope] = partial(sess.list_json, f"{scope}/providers/{rtype}", api)
    listed: list[dict[str, Any]] = []
    denied: list[Denied] = []
    for scope, value in sess.parallel(calls).items():
        if isinstance(value, Denied):
            # A resource group that does not exist in one subscription is no failure to read it.
            if not (ref.resource_group and value.status == 404):
                denied.append(Denied(scope=scope, status=value.status, code=value.code, message=value.message))
        else:
            listed.extend(value)
    return Search(_ids(listed, ref), "list_calls", tuple(denied), len(subscriptions))


def _graph(sess: ArmSession, rtype: str, ref: HostRef, subscriptions: Sequence[str]) -> list[dict[str, Any]]:
    from aoai_diag.azure import snapshot

    # Name and group were checked against _NAME / _GROUP (no quote can reach the query).
    query = f"resources | where type =~ '{rtype.lower()}' and name =~ '{ref.name}'"
    if ref.resource_group:
        query += f" and resourceGroup =~ '{ref.resource_group}'"
    query += " | project id, name, type, kind, resourceGroup, subscriptionId"
    request = {"subscriptions": list(subscriptions), "query": query, "options": {"resultFormat": "objectArray"}}
    response = sess.call("Resource Graph", lambda: snapshot.graph_query(sess, request))
    data = response.get("data") or []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _ids(rows: Sequence[Mapping[str, Any]], ref: HostRef) -> tuple[str, ...]:
    out: list[str] = []
    for row in rows:
        rid = str(row.get("id") or "")
        if str(row.get("name") or rid.rsplit("/", 1)[-1]).lower() != ref.name.lower():
            continue
        if ref.resource_group and convert.id_part(rid, "resourceGroups").lower() != ref.resource_group.lower():
            continue
        if rid and rid.lower() not in (o.lower() for o in out):
            out.append(rid)
    return tuple(sorted(out, key=str.lower))


def _api(rtype: str) -> str:
    return {SITES: WEB_API, CONTAINER_APPS: APP_API, CLUSTERS: AKS_API}[rtype]


def resolve(settings: Settings, text: str, resource_group: str | None) -> str:
    """For the CLI, before the run: the resource id `--from` names. A name found nowhere (the search complete) or in
    several places is a HostRefError listing them; a search that could not finish leaves the name as given (the
    run reports what could not be read). Raises NoCredential / ArmFailure when Resource Manager cannot be asked."""
    import time

    from aoai_diag.azure import snapshot
    from aoai_diag.net.imds import fetch_instance

    ref = parse_ref(text, resource_group)
    if ref.resource_id:
        return ref.resource_id
    ctx = ProbeContext(settings=settings, deadline=time.monotonic() + settings.run_deadline)
    on_azure = fetch_instance(settings.imds_endpoint, settings.imds_timeout, settings.timeout).on_azure is True
    sess = snapshot.session(ctx, on_azure)
    found = search(ctx, sess, ref, snapshot.access(ctx, on_azure).subscriptions)
    if len(found.matches) > 1:
        raise HostRefError(
            f"--from {text}: {len(found.matches)} matches, give -g RESOURCE_GROUP or the resource id: "
            + ", ".join(found.matches)
        )
    if found.matches:
        return found.matches[0]
    if found.complete:
        raise HostRefError(
            f"--from {text}: no {ref.describe()} in the {found.subscriptions} subscription(s) this identity can read"
        )
    return text


# --- reading a host ------------------------------------------------------------------------------------------------


# The host as read for this run is the arm_app_host evidence before its path is judged (ArmAppHost: `ref`, `mode`,
# `source`, `matches`, `host` None when it could not be read, `denied` saying which scope and why, `error`).


def reference(settings: Settings, deps: Mapping[str, CheckResult]) -> tuple[str, str | None, str] | None:
    """(what names the host, its resource group, mode) for this run: `--from`, else the `app_host` probe's evidence
    when this run is inside an App Service / Functions app (its site id) or a container app (its name); None when the
    run is for no host (a pod does not know its cluster's name: `--from aks:NAME` from outside instead)."""
    if settings.from_host:
        return settings.from_host, settings.from_resource_group, "from"
    signals = _signals(deps)
    site = signals.app_service if signals.app_service is not None else AppServiceSignals()
    name, group, sub = site.site_name, site.resource_group, site.subscription_id
    if name and group and sub and _NAME.match(name) and _GROUP.match(group):
        return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{SITES}/{name}", group, "inside"
    app = signals.container_app.app_name if signals.container_app is not None else None
    if app and _NAME.match(app):
        return f"containerapp:{app}", None, "inside"
    return None


def _signals(deps: Mapping[str, CheckResult]) -> AppHostSignals:
    """The app_host probe's evidence (aoai_diag/evidence/host.py), at its defaults when it did not run."""
    result = deps.get("app_host")
    return result.typed(AppHostSignals) if result is not None else AppHostSignals()


def inside_settings(deps: Mapping[str, CheckResult]) -> AppServiceSignals | None:
    """What an App Service process sees of its own settings (WEBSITE_DNS_SERVER, WEBSITE_PRIVATE_IP,
    WEBSITE_VNET_ROUTE_ALL), from the app_host probe; None outside an App Service host. From outside these app
    settings are not read (config/appsettings/list needs more than Reader and returns secrets)."""
    return _signals(deps).app_service


def read(ctx: ProbeContext, sess: ArmSession, on_azure: bool, deps: Mapping[str, CheckResult]) -> ArmAppHost | None:
    """The host of this run (once per run), or None when the run is for no host."""
    named = reference(ctx.settings, deps)
    if named is None:
        return None
    text, group, mode = named
    return ctx.once("arm.app_host", lambda: _read(ctx, sess, on_azure, text, group, mode))  # type: ignore[no-any-return]


def _read(ctx: ProbeContext, sess: ArmSession, on_azure: bool, text: str, group: str | None, mode: str) -> ArmAppHost:
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    try:
        ref = parse_ref(text, group)
    except HostRefError as exc:
        return ArmAppHost(ref=text, mode=mode, error=str(exc))
    source, matches = "id", tuple[str, ...]()
    rid = ref.resource_id
    if rid is None:
        try:
            found = search(ctx, sess, ref, snapshot.access(ctx, on_azure).subscriptions)
        except ArmFailure as exc:
            return ArmAppHost(ref=text, mode=mode, source="resource_graph", denied=(exc.denied,), error=str(exc))
        source, matches = found.source, found.matches
        if len(found.matches) != 1:
            why = "several hosts match" if found.matches else "not found"
            return ArmAppHost(
                ref=text,
                mode=mode,
                source=source,
                matches=matches,
                denied=found.denied,
                error=f"{ref.describe()}: {why}",
            )
        rid = found.matches[0]
    try:
        host = _get_host(sess, rid)
    except ArmFailure as exc:
        return ArmAppHost(ref=text, mode=mode, source=source, matches=matches, denied=(exc.denied,), error=str(exc))
    return ArmAppHost(ref=text, mode=mode, source=source, matches=matches, host=host)


def _get_host(sess: ArmSession, rid: str) -> AppHost:
    from aoai_diag.azure.arm_clients import ArmFailure

    kind = kind_of_id(rid)
    if kind == "webapp":
        results = sess.parallel(
            {"site": partial(sess.get_json, rid, WEB_API), "web": partial(sess.get_json, rid + "/config/web", WEB_API)}
        )
        site = results["site"]
        if isinstance(site, Denied):
            raise ArmFailure(site)
        web = results["web"]
        # config/web adds only the older route-all flag; the site answer alone is enough when it is not readable.
        return convert.site(site, None if isinstance(web, Denied) else web)
    if kind == "containerapp":
        app = sess.get_json(rid, APP_API)
        env_id = _str_prop(app, "managedEnvironmentId") or _str_prop(app, "environmentId")
        if not env_id:
            raise ArmFailure(
                Denied(
                    scope=rid, status=None, code="MalformedResponse", message="the container app names no environment"
                )
            )
        return convert.managed_environment(sess.get_json(env_id, APP_API), app)
    if kind == "aks":
        return convert.managed_cluster(sess.get_json(rid, AKS_API))
    raise ArmFailure(Denied(scope=rid, status=None, code="BadRequest", message="not an app host resource id"))


def _str_prop(data: Mapping[str, Any], key: str) -> str | None:
    value = (data.get("properties") or {}).get(key)
    return str(value) if value else None


# --- the host as the client of the usual analysis -------------------------------------------------------------------


def client_subnet_id(host: AppHost, vnets: Sequence[Vnet]) -> str | None:
    """The subnet the host's traffic leaves from: the first of `subnet_ids`; for an AKS cluster on its managed VNet
    (no vnetSubnetID), the subnet of the VNet in the node resource group."""
    if host.subnet_ids:
        return host.subnet_ids[0]
    if host.kind == "aks" and host.node_resource_group:
        for vnet in vnets:
            if (
                convert.id_part(vnet.id, "resourceGroups").lower() == host.node_resource_group.lower()
                and vnet.subnet_ids
            ):
                return vnet.subnet_ids[0]
    return None


def effective_dns_servers(
    host: AppHost | None, vnet: Vnet, inside: AppServiceSignals | None = None
) -> tuple[tuple[str, ...], str]:
    """(the DNS servers the app asks, which setting chose them). An App Service app's WEBSITE_DNS_SERVER /
    WEBSITE_DNS_ALT_SERVER app settings (seen only from inside), else its dnsConfiguration.dnsServers, replace the
    VNet's servers; the app setting takes precedence over the site property
    (https://learn.microsoft.com/azure/app-service/overview-name-resolution)."""
    if host is not None and host.kind in ("webapp", "functionapp") and inside is not None and inside.dns_server:
        servers = [inside.dns_server, *([inside.dns_alt_server] if inside.dns_alt_server else [])]
        return tuple(dict.fromkeys(servers)), "app setting WEBSITE_DNS_SERVER"
    if host is not None and host.dns_servers:
        alt = (host.dns_alt_server,) if host.dns_alt_server and host.dns_alt_server not in host.dns_servers else ()
        return (*host.dns_servers, *alt), "site dnsConfiguration"
    return vnet.dns_servers, "vnet"


def dns_mode(servers: Sequence[str]) -> str:
    """`azure` when the client asks Azure-provided DNS (no servers, or only 168.63.129.16, which answers from the
    zones linked to the asking VNet: https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16),
    else `custom`."""
    return "custom" if any(s != AZURE_DNS for s in servers) else "azure"


def source_address(subnet: Subnet) -> str | None:
    """An address an instance of the host can have in `subnet` (the first one Azure hands out): the source of the
    NSG evaluation. Rules narrower than the subnet's prefix may treat other instances differently."""
    for prefix in subnet.prefixes:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if net.num_addresses > FIRST_HOST_OFFSET + 1:
            return str(net.network_address + FIRST_HOST_OFFSET)
    return None


def rfc1918(address: str) -> bool | None:
    """Inside 10/8, 172.16/12 or 192.168/16 (the only traffic an App Service app without route-all sends into the
    VNet: https://learn.microsoft.com/azure/app-service/overview-vnet-integration#routes); None if not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return any(ip in net for net in RFC1918)


# --- the host subnet's route table (there is no NIC whose effective routes could be read) --------------------------


def route_table_routes(ctx: ProbeContext, sess: ArmSession, route_table_id: str) -> list[Route]:
    """The user routes of a route table (plain GET, once per run); raises ArmFailure."""
    data = ctx.once(f"arm.rt:{route_table_id.lower()}", lambda: sess.get_json(route_table_id, NETWORK_API))
    routes = []
    for raw in (data.get("properties") or {}).get("routes") or ():
        props = raw.get("properties") or {} if isinstance(raw, Mapping) else {}
        if not props.get("addressPrefix"):
            continue
        routes.append(
            Route(
                source="User",
                state="Active",
                prefixes=(str(props["addressPrefix"]),),
                next_hop_type=str(props.get("nextHopType") or ""),
                next_hop_ips=(str(props["nextHopIpAddress"]),) if props.get("nextHopIpAddress") else (),
            )
        )
    return routes


def _narrowest(prefixes: Sequence[str], address: str) -> int | None:
    """The length of the narrowest of `prefixes` that holds `address`; None when none does."""
    ip = ipaddress.ip_address(address)
    best: int | None = None
    for prefix in prefixes:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if ip.version == net.version and ip in net and (best is None or net.prefixlen > best):
            best = net.prefixlen
    return best


def longest_match(routes: Sequence[Route], address: str) -> tuple[int, Route] | None:
    """(prefix length, route) of the route whose prefix holds `address` most narrowly, as Azure selects routes."""
    best: tuple[int, Route] | None = None
    for route in routes:
        length = _narrowest(route.prefixes, address)
        if length is not None and (best is None or length > best[0]):
            best = (length, route)
    return best


def route_to(
    address: str,
    user_routes: Sequence[Route],
    relation: str | None,
    vnet_prefixes: Sequence[str],
    pe_route_tables_apply: bool,
) -> Route:
    """The route Azure would pick from the host subnet toward a private endpoint address, from the subnet's user
    routes and the system routes (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview):
    a private endpoint adds a /32 InterfaceEndpoint route in its VNet and in directly peered VNets; a user route
    with a shorter prefix overrides it only where the PE subnet's network policies let route tables apply
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    user = longest_match(user_routes, address)
    if relation in ("same", "peered"):
        pe_route = Route(
            source="Default", state="Active", prefixes=(f"{address}/32",), next_hop_type="InterfaceEndpoint"
        )
        if user is None or (user[0] < 32 and not pe_route_tables_apply):
            return pe_route
        return user[1]
    if user is not None:
        return user[1]
    if _narrowest(vnet_prefixes, address) is not None:
        return Route(source="Default", state="Active", prefixes=tuple(vnet_prefixes), next_hop_type="VnetLocal")
    if rfc1918(address) or _narrowest(("100.64.0.0/10",), address) is not None:
        # Private ranges outside the VNet's space and its peerings: system route with next hop None.
        return Route(source="Default", state="Active", next_hop_type="None")
    return Route(source="Default", state="Active", prefixes=("0.0.0.0/0",), next_hop_type="Internet")


# --- what arm_client_network does with a host ----------------------------------------------------------------------


@dataclass(frozen=True)
class HostClient:
    """The host as the client of arm_client_network: its subnet and VNet, or why there is none."""

    read: ArmAppHost
    subnet: Subnet | None = None
    vnet_id: str | None = None
    problem: str | None = None
    """Set when the host has no subnet of the customer's: its traffic enters no VNet."""


def host_client(ctx: ProbeContext, sess: ArmSession, vnets: Sequence[Vnet], read_: ArmAppHost) -> HostClient:
    """The host's subnet (read once per run) and VNet; raises ArmFailure when the subnet cannot be read."""
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    host = read_.host
    if host is None:
        denied = (
            read_.denied[0]
            if read_.denied
            else Denied(scope=read_.ref, status=None, code="NotFound", message=read_.error or "not read")
        )
        raise ArmFailure(denied)
    subnet_id = client_subnet_id(host, vnets)
    if subnet_id is None:
        what = {
            "webapp": "has no regional VNet integration (virtualNetworkSubnetId is empty)",
            "functionapp": "has no regional VNet integration (virtualNetworkSubnetId is empty)",
            "containerapp": f"runs in environment {short(host.environment_id)}, which has no VNet of yours "
            "(vnetConfiguration.infrastructureSubnetId is empty)",
            "aks": "lists no agent pool subnet, and no VNet was found in its node resource group",
        }[host.kind]
        return HostClient(read_, problem=f"{host.kind} {host.name} {what}: its traffic enters no VNet")
    subnet = snapshot.subnet(ctx, sess, subnet_id)
    return HostClient(read_, subnet, convert.parent_id(subnet_id))


def host_evidence(client: HostClient, inside: AppServiceSignals | None = None) -> ArmClientNetwork:
    """What arm_client_network records of a host before reading its VNet. Inside an App Service app the instance's
    own address (WEBSITE_PRIVATE_IP) is the NSG evaluation's source."""
    host = client.read.host
    own = inside.private_ip if inside is not None else None
    return ArmClientNetwork(
        source="host",
        host_id=host.id if host is not None else None,
        subnet=client.subnet,
        source_ip=(own or source_address(client.subnet)) if client.subnet is not None else None,
    )


def host_routes(
    ctx: ProbeContext,
    sess: ArmSession,
    subnet: Subnet,
    vnet: Vnet,
    pes: Sequence[PrivateEndpoint],
    relations: Sequence[PeVnet],
) -> tuple[list[RouteToPe], list[Denied]]:
    """`routes_to_pe` for a host: its subnet's route table and the system routes (no effective-route read exists
    for an App Service or Container Apps instance); the reads that failed."""
    from aoai_diag.azure import snapshot
    from aoai_diag.azure.arm_clients import ArmFailure

    denied: list[Denied] = []
    user: list[Route] = []
    if subnet.route_table_id:
        try:
            user = route_table_routes(ctx, sess, subnet.route_table_id)
        except ArmFailure as exc:
            return [], [exc.denied]
    out: list[RouteToPe] = []
    for pe in pes:
        relation = next((r.relation for r in relations if convert.same_id(r.pe_id, pe.id)), None)
        policies = ""
        if pe.subnet_id and user:
            try:
                policies = (snapshot.subnet(ctx, sess, pe.subnet_id).pe_network_policies or "").lower()
            except ArmFailure as exc:
                denied.append(exc.denied)
        for address in pe.ip_addresses:
            route = route_to(
                address, user, relation, vnet.address_prefixes, policies in ("enabled", "routetableenabled")
            )
            out.append(RouteToPe(pe_id=pe.id, address=address, route=route))
    return out, denied


def short(resource_id: str | None) -> str:
    return str(resource_id or "?").rstrip("/").rsplit("/", 1)[-1]
