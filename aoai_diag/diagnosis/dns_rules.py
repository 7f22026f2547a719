"""Local DNS rules: what this machine's resolvers answer compared with public DNS and Azure DNS.

A public chain with a `<sub>.privatelink.<suffix>` hop means a private endpoint exists
(https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link), and a negative
answer whose SOA MNAME is `azureprivatedns.net` comes from an Azure private zone
(https://learn.microsoft.com/azure/dns/private-dns-fallback). The facts they rest on are derived once in
`local_facts`.
"""

from __future__ import annotations

from collections.abc import Iterator

from aoai_diag.diagnosis import local_facts as lf
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import (
    AZURE_DNS_IP,
    LocalView,
    ServerAnswer,
    answer_addresses,
    answer_kind,
    fill,
    fmt_addresses,
    server_host,
)
from aoai_diag.evidence.answers import SILENT, AnswerKind, classify_dns, split_addresses
from aoai_diag.evidence.dns import DnsAnswer, HostsFile, ResolverConfig
from aoai_diag.model import Finding

AZURE_PRIVATE_SOA = "azureprivatedns.net"
DECIDE = "Azure access (private DNS zones, VNet links, the VNet's DNS servers) tells these apart."


def _describe(item: ServerAnswer) -> str:
    kind = answer_kind(item.answer)
    if kind in ("private", "public", "mixed"):
        return f"{item.server} -> {fmt_addresses(answer_addresses(item.answer))}"
    return f"{item.server} -> {item.answer.outcome or 'no answer'}"


def _custom(items: list[ServerAnswer]) -> list[ServerAnswer]:
    return [i for i in items if server_host(i.server) != AZURE_DNS_IP]


def _public_candidates(view: LocalView) -> tuple[str, ...]:
    sibling = () if view.target.suffix == view.target.cloud.suffixes[0] else ("dns.sibling_zone_missing",)
    if not view.on_azure:
        return (
            "dns.onprem_no_resolver_path",
            "dns.conditional_forwarder_wrong_zone",
            "dns.zone_not_linked_resolver_vnet",
            "dns.p2s_client_dns",
            "dns.split_dns_nrpt",
            "dns.cache_stale",
        )
    if _custom(view.configured()):
        return (
            "dns.zone_not_linked_resolver_vnet",
            "dns.firewall_dns_proxy_blind",
            "dns.custom_server_no_forwarder",
            "dns.zone_missing",
            "dns.zone_not_linked",
            *sibling,
        )
    return ("dns.zone_missing", "dns.zone_not_linked", "dns.wrong_zone", *sibling, "dns.cache_stale")


def _http_note(view: LocalView) -> str:
    attempt = view.app_attempt()
    if attempt is None or attempt.outcome != "response":
        return ""
    label = attempt.classification
    peer = attempt.address
    if label == "H2":
        return f" The service confirmed it: 403 'Public access is disabled' from {peer}."
    if label == "H3":
        caller = attempt.caller_ip
        seen = f" (it saw the caller as {caller})" if caller else ""
        return f" The service answered 403 'Access denied due to Virtual Network/Firewall rules' from {peer}{seen}."
    if label in ("H1", "H6", "H9"):
        return f" The request reached the service over the public path ({attempt.status} {label} from {peer})."
    return ""


def _hosts_entry_is_private(view: LocalView) -> bool:
    """A private hosts entry (Microsoft's VPN workaround) decides what applications use; hosts_override judges it."""
    entries = view.hosts_entries()
    return bool(entries) and not split_addresses(e.address for e in entries)[1]


def _public_ipv4(view: LocalView) -> tuple[list[str], str]:
    """The public IPv4 addresses the machine's path would use for the host, and where they came from."""
    addresses, source = view.resolved()
    _, other = split_addresses(addresses)
    return [a for a in other if ":" not in a], source


def resolves_public(ev: Evidence) -> Iterator[Finding]:
    """A private endpoint exists but the name this machine uses resolves to a public address."""
    view = LocalView(ev)
    if not ev.fact("local.pe_exists").is_true() or _hosts_entry_is_private(view):
        return
    public_v4, source = _public_ipv4(view)
    if not public_v4:
        return
    checks = ("public_dns", "system_resolution" if source == "the system resolver" else "dns_nameservers")
    yield Finding(
        cause_id="dns.resolves_public",
        checks=checks,
        detail=(
            f"{view.host} resolves to public {fmt_addresses(public_v4)} via {source}, although the public chain "
            f"goes through {view.privatelink_host}: a private endpoint exists and this machine does not use it."
            f"{_http_note(view)} {DECIDE}"
        ),
        candidates=_public_candidates(view),
    )


def custom_server_no_forwarder(ev: Evidence) -> Iterator[Finding]:
    """On Azure: the configured server answers public while 168.63.129.16 answers private."""
    view = LocalView(ev)
    azure = view.azure_dns()
    if not view.on_azure or azure is None or answer_kind(azure.answer) != "private":
        return
    public = [i for i in _custom(view.configured()) if answer_kind(i.answer) in ("public", "mixed")]
    if not public:
        return
    servers = ", ".join(_describe(i) for i in public)
    yield Finding(
        cause_id="dns.custom_server_no_forwarder",
        checks=("dns_nameservers", "azure_dns"),
        detail=(
            f"The configured DNS server answers {servers} for {view.host}, while Azure DNS {azure.server} "
            f"answers the private {fmt_addresses(answer_addresses(azure.answer))}: the custom server does not "
            f"forward {view.target.suffix} to 168.63.129.16."
        ),
        candidates=("dns.zone_not_linked_resolver_vnet", "dns.firewall_dns_proxy_blind"),
    )


def conditional_forwarder_wrong_zone(ev: Evidence) -> Iterator[Finding]:
    """A forwarder resolves the privatelink name privately but the account name publicly.

    Premises: a private endpoint exists (the public chain has the privatelink hop, so the account name *should*
    lead into the private zone), and the server is a forwarder, not Azure DNS itself. Without an approved endpoint
    the public chain skips privatelink and every resolver answers the account name publicly: that is
    svc.no_private_endpoint, not a forwarder problem.
    """
    view = LocalView(ev)
    if not ev.fact("local.pe_exists").is_true():
        return
    private_pl = {i.server: i for i in view.configured(view.privatelink_host) if answer_kind(i.answer) == "private"}
    for item in view.configured():
        pl = private_pl.get(item.server)
        if pl is None or not lf.is_forwarder(item.server) or answer_kind(item.answer) not in ("public", "mixed"):
            continue
        yield _forwarder_finding(view, item, pl)
        return


def _forwarder_finding(view: LocalView, item: ServerAnswer, pl: ServerAnswer) -> Finding:
    return Finding(
        cause_id="dns.conditional_forwarder_wrong_zone",
        checks=("dns_nameservers", "public_dns"),
        detail=(
            f"DNS server {item.server} answers {view.privatelink_host} with the private "
            f"{fmt_addresses(answer_addresses(pl.answer))} but {view.host} with public "
            f"{fmt_addresses(answer_addresses(item.answer))}: it forwards only the privatelink zone, and the "
            f"public CNAME is followed upstream."
        ),
        remediation=fill(
            "dns.conditional_forwarder_wrong_zone",
            variant="server",
            server=server_host(item.server),
            suffix=view.target.suffix,
        ),
    )


def resolver_disagreement(ev: Evidence) -> Iterator[Finding]:
    """Some configured servers give the private address, others public or NXDOMAIN."""
    view = LocalView(ev)
    items = view.configured()
    kinds = {answer_kind(i.answer) for i in items}
    if "private" not in kinds or not kinds & {"public", "mixed", "nxdomain"}:
        return
    yield Finding(
        cause_id="dns.resolver_disagreement",
        checks=("dns_nameservers",),
        detail=(
            f"The configured DNS servers disagree on {view.host}: {'; '.join(_describe(i) for i in items)}. "
            "Which one answers decides whether traffic goes private."
        ),
    )


def hosts_override(ev: Evidence) -> Iterator[Finding]:
    """A hosts-file entry maps an account name to a public address or to a private one DNS does not give."""
    view = LocalView(ev)
    for name in view.target.names:
        for entry in view.hosts_entries(name):
            address = entry.address
            private, _ = split_addresses([address])
            where = f"{view.ev.of(HostsFile).path or 'hosts file'} line {entry.line}"
            if not private:
                yield Finding(
                    cause_id="dns.hosts_override",
                    checks=("hosts_file",),
                    detail=f"{where} maps {name} to the public {address}, so applications bypass the private endpoint.",
                )
                return
            dns_private = sorted(
                {a for i in view.configured(name) for a in split_addresses(answer_addresses(i.answer))[0]}
                | set(
                    split_addresses(answer_addresses((view.azure_dns(name) or ServerAnswer("", DnsAnswer())).answer))[0]
                )
            )
            if dns_private and address not in dns_private:
                yield Finding(
                    cause_id="dns.hosts_override",
                    checks=("hosts_file", "dns_nameservers"),
                    detail=(
                        f"{where} maps {name} to {address}, but DNS gives the private endpoint address "
                        f"{fmt_addresses(dns_private)}: the hosts entry is stale."
                    ),
                    remediation=fill("dns.hosts_override", variant="stale", pe_ip=dns_private[0], host=name),
                )
                return


def hosts_workaround(ev: Evidence) -> Iterator[Finding]:
    """A private hosts entry carries the traffic while this machine's DNS would not (Microsoft's VPN workaround)."""
    view = LocalView(ev)
    entries = view.hosts_entries()
    if not entries or split_addresses(e.address for e in entries)[1]:
        return
    wrong = [i for i in view.configured() if answer_kind(i.answer) != "private"]
    if not wrong:
        return
    address = entries[0].address
    yield Finding(
        cause_id="dns.hosts_workaround",
        checks=("hosts_file", "dns_nameservers"),
        detail=(
            f"The hosts file maps {view.host} to the private {address}, but the DNS servers answer "
            f"{'; '.join(_describe(i) for i in wrong)}: only this hosts entry keeps this machine on the private "
            "endpoint, and it goes stale when the endpoint's address changes."
        ),
    )


def nxdomain(ev: Evidence) -> Iterator[Finding]:
    """The name is unknown: everywhere (no such account) or only on this machine (a private zone answered)."""
    view = LocalView(ev)
    if ev.fact("local.public_dns_knows_name").is_false():
        yield _account_not_found(view)
        return
    if view.app_addresses() or view.hosts_entries():
        return
    local = _local_nxdomain(view)
    if not local and "NONAME" not in (view.system_error() or "").upper():
        return
    yield _local_nxdomain_finding(view, local)


def _account_not_found(view: LocalView) -> Finding:
    public = view.public()
    server = public.server if public else "public DNS"
    return Finding(
        cause_id="svc.account_not_found",
        checks=("public_dns",),
        detail=(
            f"Public DNS ({server}) answers NXDOMAIN for {view.host}: no account has the custom "
            f"subdomain '{view.label}' on {view.target.cloud.name}, so no private zone can be hiding it."
        ),
        candidates=("dns.subdomain_mismatch", "svc.wrong_account_or_cloud"),
    )


def _local_nxdomain(view: LocalView) -> list[ServerAnswer]:
    local = [i for i in view.configured() if answer_kind(i.answer) == "nxdomain"]
    azure = view.azure_dns()
    if azure is not None and answer_kind(azure.answer) == "nxdomain":
        local.append(azure)
    return local


def _local_nxdomain_finding(view: LocalView, local: list[ServerAnswer]) -> Finding:
    public_known = view.ev.fact("local.public_dns_knows_name").is_true()
    private_zone = [i for i in local if (i.answer.soa_mname or "").rstrip(".") == AZURE_PRIVATE_SOA]
    where = ", ".join(dict.fromkeys(i.server for i in local)) or "the system resolver"
    seen = "while public DNS answers it" if public_known else "(public DNS did not tell whether the name exists)"
    if private_zone:
        detail = (
            f"{view.host} is NXDOMAIN at {where} {seen}; the negative answer comes from an Azure private zone "
            f"(SOA {AZURE_PRIVATE_SOA}) that has no record '{view.label}'."
        )
        candidates: tuple[str, ...] = ("dns.record_missing", "dns.duplicate_zones", "dns.public_zone_shadowed")
        if public_known:
            # Another tenant's endpoint only matters for a name the internet knows.
            candidates = (*candidates, "dns.cross_tenant_nxdomain")
    else:
        detail = f"{view.host} is NXDOMAIN at {where} {seen}."
        candidates = ("dns.public_zone_shadowed", "dns.cache_stale", "dns.record_missing")
    if not public_known:
        candidates = (*candidates, "svc.account_not_found", "dns.subdomain_mismatch")
    checks = ("dns_nameservers" if local else "system_resolution", *(("public_dns",) if public_known else ()))
    return Finding(cause_id="dns.nxdomain", checks=checks, detail=f"{detail} {DECIDE}", candidates=candidates)


def resolver_servfail(ev: Evidence) -> Iterator[Finding]:
    """The machine's own DNS server answers SERVFAIL for the host and no configured server gives an address."""
    view = LocalView(ev)
    failing = ev.fact("local.servfail_servers")
    if not failing.is_true() or view.app_addresses() or view.hosts_entries():
        return
    items = view.configured()
    if any(answer_kind(i.answer) in ("private", "public", "mixed") for i in items):
        return
    servers = ", ".join(lf.names_of(failing))
    public_known = ev.fact("local.public_dns_knows_name")
    if public_known.is_false():
        return  # no account has the name: svc.account_not_found tells that story
    seen = (
        "Public DNS answers the name, so the break is on this machine's DNS path"
        if public_known.is_true()
        else "Public DNS did not answer, so whether the name exists elsewhere is unknown"
    )
    first = server_host((lf.names_of(failing) or ("?",))[0])
    yield Finding(
        cause_id="dns.resolver_servfail",
        checks=("dns_nameservers", *(("public_dns",) if public_known.known else ())),
        detail=(
            f"DNS server {servers} answers SERVFAIL for {view.host}: it accepted the question but could not get an "
            f"answer upstream ({'; '.join(_describe(i) for i in items)}). {seen}."
        ),
        candidates=_servfail_candidates(view, first),
        decide=_servfail_decide(view, first),
    )


def _servfail_decide(view: LocalView, server: str) -> str:
    dnssec = f"`dig @{server} {view.host} +cd` answering means DNSSEC validation fails"
    if server == AZURE_DNS_IP:
        # Azure DNS forwards a domain only when a DNS forwarding ruleset linked to the VNet says so
        # (https://learn.microsoft.com/azure/dns/private-resolver-endpoints-rulesets).
        return (
            f"Azure DNS fails only when it forwards: check the DNS forwarding rulesets linked to this VNet for a rule "
            f"covering {view.target.suffix} whose target no longer answers; {dnssec}."
        )
    return (
        f"On {server}: check where it forwards {view.target.suffix} and privatelink.{view.target.suffix} and that "
        f"those targets answer (a conditional forwarder to a retired resolver or inbound endpoint is the usual "
        f"cause); {dnssec}; the server's own log shows an unreachable upstream."
    )


def _servfail_candidates(view: LocalView, server: str) -> tuple[str, ...]:
    if server == AZURE_DNS_IP:
        return ()
    if view.on_azure:
        return ("dns.firewall_dns_proxy_blind",)
    return ("dns.onprem_no_resolver_path",)


def sibling_names(ev: Evidence) -> Iterator[Finding]:
    """Names of the account other than the host resolve publicly here while the host resolves privately.

    Judged by whether the account's clients use those names: an AI Services (Foundry) account is used through all
    of them (https://learn.microsoft.com/azure/ai-foundry/how-to/configure-private-link), an OpenAI account through
    its openai name only. When the kind is unknown, the public names are reported as a warning with what would
    decide.
    """
    view = LocalView(ev)
    if ev.fact("local.app_address_kind").value is not AnswerKind.PRIVATE or not _dns_gives_private(view):
        return
    public_names = _public_siblings(ev)
    if not public_names:
        return
    in_use = ev.fact("local.names_in_use")
    if in_use.known:
        used = [n for n in public_names if n in lf.names_of(in_use)]
        if used:
            yield _sibling_zone_missing(view, used, in_use)
        return
    kind = ev.fact("local.account_kind")
    yield Finding(
        cause_id="dns.sibling_names_public",
        checks=("system_resolution", *(("public_dns",) if ev.has("public_dns") else ())),
        detail=(
            f"{view.host} resolves privately, but the account's other names resolve publicly here "
            f"({_sibling_text(ev, public_names)}) although a private endpoint serves them. Whether that matters depends "
            f"on the account's kind, which is {kind.describe()}."
        ),
        candidates=("dns.sibling_zone_missing",),
        decide=kind.decide,
    )


def _dns_gives_private(view: LocalView) -> bool:
    """DNS itself (not a hosts entry) gives the host a private address: its zone works for this machine."""
    addresses, _ = view.dns_addresses()
    private, other = split_addresses(addresses)
    return bool(private) and not other


def _public_siblings(ev: Evidence) -> list[str]:
    """Names other than the host that the OS resolver gives a public address while a private endpoint serves them."""
    rows = lf.name_answers(ev)
    found = []
    for name in ev.target.names[1:]:
        system = lf.answers_for(rows, name, lf.Resolver.SYSTEM)
        if (
            system
            and system[0].kind in (AnswerKind.PUBLIC, AnswerKind.MIXED)
            and lf.endpoint_serves(ev, name).is_true()
        ):
            found.append(name)
    return found


def _sibling_text(ev: Evidence, names: list[str]) -> str:
    rows = lf.name_answers(ev)
    return "; ".join(f"{n} -> {fmt_addresses(lf.answers_for(rows, n, lf.Resolver.SYSTEM)[0].addresses)}" for n in names)


def _sibling_zone_missing(view: LocalView, used: list[str], in_use: object) -> Finding:
    kind = view.ev.fact("local.account_kind")
    zones = [f"privatelink.{n.split('.', 1)[1]}" for n in used]
    return Finding(
        cause_id="dns.sibling_zone_missing",
        checks=("system_resolution", "public_dns", *(s for s in kind.sources if s == "arm_account")),
        detail=(
            f"{view.host} resolves privately, but {_sibling_text(view.ev, used)} resolve publicly although the "
            f"account ({kind.describe()}) has a private endpoint and its clients use those names: "
            f"{', '.join(zones)} {'is' if len(zones) == 1 else 'are'} missing or not linked for this machine's "
            "resolver, so those calls go public."
        ),
        remediation=fill(
            "dns.sibling_zone_missing",
            variant="local",
            zones=", ".join(zones),
            zone_config=zones[0].replace(".", "-"),
        ),
    )


# A server that sent nothing usable back: a SERVFAIL is an answer (the server is reachable), these are not.
_NO_ANSWER = (*SILENT, AnswerKind.REFUSED, AnswerKind.ERROR)


def resolver_unreachable(ev: Evidence) -> Iterator[Finding]:
    """No configured DNS server answers at all."""
    view = LocalView(ev)
    if ev.has("resolver_config") and ev.ran("resolver_config") and not ev.of(ResolverConfig).nameservers:
        yield Finding(
            cause_id="dns.resolver_unreachable",
            checks=("resolver_config",),
            detail="No DNS server is configured on this machine, so nothing can resolve the account host.",
        )
        return
    if view.app_addresses() or view.hosts_entries() or ev.fact("local.reaches_nothing").is_true():
        return
    items = view.configured()
    if items and all(classify_dns(i.answer) in _NO_ANSWER for i in items):
        yield Finding(
            cause_id="dns.resolver_unreachable",
            checks=("dns_nameservers",),
            detail=f"Every configured DNS server failed for {view.host}: {'; '.join(_describe(i) for i in items)}.",
        )
        return
    if not items and (view.system_error() or "").lower().startswith("timeout"):
        yield Finding(
            cause_id="dns.resolver_unreachable",
            checks=("system_resolution",),
            detail=f"The system resolver timed out resolving {view.host}.",
        )


def truncation_no_tcp(ev: Evidence) -> Iterator[Finding]:
    """A truncated UDP answer that is not retried over TCP (musl, some DNS proxies)."""
    view = LocalView(ev)
    app_failed = not view.app_addresses() and ev.ran("system_resolution")
    for item in view.configured():
        if not item.answer.truncated_udp:
            continue
        retry = item.answer.tcp_retry
        if retry == "failed" or app_failed:
            how = "the retry over TCP failed" if retry == "failed" else "the system resolver still got no address"
            yield Finding(
                cause_id="dns.truncation_no_tcp",
                checks=("dns_nameservers", "system_resolution") if app_failed else ("dns_nameservers",),
                detail=(f"DNS server {item.server} returned a truncated UDP answer for {view.host} and {how}."),
            )
            return


def ipv6_public_aaaa(ev: Evidence) -> Iterator[Finding]:
    """A non-private IPv6 address next to the private IPv4 one: dual-stack clients may prefer it."""
    view = LocalView(ev)
    app_private, app_other = split_addresses(view.app_addresses())
    v6 = [a for a in app_other if ":" in a]
    source = "The system resolver"
    has_private_v4 = any(":" not in a for a in app_private)
    if not v6:
        for item in view.configured():
            private = split_addresses(answer_addresses(item.answer))[0]
            other6 = split_addresses(item.answer.addresses6)[1]
            if private and other6:
                v6, source, has_private_v4 = other6, f"DNS server {item.server}", True
                break
    if not v6 or not has_private_v4:
        return
    yield Finding(
        cause_id="dns.ipv6_public_aaaa",
        checks=("system_resolution",) if source == "The system resolver" else ("dns_nameservers",),
        detail=(
            f"{source} returns the non-private IPv6 {fmt_addresses(v6)} for {view.host} next to the private IPv4 "
            "address; Cognitive Services private endpoints are IPv4-only, so that AAAA leaves by another path."
        ),
    )


RULES = (
    resolves_public,
    custom_server_no_forwarder,
    conditional_forwarder_wrong_zone,
    resolver_disagreement,
    hosts_override,
    hosts_workaround,
    nxdomain,
    resolver_servfail,
    sibling_names,
    resolver_unreachable,
    truncation_no_tcp,
    ipv6_public_aaaa,
)
