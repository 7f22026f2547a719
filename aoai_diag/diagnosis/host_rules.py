"""Rules over the app host's own DNS path (the `app_dns` probe): what the app's resolver does that a query for the
name alone does not show."""

from __future__ import annotations

from collections.abc import Iterator

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import fill
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.evidence.host import AppDns, HostServerAnswers, SearchExpansion
from aoai_diag.model import Finding


def _addresses(answer: DnsAnswer | None) -> str:
    found = [*answer.addresses, *answer.addresses6] if answer is not None else []
    return ", ".join(found) or "no address"


def search_domain_hijack(ev: Evidence) -> Iterator[Finding]:
    """A search-list expansion of the account host answers before the name itself: with fewer dots in the name than
    `ndots`, the stub resolver tries `<name>.<search domain>` first and keeps the first answer
    (https://man7.org/linux/man-pages/man5/resolv.conf.5.html; Kubernetes pods get ndots:5:
    https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config)."""
    if not ev.ran("app_dns"):
        return
    walk = ev.of(AppDns).walk
    if walk is None:
        return
    domain, query = walk.hijacked_by, walk.answered_by
    if not domain or not query:
        return
    first = next((e for e in walk.expansions if e.query == query), SearchExpansion())
    host = ev.target.host
    yield Finding(
        cause_id="dns.search_domain_hijack",
        checks=("app_dns",),
        detail=(
            f"The app's resolver tries {query} before {host} (the name has {walk.dots} dots, fewer than "
            f"ndots:{walk.ndots}), and {first.server or 'its DNS server'} answers it with "
            f"{_addresses(first.answer)}: search domain {domain} (a wildcard record) takes the app's "
            f"connections before {host} is ever asked."
        ),
        remediation=fill("dns.search_domain_hijack", host=host, domain=domain),
    )


def host_forwarding_break(ev: Evidence) -> Iterator[Finding]:
    """On an app host (where the azure_dns probe does not run: no IMDS), a server of the app's path answers the host
    publicly or not at all while 168.63.129.16 answers it privately: that server does not forward to Azure DNS."""
    if not ev.ran("app_dns") or ev.ran("azure_dns"):
        return
    data = ev.of(AppDns)
    broken = data.forwarding_break
    azure = data.azure_dns if data.azure_dns is not None else HostServerAnswers()
    if not broken:
        return
    server = next((s for s in data.servers if s.server == broken), HostServerAnswers())
    host = ev.target.host
    verdict = data.verdicts.get(broken)
    setting = server.chosen_by
    why = f" (chosen by {setting})" if setting and setting != "resolv.conf" else ""
    yield Finding(
        cause_id="dns.custom_server_no_forwarder",
        checks=("app_dns",),
        detail=(
            f"The app's DNS server {broken}{why} answers {host} {verdict} ({_addresses(server.answers.get(host))}), "
            f"while Azure DNS {azure.server} answers the private "
            f"{_addresses(azure.answers.get(host))}: {broken} does not forward "
            f"{ev.target.suffix} to 168.63.129.16."
        ),
        candidates=("dns.zone_not_linked_resolver_vnet",),
    )


RULES = (search_domain_hijack, host_forwarding_break)
