"""Private DNS zones the account needs, every copy of them the credential can see, their A record for the
subdomain and their virtual network links; plus over-broad zones that shadow public names.

Zones needed: `privatelink.<suffix>` for the target's suffix and for every host the account lists in
`properties.endpoints` (an AI Services account lists all three suffixes).
https://learn.microsoft.com/azure/private-link/private-endpoint-dns

Evidence: `ArmDnsZones` (aoai_diag/evidence/azure.py).

pass = every needed zone exists with an A record; fail = a needed zone or its record is missing (all scopes
read, no hidden zone); error = something is missing and the search was incomplete (diagnosis/azure_facts.zone_search,
which the rules read too). A link whose virtualNetworkLinkState is InProgress is shown as still being created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from aoai_diag.azure import probe_support
from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.diagnosis import azure_facts
from aoai_diag.evidence.azure import (
    Account,
    ArmAccount,
    ArmDnsZones,
    ArmPrivateEndpoints,
    BroadZone,
    Denied,
    PrivateEndpoint,
    UnlistedSubscription,
    VnetLink,
    Zone,
)
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

if TYPE_CHECKING:
    from aoai_diag.azure.snapshot import Inventory


def needed_zones(target: Target, account: Account | None) -> list[str]:
    suffixes = [target.suffix]
    for host in account.endpoint_hosts if account is not None else ():
        for suffix in target.cloud.suffixes:
            if host.endswith("." + suffix) and suffix not in suffixes:
                suffixes.append(suffix)
    return [target.cloud.privatelink_zone(s) for s in suffixes]


def _is_broad(name: str, target: Target) -> bool:
    return any(name == s or s.endswith("." + name) for s in target.cloud.suffixes)


def _zone_item(
    zone: Zone, needed: list[str], record: tuple[str, ...] | Denied | None, links: tuple[VnetLink, ...]
) -> Zone:
    """The zone as read, with what this target asks of it: needed or not, its A record for the label, its links."""
    return replace(
        zone,
        needed=zone.name in needed,
        record=None if record is None or isinstance(record, Denied) else tuple(record),
        record_error=probe_support.describe(record) if isinstance(record, Denied) else None,
        links=links,
    )


def _describe_zone(zone: Zone, label: str) -> str:
    links = f"{len(zone.links)} link(s)"
    pending = [lk for lk in zone.links if azure_facts.link_in_progress(lk)]
    if pending:
        links += f" ({len(pending)} InProgress: still being created)"
    shown = ", ".join(zone.record) if zone.record else ("unreadable" if zone.record_error else "no A record")
    return f"{zone.name} in {zone.subscription_id}/{zone.resource_group}: {label} -> {shown}, {links}"


def unlisted(inv: Inventory, zones: Sequence[Zone], pes: Sequence[PrivateEndpoint]) -> tuple[UnlistedSubscription, ...]:
    """Subscriptions the inventory's topology names (VNet peerings, the zone copies' links, the PEs' VNets and zone
    groups) that were not searched: a zone may live there (azure_facts.unlisted_subscriptions)."""
    links = [lk for z in zones for lk in z.links]
    named = azure_facts.named_scopes(vnets=inv.vnets, links=links, pes=pes)
    return tuple(azure_facts.unlisted_subscriptions(inv.subscriptions, named))


def _judge(label: str, evidence: ArmDnsZones, pes: Sequence[PrivateEndpoint]) -> Outcome:
    """Missing is said only after a complete search (azure_facts.zone_search); otherwise error naming the unread."""
    needed, zones, broad = evidence.needed_zones, evidence.zones, evidence.broad_zones
    search = azure_facts.zone_search(evidence, pes)
    missing_zone = [n for n in needed if not any(z.name == n for z in zones)]
    missing_record = [n for n in needed if n not in missing_zone and not any(z.name == n and z.record for z in zones)]
    parts = [_describe_zone(z, label) for z in zones if z.needed or z.record]
    if broad:
        parts.append("over-broad zone(s): " + ", ".join(b.name for b in broad))
    if missing_zone or missing_record or broad:
        gaps = [f"zone {n} not found" for n in missing_zone] + [f"no A record {label} in {n}" for n in missing_record]
        text = "; ".join(gaps + parts)
        if not search.is_true() and (missing_zone or missing_record):
            unread = (
                "; ".join(str(d.scope) for d in evidence.denied)
                or ", ".join(evidence.hidden_zones)
                or ", ".join(str(u.subscription) for u in evidence.unlisted_subscriptions)
            )
            reason = f"unread: {unread}" + (f" ({search.decide})" if search.decide else "")
            return Outcome(Status.ERROR, f"{text}; {search.describe()}", evidence, reason)
        return Outcome(Status.FAIL, text, evidence)
    summary = "; ".join(parts) or "no privatelink zone found"
    if not search.is_true():
        return Outcome(Status.WARN, f"{summary}; search incomplete: {search.describe()}", evidence)
    return Outcome(Status.PASS, summary, evidence)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    from aoai_diag.azure import convert, snapshot

    def body() -> Outcome:
        on_azure = probe_support.on_azure(deps)
        sess = snapshot.session(ctx, on_azure)
        inv = snapshot.inventory(ctx, on_azure)
        account = deps["arm_account"].typed(ArmAccount).account if "arm_account" in deps else None
        needed = needed_zones(target, account)
        # Sibling privatelink zones are read too: a record that landed in the wrong one is a cause (dns.wrong_zone).
        copies = [z for z in inv.zones if z.name in needed or z.name in target.cloud.privatelink_zones]
        broad = [z for z in inv.zones if _is_broad(z.name, target)]
        records = sess.parallel({z.id: partial(snapshot.a_record, ctx, sess, z, target.label) for z in copies})

        def links(zone: Zone) -> tuple[VnetLink, ...]:
            return tuple(link for link in inv.links if convert.same_id(link.zone_id, zone.id))

        denied = (*inv.denied, *(r for r in records.values() if isinstance(r, Denied)))
        pes = (
            deps["arm_private_endpoints"].typed(ArmPrivateEndpoints).private_endpoints
            if "arm_private_endpoints" in deps
            else ()
        )
        zones = tuple(_zone_item(z, needed, records.get(z.id), links(z)) for z in copies)
        evidence = ArmDnsZones(
            label=target.label,
            needed_zones=tuple(needed),
            zones=zones,
            broad_zones=tuple(
                BroadZone(
                    id=z.id,
                    name=z.name,
                    subscription_id=z.subscription_id,
                    resource_group=z.resource_group,
                    links=links(z),
                )
                for z in broad
            ),
            denied=denied,
            complete=not denied,
        )
        evidence = replace(
            evidence,
            hidden_zones=tuple(azure_facts.hidden_zones(evidence, pes)),
            unlisted_subscriptions=unlisted(inv, zones, pes),
        )
        return _judge(target.label, evidence, pes)

    return probe_support.guarded(body, ArmDnsZones)


run = blocking_body(collect)


PROBE = Probe(
    id="arm_dns_zones",
    title="Private DNS zones, records and VNet links",
    evidence=ArmDnsZones,
    run=run,
    requires=("arm_access",),
    # After the PEs: a zone their zone groups name that the search did not return makes the search incomplete.
    after=("azure_platform", "arm_account", "arm_private_endpoints"),
    layer="azure",
    disabled=probe_support.disabled,
)
