"""Rules that correlate Azure Resource Manager evidence with what this machine observed.

Each rule names the exact broken link (zone, link, record, peering, route, rule, connection) with the resource
ids involved and the `az` command that fixes it. A rule that concludes "missing" only fires when the read
that would have found it was complete (docs/evidence.md: `complete`, `denied`); Azure and local evidence may
disagree (DNS private, connection Pending): both are reported. Causes and their sources:
../shared/reference/causes.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aoai_diag.diagnosis.azure_view import AzureView, id_part, short
from aoai_diag.diagnosis.evidence import Evidence, Rule
from aoai_diag.diagnosis.local_view import LocalView
from aoai_diag.model import Finding

DNS_CHECKS = ("arm_dns_zones", "arm_client_network")


def _ids(*values: Any) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        for item in v if isinstance(v, (list, tuple)) else (v,):
            if item and item not in out:
                out.append(str(item))
    return tuple(out)


def _link_cmd(zone: Mapping[str, Any], vnet_id: str) -> str:
    return (
        f"az network private-dns link vnet create --subscription {zone.get('subscription_id')} -g {zone.get('resource_group')} "
        f"-z {zone.get('name')} -n link-{short(vnet_id)} -v {vnet_id} -e false"
    )


def _record_cmd(zone: Mapping[str, Any], label: str, ip: str) -> str:
    return (
        f"az network private-dns record-set a add-record --subscription {zone.get('subscription_id')} "
        f"-g {zone.get('resource_group')} -z {zone.get('name')} -n {label} -a {ip}"
    )


def _zone_group_cmd(pe: Mapping[str, Any], zone_id: str, zone_name: str) -> str:
    return (
        f"az network private-endpoint dns-zone-group add --subscription {pe.get('subscription_id')} -g {pe.get('resource_group')} "
        f"--endpoint-name {pe.get('name')} -n default --private-dns-zone {zone_id} --zone-name {zone_name.replace('.', '-')}"
    )


def _zone_id(pe: Mapping[str, Any], zone_name: str) -> str:
    """The id a zone of that name gets when created in the PE's resource group."""
    return (
        f"/subscriptions/{pe.get('subscription_id')}/resourceGroups/{pe.get('resource_group')}"
        f"/providers/Microsoft.Network/privateDnsZones/{zone_name}"
    )


def _with_record(view: AzureView, name: str | None = None) -> list[Mapping[str, Any]]:
    return [z for z in view.copies(name) if z.get("record")]


# --- service configuration ----------------------------------------------------------------------


def account_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    acct = view.account
    if acct is None:
        return
    rg, name, aid = acct.get("resource_group"), acct.get("name"), acct.get("id")
    sub = acct.get("custom_subdomain")
    if not sub:
        yield Finding(
            "svc.no_custom_subdomain",
            ("arm_account",),
            f"Account {name} has no custom subdomain (endpoint {acct.get('endpoint')}): private endpoints and "
            "Entra ID need https://<subdomain>.openai.azure.com.",
            f"az cognitiveservices account update --subscription {acct.get('subscription_id')} -g {rg} -n {name} "
            f"--custom-domain {view.label}  (irreversible), then use https://{view.label}.{view.target.suffix}",
            _ids(aid),
        )
    elif str(sub).lower() != view.label:
        yield Finding(
            "dns.subdomain_mismatch",
            ("arm_account",),
            f"'{view.label}' is the resource name of account {name}, but its custom subdomain is '{sub}': "
            f"the endpoint is {acct.get('endpoint')}.",
            f"Use https://{sub}.{view.target.suffix} (properties.endpoint); the custom subdomain cannot be renamed.",
            _ids(aid),
        )
    if view.ev.ran("arm_private_endpoints") and view.pes_complete and not view.pes and not acct.get("connections"):
        # Put the PE where this machine is (its subnet) unless told otherwise: that VNet can reach it.
        subnet_id = (view.net.get("subnet") or {}).get("id")
        where = f"--subnet {subnet_id}" if subnet_id else "--vnet-name <vnet> --subnet <subnet>"
        yield Finding(
            "svc.no_private_endpoint",
            ("arm_account", "arm_private_endpoints"),
            f"Account {name} has no private endpoint connection at all.",
            f"az network private-endpoint create --subscription {acct.get('subscription_id')} -g {rg} -n pe-{name} {where} "
            f"--private-connection-resource-id {aid} --group-id account --connection-name pe-{name}-conn; then add a DNS zone group",
            _ids(aid, subnet_id),
        )


def connection_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    acct = view.account
    if acct is None:
        return
    aid = acct.get("id")
    for pe in view.pes:
        pe_status = [c.get("status") for c in pe.get("connections") or ()]
        side = pe.get("account_side") or {}
        statuses = {*(s for s in pe_status if s), *([side["status"]] if side.get("status") else [])}
        conn_id = next(
            (
                c.get("id")
                for c in acct.get("connections") or ()
                if c.get("private_endpoint_id") and c["private_endpoint_id"].lower() == pe["id"].lower()
            ),
            None,
        )
        ids = _ids(pe["id"], aid, conn_id)
        if pe.get("provisioning_state") == "Failed":
            yield Finding(
                "svc.pe_provisioning_failed",
                ("arm_private_endpoints",),
                f"Private endpoint {pe.get('name')} is in provisioning state Failed.",
                f"Fix the cause and redeploy: az network private-endpoint show --ids {pe['id']} --query provisioningState; "
                "the PE must be in its VNet's region and subscription; the account needs a custom subdomain.",
                ids,
            )
        if "Disconnected" in statuses or not pe.get("listed_by_account", True):
            yield Finding(
                "svc.pe_disconnected",
                ("arm_private_endpoints",),
                f"Private endpoint {pe.get('name')} is Disconnected"
                + (
                    ""
                    if pe.get("listed_by_account", True)
                    else f" and account {acct.get('name')} no longer lists it (re-created account?)"
                )
                + ".",
                f"az network private-endpoint delete --ids {pe['id']}; then create a new one: az network private-endpoint create "
                f"-g {pe.get('resource_group')} -n {pe.get('name')} --subnet {pe.get('subnet_id')} --private-connection-resource-id {aid} "
                f"--group-id account --connection-name {pe.get('name')}-conn",
                ids,
            )
        elif "Rejected" in statuses:
            yield Finding(
                "svc.pe_rejected",
                ("arm_private_endpoints",),
                f"The connection of private endpoint {pe.get('name')} to {acct.get('name')} was Rejected (it cannot be re-approved).",
                f"az network private-endpoint delete --ids {pe['id']}; recreate it against {aid}, then approve it.",
                ids,
            )
        elif "Pending" in statuses:
            yield Finding(
                "svc.pe_pending",
                ("arm_private_endpoints",),
                f"The connection of private endpoint {pe.get('name')} to {acct.get('name')} is Pending approval.",
                f"az network private-endpoint-connection approve --id {conn_id or pe['id']} --description approved",
                ids,
            )


def _public_path(local: LocalView) -> Mapping[str, Any] | None:
    """The data-plane attempt an app makes when it reached a public address, else None."""
    attempt = local.app_attempt()
    if attempt and attempt.get("address_class") == "public" and attempt.get("outcome") == "response":
        return attempt
    return None


def access_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    acct = view.account
    local = LocalView(ev)
    if acct is None:
        return
    attempt = local.app_attempt() or {}
    public = _public_path(local)
    aid, name, rg, sub = acct.get("id"), acct.get("name"), acct.get("resource_group"), acct.get("subscription_id")
    if acct.get("public_network_access") == "Disabled":
        addresses = local.app_addresses()
        on_public = public is not None or (
            addresses
            and all(
                (local.ev.get("system_resolution").get("address_classes") or {}).get(a) == "public" for a in addresses
            )
        )
        if on_public:
            yield Finding(
                "svc.public_access_disabled_public_path",
                ("arm_account", "https_dataplane" if public else "system_resolution"),
                f"Account {name} has publicNetworkAccess=Disabled, yet this machine reaches its public endpoint"
                f" ({(public or {}).get('address') or ', '.join(addresses)}): fix the DNS/proxy cause so the name resolves to the private endpoint.",
                f"Fix DNS first (see the DNS findings). Only if public access is intended: az resource update --ids {aid} --set properties.publicNetworkAccess=Enabled",
                _ids(aid),
            )
    if attempt.get("classification") != "H3" or acct.get("default_action") != "Deny":
        return
    caller = attempt.get("caller_ip")
    rules = list(acct.get("ip_rules") or ())
    net = view.net
    subnet = net.get("subnet") or {}
    vm = local.ev.get("azure_platform").get("vm") or {}
    if "Microsoft.CognitiveServices" in (subnet.get("service_endpoints") or ()) and not any(
        str(v).lower() == str(subnet.get("id")).lower() for v in acct.get("vnet_rules") or ()
    ):
        yield Finding(
            "svc.service_endpoint_without_vnet_rule",
            ("arm_account", "arm_client_network", "https_dataplane"),
            f"Subnet {short(subnet.get('id'))} has a Microsoft.CognitiveServices service endpoint, so requests arrive with the "
            f"subnet's identity, but account {name} has no virtual network rule for it (403 H3).",
            f"az cognitiveservices account network-rule add --subscription {sub} -g {rg} -n {name} --subnet {subnet.get('id')}",
            _ids(aid, subnet.get("id")),
        )
        return
    same_region = (
        local.on_azure
        and vm.get("location")
        and str(vm.get("location")).lower() == str(acct.get("location") or "").lower()
    )
    if same_region and rules and (caller is None or caller in rules):
        yield Finding(
            "svc.same_region_ip_rule",
            ("arm_account", "azure_platform", "https_dataplane"),
            f"This VM runs in {vm.get('location')}, the region of account {name}: IP rules ({', '.join(rules)}) have no effect "
            "on requests from the same region (403 H3).",
            f"Use the private endpoint, or a VNet rule: az cognitiveservices account network-rule add --subscription {sub} -g {rg} "
            f"-n {name} --subnet {subnet.get('id') or '<subnetId>'}",
            _ids(aid),
        )
        return
    if caller and caller not in rules:
        yield Finding(
            "svc.ip_not_allowed",
            ("arm_account", "https_dataplane"),
            f"Account {name} denies by default and its IP rules ({', '.join(rules) or 'none'}) do not include the caller's egress "
            f"address {caller} (403 H3).",
            f"az cognitiveservices account network-rule add --subscription {sub} -g {rg} -n {name} --ip-address {caller}  "
            "(better: use the private endpoint)",
            _ids(aid),
        )


# --- DNS -----------------------------------------------------------------------------------------


def zone_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    if not view.dns:
        return
    label, zname = view.label, view.zone_name
    kind, res_vnet, host = view.resolver()
    copies = view.copies()
    with_record = _with_record(view)
    pe = view.pe_for_dns()
    pe_ip = (pe.get("ip_addresses") or [None])[0] if pe else None
    # A finding rests only on reads that observed something: link findings stand without the PE read.
    checks = tuple(c for c in ("arm_dns_zones", "arm_client_network", "arm_private_endpoints") if ev.ran(c))
    # Over-broad zones shadow every public name under them, whatever else is right.
    for broad in view.dns.get("broad_zones") or ():
        link = view.linked(broad, res_vnet) if res_vnet else (broad.get("links") or [None])[0]
        if link:
            yield Finding(
                "dns.public_zone_shadowed",
                ("arm_dns_zones",),
                f"Private zone {broad.get('name')} ({broad.get('subscription_id')}/{broad.get('resource_group')}) is linked to "
                f"{short(link.get('vnet_id'))}: every {broad.get('name')} name missing from it returns NXDOMAIN there.",
                f"az network private-dns link vnet delete --subscription {broad.get('subscription_id')} -g {broad.get('resource_group')} "
                f"-z {broad.get('name')} -n {short(link.get('id'))}  (use privatelink.* zones only)",
                _ids(broad.get("id"), link.get("id"), link.get("vnet_id")),
            )
    if not copies:
        sibling = [z for z in view.dns.get("zones") or () if z.get("record") and z.get("name") != zname]
        if sibling and view.dns_complete:
            yield _wrong_zone(view, sibling[0], pe, pe_ip)
            return
        if view.dns_complete and view.account is not None and view.pes:
            yield Finding(
                "dns.zone_missing",
                ("arm_dns_zones", "arm_private_endpoints"),
                f"No private DNS zone {zname} exists in the {len(view.ev.get('arm_account').get('subscriptions') or [])} "
                f"subscription(s) searched, so {label}.{view.target.suffix} resolves publicly.",
                f"az network private-dns zone create -g {pe.get('resource_group') if pe else '<rg>'} -n {zname}; "
                + (
                    _link_cmd(
                        {
                            "subscription_id": pe.get("subscription_id"),
                            "resource_group": pe.get("resource_group"),
                            "name": zname,
                        },
                        res_vnet,
                    )
                    + "; "
                    if res_vnet and pe
                    else ""
                )
                + (_zone_group_cmd(pe, _zone_id(pe, zname), zname) if pe else ""),
                _ids(pe.get("id") if pe else None, res_vnet),
            )
        return
    if kind is None or res_vnet is None:
        return
    linked = [z for z in copies if view.linked(z, res_vnet)]
    linked_with_record = [z for z in linked if z.get("record")]
    if not linked:
        source = with_record[0] if with_record else copies[0]
        ids = _ids(source.get("id"), res_vnet, (host or {}).get("firewall_id"))
        if kind == "azure":
            yield Finding(
                "dns.zone_not_linked",
                checks,
                f"Zone {zname} in {source.get('subscription_id')}/{source.get('resource_group')} is linked to "
                f"{', '.join(short(lk.get('vnet_id')) for lk in source.get('links') or ()) or 'no VNet'}, but not to "
                f"{short(res_vnet)}, the VNet this machine resolves through (Azure-provided DNS).",
                _link_cmd(source, res_vnet),
                ids,
            )
        elif kind == "firewall":
            yield Finding(
                "dns.firewall_dns_proxy_blind",
                checks,
                f"This VNet's DNS server {host.get('ip') if host else '?'} is Azure Firewall {short((host or {}).get('firewall_id'))} "
                f"(DNS proxy) in {short(res_vnet)}, and zone {zname} is not linked to that VNet.",
                _link_cmd(source, res_vnet)
                + "  (or point the firewall's DNS servers at a Private Resolver inbound endpoint)",
                ids,
            )
        elif kind == "custom":
            yield Finding(
                "dns.zone_not_linked_resolver_vnet",
                checks,
                f"This machine's DNS server {host.get('ip') if host else '?'} lives in {short(res_vnet)}, and zone {zname} "
                f"is linked to {', '.join(short(lk.get('vnet_id')) for lk in source.get('links') or ()) or 'no VNet'} but not to it.",
                _link_cmd(source, res_vnet),
                ids,
            )
        return
    if len(copies) > 1 and not linked_with_record and with_record:
        bad, good = linked[0], with_record[0]
        yield Finding(
            "dns.duplicate_zones",
            checks,
            f"{len(copies)} zones named {zname}: the one linked to {short(res_vnet)} ({bad.get('subscription_id')}/"
            f"{bad.get('resource_group')}) has no record {label}; the copy in {good.get('subscription_id')}/"
            f"{good.get('resource_group')} has it ({', '.join(good.get('record') or [])}).",
            f"Consolidate on one zone: az network private-dns link vnet delete --subscription {bad.get('subscription_id')} "
            f"-g {bad.get('resource_group')} -z {zname} -n {short((view.linked(bad, res_vnet) or {}).get('id'))}; "
            + _link_cmd(good, res_vnet),
            _ids(bad.get("id"), good.get("id"), res_vnet),
        )
        return
    if not linked_with_record:
        sibling = [z for z in view.dns.get("zones") or () if z.get("record") and z.get("name") != zname]
        if sibling:
            yield _wrong_zone(view, sibling[0], pe, pe_ip)
            return
        zone = linked[0]
        link = view.linked(zone, res_vnet) or {}
        if view.account_absent:
            if link.get("resolution_policy") != "NxDomainRedirect":
                yield Finding(
                    "dns.cross_tenant_nxdomain",
                    ("arm_account", "arm_dns_zones"),
                    f"'{label}' is not an account in the subscriptions you can read, and zone {zname} linked to "
                    f"{short(res_vnet)} has no record for it: the private zone answers NXDOMAIN for another tenant's PE.",
                    f"az resource update --ids {link.get('id')} --set properties.resolutionPolicy=NxDomainRedirect --api-version 2024-06-01",
                    _ids(zone.get("id"), link.get("id")),
                )
            return
        if view.account is not None and view.pes:
            yield Finding(
                "dns.record_missing",
                checks,
                f"Zone {zname} ({zone.get('subscription_id')}/{zone.get('resource_group')}) is linked to {short(res_vnet)} "
                f"but has no A record {label}: the name is NXDOMAIN inside the VNet.",
                (_zone_group_cmd(pe, zone["id"], zname) if pe else "")
                + (f"  or: {_record_cmd(zone, label, pe_ip)}" if pe_ip else ""),
                _ids(zone.get("id"), pe.get("id") if pe else None),
            )
        return
    # A linked record exists: is it the right address?
    zone = linked_with_record[0]
    ips = list(zone.get("record") or ())
    by_ip = view.pe_ips()
    if not view.pes:
        return
    unknown = [ip for ip in ips if ip not in by_ip]
    if unknown:
        yield Finding(
            "dns.record_stale_ip",
            checks,
            f"A record {label} in {zname} ({zone.get('subscription_id')}/{zone.get('resource_group')}) holds "
            f"{', '.join(unknown)}, which is no private endpoint of the account (they have {', '.join(by_ip) or 'no address'}).",
            f"az network private-dns record-set a remove-record --subscription {zone.get('subscription_id')} -g {zone.get('resource_group')} "
            f"-z {zname} -n {label} -a {unknown[0]}; "
            + (_record_cmd(zone, label, pe_ip) if pe_ip else "")
            + "  (better: a zone group keeps it in sync)",
            _ids(zone.get("id"), *(p["id"] for p in view.pes)),
        )
        return
    owners = [by_ip[ip] for ip in ips]
    reachable = view.reachable_pes()
    if len(view.pes) > 1 and reachable and not any(o in reachable for o in owners):
        other = owners[0]
        yield Finding(
            "dns.record_overwritten_by_other_pe",
            checks,
            f"A record {label} in {zname} points at {', '.join(ips)}, the address of private endpoint {other.get('name')} in "
            f"{short(other.get('vnet_id'))}, which this machine cannot reach; {reachable[0].get('name')} "
            f"({', '.join(reachable[0].get('ip_addresses') or [])}) is the one on its network.",
            "Two PEs of one account share this zone and overwrite each other's record: keep one PE per account where DNS is "
            f"shared, or give the isolated network its own zone. Inspect: az network private-endpoint dns-zone-group list --ids {other.get('id')}",
            _ids(zone.get("id"), other.get("id"), reachable[0].get("id")),
        )


def _wrong_zone(
    view: AzureView, sibling: Mapping[str, Any], pe: Mapping[str, Any] | None, pe_ip: str | None
) -> Finding:
    zname = view.zone_name
    copies = view.copies()
    target_zone = copies[0] if copies else None
    zone_id = str(target_zone.get("id")) if target_zone else (_zone_id(pe, zname) if pe else "")
    create = (
        ""
        if target_zone or not pe
        else f"az network private-dns zone create -g {pe.get('resource_group')} -n {zname}; "
    )
    return Finding(
        "dns.wrong_zone",
        ("arm_dns_zones", "arm_private_endpoints") if pe else ("arm_dns_zones",),
        f"The record {view.label} exists in {sibling.get('name')} ({', '.join(sibling.get('record') or [])}) but not in "
        f"{zname}, the zone {view.target.host} resolves through.",
        (create + _zone_group_cmd(pe, zone_id, zname) if pe else f"create {zname} and add it to the PE's zone group")
        + "  (and fix the policy that only knows the cognitiveservices zone)",
        _ids(sibling.get("id"), zone_id if target_zone else None, pe.get("id") if pe else None),
    )


def sibling_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    if not view.dns or not view.dns_complete or view.account is None or not _with_record(view):
        return
    missing = [n for n in view.dns.get("needed_zones") or () if n != view.zone_name and not _with_record(view, n)]
    if missing:
        pe = view.pe_for_dns()
        yield Finding(
            "dns.sibling_zone_missing",
            ("arm_account", "arm_dns_zones"),
            f"Account {view.account.get('name')} ({view.account.get('kind')}) also answers on "
            f"{', '.join(n.removeprefix('privatelink.') for n in missing)}, but {', '.join(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no record {view.label}: those calls go public.",
            "; ".join(
                f"az network private-dns zone create -g {pe.get('resource_group') if pe else '<rg>'} -n {n}"
                + (f"; {_zone_group_cmd(pe, _zone_id(pe, n), n)}" if pe else "")
                for n in missing
            ),
            _ids(view.account.get("id"), pe.get("id") if pe else None),
        )


# --- network path --------------------------------------------------------------------------------


def path_rules(ev: Evidence) -> Iterator[Finding]:
    view = AzureView(ev)
    local = LocalView(ev)
    net = view.net
    if not net:
        return
    vnet_id = view.client_vnet_id
    for entry in net.get("pe_vnets") or ():
        peering = entry.get("peering") or {}
        pe_vnet = entry.get("vnet_id")
        if entry.get("relation") == "peered" and (
            peering.get("state") != "Connected" or (peering.get("sync_level") or "FullyInSync") != "FullyInSync"
        ):
            yield Finding(
                "net.peering_not_connected",
                ("arm_client_network",),
                f"Peering {peering.get('name')} from {short(vnet_id)} to {short(pe_vnet)} is {peering.get('state')} / "
                f"{peering.get('sync_level')}: traffic to the private endpoint cannot flow.",
                f"Create the reverse peering: az network vnet peering create --subscription {id_part(pe_vnet, 'subscriptions')} "
                f"-g {id_part(pe_vnet, 'resourceGroups')} --vnet-name {short(pe_vnet)} -n to-{short(vnet_id)} --remote-vnet {vnet_id} "
                f"--allow-vnet-access; if it exists: az network vnet peering sync -g {id_part(vnet_id, 'resourceGroups')} "
                f"--vnet-name {short(vnet_id)} -n {peering.get('name')}",
                _ids(peering.get("id"), vnet_id, pe_vnet),
            )
        elif entry.get("relation") == "not_peered" and entry.get("via_hubs"):
            hubs = entry.get("via_hubs") or []
            yield Finding(
                "net.transitive_peering",
                ("arm_client_network",),
                f"{short(vnet_id)} and {short(pe_vnet)} are both peered with {', '.join(short(h) for h in hubs)} but not with "
                "each other; private endpoint routes do not cross a second peering hop.",
                f"az network vnet peering create -g {id_part(vnet_id, 'resourceGroups')} --vnet-name {short(vnet_id)} -n to-{short(pe_vnet)} "
                f"--remote-vnet {pe_vnet} --allow-vnet-access (and the reverse), or route through a hub firewall, or put the PE in the hub",
                _ids(vnet_id, pe_vnet, *hubs),
            )
    failing = {
        a.get("address")
        for a in local.tcp_attempts()
        if a.get("outcome") in ("timeout", "refused", "unreachable", "error")
    }
    for item in net.get("routes_to_pe") or ():
        route = item.get("route") or {}
        hop = route.get("next_hop_type")
        if (hop == "VirtualAppliance" and item.get("address") in failing) or hop == "None":
            yield Finding(
                "net.udr_nva_drop",
                ("arm_client_network", "tcp_connect"),
                f"The effective route to {item.get('address')} ({', '.join(route.get('prefixes') or [])}, source {route.get('source')}) "
                f"has next hop {hop} {', '.join(route.get('next_hop_ips') or [])}, and TCP to it fails.",
                f"Allow TCP 443 to {item.get('address')} on the appliance {', '.join(route.get('next_hop_ips') or [])} (an application rule "
                f"for {view.target.host}), or remove the UDR for the PE prefix; verify: az network nic show-effective-route-table "
                f"--ids {(net.get('nic') or {}).get('id')} -o table",
                _ids((net.get("nic") or {}).get("id"), item.get("pe_id")),
            )


def nsg_rules(ev: Evidence) -> Iterator[Finding]:
    if not ev.ran("arm_nsg"):
        return
    data = ev.get("arm_nsg")
    port = data.get("port", 443)
    source = data.get("source_ip")
    for decision in (data.get("client") or {}).get("decisions") or ():
        # A default DenyAllOutBound decides only when the PE is outside the VirtualNetwork space, i.e. there is
        # no VNet path at all: that is a path cause (peering, routes), not an NSG one.
        if decision.get("access") == "Deny" and not decision.get("default"):
            nsg_id = decision.get("nsg_id")
            yield Finding(
                "net.client_nsg_outbound",
                ("arm_nsg",),
                f"NSG {short(nsg_id)} denies outbound TCP {port} from {source} to {decision.get('address')}: rule "
                f"{decision.get('rule')} (priority {decision.get('priority')}) decides.",
                f"az network nsg rule create --subscription {id_part(nsg_id, 'subscriptions')} -g {id_part(nsg_id, 'resourceGroups')} "
                f"--nsg-name {short(nsg_id)} -n AllowPrivateEndpoint{port} --priority {max(100, int(decision.get('priority') or 200) - 1)} "
                f"--direction Outbound --access Allow --protocol Tcp --destination-address-prefixes {decision.get('address')} "
                f"--destination-port-ranges {port}",
                _ids(nsg_id),
            )
            break
    for entry in data.get("pe_side") or ():
        decision = entry.get("decision") or {}
        if entry.get("applies") and decision.get("access") == "Deny":
            nsg_id = entry.get("nsg_id")
            subnet_id = entry.get("subnet_id")
            yield Finding(
                "net.pe_subnet_nsg",
                ("arm_nsg",),
                f"The PE subnet {short(subnet_id)} has privateEndpointNetworkPolicies={entry.get('network_policies')}, so NSG "
                f"{short(nsg_id)} applies, and its rule {decision.get('rule')} (priority {decision.get('priority')}) denies TCP "
                f"{port} from {source} to {entry.get('address')}.",
                f"az network nsg rule create --subscription {id_part(nsg_id, 'subscriptions')} -g {id_part(nsg_id, 'resourceGroups')} "
                f"--nsg-name {short(nsg_id)} -n AllowClients{port} --priority {max(100, int(decision.get('priority') or 200) - 1)} "
                f"--direction Inbound --access Allow --protocol Tcp --source-address-prefixes {source} --destination-port-ranges {port}; "
                f"or: az network vnet subnet update --ids {subnet_id} --private-endpoint-network-policies Disabled",
                _ids(nsg_id, subnet_id, entry.get("pe_id")),
            )
            break


RULES: tuple[Rule, ...] = (
    account_rules,
    connection_rules,
    access_rules,
    zone_rules,
    sibling_rules,
    path_rules,
    nsg_rules,
)
