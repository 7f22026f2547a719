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

from collections.abc import Mapping, Sequence
from typing import Any

from aoai_diag.context import format_endpoint, parse_endpoint

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


def has_addresses(answer: Mapping[str, Any] | None) -> bool:
    if not answer or answer.get("outcome") != "answer":
        return False
    return bool(answer.get("addresses") or answer.get("addresses6"))


def unusable_settings(host: Mapping[str, Any]) -> list[str]:
    """`NAME=value` of the DNS app settings whose value is not an address: the platform cannot use them either."""
    app = host.get("app_service") or {}
    settings = (("WEBSITE_DNS_SERVER", app.get("dns_server")), ("WEBSITE_DNS_ALT_SERVER", app.get("dns_alt_server")))
    return [f"{name}={value}" for name, value in settings if value and _endpoint(value) is None]


def path_servers(host: Mapping[str, Any]) -> tuple[str | None, list[dict[str, Any]], str | None]:
    """(source, servers, why none) of the app host's DNS path. Each server: {server, chosen_by, role}, in the order
    they are used: the app's resolver's (role `resolver`), then the platform forwarder's upstreams (`upstream`)."""
    resolver = host.get("resolver") or {}
    app = host.get("app_service") or {}
    listed = [e for s in resolver.get("nameservers") or () if (e := _endpoint(s))] if not resolver.get("error") else []
    servers: list[dict[str, Any]] = [{"server": s, "chosen_by": "resolv.conf", "role": "resolver"} for s in listed]
    settings = [(app.get("dns_server"), "WEBSITE_DNS_SERVER"), (app.get("dns_alt_server"), "WEBSITE_DNS_ALT_SERVER")]
    configured = [(e, name) for value, name in settings if value and (e := _endpoint(value))]
    source: str | None = "resolv.conf" if servers else None
    if host.get("kind") in ("app_service", "function_app"):
        source = "WEBSITE_DNS_SERVER" if configured else "vnet"
        for value, name in configured:
            same = next((s for s in servers if s["server"] == value), None)
            if same is not None:  # resolv.conf lists the setting's server itself
                same["chosen_by"] = name
            else:  # behind the platform's forwarder (Linux), or the resolver's own servers (Windows: no resolv.conf)
                servers.append({"server": value, "chosen_by": name, "role": "upstream" if listed else "resolver"})
    why = None
    if not servers:
        why = resolver.get("error") or (
            "no resolv.conf nameserver and no WEBSITE_DNS_SERVER: the app uses the VNet's DNS servers, which only "
            "Resource Manager shows"
            if source == "vnet"
            else "no nameserver in resolv.conf"
        )
    return source, servers, why


def azure_dns_reason(host: Mapping[str, Any]) -> str | None:
    """Why 168.63.129.16 is not worth asking from this host (None: ask it). It answers only from inside an Azure VNet
    (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16): an App Service app reaches
    the VNet only with regional VNet integration."""
    kind = host.get("kind")
    if kind in ("app_service", "function_app") and not (host.get("app_service") or {}).get("vnet_integration"):
        return "no VNet integration (WEBSITE_PRIVATE_IP not set): 168.63.129.16 is reachable only from a VNet"
    if kind == "kubernetes" and host.get("on_azure") is not True:
        return "a pod on a cluster not known to be on Azure (no internal.cloudapp.net search domain)"
    return None


def forwarding_break(
    servers: Sequence[Mapping[str, Any]], verdicts: Mapping[str, str], azure_verdict: str | None
) -> str | None:
    """The configured server whose answer for the host contradicts 168.63.129.16's private one: an upstream (the
    app setting's server) before the resolver in front of it, since the forwarder only repeats what it is told."""
    if azure_verdict != "private":
        return None
    ordered = sorted(servers, key=lambda s: 0 if s.get("role") == "upstream" else 1)
    for item in ordered:
        if verdicts.get(str(item.get("server"))) in FAILED_VERDICTS:
            return str(item.get("server"))
    return None
