"""The DNS path of an app host, as its resolver walks it: which servers, chosen by which setting, in which order, and
which names the stub resolver tries for one host name. Pure over the `app_host` evidence (osnet/apphost.py).

- App Service: `WEBSITE_DNS_SERVER` / `WEBSITE_DNS_ALT_SERVER` replace the VNet's DNS servers for the app
  (https://learn.microsoft.com/azure/app-service/overview-name-resolution); Linux containers' resolv.conf lists the
  platform's forwarder (127.0.0.11), which sends the app's questions there. Without the setting the forwarder uses
  the integration VNet's servers (which only Resource Manager shows).
- The search list: a name with fewer dots than `ndots` is tried with each search domain appended first, in order,
  and as given last; a name with at least `ndots` dots is tried as given first (resolv.conf(5):
  https://man7.org/linux/man-pages/man5/resolv.conf.5.html). Kubernetes pods get `ndots:5` and the cluster's search
  list (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config), so
  `contoso.openai.azure.com` (three dots) is first asked as `contoso.openai.azure.com.<search domain>`: a search
  domain with a wildcard record answers that, and the app connects there.
- The stub resolver asks the next server only when one does not answer, fails (SERVFAIL) or refuses; an NXDOMAIN or
  an empty answer from a server is final for that name (resolv.conf(5), `nameserver`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from aoai_diag.context import format_endpoint, parse_endpoint
from aoai_diag.evidence.dns import DnsAnswer
from aoai_diag.evidence.host import AppHost, AppServiceSignals, HostResolverConfig, HostServerAnswers

FINAL_OUTCOMES = ("answer", "nxdomain", "nodata")
"""A server's answer the stub resolver keeps for that query name; any other makes it ask the next server."""
FAILED_VERDICTS = ("public", "mixed", "nxdomain", "nodata", "servfail", "refused")
"""How a configured server may answer the account host while 168.63.129.16 answers it privately: its forwarding is
where the path breaks. Silence (timeout, unreachable) is not a disagreement: nothing was said."""


def _endpoint(text: object) -> str | None:
    """`ip:port` of a server as resolv.conf or an app setting writes it; None for what is not an address."""
    try:
        return format_endpoint(parse_endpoint(str(text)))
    except ValueError:
        return None


def search_expansions(name: str, search: Sequence[str], ndots: int) -> list[tuple[str, str | None]]:
    """(query name, search domain or None) in the order the stub resolver tries them for `name`."""
    if name.endswith("."):
        return [(name.rstrip("."), None)]
    domains = [d.strip(".") for d in search if d.strip(".")]
    expanded = [(f"{name}.{d}", d) for d in domains]
    if name.count(".") >= ndots:
        return [(name, None), *expanded]
    return [*expanded, (name, None)]


def has_addresses(answer: DnsAnswer | None) -> bool:
    if answer is None or answer.outcome != "answer":
        return False
    return bool(answer.addresses or answer.addresses6)


def _app_service(host: AppHost) -> AppServiceSignals:
    return host.app_service if host.app_service is not None else AppServiceSignals()


def unusable_settings(host: AppHost) -> list[str]:
    """`NAME=value` of the DNS app settings whose value is not an address: the platform cannot use them either."""
    app = _app_service(host)
    settings = (("WEBSITE_DNS_SERVER", app.dns_server), ("WEBSITE_DNS_ALT_SERVER", app.dns_alt_server))
    return [f"{name}={value}" for name, value in settings if value and _endpoint(value) is None]


def path_servers(host: AppHost) -> tuple[str | None, list[HostServerAnswers], str | None]:
    """(source, servers, why none) of the app host's DNS path. Each server (its answers not asked yet) in the order
    they are used: the app's resolver's (role `resolver`), then the platform forwarder's upstreams (`upstream`)."""
    resolver = host.resolver if host.resolver is not None else HostResolverConfig()
    app = _app_service(host)
    listed = [e for s in resolver.nameservers if (e := _endpoint(s))] if not resolver.error else []
    servers = [HostServerAnswers(server=s, chosen_by="resolv.conf", role="resolver") for s in listed]
    settings = [(app.dns_server, "WEBSITE_DNS_SERVER"), (app.dns_alt_server, "WEBSITE_DNS_ALT_SERVER")]
    configured = [(e, name) for value, name in settings if value and (e := _endpoint(value))]
    source: str | None = "resolv.conf" if servers else None
    if host.kind in ("app_service", "function_app"):
        source = "WEBSITE_DNS_SERVER" if configured else "vnet"
        for value, name in configured:
            same = next((i for i, s in enumerate(servers) if s.server == value), None)
            if same is not None:  # resolv.conf lists the setting's server itself
                servers[same] = dataclasses.replace(servers[same], chosen_by=name)
            else:  # behind the platform's forwarder (Linux), or the resolver's own servers (Windows: no resolv.conf)
                role = "upstream" if listed else "resolver"
                servers.append(HostServerAnswers(server=value, chosen_by=name, role=role))
    why = None
    if not servers:
        why = resolver.error or (
            "no resolv.conf nameserver and no WEBSITE_DNS_SERVER: the app uses the VNet's DNS servers, which only "
            "Resource Manager shows"
            if source == "vnet"
            else "no nameserver in resolv.conf"
        )
    return source, servers, why


def azure_dns_reason(host: AppHost) -> str | None:
    """Why 168.63.129.16 is not worth asking from this host (None: ask it). It answers only from inside an Azure VNet
    (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16): an App Service app reaches
    the VNet only with regional VNet integration."""
    kind = host.kind
    if kind in ("app_service", "function_app") and not _app_service(host).vnet_integration:
        return "no VNet integration (WEBSITE_PRIVATE_IP not set): 168.63.129.16 is reachable only from a VNet"
    if kind == "kubernetes" and host.on_azure is not True:
        return "a pod on a cluster not known to be on Azure (no internal.cloudapp.net search domain)"
    return None


def forwarding_break(
    servers: Sequence[HostServerAnswers], verdicts: Mapping[str, str], azure_verdict: str | None
) -> str | None:
    """The configured server whose answer for the host contradicts 168.63.129.16's private one: an upstream (the
    app setting's server) before the resolver in front of it, since the forwarder only repeats what it is told."""
    if azure_verdict != "private":
        return None
    ordered = sorted(servers, key=lambda s: 0 if s.role == "upstream" else 1)
    for item in ordered:
        if verdicts.get(item.server) in FAILED_VERDICTS:
            return item.server
    return None
