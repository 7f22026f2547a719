"""Facts derived once from what this machine observed: each name of the account, each resolver, its answer.

Every fact is known (with the checks it came from) or unknown (with why), never guessed: a probe that did not run
or could not answer leaves the fact unknown, and rules and catalogue `premises` only act on known facts.

The table behind them is `name_answers`: for every name the account serves and every resolver this machine has
(the OS resolver, each configured DNS server, Azure DNS, the public resolver that answered), the answer's kind.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, is_unknown, known, unknown, unread
from aoai_diag.diagnosis.local_view import AZURE_DNS_IP, LocalView, has_privatelink_hop, server_host
from aoai_diag.evidence.answers import (
    ANSWERED,
    SILENT,
    AnswerKind,
    classify_dns,
    classify_system,
    kind_of_addresses,
)
from aoai_diag.evidence.azure import ArmAccount
from aoai_diag.evidence.dns import AzureDns, DnsAnswer, DnsNameservers, PublicDns, SystemResolution
from aoai_diag.evidence.path import HttpsDataplane, ProxySettings
from aoai_diag.model import Status

if TYPE_CHECKING:
    from typing_extensions import Never


class Resolver(str, enum.Enum):
    """Which of this machine's resolvers gave an answer."""

    SYSTEM = "system"
    """getaddrinfo: what applications get."""
    CONFIGURED = "configured"
    """A DNS server from the machine's resolver configuration, asked directly."""
    AZURE = "azure"
    """Azure-provided DNS (168.63.129.16), asked directly from an Azure VM."""
    PUBLIC = "public"
    """A public resolver: what the internet sees."""


@dataclass(frozen=True)
class NameAnswer:
    """One resolver's answer for one name."""

    name: str
    resolver: Resolver
    server: str
    """`ip:port` of the DNS server, or `system` for getaddrinfo."""
    kind: AnswerKind
    addresses: tuple[str, ...]
    chain: tuple[str, ...] = ()


def _dns_entries(ev: Evidence, resolver: Resolver) -> list[tuple[str, Mapping[str, DnsAnswer]]]:
    """(server, answers-by-name) for every server of one resolver kind whose probe ran."""
    if resolver is Resolver.CONFIGURED and ev.ran("dns_nameservers"):
        servers = ev.of(DnsNameservers).servers
    elif resolver is Resolver.AZURE and ev.ran("azure_dns"):
        data = ev.of(AzureDns)
        return [(data.server if data.server is not None else f"{AZURE_DNS_IP}:53", data.answers)]
    elif resolver is Resolver.PUBLIC and ev.has("public_dns"):
        servers = ev.of(PublicDns).servers
    else:
        return []
    return [(entry.server, entry.answers) for entry in servers]


def name_answers(ev: Evidence) -> tuple[NameAnswer, ...]:
    """Every observed (name, resolver) answer, for every name of the target and its primary privatelink name."""
    table = ev.fact("local.name_answers").value
    # The fact registry stores values as `object`; this fact's function builds only NameAnswer rows.
    return tuple(row for row in table if isinstance(row, NameAnswer)) if isinstance(table, tuple) else ()


@fact("local.name_answers")
def name_answer_table(ev: Evidence) -> Fact[tuple[NameAnswer, ...]]:
    """The table behind `name_answers` (always known: an empty table when no resolver was asked)."""
    names = [*ev.target.names, ev.target.privatelink_name()]
    rows: list[NameAnswer] = []
    if ev.ran("system_resolution"):
        results = ev.of(SystemResolution).results
        for name in names:
            entry = results.get(name)
            if entry is not None:
                rows.append(NameAnswer(name, Resolver.SYSTEM, "system", classify_system(entry), entry.addresses))
    for resolver in (Resolver.CONFIGURED, Resolver.AZURE, Resolver.PUBLIC):
        for server, answers in _dns_entries(ev, resolver):
            for name in names:
                answer = answers.get(name)
                if answer is not None:
                    kind = classify_dns(answer)
                    rows.append(NameAnswer(name, resolver, server, kind, answer.addresses, answer.chain))
    return known(tuple(rows), "system_resolution", "dns_nameservers", "azure_dns", "public_dns")


def names_of(fact: Fact[object]) -> tuple[str, ...]:
    """The names a tuple-of-names fact read by name holds (`local.names_in_use`, `local.servfail_servers`); () when
    unknown."""
    value = fact.value
    return tuple(str(v) for v in value) if isinstance(value, tuple) else ()


def answers_for(rows: tuple[NameAnswer, ...], name: str, *resolvers: Resolver) -> list[NameAnswer]:
    return [r for r in rows if r.name == name and (not resolvers or r.resolver in resolvers)]


# --- public DNS -------------------------------------------------------------------------------------


def _public_answer(ev: Evidence, name: str) -> NameAnswer | Fact[Never]:
    """The answer of the public resolver the probe relied on, or an unknown fact saying why there is none."""
    status = ev.status("public_dns")
    if status is None or status is Status.SKIP:
        missing = unread(ev, "public_dns", decide=_ASK_PUBLIC)
        if missing is not None:
            return missing
    by = ev.of(PublicDns).answered_by
    rows = answers_for(name_answers(ev), name, Resolver.PUBLIC)
    for row in rows:
        if row.server == by:
            return row
    usable = [r for r in rows if r.kind in (*ANSWERED, AnswerKind.NXDOMAIN, AnswerKind.NODATA)]
    if usable:
        return usable[0]
    return unknown(Unknown.FAILED, "public_dns", detail="no public resolver answered", decide=_ASK_PUBLIC)


_ASK_PUBLIC = "A public resolver's answer (nslookup <name> 1.1.1.1) shows whether the name exists."


@fact("local.public_dns_knows_name")
def public_knows_name(ev: Evidence, name: str | None = None) -> Fact[bool]:
    """Public DNS has the name (an answer, even NODATA): an account serves it. NXDOMAIN: no account does."""
    found = _public_answer(ev, name or ev.target.host)
    if isinstance(found, Fact):
        return _public_summary(ev, name) or found
    if found.kind is AnswerKind.NXDOMAIN:
        return known(False, "public_dns")
    if found.kind in (*ANSWERED, AnswerKind.NODATA):
        return known(True, "public_dns")
    return unknown(Unknown.FAILED, "public_dns", detail=f"public DNS answered {found.kind.value}")


def _public_summary(ev: Evidence, name: str | None) -> Fact[bool] | None:
    """The probe's own summary of the host's public answer, for evidence without per-server answers."""
    if name not in (None, ev.target.host) or not ev.ran("public_dns"):
        return None
    data = ev.of(PublicDns)
    if data.public_addresses or data.privatelink_hop is True or data.vnet_proxy is True:
        return known(True, "public_dns")
    return None


@fact("local.privatelink_hop")
def privatelink_hop(ev: Evidence, name: str | None = None) -> Fact[bool]:
    """The public chain of `name` passes `<label>.privatelink.<suffix>` (`has_privatelink_hop`)."""
    name = name or ev.target.host
    found = _public_answer(ev, name)
    if isinstance(found, Fact):
        return found
    if found.kind not in ANSWERED:
        return unknown(Unknown.NOT_APPLICABLE, "public_dns", detail=f"public DNS answered {found.kind.value}")
    return known(has_privatelink_hop(found.chain, name), "public_dns")


def endpoint_serves(ev: Evidence, name: str) -> Fact[bool]:
    """A private endpoint serves `name`: a privatelink hop on any resolver's chain for it (a private zone's answer
    proves it as well as the public one), else what public DNS says."""
    rows = [r for r in name_answers(ev) if r.name == name and has_privatelink_hop(r.chain, name)]
    if rows:
        return known(True, *dict.fromkeys(_SOURCE[r.resolver] for r in rows))
    return privatelink_hop(ev, name)


_SOURCE = {
    Resolver.SYSTEM: "system_resolution",
    Resolver.CONFIGURED: "dns_nameservers",
    Resolver.AZURE: "azure_dns",
    Resolver.PUBLIC: "public_dns",
}


@fact("local.pe_exists")
def pe_exists(ev: Evidence) -> Fact[bool]:
    """The one judgement of "a private endpoint exists for the account" from what this machine resolved
    (LocalView.pe_exists and every rule read it): a privatelink hop on any resolver's chain for the host proves it (a
    private zone's chain as well as the public one); only public DNS can show that there is none.
    """
    view = LocalView(ev)
    hop = ev.of(PublicDns).privatelink_hop if ev.ran("public_dns") else None
    if hop is True or any(view.chain_has_privatelink(a.answer) for a in view.all_host_answers()):
        return known(True, "public_dns")
    if hop is False:
        return known(False, "public_dns")
    return privatelink_hop(ev)


# --- the account and the names its clients use --------------------------------------------------------

AI_SERVICES = "AIServices"
NOT_AI_SERVICES = "not AIServices"
_FOUNDRY_SUFFIX = "services.ai."
_DECIDE_KIND = (
    "The account's kind in Resource Manager (Reader on its subscription) tells whether clients use its "
    "Foundry and Cognitive Services names; `aoai-diag check <name>.services.ai.azure.com` judges that name directly."
)


@fact("local.account_kind")
def account_kind(ev: Evidence) -> Fact[str]:
    """The account's kind: from Resource Manager when read, else from the name the user gave, else from public DNS.

    Only AI Services (Foundry) accounts are served on `<name>.services.ai.<cloud suffix>`
    (https://learn.microsoft.com/azure/ai-foundry/how-to/configure-private-link), so public DNS knowing that name
    says AIServices, and public NXDOMAIN for it (while the account's host exists) says it is not one.
    """
    account = ev.of(ArmAccount).account if ev.has("arm_account") else None
    if account is not None and account.kind:
        return known(account.kind, "arm_account")
    if ev.target.suffix.startswith(_FOUNDRY_SUFFIX):
        return known(AI_SERVICES)  # the user addresses its Foundry name: only AI Services accounts have one
    foundry = [n for n in ev.target.names if n.split(".", 1)[1].startswith(_FOUNDRY_SUFFIX)]
    if not foundry:
        return unknown(Unknown.NOT_APPLICABLE, detail=f"{ev.target.cloud.name} has no Foundry host names")
    knows = public_knows_name(ev, foundry[0])
    host_known = public_knows_name(ev)
    if knows.is_true():
        return known(AI_SERVICES, "public_dns")
    if knows.is_false() and host_known.is_true():
        return known(NOT_AI_SERVICES, "public_dns")
    why = knows.why if not knows.known and knows.why else Unknown.NOT_READ
    return unknown(
        why, "arm_account", "public_dns", detail="neither Resource Manager nor public DNS told", decide=_DECIDE_KIND
    )


@fact("local.names_in_use")
def names_in_use(ev: Evidence) -> Fact[tuple[str, ...]]:
    """The names the account's clients use: the host the user gave, and for an AI Services account every name it
    serves (OpenAI, Cognitive Services and Foundry SDKs each use their own). Other names are evidence only."""
    host = ev.target.host
    kind = account_kind(ev)
    if not kind.known:
        return unknown(kind.why or Unknown.NOT_READ, *kind.sources, detail=kind.detail, decide=kind.decide)
    if kind.value != AI_SERVICES:
        return known((host,), *kind.sources)
    account = ev.of(ArmAccount).account if ev.has("arm_account") else None
    hosts = account.endpoint_hosts if account is not None else ()
    served = [h.lower() for h in hosts] if hosts else list(ev.target.names)
    return known(tuple(dict.fromkeys([host, *(n for n in ev.target.names if n in served)])), *kind.sources)


# --- this machine's resolvers ----------------------------------------------------------------------


def is_forwarder(server: str) -> bool:
    """A configured server that is not Azure DNS itself: whatever it knows of private zones it learns by forwarding."""
    return server_host(server) != AZURE_DNS_IP


@fact("local.servfail_servers")
def servfail_servers(ev: Evidence) -> Fact[tuple[str, ...]]:
    """The configured servers that answer SERVFAIL for the host (empty when none does)."""
    if not ev.ran("dns_nameservers"):
        return unknown(Unknown.NOT_READ, "dns_nameservers", detail="the configured DNS servers were not asked")
    rows = answers_for(name_answers(ev), ev.target.host, Resolver.CONFIGURED)
    return known(tuple(r.server for r in rows if r.kind is AnswerKind.SERVFAIL), "dns_nameservers")


@fact("local.app_address_kind")
def app_address_kind(ev: Evidence) -> Fact[AnswerKind | None]:
    """What applications get for the host from the OS resolver (an AnswerKind; None: no address parsed)."""
    if not ev.ran("system_resolution"):
        return unknown(Unknown.NOT_READ, "system_resolution")
    rows = answers_for(name_answers(ev), ev.target.host, Resolver.SYSTEM)
    if not rows:
        addresses = ev.of(SystemResolution).addresses
        if not addresses:
            return unknown(Unknown.FAILED, "system_resolution", detail="no result for the host")
        return known(kind_of_addresses(addresses))
    return known(rows[0].kind, "system_resolution")


@fact("local.app_path")
def app_path(ev: Evidence) -> Fact[str]:
    """How an application reaches the host: `proxy` when a proxy applies to it, else `direct`."""
    if not ev.ran("proxy_settings"):
        return unknown(Unknown.NOT_READ, "proxy_settings")
    return known("proxy" if ev.of(ProxySettings).applies else "direct", "proxy_settings")


# --- does this machine reach anything at all -------------------------------------------------------------


@dataclass(frozen=True)
class Silence:
    """What was tried and came back with nothing (for the no-network finding's detail)."""

    resolvers: tuple[str, ...]
    public: tuple[str, ...]
    addresses: tuple[str, ...]


# A refused connection is an answer too: a host sent the RST.
_SOMETHING_ANSWERED = ("connected", "refused")


def _dataplane_answered(view: LocalView) -> bool:
    if not view.ev.has("https_dataplane"):
        return False
    silent = ("timeout", "unreachable", "error")
    return any(a.outcome and a.outcome not in silent for a in view.ev.of(HttpsDataplane).attempts)


@fact("local.reaches_nothing")
def reaches_nothing(ev: Evidence) -> Fact[bool | Silence]:
    """Every resolver (configured, Azure, public) and every address this machine tried stayed silent.

    Known True only when public DNS was asked and failed too: a dead local resolver with a working internet path is
    a DNS problem, not a missing network. The value is a `Silence` when true.
    """
    if not ev.has("public_dns"):
        return unknown(Unknown.NOT_READ, detail="public DNS was not asked", decide=_ASK_PUBLIC)
    rows = name_answers(ev)
    host = ev.target.host
    public = answers_for(rows, host, Resolver.PUBLIC)
    local = answers_for(rows, host, Resolver.CONFIGURED, Resolver.AZURE)
    if not public or not local:
        return unknown(Unknown.NOT_READ, "public_dns", "dns_nameservers", detail="no resolver was asked")
    sources = ("public_dns", "dns_nameservers")
    if any(r.kind not in (*SILENT, AnswerKind.ERROR) for r in rows if r.resolver is not Resolver.SYSTEM):
        return known(False, *sources)
    view = LocalView(ev)
    attempts = view.tcp_attempts()
    if any(a.outcome in _SOMETHING_ANSWERED for a in attempts):
        return known(False, *sources, "tcp_connect")
    if _dataplane_answered(view):
        # A proxy reached by address can carry the traffic while every resolver is silent.
        return known(False, *sources, "https_dataplane")
    if not any(r.kind in SILENT for r in public) or not any(r.kind in SILENT for r in local):
        # Errors other than silence (garbage answers) mean something answered.
        return known(False, *sources)
    silence = Silence(
        resolvers=tuple(dict.fromkeys(f"{r.server} {r.kind.value}" for r in local)),
        public=tuple(dict.fromkeys(f"{r.server} {r.kind.value}" for r in public)),
        addresses=tuple(f"{a.address} {a.outcome}" for a in attempts),
    )
    return known(silence, *sources, *(("tcp_connect",) if attempts else ()))


@fact("local.public_nxdomain")
def public_nxdomain(ev: Evidence) -> Fact[bool]:
    """Public DNS answers NXDOMAIN for the host: no account has this name (the premise of svc.account_not_found)."""
    knows = public_knows_name(ev)
    if not knows.known:
        return knows
    return known(knows.is_false(), *knows.sources)


@fact("local.sibling_names_in_use")
def sibling_names_in_use(ev: Evidence) -> Fact[bool]:
    """The account's clients use names other than the host (an AI Services account)."""
    in_use = names_in_use(ev)
    if is_unknown(in_use):
        return in_use
    return known(len(in_use.value or ()) > 1, *in_use.sources)
