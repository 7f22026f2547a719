"""Facts about an app host's path, derived from the `arm_app_host` and `arm_*` evidence (pure, no I/O).

The host (App Service / Functions site, Container Apps environment, AKS cluster) is the client: its subnet is the
client subnet of arm_client_network, so the zone, link, record, peering, route and NSG facts of
diagnosis/azure_facts are the host's. What is the host's own: whether it has a VNet at all, which DNS servers its
settings choose, and whether App Service sends the traffic into the VNet (route-all).
"""

from __future__ import annotations

from aoai_diag.diagnosis import azure_facts
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, is_unknown, known, unknown, why_unread
from aoai_diag.evidence.azure import AppHost, ArmAppHost, ArmClientNetwork, ArmPrivateEndpoints, HostLink
from aoai_diag.evidence.host import AppDns
from aoai_diag.evidence.host import AppHost as HostSignals
from aoai_diag.model import Status

AZURE_DNS = "168.63.129.16"
SITE_KINDS = ("webapp", "functionapp")
KIND_TITLES = {
    "webapp": "App Service app",
    "functionapp": "Function app",
    "containerapp": "Container app",
    "aks": "AKS cluster",
}


def _rfc1918(address: str) -> bool | None:
    from aoai_diag.azure.app_hosts import rfc1918

    return rfc1918(address)


def describe(host: AppHost) -> str:
    """`App Service app app-contoso` for sentences."""
    return f"{KIND_TITLES.get(host.kind, 'host')} {host.name}"


@fact("app.host")
def host_fact(ev: Evidence) -> Fact[AppHost]:
    """`app.host`: the host as read from Resource Manager; unknown when the read was refused or failed."""
    result = ev.checks.get("arm_app_host")
    data = ev.of(ArmAppHost)
    host = data.host
    if host is not None and host.id:
        return known(host, "arm_app_host")
    if result is None or result.status is Status.SKIP:
        return unknown(Unknown.NOT_APPLICABLE, "arm_app_host", detail="the run is for no app host")
    denied = data.denied
    ref = data.ref or "the host"
    group = _group_of(ref)
    decide = f"Reader on resource group {group}" if group else "Reader on the host's resource group"
    if denied:
        first = denied[0]
        return unknown(
            why_unread(first),
            "arm_app_host",
            detail=f"{first.scope}: HTTP {first.status or first.code}",
            decide=f"{decide} would show its network configuration (az resource show --ids <hostId>)",
        )
    return unknown(Unknown.FAILED, "arm_app_host", detail=data.error or result.summary, decide=decide)


def _group_of(ref: str) -> str | None:
    parts = ref.strip("/").split("/")
    for i in range(len(parts) - 1):
        if parts[i].lower() == "resourcegroups":
            return parts[i + 1]
    return None


def dns_in_use(ev: Evidence) -> tuple[list[str], str | None]:
    """(the DNS servers the host asks, the setting that chose them) from arm_client_network; empty: Azure DNS."""
    net = ev.of(ArmClientNetwork) if ev.ran("arm_client_network") else ArmClientNetwork()
    return list(net.dns_servers), net.dns_source


def public_dns_servers(ev: Evidence) -> list[str]:
    """Servers the host asks that are public resolvers: they can never answer from a private zone. An address outside
    the private ranges that lies in a VNet's address space (a VNet may use public or shared 100.64/10 space) or is an
    Azure Firewall's is a server in that VNet, not a public resolver."""
    servers, _ = dns_in_use(ev)
    net = ev.of(ArmClientNetwork) if ev.ran("arm_client_network") else ArmClientNetwork()
    in_vnet = {h.ip for h in net.dns_server_hosts if h.vnet_id or h.firewall_id}
    return [s for s in azure_facts.split_dns_servers(servers)[1] if s not in in_vnet]


SETTING_NAMES = ("WEBSITE_DNS_SERVER", "WEBSITE_DNS_ALT_SERVER")


def inside_site(ev: Evidence) -> AppHost | None:
    """The App Service app this run is inside, as its own environment names it (app_host: WEBSITE_SITE_NAME,
    WEBSITE_RESOURCE_GROUP, WEBSITE_OWNER_NAME; https://learn.microsoft.com/azure/app-service/reference-app-settings),
    as a host read from Resource Manager but without its id (empty); None outside App Service."""
    data = ev.of(HostSignals) if ev.ran("app_host") else HostSignals()
    site = data.app_service
    if data.kind != "app_service" or site is None or not site.site_name:
        return None
    return AppHost(
        kind="functionapp" if site.functions_extension_version else "webapp",
        name=site.site_name,
        resource_group=site.resource_group or "",
        subscription_id=site.subscription_id or "",
    )


def setting_servers_not_forwarding(ev: Evidence) -> list[str]:
    """Servers an App Service DNS setting chose (WEBSITE_DNS_SERVER / WEBSITE_DNS_ALT_SERVER, seen inside the host)
    that the app_dns probe observed answering the account host publicly or not at all while 168.63.129.16 answers
    it privately: the setting points the app at a server without a forwarder to Azure DNS."""
    if not ev.ran("app_dns"):
        return []
    data = ev.of(AppDns)
    broken = data.forwarding_break
    chosen = next((s for s in data.servers if s.server == broken), None)
    if not broken or chosen is None or chosen.chosen_by not in SETTING_NAMES:
        return []
    return [broken]


@fact("app.dns_setting_seen")
def dns_setting_seen(ev: Evidence) -> Fact[bool]:
    """`app.dns_setting_seen`: the app's DNS setting is observed. Inside an App Service app its own environment names
    it and app_dns watched the server it chose (no Resource Manager read needed: a managed identity without Reader
    still gets the cause); otherwise it is the site as read from Resource Manager (`app.host`)."""
    if setting_servers_not_forwarding(ev) and inside_site(ev) is not None:
        return known(True, "app_host", "app_dns")
    host = host_fact(ev)
    if is_unknown(host):
        return host
    return known(True, "arm_app_host")


@fact("app.route_all_gap")
def route_all_gap(ev: Evidence) -> Fact[tuple[str, ...]]:
    """`app.route_all_gap`: addresses the app must reach through the VNet (private endpoint, DNS servers it asks)
    that lie outside RFC 1918 while the site routes only RFC 1918 traffic into the VNet (route-all off). Known empty
    when route-all is on or the host is not an App Service app; unknown when route-all or an address is unknown.
    https://learn.microsoft.com/azure/app-service/overview-vnet-integration#routes"""
    host_ = host_fact(ev)
    if is_unknown(host_):
        return host_
    host = host_.value
    if host is None or host.kind not in SITE_KINDS or not host.subnet_ids:
        return known((), "arm_app_host")
    servers, _ = dns_in_use(ev)
    addresses = [s for s in servers if s != AZURE_DNS]
    pe_ips = azure_facts.all_pe_ips(ev.of(ArmPrivateEndpoints).private_endpoints)
    if not ev.ran("arm_private_endpoints") or not pe_ips.known:
        return unknown(Unknown.NOT_READ, "arm_private_endpoints", detail="the private endpoint's address is unknown")
    addresses += list(pe_ips.value or {})
    outside = tuple(a for a in dict.fromkeys(addresses) if _rfc1918(a) is False)
    # Inside an App Service app, WEBSITE_VNET_ROUTE_ALL=1 (the older app setting) also turns route-all on.
    inside = ev.of(HostSignals).app_service if ev.ran("app_host") else None
    legacy = inside is not None and inside.route_all is True
    if not outside or host.route_all is True or legacy:
        return known((), "arm_app_host", "arm_private_endpoints")
    if host.route_all is None:
        return unknown(
            Unknown.NOT_READ,
            "arm_app_host",
            detail="the site's answer holds neither vnetRouteAllEnabled nor outboundVnetRouting",
            decide=f"az webapp show --ids {host.id} --query outboundVnetRouting",
        )
    return known(outside, "arm_app_host", "arm_private_endpoints", "arm_client_network")


def host_path(ev: Evidence, host: AppHost | None) -> tuple[HostLink, ...]:
    """Each link of the host's path as Resource Manager shows it: state ok | broken | unknown, with its detail.

    `host` is the host as just read (the probe calls this before its own evidence exists); `ev` holds the other
    `arm_*` checks."""
    links: list[HostLink] = []

    def add(link: str, state: str, detail: str) -> None:
        links.append(HostLink(link=link, state=state, detail=detail))

    if host is None:
        add("host", "unknown", "the host's configuration could not be read")
        return tuple(links)
    add("host", "ok", f"{describe(host)} read")
    net = ev.of(ArmClientNetwork) if ev.ran("arm_client_network") else ArmClientNetwork()
    if not host.subnet_ids and net.vnet is None:
        add("vnet", "broken", f"{describe(host)} has no VNet of yours: its traffic takes the public path")
        return tuple(links)
    vnet = net.vnet.id if net.vnet is not None else None
    add("vnet", "ok" if vnet else "unknown", f"VNet {str(vnet).rsplit('/', 1)[-1]}" if vnet else "VNet not read")
    gap = route_all_gap_for(ev, host)
    if gap.known:
        add("route_all", "broken" if gap.value else "ok", ", ".join(gap.value or ()) or "nothing outside RFC 1918")
    else:
        add("route_all", "unknown", gap.describe())
    public = public_dns_servers(ev)
    _servers, source = dns_in_use(ev)
    if public:
        add("dns", "broken", f"{', '.join(public)} ({source}) cannot answer from a private zone")
    link = azure_facts.resolver_link(ev)
    if link.known and link.value == "Completed":
        add("zone_link", "ok", "the privatelink zone is linked to the VNet the host resolves through")
    elif link.known and link.value == "none":
        add("zone_link", "broken", "the privatelink zone is not linked to the VNet the host resolves through")
    elif not public:
        add("zone_link", "unknown", link.describe() if not link.known else "link InProgress")
    record = azure_facts.record(ev)
    owners = azure_facts.all_pe_ips(ev.of(ArmPrivateEndpoints).private_endpoints)
    if record.known and link.is_true() and owners.known:
        ips = set(record.value or ())
        good = bool(ips) and ips <= set(owners.value or {})
        add("record", "ok" if good else "broken", ", ".join(sorted(ips)) or "no A record")
    elif not public:
        add("record", "unknown", record.describe() if not record.known else "no linked zone")
    routes = net.routes_to_pe
    if ev.has("arm_client_network", Status.FAIL):
        add("route", "broken", ev.checks["arm_client_network"].summary)
    elif routes:
        hops = {azure_facts.route_hop(r.route) for r in routes}
        if hops <= {azure_facts.Hop.DIRECT}:
            add("route", "ok", "the VNet delivers it (InterfaceEndpoint, VnetLocal or peering)")
        elif hops & {azure_facts.Hop.NO_PATH, azure_facts.Hop.USER_DROP}:
            add("route", "broken", "no VNet path, or a user route drops it")
        else:
            add(
                "route",
                "unknown",
                "through an appliance or gateway: whether it passes TCP 443 is not in Resource Manager",
            )
    else:
        add("route", "unknown", "no route evaluated (private endpoint address unknown)")
    nsg = azure_facts.nsg_allows(ev)
    nsg_check = ev.checks.get("arm_nsg")
    if nsg.is_true():
        add("nsg", "ok", "the NSGs allow TCP 443 to the private endpoint")
    elif nsg.is_false():
        add("nsg", "broken", nsg_check.summary if nsg_check is not None else "an NSG denies TCP 443")
    else:
        add("nsg", "unknown", nsg.describe())
    return tuple(links)


def route_all_gap_for(ev: Evidence, host: AppHost) -> Fact[tuple[str, ...]]:
    """`app.route_all_gap` for a host not yet in `ev` (the arm_app_host probe, while it builds its evidence)."""
    from aoai_diag.model import CheckResult

    checks = dict(ev.checks)
    checks["arm_app_host"] = CheckResult("arm_app_host", Status.PASS, "", ArmAppHost(host=host), 0.0)
    return route_all_gap(Evidence(ev.target, checks))


def verdict_of(ev: Evidence, server: str) -> str:
    """app_dns's verdict for `server`'s answer for the account host (private, public, nxdomain, ...)."""
    verdicts = ev.of(AppDns).verdicts if ev.ran("app_dns") else {}
    return verdicts.get(server) or "not privately"
