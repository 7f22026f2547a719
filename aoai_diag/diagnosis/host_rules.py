"""Rules over the app host's own DNS path (the `app_dns` probe): what the app's resolver does that a query for the
name alone does not show."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import fill
from aoai_diag.model import Finding


def _addresses(answer: Mapping[str, Any] | None) -> str:
    found = [*((answer or {}).get("addresses") or ()), *((answer or {}).get("addresses6") or ())]
    return ", ".join(str(a) for a in found) or "no address"


def search_domain_hijack(ev: Evidence) -> Iterator[Finding]:
    """A search-list expansion of the account host answers before the name itself: with fewer dots in the name than
    `ndots`, the stub resolver tries `<name>.<search domain>` first and keeps the first answer
    (https://man7.org/linux/man-pages/man5/resolv.conf.5.html; Kubernetes pods get ndots:5:
    https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config)."""
    if not ev.ran("app_dns"):
        return
    walk = ev.get("app_dns").get("walk") or {}
    domain, query = walk.get("hijacked_by"), walk.get("answered_by")
    if not domain or not query:
        return
    first: Mapping[str, Any] = next((e for e in walk.get("expansions") or () if e.get("query") == query), {})
    host = ev.target.host
    yield Finding(
        cause_id="dns.search_domain_hijack",
        checks=("app_dns",),
        detail=(
            f"The app's resolver tries {query} before {host} (the name has {walk.get('dots')} dots, fewer than "
            f"ndots:{walk.get('ndots')}), and {first.get('server') or 'its DNS server'} answers it with "
            f"{_addresses(first.get('answer'))}: search domain {domain} (a wildcard record) takes the app's "
            f"connections before {host} is ever asked."
        ),
        remediation=fill("dns.search_domain_hijack", host=host, domain=domain),
    )


def host_forwarding_break(ev: Evidence) -> Iterator[Finding]:
    """On an app host (where the azure_dns probe does not run: no IMDS), a server of the app's path answers the host
    publicly or not at all while 168.63.129.16 answers it privately: that server does not forward to Azure DNS."""
    if not ev.ran("app_dns") or ev.ran("azure_dns"):
        return
    data = ev.get("app_dns")
    broken = data.get("forwarding_break")
    azure = data.get("azure_dns") or {}
    if not broken:
        return
    server: Mapping[str, Any] = next((s for s in data.get("servers") or () if s.get("server") == broken), {})
    host = ev.target.host
    verdict = (data.get("verdicts") or {}).get(broken)
    setting = server.get("chosen_by")
    why = f" (chosen by {setting})" if setting and setting != "resolv.conf" else ""
    yield Finding(
        cause_id="dns.custom_server_no_forwarder",
        checks=("app_dns",),
        detail=(
            f"The app's DNS server {broken}{why} answers {host} {verdict} ({_addresses(server.get('answers', {}).get(host))}), "
            f"while Azure DNS {azure.get('server')} answers the private "
            f"{_addresses((azure.get('answers') or {}).get(host))}: {broken} does not forward "
            f"{ev.target.suffix} to 168.63.129.16."
        ),
        candidates=("dns.zone_not_linked_resolver_vnet",),
    )


RULES = (search_domain_hijack, host_forwarding_break)
