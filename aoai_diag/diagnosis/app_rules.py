"""Rules for an app host's own causes (`app.*`): no VNet, a DNS setting that overrides the VNet's, route-all off.

The host is read by `arm_app_host` (with `--from`, or inside an App Service host); the other causes of its path
(zone not linked to the integration VNet, the integration subnet's NSG, peerings, routes) come from the Azure rules,
because arm_client_network takes the host's subnet as the client subnet. A host that could not be read names
`app.host_unread` with the app causes as candidates and what would decide: never a cause on an unread fact.
Sources: https://learn.microsoft.com/azure/app-service/overview-vnet-integration,
https://learn.microsoft.com/azure/app-service/overview-name-resolution,
https://learn.microsoft.com/azure/container-apps/networking.
"""

from __future__ import annotations

from collections.abc import Iterator

from aoai_diag.catalogue import fill
from aoai_diag.diagnosis import app_facts
from aoai_diag.diagnosis.azure_view import short
from aoai_diag.diagnosis.evidence import Evidence, Rule
from aoai_diag.evidence.azure import AppHost, ArmAppHost, ArmClientNetwork, ArmPrivateEndpoints, PrivateEndpoint, Vnet
from aoai_diag.model import Finding, Status

APP_CAUSES = ("app.no_vnet_integration", "app.dns_setting_overrides", "app.route_all_off")


def _host(ev: Evidence) -> AppHost | None:
    fact = app_facts.host_fact(ev)
    return fact.value if fact.known else None


def _group(host: AppHost) -> dict[str, str | None]:
    """Template values naming the host's subscription and resource group."""
    return {"subscription": host.subscription_id, "rg": host.resource_group}


def _pes(ev: Evidence) -> tuple[PrivateEndpoint, ...]:
    """The account's private endpoints as read (none when the read observed nothing)."""
    return ev.of(ArmPrivateEndpoints).private_endpoints if ev.ran("arm_private_endpoints") else ()


def _vnet(ev: Evidence) -> Vnet | None:
    """The client (host) VNet as read; None when it was not read."""
    return ev.of(ArmClientNetwork).vnet if ev.ran("arm_client_network") else None


def host_unread_rules(ev: Evidence) -> Iterator[Finding]:
    """The host could not be read: whether any app cause applies is unknown."""
    if not ev.has("arm_app_host", Status.ERROR):
        return
    fact = app_facts.host_fact(ev)
    data = ev.of(ArmAppHost)
    matches = data.matches
    # A DNS setting seen inside the host is decided there (dns_setting_rules): not a candidate of the unread host.
    setting_seen = app_facts.dns_setting_seen(ev).is_true()
    candidates = tuple(c for c in APP_CAUSES if not (setting_seen and c == "app.dns_setting_overrides"))
    unknowns = (
        "its VNet integration and routing are" if setting_seen else "its VNet integration, DNS setting and routing are"
    )
    decide = fact.decide
    if len(matches) > 1:
        decide = f"--from with one of {', '.join(matches)} (or -g RESOURCE_GROUP) would name one host"
    yield Finding(
        cause_id="app.host_unread",
        checks=("arm_app_host",),
        detail=f"The host {data.ref} could not be read from Resource Manager ({fact.describe()}): {unknowns} "
        "unknown, so its path is not judged.",
        candidates=candidates,
        decide=decide,
    )


def no_vnet_rules(ev: Evidence) -> Iterator[Finding]:
    host = _host(ev)
    if host is None or host.subnet_ids or host.kind == "aks":
        return
    pes = _pes(ev)
    # The cause is the public path while the account is reached privately: known only with a private endpoint.
    if not pes:
        return
    name, kind = host.name, host.kind
    if kind == "containerapp":
        detail = (
            f"Container app {name} runs in environment {short(host.environment_id)}, which has no VNet of yours "
            "(vnetConfiguration.infrastructureSubnetId is empty): it cannot reach the private endpoint "
            f"{pes[0].name} and resolves {ev.target.host} publicly."
        )
    else:
        detail = (
            f"{app_facts.describe(host)} has no regional VNet integration (virtualNetworkSubnetId is empty): it resolves "
            f"{ev.target.host} with public DNS and connects over the public path, not to the private endpoint "
            f"{pes[0].name}."
        )
    yield Finding(
        cause_id="app.no_vnet_integration",
        checks=("arm_app_host", "arm_private_endpoints", "arm_client_network"),
        detail=detail,
        remediation=fill(
            "app.no_vnet_integration",
            variant="containerapp" if kind == "containerapp" else "webapp",
            **_group(host),
            app=name,
            pe_vnet=short(pes[0].vnet_id),
        ),
        resources=(host.id, pes[0].id),
    )


def dns_setting_rules(ev: Evidence) -> Iterator[Finding]:
    """The app's DNS setting (the WEBSITE_DNS_SERVER app setting seen inside the host, or the site's
    dnsConfiguration.dnsServers) names a server that cannot answer from the private zone: a public resolver, or
    (observed inside the host by app_dns) a server that does not forward to 168.63.129.16. The setting is the root:
    it replaces whatever the VNet says (the catalogue's `supersedes` drops dns.custom_server_no_forwarder, which
    names the same server)."""
    host = _host(ev)
    servers, source = app_facts.dns_in_use(ev)
    silent = app_facts.setting_servers_not_forwarding(ev)
    if host is None and silent:
        # Inside an App Service app whose site Resource Manager would not show: its environment names the app and
        # the setting, and app_dns saw the server the setting chose (app.dns_setting_seen).
        host = app_facts.inside_site(ev)
        servers, source = silent, "app setting WEBSITE_DNS_SERVER"
    if host is None or source in (None, "vnet") or not servers:
        return
    public = app_facts.public_dns_servers(ev)
    if not public and not silent:
        return
    vnet = _vnet(ev)
    vnet_id = vnet.id if vnet is not None else None
    # The VNet's own DNS only as read: a VNet Resource Manager did not show is not said to use Azure DNS.
    vnet_dns = (", ".join(vnet.dns_servers) or "Azure-provided DNS") if vnet is not None and vnet_id else None
    name = host.name
    why = [f"{', '.join(public)} is a public resolver"] if public else []
    if silent:
        why.append(
            f"{', '.join(silent)} answers it {app_facts.verdict_of(ev, silent[0])} while 168.63.129.16 answers "
            "privately (it does not forward to Azure DNS)"
        )
    vnet_part = f" ({vnet_dns})" if vnet_dns else ""
    read = ("arm_app_host", "arm_client_network") if host.id else ("app_host",)
    yield Finding(
        cause_id="app.dns_setting_overrides",
        checks=(*read, *(("app_dns",) if silent else ())),
        detail=f"{app_facts.describe(host)} asks {', '.join(servers)} (its {source}), not its VNet's DNS{vnet_part}; "
        f"{'; '.join(why)}: it cannot answer {ev.target.host} from the private zone.",
        remediation=fill(
            "app.dns_setting_overrides",
            # The app setting (seen inside the host) or the site's own dnsConfiguration: each is removed its own way.
            variant="app_setting" if str(source).startswith("app setting") else "site_config",
            **_group(host),
            app=name,
            siteId=host.id,
            vnet=short(vnet_id) if vnet_id else "its VNet",
        ),
        resources=(host.id,) if host.id else (),
    )


def route_all_rules(ev: Evidence) -> Iterator[Finding]:
    gap = app_facts.route_all_gap(ev)
    host = _host(ev)
    if host is None or not gap.known or not gap.value:
        return
    yield Finding(
        cause_id="app.route_all_off",
        checks=("arm_app_host", "arm_private_endpoints", "arm_client_network"),
        detail=f"{app_facts.describe(host)} routes only RFC 1918 traffic into its VNet (route-all off, "
        f"{host.route_all_source}), and {', '.join(gap.value)} lie(s) outside RFC 1918: that traffic leaves "
        "by the public path.",
        remediation=fill("app.route_all_off", variant="site", siteId=host.id),
        resources=(host.id,),
    )


RULES: tuple[Rule, ...] = (host_unread_rules, no_vnet_rules, dns_setting_rules, route_all_rules)
