"""Read the local probes' typed evidence (aoai_diag/evidence) into the few facts the local rules reason about.

Everything here is pure: the evidence types guarantee every field's shape (a bundle that does not fit them is refused
when it is read), so a probe that did not run reads as its type at defaults: "not observed", never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aoai_diag import catalogue
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.evidence.answers import (
    ANSWERED,
    AnswerKind,
    classify_dns,
)
from aoai_diag.evidence.dns import (
    AzureDns,
    DnsAnswer,
    DnsNameservers,
    HostsEntry,
    HostsFile,
    NameResult,
    PublicDns,
    ServerAnswers,
    SystemResolution,
)
from aoai_diag.evidence.host import AppHost
from aoai_diag.evidence.path import (
    AzurePlatform,
    HttpAttempt,
    HttpsDataplane,
    KernelRoute,
    ProxySettings,
    RouteLookup,
    TcpAttempt,
    TcpConnect,
    TlsAttempt,
    TlsHandshake,
)

# 168.63.129.16 is Azure's recursive resolver; a server entry may carry a port ("ip:port").
AZURE_DNS_IP = "168.63.129.16"


def answer_addresses(answer: DnsAnswer | None) -> list[str]:
    if answer is None or answer.outcome != "answer":
        return []
    return list(answer.addresses)


def answer_kind(answer: DnsAnswer | None) -> str | None:
    """`private`, `public`, `mixed`, `nxdomain`, `nodata`, `failed` (servfail/refused/timeout/unreachable/error) or
    None (no answer recorded): `classify_dns` with the failures folded into one word."""
    if answer is None or not answer.outcome:
        return None
    kind = classify_dns(answer)
    return kind.value if kind in (*ANSWERED, AnswerKind.NXDOMAIN, AnswerKind.NODATA) else "failed"


def has_privatelink_hop(chain: Sequence[str], name: str) -> bool:
    """`chain` (the name first) passes `<label>.privatelink.<suffix>`: the sign of a private endpoint for `name`.

    A resource with a private endpoint never loses that hop on public DNS
    (https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link).
    """
    label = name.partition(".")[0]
    return any(hop.startswith(f"{label}.privatelink.") for hop in chain[1:])


def server_host(server: str) -> str:
    """`168.63.129.16` for `168.63.129.16:53`, `::1` for `[::1]:53`."""
    if server.startswith("["):
        return server[1:].split("]", 1)[0]
    if server.count(":") == 1:
        return server.split(":", 1)[0]
    return server


def fmt_addresses(addresses: Iterable[str]) -> str:
    shown = list(addresses)
    return ", ".join(shown) if shown else "no address"


@dataclass(frozen=True)
class ServerAnswer:
    server: str
    """`ip:port` as the probe recorded it."""
    answer: DnsAnswer


fill = catalogue.fill
"""The catalogue remediation with `<placeholders>` replaced by this instance's values (catalogue.fill)."""


class LocalView:
    """Facts derived from one target's local evidence."""

    def __init__(self, ev: Evidence) -> None:
        self.ev = ev
        self.target = ev.target
        self.host = ev.target.host
        self.label = ev.target.label
        self.privatelink_host = ev.target.privatelink_name()

    # --- where the facts come from -------------------------------------------------------------

    @staticmethod
    def _answers_from(servers: Iterable[ServerAnswers], name: str) -> list[ServerAnswer]:
        return [ServerAnswer(entry.server, entry.answers[name]) for entry in servers if name in entry.answers]

    def configured(self, name: str | None = None) -> list[ServerAnswer]:
        """Each configured DNS server's answer for `name` (the primary host by default)."""
        if not self.ev.ran("dns_nameservers"):
            return []
        return self._answers_from(self.ev.of(DnsNameservers).servers, name or self.host)

    def azure_dns(self, name: str | None = None) -> ServerAnswer | None:
        if not self.ev.ran("azure_dns"):
            return None
        data = self.ev.of(AzureDns)
        answer = data.answers.get(name or self.host)
        if answer is None:
            return None
        return ServerAnswer(data.server if data.server is not None else AZURE_DNS_IP, answer)

    def public(self, name: str | None = None) -> ServerAnswer | None:
        """The public resolver's answer that the probe relied on (the one that answered)."""
        if not self.ev.ran("public_dns"):
            return None
        data = self.ev.of(PublicDns)
        answers = self._answers_from(data.servers, name or self.host)
        for item in answers:
            if item.server == data.answered_by:
                return item
        usable = [a for a in answers if answer_kind(a.answer) not in ("failed", None)]
        return usable[0] if usable else None

    @property
    def on_azure(self) -> bool:
        """IMDS answered, or the app host's platform says Azure (App Service, Container Apps, Azure ML and AKS pods
        have no IMDS of their own to ask, or may not reach it): such a host is never "off Azure"."""
        return self.ev.of(AzurePlatform).on_azure is True or self.ev.of(AppHost).on_azure is True

    @property
    def app_host(self) -> str | None:
        """Where the run happened when that is an app host (`app_host`'s description), else None."""
        return self.ev.of(AppHost).description or None

    @property
    def vm_private_ip(self) -> str | None:
        vm = self.ev.of(AzurePlatform).vm
        return vm.private_ip if vm is not None and vm.private_ip else None

    # --- derived facts -------------------------------------------------------------------------

    def chain_has_privatelink(self, answer: DnsAnswer | None) -> bool:
        return answer is not None and has_privatelink_hop(answer.chain, self.host)

    def all_host_answers(self) -> list[ServerAnswer]:
        answers = list(self.configured())
        azure = self.azure_dns()
        if azure:
            answers.append(azure)
        public = self.public()
        if public:
            answers.append(public)
        return answers

    @property
    def pe_exists(self) -> bool | None:
        """True when a privatelink hop was seen (a private endpoint exists), False when public DNS shows none, None
        when unknown: the fact `local.pe_exists` (diagnosis/local_facts.pe_exists), the one judgement."""
        fact = self.ev.fact("local.pe_exists")
        return bool(fact.value) if fact.known else None

    def system_result(self) -> NameResult | None:
        if not self.ev.ran("system_resolution"):
            return None
        return self.ev.of(SystemResolution).results.get(self.host)

    def app_addresses(self) -> list[str]:
        """What applications get from getaddrinfo for the primary host (empty when it did not resolve)."""
        if not self.ev.ran("system_resolution"):
            return []
        entry = self.system_result()
        if entry is not None:
            return list(entry.addresses)
        return list(self.ev.of(SystemResolution).addresses)

    def system_error(self) -> str | None:
        entry = self.system_result()
        if entry is not None and entry.error:
            return entry.error
        if self.ev.has("system_resolution") and not self.app_addresses() and self.ev.ran("system_resolution"):
            return "no address"
        return None

    def hosts_entries(self, name: str | None = None) -> list[HostsEntry]:
        if not self.ev.ran("hosts_file"):
            return []
        wanted = name or self.host
        return [e for e in self.ev.of(HostsFile).entries if e.name == wanted]

    def dns_addresses(self) -> tuple[list[str], str]:
        """Addresses DNS (not the hosts file) gives for the primary host, and where they came from."""
        for item in self.configured():
            if answer_kind(item.answer) in ("private", "public", "mixed"):
                return answer_addresses(item.answer), f"DNS server {item.server}"
        azure = self.azure_dns()
        if azure and answer_kind(azure.answer) in ("private", "public", "mixed"):
            return answer_addresses(azure.answer), f"Azure DNS {azure.server}"
        return [], "DNS"

    def resolved(self) -> tuple[list[str], str]:
        """The primary host's addresses the machine's path would use, and their source (for sentences)."""
        if self.hosts_entries():
            return self.dns_addresses()
        addresses = self.app_addresses()
        if addresses:
            return addresses, "the system resolver"
        return self.dns_addresses()

    def routes(self) -> dict[str, KernelRoute]:
        """route_lookup evidence per private address (empty when the probe did not run)."""
        if not self.ev.ran("route_lookup"):
            return {}
        return {r.address: r for r in self.ev.of(RouteLookup).routes}

    def tcp_attempts(self) -> tuple[TcpAttempt, ...]:
        if not self.ev.ran("tcp_connect"):
            return ()
        return self.ev.of(TcpConnect).attempts

    def tcp_port(self) -> int:
        port = self.ev.of(TcpConnect).port
        return port if port is not None else 443

    def tls_attempts(self) -> tuple[TlsAttempt, ...]:
        if not self.ev.ran("tls_handshake"):
            return ()
        return self.ev.of(TlsHandshake).attempts

    def proxy(self) -> ProxySettings | None:
        """The proxy_settings evidence when a proxy applies to the account host."""
        if not self.ev.ran("proxy_settings"):
            return None
        data = self.ev.of(ProxySettings)
        return data if data.applies else None

    def app_attempt(self) -> HttpAttempt | None:
        """The data-plane attempt an application would make (direct or through the proxy)."""
        if not self.ev.ran("https_dataplane"):
            return None
        data = self.ev.of(HttpsDataplane)
        for attempt in data.attempts:
            if attempt.via == data.app_path:
                return attempt
        return data.attempts[0] if data.attempts else None
