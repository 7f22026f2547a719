"""Read the local probes' evidence (docs/evidence.md) into the few facts the local rules reason about.

Everything here is pure and tolerant: evidence from a saved bundle may be partial or odd, so a missing or
malformed field reads as "not observed", never as an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aoai_diag import catalogue
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.evidence.answers import (
    ANSWERED,
    AnswerKind,
    classify_dns,
)

# 168.63.129.16 is Azure's recursive resolver; a server entry may carry a port ("ip:port").
AZURE_DNS_IP = "168.63.129.16"

DnsAnswer = Mapping[str, Any]


def answer_addresses(answer: DnsAnswer | None) -> list[str]:
    if not answer or answer.get("outcome") != "answer":
        return []
    return [str(a) for a in answer.get("addresses") or []]


def answer_kind(answer: DnsAnswer | None) -> str | None:
    """`private`, `public`, `mixed`, `nxdomain`, `nodata`, `failed` (servfail/refused/timeout/unreachable/error) or
    None: `classify_dns` with the failures folded into one word."""
    if not answer:
        return None
    if not answer.get("outcome"):
        return None
    kind = classify_dns(answer)
    return kind.value if kind in (*ANSWERED, AnswerKind.NXDOMAIN, AnswerKind.NODATA) else "failed"


def has_privatelink_hop(chain: Sequence[object], name: str) -> bool:
    """`chain` (the name first) passes `<label>.privatelink.<suffix>`: the sign of a private endpoint for `name`.

    A resource with a private endpoint never loses that hop on public DNS
    (https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link).
    """
    label = name.partition(".")[0]
    return any(str(hop).startswith(f"{label}.privatelink.") for hop in list(chain)[1:])


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

    def _answers_from(self, servers: object, name: str) -> list[ServerAnswer]:
        found: list[ServerAnswer] = []
        if not isinstance(servers, list):
            return found
        for entry in servers:
            if not isinstance(entry, Mapping):
                continue
            answers = entry.get("answers")
            answer = answers.get(name) if isinstance(answers, Mapping) else None
            if isinstance(answer, Mapping):
                found.append(ServerAnswer(str(entry.get("server", "?")), answer))
        return found

    def configured(self, name: str | None = None) -> list[ServerAnswer]:
        """Each configured DNS server's answer for `name` (the primary host by default)."""
        if not self.ev.ran("dns_nameservers"):
            return []
        return self._answers_from(self.ev.get("dns_nameservers").get("servers"), name or self.host)

    def azure_dns(self, name: str | None = None) -> ServerAnswer | None:
        if not self.ev.ran("azure_dns"):
            return None
        data = self.ev.get("azure_dns")
        answers = data.get("answers")
        answer = answers.get(name or self.host) if isinstance(answers, Mapping) else None
        return ServerAnswer(str(data.get("server", AZURE_DNS_IP)), answer) if isinstance(answer, Mapping) else None

    def public(self, name: str | None = None) -> ServerAnswer | None:
        """The public resolver's answer that the probe relied on (the one that answered)."""
        if not self.ev.ran("public_dns"):
            return None
        data = self.ev.get("public_dns")
        answers = self._answers_from(data.get("servers"), name or self.host)
        by = data.get("answered_by")
        for item in answers:
            if item.server == by:
                return item
        usable = [a for a in answers if answer_kind(a.answer) not in ("failed", None)]
        return usable[0] if usable else None

    @property
    def on_azure(self) -> bool:
        """IMDS answered, or the app host's platform says Azure (App Service, Container Apps, Azure ML and AKS pods
        have no IMDS of their own to ask, or may not reach it): such a host is never "off Azure"."""
        return self.ev.get("azure_platform").get("on_azure") is True or self.ev.get("app_host").get("on_azure") is True

    @property
    def app_host(self) -> str | None:
        """Where the run happened when that is an app host (`app_host`'s description), else None."""
        text = self.ev.get("app_host").get("description")
        return str(text) if text else None

    @property
    def vm_private_ip(self) -> str | None:
        vm = self.ev.get("azure_platform").get("vm")
        return str(vm.get("private_ip")) if isinstance(vm, Mapping) and vm.get("private_ip") else None

    # --- derived facts -------------------------------------------------------------------------

    def chain_has_privatelink(self, answer: DnsAnswer | None) -> bool:
        chain = answer.get("chain") if answer else None
        return isinstance(chain, list) and has_privatelink_hop(chain, self.host)

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

    def system_result(self) -> Mapping[str, Any] | None:
        if not self.ev.ran("system_resolution"):
            return None
        results = self.ev.get("system_resolution").get("results")
        entry = results.get(self.host) if isinstance(results, Mapping) else None
        return entry if isinstance(entry, Mapping) else None

    def app_addresses(self) -> list[str]:
        """What applications get from getaddrinfo for the primary host (empty when it did not resolve)."""
        if not self.ev.ran("system_resolution"):
            return []
        entry = self.system_result()
        if entry is not None and isinstance(entry.get("addresses"), list):
            return [str(a) for a in entry["addresses"]]
        return [str(a) for a in self.ev.get("system_resolution").get("addresses") or []]

    def system_error(self) -> str | None:
        entry = self.system_result()
        if entry is not None and entry.get("error"):
            return str(entry["error"])
        if self.ev.has("system_resolution") and not self.app_addresses() and self.ev.ran("system_resolution"):
            return "no address"
        return None

    def hosts_entries(self, name: str | None = None) -> list[Mapping[str, Any]]:
        entries = self.ev.get("hosts_file").get("entries") if self.ev.ran("hosts_file") else None
        wanted = name or self.host
        if not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, Mapping) and e.get("name") == wanted]

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

    def routes(self) -> dict[str, Mapping[str, Any]]:
        """route_lookup evidence per private address (empty when the probe did not run)."""
        if not self.ev.ran("route_lookup"):
            return {}
        routes = self.ev.get("route_lookup").get("routes")
        if not isinstance(routes, list):
            return {}
        return {str(r.get("address")): r for r in routes if isinstance(r, Mapping)}

    def tcp_attempts(self) -> list[Mapping[str, Any]]:
        if not self.ev.ran("tcp_connect"):
            return []
        attempts = self.ev.get("tcp_connect").get("attempts")
        return [a for a in attempts if isinstance(a, Mapping)] if isinstance(attempts, list) else []

    def tcp_port(self) -> int:
        port = self.ev.get("tcp_connect").get("port")
        return port if isinstance(port, int) else 443

    def tls_attempts(self) -> list[Mapping[str, Any]]:
        if not self.ev.ran("tls_handshake"):
            return []
        attempts = self.ev.get("tls_handshake").get("attempts")
        return [a for a in attempts if isinstance(a, Mapping)] if isinstance(attempts, list) else []

    def proxy(self) -> Mapping[str, Any] | None:
        """The proxy_settings evidence when a proxy applies to the account host."""
        if not self.ev.ran("proxy_settings"):
            return None
        data = self.ev.get("proxy_settings")
        return data if data.get("applies") is True else None

    def app_attempt(self) -> Mapping[str, Any] | None:
        """The data-plane attempt an application would make (direct or through the proxy)."""
        if not self.ev.ran("https_dataplane"):
            return None
        data = self.ev.get("https_dataplane")
        attempts = [a for a in data.get("attempts") or [] if isinstance(a, Mapping)]
        wanted = data.get("app_path")
        for attempt in attempts:
            if attempt.get("via") == wanted:
                return attempt
        return attempts[0] if attempts else None
