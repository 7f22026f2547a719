"""Rules that correlate Azure Resource Manager evidence with what this machine observed.

Each rule names the exact broken link (zone, link, record, peering, route, rule, connection) with the resource
ids involved and the `az` command that fixes it. Judgement lives in diagnosis/azure_facts (the probes read the
same facts): a rule that concludes "missing" fires only when the read that would have found it was complete, and
a rule that needs an unknown fact names the generic cause with candidates and what would decide. Azure and local
evidence may disagree (DNS private, connection Pending): both are reported. Causes and their sources are in the
catalogue (aoai_diag/data/causes.json, `docs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aoai_diag.catalogue import fill
from aoai_diag.diagnosis import azure_facts
from aoai_diag.diagnosis.azure_view import AzureView, id_part, same_id, short
from aoai_diag.diagnosis.evidence import Evidence, Rule
from aoai_diag.diagnosis.facts import Unknown
from aoai_diag.diagnosis.local_view import LocalView
from aoai_diag.evidence.azure import (
    Account,
    ArmAccount,
    ArmNsg,
    BroadZone,
    Decision,
    DnsServerHost,
    Peering,
    PeVnet,
    PrivateEndpoint,
    VnetLink,
    Zone,
)
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.path import AzurePlatform, HttpAttempt, TcpConnect
from aoai_diag.model import Finding, Status
from aoai_diag.net.addresses import classify

DNS_CHECKS = ("arm_dns_zones", "arm_client_network")


def _ids(*values: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return tuple(out)


def _zone_values(zone: Zone | BroadZone, zone_name: str | None = None) -> dict[str, str | None]:
    """Template values naming a private DNS zone (catalogue remediation placeholders)."""
    return {
        "subscription": zone.subscription_id,
        "rg": zone.resource_group,
        "zone": zone_name or zone.name,
        "zoneId": zone.id,
    }


def _pe_values(pe: PrivateEndpoint | None, zone_name: str) -> dict[str, str | None]:
    """Template values naming the private endpoint whose zone group is to change."""
    if pe is None:
        return {"zone-config": zone_name.replace(".", "-")}
    return {
        "pe_subscription": pe.subscription_id,
        "pe_rg": pe.resource_group,
        "pe": pe.name,
        "peId": pe.id,
        "zone-config": zone_name.replace(".", "-"),
    }


def _vnet_values(vnet_id: str | None) -> dict[str, str | None]:
    return {"vnet": short(vnet_id) if vnet_id else None, "vnetId": vnet_id}


def _zone_id(pe: PrivateEndpoint, zone_name: str) -> str:
    """The id a zone of that name gets when created in the PE's resource group."""
    return (
        f"/subscriptions/{pe.subscription_id}/resourceGroups/{pe.resource_group}"
        f"/providers/Microsoft.Network/privateDnsZones/{zone_name}"
    )


def _with_record(view: AzureView, name: str | None = None) -> list[Zone]:
    return [z for z in view.copies(name) if z.record]


def _tcp(ev: Evidence) -> TcpConnect:
    """What TCP connects this run made (none when tcp_connect observed nothing)."""
    return ev.of(TcpConnect) if ev.ran("tcp_connect") else TcpConnect()


# --- service configuration ----------------------------------------------------------------------


def account_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    acct = view.account
    if acct is None:
        return
    rg, name, aid = acct.resource_group, acct.name, acct.id
    sub = acct.custom_subdomain
    if not sub:
        yield Finding(
            cause_id="svc.no_custom_subdomain",
            checks=("arm_account",),
            detail=f"Account {name} has no custom subdomain (endpoint {acct.endpoint}): private endpoints and "
            "Entra ID need https://<subdomain>.openai.azure.com.",
            remediation=fill(
                "svc.no_custom_subdomain",
                subscription=acct.subscription_id,
                rg=rg,
                account=name,
                sub=view.label,
                suffix=view.target.suffix,
            ),
            resources=_ids(aid),
        )
    elif sub.lower() != view.label:
        yield Finding(
            cause_id="dns.subdomain_mismatch",
            checks=("arm_account",),
            detail=f"'{view.label}' is the resource name of account {name}, but its custom subdomain is '{sub}': "
            f"the endpoint is {acct.endpoint}.",
            remediation=fill(
                "dns.subdomain_mismatch",
                endpoint=f"https://{sub}.{view.target.suffix}",
                subscription=acct.subscription_id,
                rg=rg,
                account=name,
            ),
            resources=_ids(aid),
        )
    if azure_facts.pe_exists(ev).is_false():
        # Put the PE where this machine is (its subnet) unless told otherwise: that VNet can reach it.
        subnet_id = view.subnet_id
        yield Finding(
            cause_id="svc.no_private_endpoint",
            checks=("arm_account", "arm_private_endpoints"),
            detail=f"Account {name} has no private endpoint connection at all.",
            remediation=fill(
                "svc.no_private_endpoint",
                subscription=acct.subscription_id,
                rg=rg,
                pe=f"pe-{name}",
                subnetId=subnet_id,
                accountId=aid,
            ),
            resources=_ids(aid, subnet_id),
        )


def connection_rules(ev: Evidence) -> Iterator[Finding]:
    """Each private endpoint's provisioning and connection state, from both sides (azure_facts.connection_statuses)."""
    view = AzureView(ev)
    acct = view.account
    if acct is None:
        return
    for pe in view.pes:
        conn_id = next((c.id for c in acct.connections if same_id(c.private_endpoint_id, pe.id)), None)
        ids = _ids(pe.id, acct.id, conn_id)
        if pe.provisioning_state == "Failed":
            yield Finding(
                cause_id="svc.pe_provisioning_failed",
                checks=("arm_private_endpoints",),
                detail=f"Private endpoint {pe.name} is in provisioning state Failed.",
                remediation=fill("svc.pe_provisioning_failed", peId=pe.id),
                resources=ids,
            )
        state = _connection_finding(acct, pe, conn_id, ids)
        if state:
            yield state


def _pe_template(pe: PrivateEndpoint, acct: Account) -> dict[str, str | None]:
    """Template values to recreate `pe` against the account."""
    return {
        "peId": pe.id,
        "subscription": pe.subscription_id,
        "rg": pe.resource_group,
        "pe": pe.name,
        "subnetId": pe.subnet_id,
        "accountId": acct.id,
    }


def _sides(pe: PrivateEndpoint, acct: Account) -> str:
    """The connection's state as each side records it, and whether they agree (issue 17, class 4: the private
    endpoint's own privateLinkServiceConnections are evidence too)."""
    own = "/".join(azure_facts.pe_side_statuses(pe)) or "no connection"
    if pe.listed_by_account is False:
        return f"its own record says {own}, and account {acct.name} lists no connection for it"
    theirs = pe.account_side.status if pe.account_side is not None else None
    if theirs and theirs not in azure_facts.pe_side_statuses(pe):
        return f"its own record says {own}, the account's says {theirs}: the two sides disagree"
    return f"both sides say {own}"


def _connection_finding(
    acct: Account, pe: PrivateEndpoint, conn_id: str | None, ids: tuple[str, ...]
) -> Finding | None:
    statuses = azure_facts.connection_statuses(pe)
    name = pe.name
    sides = _sides(pe, acct)
    # Rejected on either side is final (a rejected connection cannot be approved again), also when the account no
    # longer lists it: https://learn.microsoft.com/azure/private-link/manage-private-endpoint
    if "Rejected" in statuses:
        return Finding(
            cause_id="svc.pe_rejected",
            checks=("arm_private_endpoints",),
            detail=f"The connection of private endpoint {name} to {acct.name} was Rejected ({sides}).",
            remediation=fill("svc.pe_rejected", **_pe_template(pe, acct)),
            resources=ids,
        )
    # listed_by_account None (not recorded) is no sign the account dropped the connection.
    unlisted = pe.listed_by_account is False
    if "Disconnected" in statuses or unlisted:
        gone = " (re-created account?)" if unlisted else ""
        return Finding(
            cause_id="svc.pe_disconnected",
            checks=("arm_private_endpoints",),
            detail=f"Private endpoint {name} is Disconnected{gone}: {sides}.",
            remediation=fill("svc.pe_disconnected", **_pe_template(pe, acct)),
            resources=ids,
        )
    if "Pending" in statuses:
        return Finding(
            cause_id="svc.pe_pending",
            checks=("arm_private_endpoints",),
            detail=f"The connection of private endpoint {name} to {acct.name} is Pending approval ({sides}).",
            remediation=fill("svc.pe_pending", connectionId=conn_id or pe.id, accountId=acct.id),
            resources=ids,
        )
    return None


def _public_path(local: LocalView) -> HttpAttempt | None:
    """The data-plane attempt an app makes when it reached a public address, else None."""
    attempt = local.app_attempt()
    if attempt is not None and attempt.address_class == "public" and attempt.outcome == "response":
        return attempt
    return None


def access_rules(ev: Evidence) -> Iterator[Finding]:
    """The account's network rules against what reached it: public access disabled on a public path, then a 403
    H3 (firewall rules) explained by a service endpoint, the region, or the caller's address."""
    acct = AzureView(ev).account
    if acct is None:
        return
    yield from _public_access_disabled(ev, acct)
    attempt = LocalView(ev).app_attempt()
    if attempt is None or attempt.classification != "H3" or acct.default_action != "Deny":
        return
    endpoint = _service_endpoint_without_rule(ev, acct)
    if endpoint:
        yield endpoint
        return
    yield from _ip_rules(ev, acct, attempt.caller_ip)


def _public_access_disabled(ev: Evidence, acct: Account) -> Iterator[Finding]:
    if acct.public_network_access != "Disabled":
        return
    local = LocalView(ev)
    public = _public_path(local)
    addresses = local.app_addresses()
    classes = ev.of(SystemResolution).address_classes
    if public is None and not (addresses and all(classes.get(a) == "public" for a in addresses)):
        return
    reached = (public.address if public is not None else None) or ", ".join(addresses)
    yield Finding(
        cause_id="svc.public_access_disabled_public_path",
        checks=("arm_account", "https_dataplane" if public is not None else "system_resolution"),
        detail=f"Account {acct.name} has publicNetworkAccess=Disabled, yet this machine reaches its public endpoint"
        f" ({reached}): fix the DNS/proxy cause so the name resolves to the private endpoint.",
        remediation=fill("svc.public_access_disabled_public_path", accountId=acct.id),
        resources=_ids(acct.id),
    )


def _service_endpoint_without_rule(ev: Evidence, acct: Account) -> Finding | None:
    subnet = AzureView(ev).net.subnet
    if subnet is None or "Microsoft.CognitiveServices" not in subnet.service_endpoints:
        return None
    if any(v.lower() == subnet.id.lower() for v in acct.vnet_rules):
        return None
    name = acct.name
    return Finding(
        cause_id="svc.service_endpoint_without_vnet_rule",
        checks=("arm_account", "arm_client_network", "https_dataplane"),
        detail=f"Subnet {short(subnet.id)} has a Microsoft.CognitiveServices service endpoint, so requests arrive "
        f"with the subnet's identity, but account {name} has no virtual network rule for it (403 H3).",
        remediation=fill(
            "svc.service_endpoint_without_vnet_rule",
            subscription=acct.subscription_id,
            rg=acct.resource_group,
            account=name,
            subnetId=subnet.id,
        ),
        resources=_ids(acct.id, subnet.id),
    )


def _ip_rules(ev: Evidence, acct: Account, caller: str | None) -> Iterator[Finding]:
    """ipRules hold addresses or CIDR ranges: containment decides, not spelling (azure_facts.caller_allowed). IP
    rules do not apply to callers in the account's own region.
    https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks"""
    local = LocalView(ev)
    rules = list(acct.ip_rules)
    vm = ev.of(AzurePlatform).vm
    location = vm.location if vm is not None else None
    name, rg, sub = acct.name, acct.resource_group, acct.subscription_id
    region = (location or "").lower()
    same_region = local.on_azure and region and region == (acct.location or "").lower()
    allowed = azure_facts.caller_allowed(caller, rules)
    if same_region and rules and not allowed.is_false():
        subnet_id = AzureView(ev).subnet_id
        yield Finding(
            cause_id="svc.same_region_ip_rule",
            checks=("arm_account", "azure_platform", "https_dataplane"),
            detail=f"This VM runs in {location}, the region of account {name}: IP rules ({', '.join(rules)}) "
            "have no effect on requests from the same region (403 H3).",
            remediation=fill("svc.same_region_ip_rule", subscription=sub, rg=rg, account=name, subnetId=subnet_id),
            resources=_ids(acct.id),
        )
    else:
        # Whether the caller is outside every IP rule is the cause's catalogue premise (arm.caller_ip_not_allowed):
        # the merger drops it when the rules hold the caller, and names svc.network_rules_denied when that is unknown.
        yield Finding(
            cause_id="svc.ip_not_allowed",
            checks=("arm_account", "https_dataplane"),
            detail=f"Account {name} denies by default and its IP rules ({', '.join(rules) or 'none'}) do not include the "
            f"caller's egress address {caller} (403 H3).",
            remediation=fill("svc.ip_not_allowed", subscription=sub, rg=rg, account=name, egress_ip=caller),
            resources=_ids(acct.id),
        )


# --- DNS -----------------------------------------------------------------------------------------

ZONE_CHECKS = ("arm_dns_zones", "arm_client_network", "arm_private_endpoints")
# The local checks that show how this machine's resolvers answer the account's name.
RESOLVER_CHECKS = ("system_resolution", "dns_nameservers", "os_resolvers", "azure_dns")


def _observed(ev: Evidence, checks: tuple[str, ...] = ZONE_CHECKS) -> tuple[str, ...]:
    """A finding rests only on reads that observed something: link findings stand without the PE read."""
    return tuple(c for c in checks if ev.ran(c))


@dataclass(frozen=True)
class ZoneScene:
    """What the zone rules look at, computed once: the zone copies, the resolver's VNet, the PE records point at."""

    view: AzureView
    kind: str | None
    """How this machine resolves (AzureView.resolver)."""
    res_vnet: str | None
    host: DnsServerHost | None
    copies: list[Zone]
    with_record: list[Zone]
    pe: PrivateEndpoint | None
    pe_ip: str | None

    @property
    def zname(self) -> str:
        return self.view.zone_name

    @property
    def label(self) -> str:
        return self.view.label


def _scene(view: AzureView) -> ZoneScene:
    kind, res_vnet, host = view.resolver()
    pe = view.pe_for_dns()
    ips = azure_facts.pe_ips(pe) if pe is not None else None
    return ZoneScene(
        view=view,
        kind=kind,
        res_vnet=res_vnet,
        host=host,
        copies=view.copies(),
        with_record=_with_record(view),
        pe=pe,
        pe_ip=(ips.value or (None,))[0] if ips is not None and ips.known else None,
    )


def zone_rules(ev: Evidence) -> Iterator[Finding]:
    """Walk the DNS link: over-broad zones, then the zone, its link to the resolver's VNet, its record."""
    view = AzureView(ev)
    if not view.dns_read:
        yield from _zone_search_unknown(ev)
        return
    scene = _scene(view)
    yield from _shadowing_zones(scene)
    if not scene.copies:
        yield from _no_zone_copy(scene)
        return
    if scene.kind is None or scene.res_vnet is None:
        return
    linked = [z for z in scene.copies if view.linked(z, scene.res_vnet) is not None]
    if not linked:
        yield from _not_linked(scene)
        return
    pending = [z for z in linked if azure_facts.link_in_progress(view.linked(z, scene.res_vnet))]
    if pending and azure_facts.resolver_link(ev).value == "InProgress":
        yield _link_in_progress(scene, pending[0])
        return
    linked_with_record = [z for z in linked if z.record]
    if len(scene.copies) > 1 and not linked_with_record and scene.with_record:
        yield _duplicate_zones(scene, linked[0])
        return
    if not linked_with_record:
        yield from _linked_without_record(scene, linked[0])
        return
    yield from _record_address(scene, linked_with_record[0])


def _public_resolution(ev: Evidence) -> list[str]:
    """Public addresses this machine's resolver gives for the account's name (empty when none or not observed)."""
    local = LocalView(ev)
    # As dns.resolves_public means: public DNS shows the privatelink hop (a private endpoint exists); and the hosts
    # file, when it names the host, decides instead of DNS (the hosts rules judge it).
    if local.pe_exists is not True or local.hosts_entries():
        return []
    return [a for a in local.app_addresses() if classify(a) == "public"]


def _zone_search_unknown(ev: Evidence) -> Iterator[Finding]:
    """The zone search could not finish (a scope was forbidden, throttled or timed out) and the name resolves
    publicly: the cause is the generic one, with the zone causes as candidates and the read that would decide."""
    fact = azure_facts.zone_search_complete(ev)
    public = _public_resolution(ev)
    if fact.known or fact.why in (Unknown.NOT_READ, Unknown.NOT_APPLICABLE) or not public:
        return
    view = AzureView(ev)
    yield Finding(
        cause_id="dns.resolves_public",
        # It rests on what resolution observed; the zone search that could not finish is only what would decide.
        checks=("system_resolution",),
        detail=(
            f"{view.target.host} resolves to public {', '.join(public)}; whether a private zone {view.zone_name} exists "
            f"cannot be told: the search was incomplete ({fact.why.value if fact.why else 'not read'}: {fact.detail})."
        ),
        candidates=("dns.zone_missing", "dns.zone_not_linked", "dns.record_missing", "dns.wrong_zone"),
        decide=fact.decide,
    )


def _shadowing_zones(scene: ZoneScene) -> Iterator[Finding]:
    """Over-broad zones shadow every public name under them, whatever else is right."""
    for broad in scene.view.dns.broad_zones:
        if scene.res_vnet:
            link = scene.view.linked(broad, scene.res_vnet)
        else:
            link = broad.links[0] if broad.links else None
        if link is None:
            continue
        yield Finding(
            cause_id="dns.public_zone_shadowed",
            checks=("arm_dns_zones",),
            detail=f"Private zone {broad.name} ({broad.subscription_id}/{broad.resource_group}) is "
            f"linked to {short(link.vnet_id)}: every {broad.name} name missing from it returns NXDOMAIN there.",
            remediation=fill("dns.public_zone_shadowed", **_zone_values(broad), link=short(link.id)),
            resources=_ids(broad.id, link.id, link.vnet_id),
        )


def _siblings(view: AzureView, zname: str) -> list[Zone]:
    """Copies of other privatelink zones that hold the account's record (where a misplaced record landed)."""
    return [z for z in view.dns.zones if z.record and z.name != zname]


def _no_zone_copy(scene: ZoneScene) -> Iterator[Finding]:
    """No copy of the zone was seen. It is missing only if every scope that could hold it was read."""
    view = scene.view
    search = azure_facts.zone_search_complete(view.ev)
    if not search.is_true():
        yield from _zone_search_unknown(view.ev)
        return
    sibling = _siblings(view, scene.zname)
    if sibling:
        yield _wrong_zone(view, sibling[0], scene.pe)
        return
    if view.account is None or not view.pes:
        return
    pe = scene.pe
    yield Finding(
        cause_id="dns.zone_missing",
        checks=("arm_dns_zones", "arm_private_endpoints"),
        detail=f"No private DNS zone {scene.zname} exists in the {len(view.ev.of(ArmAccount).subscriptions)} "
        f"subscription(s) searched (every one was read, and no zone group points elsewhere), so "
        f"{scene.label}.{view.target.suffix} resolves publicly.",
        remediation=fill(
            "dns.zone_missing",
            # The zone goes where the endpoint is, the one its zone group can name.
            subscription=pe.subscription_id if pe is not None else None,
            rg=pe.resource_group if pe is not None else None,
            zone=scene.zname,
            zoneId=_zone_id(pe, scene.zname) if pe is not None else None,
            **_pe_values(pe, scene.zname),
            **_vnet_values(scene.res_vnet),
        ),
        resources=_ids(pe.id if pe is not None else None, scene.res_vnet),
    )


def _not_linked(scene: ZoneScene) -> Iterator[Finding]:
    """The zone exists but is linked to no VNet this machine's resolver answers from."""
    source = scene.with_record[0] if scene.with_record else scene.copies[0]
    res_vnet, zname = str(scene.res_vnet), scene.zname
    host_ip = scene.host.ip if scene.host is not None else "?"
    firewall_id = scene.host.firewall_id if scene.host is not None else None
    ids = _ids(source.id, res_vnet, firewall_id)
    links = ", ".join(short(lk.vnet_id) for lk in source.links) or "no VNet"
    where = f"{source.subscription_id}/{source.resource_group}"
    if scene.kind == "azure":
        yield Finding(
            cause_id="dns.zone_not_linked",
            checks=_observed(scene.view.ev),
            detail=f"Zone {zname} in {where} is linked to {links}, but not to {short(res_vnet)}, the VNet "
            f"{scene.view.client_name} resolves through (Azure-provided DNS).",
            remediation=fill("dns.zone_not_linked", **_zone_values(source), **_vnet_values(res_vnet)),
            resources=ids,
        )
    elif scene.kind == "firewall":
        yield Finding(
            cause_id="dns.firewall_dns_proxy_blind",
            checks=_observed(scene.view.ev),
            detail=f"This VNet's DNS server {host_ip} is Azure Firewall {short(firewall_id)} "
            f"(DNS proxy) in {short(res_vnet)}, and zone {zname} is not linked to that VNet.",
            remediation=fill("dns.firewall_dns_proxy_blind", **_zone_values(source), **_vnet_values(res_vnet)),
            resources=ids,
        )
    elif scene.kind == "custom":
        client = scene.view.client_name
        yield Finding(
            cause_id="dns.zone_not_linked_resolver_vnet",
            checks=_observed(scene.view.ev),
            detail=f"{client[:1].upper()}{client[1:]}'s DNS server {host_ip} lives in {short(res_vnet)}, and zone {zname} "
            f"is linked to {links} but not to it.",
            remediation=fill("dns.zone_not_linked_resolver_vnet", **_zone_values(source), **_vnet_values(res_vnet)),
            resources=ids,
        )


def _link_in_progress(scene: ZoneScene, zone: Zone) -> Finding:
    """A link still being created neither resolves yet nor is missing: say so instead of naming a DNS cause."""
    link = scene.view.linked(zone, scene.res_vnet)
    link_id = link.id if link is not None else None
    # The resolvers of that VNet that answered wrongly meanwhile are what the link explains (issue 17, class 6).
    failed = tuple(c for c in RESOLVER_CHECKS if scene.view.ev.has(c, Status.FAIL))
    return Finding(
        cause_id="dns.link_in_progress",
        checks=("arm_dns_zones", *failed),
        detail=f"The link {short(link_id)} of zone {scene.zname} to {short(scene.res_vnet)} is InProgress "
        "(still being created): names from the zone resolve there only once it is Completed.",
        remediation=fill("dns.link_in_progress", linkId=link_id),
        resources=_ids(zone.id, link_id),
    )


def _duplicate_zones(scene: ZoneScene, bad: Zone) -> Finding:
    good, zname, res_vnet = scene.with_record[0], scene.zname, str(scene.res_vnet)
    link = scene.view.linked(bad, res_vnet)
    return Finding(
        cause_id="dns.duplicate_zones",
        checks=_observed(scene.view.ev),
        detail=f"{len(scene.copies)} zones named {zname}: the one linked to {short(res_vnet)} ({bad.subscription_id}/"
        f"{bad.resource_group}) has no record {scene.label}; the copy in {good.subscription_id}/"
        f"{good.resource_group} has it ({', '.join(good.record or ())}).",
        remediation=fill(
            "dns.duplicate_zones",
            linkId=link.id if link is not None else None,
            **_zone_values(good),
            **_vnet_values(res_vnet),
        ),
        resources=_ids(bad.id, good.id, res_vnet),
    )


def _linked_without_record(scene: ZoneScene, zone: Zone) -> Iterator[Finding]:
    view, zname, label = scene.view, scene.zname, scene.label
    sibling = _siblings(view, zname)
    if sibling:
        yield _wrong_zone(view, sibling[0], scene.pe)
        return
    link = view.linked(zone, scene.res_vnet)
    if view.account_absent:
        yield from _cross_tenant(scene, zone, link)
        return
    if view.account is None or not view.pes:
        return
    pe = scene.pe
    yield Finding(
        cause_id="dns.record_missing",
        checks=_observed(scene.view.ev),
        detail=f"Zone {zname} ({zone.subscription_id}/{zone.resource_group}) is linked to "
        f"{short(scene.res_vnet)} but has no A record {label}: the name is NXDOMAIN inside the VNet.",
        remediation=fill(
            "dns.record_missing", **_pe_values(pe, zname), **_zone_values(zone), sub=label, pe_ip=scene.pe_ip
        ),
        resources=_ids(zone.id, pe.id if pe is not None else None),
    )


def _cross_tenant(scene: ZoneScene, zone: Zone, link: VnetLink | None) -> Iterator[Finding]:
    """The account is in no readable subscription and the linked zone has no record. That is another tenant's PE
    only when public DNS knows the name (else no account has it): NXDOMAIN from public DNS rules it out."""
    if link is not None and link.resolution_policy == "NxDomainRedirect":
        return
    link_id = link.id if link is not None else None
    # Public DNS knowing the name is the cause's premise (local.public_dns_knows_name): NXDOMAIN there rules it out.
    yield Finding(
        cause_id="dns.cross_tenant_nxdomain",
        checks=("arm_account", "arm_dns_zones"),
        detail=f"'{scene.label}' is not an account in the subscriptions you can read, and zone {scene.zname} linked to "
        f"{short(scene.res_vnet)} has no record for it: the private zone answers NXDOMAIN for another tenant's PE.",
        remediation=fill("dns.cross_tenant_nxdomain", linkId=link_id),
        resources=_ids(zone.id, link_id),
    )


def _record_address(scene: ZoneScene, zone: Zone) -> Iterator[Finding]:
    """A linked record exists: is it an address of one of the account's PEs? Only decidable when every PE's address
    is known (a PE whose NIC could not be read may own the record's address)."""
    view, zname, label = scene.view, scene.zname, scene.label
    if not view.pes:
        return
    ips = list(zone.record or ())
    # Whether every PE's address is known is the causes' premise (arm.pe_ip_known): the merger drops them otherwise.
    owners = azure_facts.all_pe_ips(view.pes)
    if not owners.known:
        return
    by_ip = owners.value or {}
    stale = [ip for ip in ips if ip not in by_ip]
    if stale:
        yield Finding(
            cause_id="dns.record_stale_ip",
            checks=_observed(scene.view.ev),
            detail=f"A record {label} in {zname} ({zone.subscription_id}/{zone.resource_group}) holds "
            f"{', '.join(stale)}, which is no private endpoint of the account (they have {', '.join(by_ip) or 'no address'}).",
            remediation=fill(
                "dns.record_stale_ip", **_zone_values(zone), sub=label, old_ip=stale[0], pe_ip=scene.pe_ip
            ),
            resources=_ids(zone.id, *(p.id for p in view.pes)),
        )
        return
    record_owners = [by_ip[ip] for ip in ips]
    reachable = view.reachable_pes()
    if len(view.pes) > 1 and reachable and not any(o in reachable for o in record_owners):
        other, mine = record_owners[0], reachable[0]
        yield Finding(
            cause_id="dns.record_overwritten_by_other_pe",
            checks=_observed(scene.view.ev),
            detail=f"A record {label} in {zname} points at {', '.join(ips)}, the address of private endpoint "
            f"{other.name} in {short(other.vnet_id)}, which this machine cannot reach; "
            f"{mine.name} ({', '.join(mine.ip_addresses)}) is the one on its network.",
            remediation=fill(
                "dns.record_overwritten_by_other_pe",
                **_zone_values(zone),
                sub=label,
                pe_ip=next(iter(mine.ip_addresses), None),
            ),
            resources=_ids(zone.id, other.id, mine.id),
        )


def _wrong_zone(view: AzureView, sibling: Zone, pe: PrivateEndpoint | None) -> Finding:
    zname = view.zone_name
    copies = view.copies()
    target_zone = copies[0] if copies else None
    if target_zone is not None:
        zone_id: str | None = target_zone.id
    else:
        zone_id = _zone_id(pe, zname) if pe is not None else None
    return Finding(
        cause_id="dns.wrong_zone",
        checks=("arm_dns_zones", "arm_private_endpoints") if pe is not None else ("arm_dns_zones",),
        detail=f"The record {view.label} exists in {sibling.name} ({', '.join(sibling.record or ())}) but not "
        f"in {zname}, the zone {view.target.host} resolves through"
        + ("." if target_zone is not None else f"; {zname} itself does not exist yet."),
        remediation=fill("dns.wrong_zone", **_pe_values(pe, zname), zone=zname, zoneId=zone_id),
        resources=_ids(sibling.id, zone_id if target_zone is not None else None, pe.id if pe is not None else None),
    )


def sibling_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    if not view.dns_read or not azure_facts.zone_search_complete(ev).is_true():
        return
    acct = view.account
    if acct is None or not _with_record(view):
        return
    missing = [n for n in view.dns.needed_zones if n != view.zone_name and not _with_record(view, n)]
    if not missing:
        return
    pe = view.pe_for_dns()
    yield Finding(
        cause_id="dns.sibling_zone_missing",
        checks=("arm_account", "arm_dns_zones"),
        detail=f"Account {acct.name} ({acct.kind}) also answers on "
        f"{', '.join(n.removeprefix('privatelink.') for n in missing)}, but {', '.join(missing)} "
        f"{'has' if len(missing) == 1 else 'have'} no record {view.label}: those calls go public.",
        remediation=fill(
            "dns.sibling_zone_missing",
            zones=", ".join(missing),
            **_pe_values(pe, missing[0]),
            zone=missing[0],
            zoneId=_zone_id(pe, missing[0]) if pe is not None else None,
        ),
        resources=_ids(acct.id, pe.id if pe is not None else None),
    )


def vnet_dns_rules(ev: Evidence) -> Iterator[Finding]:
    """The VNet's DNS server list mixes a private server with a public resolver (8.8.8.8): clients pick either,
    and the public one can never answer from a private zone. The fix is the list, not the public resolver.
    https://learn.microsoft.com/azure/virtual-network/manage-virtual-network#change-dns-servers"""
    view = AzureView(ev)
    vnet = view.net.vnet
    if vnet is None:
        return
    private, public = azure_facts.split_dns_servers(vnet.dns_servers)
    if not private or not public:
        return
    keep = " ".join(private)
    yield Finding(
        cause_id="dns.resolver_disagreement",
        checks=("arm_client_network",),
        detail=f"VNet {short(vnet.id)} lists DNS servers {', '.join(vnet.dns_servers)}: the private "
        f"{', '.join(private)} and the public {', '.join(public)}. Clients use either; the public resolver cannot see "
        f"private zones, so {view.target.host} resolves publicly whenever it answers.",
        remediation=fill("dns.resolver_disagreement", vnetId=vnet.id, private_servers=keep),
        resources=_ids(vnet.id),
    )


# --- network path --------------------------------------------------------------------------------


def path_rules(ev: Evidence) -> Iterator[Finding]:
    """Peerings toward each PE's VNet (state and access flags), then the effective route to each PE address."""
    view = AzureView(ev)
    if not view.net_read:
        return
    blocked = False
    connected = azure_facts.connected_addresses(_tcp(ev))
    for entry in view.net.pe_vnets:
        pe = view.pe(entry.pe_id)
        addresses = pe.ip_addresses if pe is not None else ()
        if entry.relation == "not_peered" and not azure_facts.unpeered_without_path(entry, addresses, connected):
            continue  # a connect to the PE got through: something (a hub firewall) routes it
        finding = _peering_finding(view, entry)
        if finding:
            blocked = True
            yield finding
    yield from _route_findings(view, covered=blocked)


def _peer_values(vnet_id: str | None, pe_vnet: str | None) -> dict[str, str | None]:
    """Template values to peer this machine's VNet with the private endpoint's."""
    return {
        "subscription": id_part(vnet_id, "subscriptions"),
        "rg": id_part(vnet_id, "resourceGroups"),
        **_vnet_values(vnet_id),
        "peVnet": short(pe_vnet) if pe_vnet else None,
        "peVnetId": pe_vnet,
    }


def _peering_finding(view: AzureView, entry: PeVnet) -> Finding | None:
    vnet_id, pe_vnet = view.client_vnet_id, entry.vnet_id
    # A peered entry without its peering recorded reads as a peering not Connected (the state is not known good).
    peering = entry.peering if entry.peering is not None else Peering()
    if entry.relation == "peered" and azure_facts.peering_usable(peering).is_false():
        problem = azure_facts.peering_problem(peering)
        return Finding(
            cause_id="net.peering_not_connected",
            checks=("arm_client_network",),
            detail=f"Between {short(vnet_id)} and {short(pe_vnet)}: {problem}. Traffic to the private endpoint cannot flow.",
            remediation=fill(
                "net.peering_not_connected",
                remote_subscription=id_part(pe_vnet, "subscriptions"),
                remote_rg=id_part(pe_vnet, "resourceGroups"),
                remote_vnet=short(pe_vnet),
                **_vnet_values(vnet_id),
                peeringId=peering.id,
            ),
            resources=_ids(peering.id, vnet_id, pe_vnet),
        )
    if entry.relation == "not_peered" and not entry.via_hubs:
        return Finding(
            cause_id="net.no_vnet_path",
            checks=("arm_client_network",),
            detail=f"{short(vnet_id)} is not peered with {short(pe_vnet)}, where the private endpoint lives, nor with any VNet "
            "peered to it: there is no VNet path.",
            remediation=fill("net.no_vnet_path", **_peer_values(vnet_id, pe_vnet), nicId=view.nic_id),
            resources=_ids(vnet_id, pe_vnet),
        )
    if entry.relation == "not_peered" and entry.via_hubs:
        hubs = entry.via_hubs
        return Finding(
            cause_id="net.transitive_peering",
            checks=("arm_client_network",),
            detail=f"{short(vnet_id)} and {short(pe_vnet)} are both peered with {', '.join(short(h) for h in hubs)} but not "
            "with each other; private endpoint routes do not cross a second peering hop.",
            remediation=fill("net.transitive_peering", **_peer_values(vnet_id, pe_vnet)),
            resources=_ids(vnet_id, pe_vnet, *hubs),
        )
    return None


def _route_findings(view: AzureView, covered: bool) -> Iterator[Finding]:
    """An appliance (user route to a VirtualAppliance, or a user route to None) that TCP shows dropping is
    net.udr_nva_drop. Next hop None from a system route means there is no path (VNets not peered, or the peering is
    down): that is not an appliance, and when a peering finding already explains it nothing more is said.
    https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"""
    failing = {a.address for a in _tcp(view.ev).attempts if a.outcome in ("timeout", "refused", "unreachable", "error")}
    nic_id = view.nic_id
    for item in view.net.routes_to_pe:
        route = item.route
        hop = azure_facts.route_hop(route)
        address = item.address
        hops = ", ".join(route.next_hop_ips) if route is not None else ""
        where = f"{', '.join(route.prefixes)}, source {route.source}" if route is not None else ", source None"
        next_hop = route.next_hop_type if route is not None else None
        if hop is azure_facts.Hop.USER_DROP or (hop is azure_facts.Hop.APPLIANCE and address in failing):
            port = view.ev.of(ArmNsg).port
            yield Finding(
                cause_id="net.udr_nva_drop",
                checks=("arm_client_network", "tcp_connect"),
                detail=f"The effective route to {address} ({where}) has next hop {next_hop} {hops}"
                + (", and TCP to it fails." if address in failing else ": a user route drops the traffic."),
                remediation=fill(
                    "net.udr_nva_drop",
                    port=str(port or 443),
                    pe_ip=address,
                    next_hop=hops or "(none: the route drops)",
                    host=view.target.host,
                    nicId=nic_id,
                ),
                resources=_ids(nic_id, item.pe_id),
            )
        elif hop is azure_facts.Hop.NO_PATH and not covered:
            got = f"next hop {next_hop} from a system route ({where})" if route is not None else "no route at all"
            yield Finding(
                cause_id="net.no_vnet_path",
                checks=("arm_client_network",),
                detail=f"This machine's NIC has {got} to the private endpoint address {address}: there is no VNet path "
                f"(the VNets are not peered, or the peering is down).",
                remediation=fill(
                    "net.no_vnet_path",
                    **_peer_values(view.client_vnet_id, _pe_vnet(view, item.pe_id)),
                    nicId=nic_id,
                ),
                resources=_ids(nic_id, item.pe_id),
            )


def _pe_vnet(view: AzureView, pe_id: str) -> str | None:
    entry = view.relation(pe_id)
    return entry.vnet_id if entry is not None else None


def _nsg_values(nsg_id: str | None, port: int, decision: Decision) -> dict[str, str | None]:
    """Template values for an allow rule just before the deciding deny."""
    return {
        "subscription": id_part(nsg_id, "subscriptions"),
        "rg": id_part(nsg_id, "resourceGroups"),
        "nsg": short(nsg_id),
        "port": str(port),
        "priority": str(max(100, (decision.priority or 200) - 1)),
    }


def nsg_rules(ev: Evidence) -> Iterator[Finding]:
    if not ev.ran("arm_nsg"):
        return
    data = ev.of(ArmNsg)
    port = data.port if data.port is not None else 443
    source = data.source_ip
    decisions = data.client.decisions if data.client is not None else ()
    client = next((d for d in decisions if azure_facts.nsg_deny_is_cause(d)), None)
    if client is not None:
        nsg_id = client.nsg_id
        yield Finding(
            cause_id="net.client_nsg_outbound",
            checks=("arm_nsg",),
            detail=f"NSG {short(nsg_id)} denies outbound TCP {port} from {source} to {client.address}: rule "
            f"{client.rule} (priority {client.priority}) decides.",
            remediation=fill("net.client_nsg_outbound", **_nsg_values(nsg_id, port, client), pe_ip=client.address),
            resources=_ids(nsg_id),
        )
    for entry in data.pe_side:
        decision = entry.decision
        if entry.applies and decision is not None and azure_facts.nsg_deny_is_cause(decision):
            nsg_id = entry.nsg_id
            subnet_id = entry.subnet_id
            yield Finding(
                cause_id="net.pe_subnet_nsg",
                checks=("arm_nsg",),
                detail=f"The PE subnet {short(subnet_id)} has privateEndpointNetworkPolicies={entry.network_policies}, "
                f"so NSG {short(nsg_id)} applies, and its rule {decision.rule} (priority {decision.priority}) "
                f"denies TCP {port} from {source} to {entry.address}.",
                remediation=fill(
                    "net.pe_subnet_nsg", **_nsg_values(nsg_id, port, decision), client_range=source, subnetId=subnet_id
                ),
                resources=_ids(nsg_id, subnet_id, entry.pe_id),
            )
            break


RULES: tuple[Rule, ...] = (
    account_rules,
    connection_rules,
    access_rules,
    zone_rules,
    sibling_rules,
    vnet_dns_rules,
    path_rules,
    nsg_rules,
)
