"""The one judgement of a DNS answer: is it private? Probes (their status) and the diagnosis (its facts) both call
`classify_dns` / `classify_system`; nothing else decides it.

The dual-stack rule: an answer is `private` when it has at least one address and every address it gives, A and
AAAA alike, is private; private and non-private addresses together are `mixed`, never private. A dual-stack client
prefers an IPv6 destination when it has IPv6 connectivity (RFC 6724, section 6), so a public AAAA beside a private
A sends it to the public front door; a private endpoint answers with IPv4 only
(https://learn.microsoft.com/azure/private-link/private-endpoint-overview#limitations), so a public AAAA never
belongs to it. Link-local and unparsable entries count as non-private.

Why a query failed is carried as the answer's `outcome` (`timeout`, `unreachable`, `servfail`, ...), set where
the failure was observed (the errno of the send or the ICMP error, aoai_diag/net/dnsquery.py), never read back
from error text.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from aoai_diag.evidence.dns import DnsAnswer, NameResult
from aoai_diag.net.addresses import class_or_none


class AnswerKind(str, enum.Enum):
    """How one resolver answered one name."""

    PRIVATE = "private"
    PUBLIC = "public"
    MIXED = "mixed"
    """Private and non-private addresses together."""
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    """The query could not be sent or was rejected by the network (no route, ICMP unreachable, connection refused)."""
    ERROR = "error"


ANSWERED = (AnswerKind.PRIVATE, AnswerKind.PUBLIC, AnswerKind.MIXED)
SILENT = (AnswerKind.TIMEOUT, AnswerKind.UNREACHABLE)
"""Nothing came back: the resolver was never reached, or never answered."""
_OUTCOMES = {k.value for k in AnswerKind}


def split_addresses(addresses: Iterable[object]) -> tuple[list[str], list[str]]:
    """(private, non-private) addresses; link-local and unparsable entries count as non-private."""
    private: list[str] = []
    other: list[str] = []
    for item in addresses:
        address = str(item)
        (private if class_or_none(address) == "private" else other).append(address)
    return private, other


def kind_of_addresses(addresses: Iterable[object]) -> AnswerKind | None:
    """PRIVATE, PUBLIC or MIXED for a non-empty list of addresses (A and AAAA together); None when empty."""
    private, other = split_addresses(addresses)
    if private and other:
        return AnswerKind.MIXED
    if private:
        return AnswerKind.PRIVATE
    return AnswerKind.PUBLIC if other else None


def classify_dns(answer: DnsAnswer) -> AnswerKind:
    """The kind of one DNS answer as the probes record it (docs/evidence.md, DnsAnswer)."""
    outcome = answer.outcome or "error"
    if outcome == "answer":
        return kind_of_addresses([*answer.addresses, *answer.addresses6]) or AnswerKind.NODATA
    return AnswerKind(outcome) if outcome in _OUTCOMES else AnswerKind.ERROR


def classify_system(entry: NameResult) -> AnswerKind:
    """The kind of one getaddrinfo result (system_resolution `results[name]`: both families together)."""
    kind = kind_of_addresses(entry.addresses)
    if kind is not None:
        return kind
    error = (entry.error or "").upper()
    if error == "TIMEOUT":
        return AnswerKind.TIMEOUT
    if "NONAME" in error:  # the EAI_* code name the probe records (system_resolution._gai_error)
        return AnswerKind.NXDOMAIN
    if "NODATA" in error:
        return AnswerKind.NODATA
    # EAI_AGAIN: the stub resolver got no usable answer (SERVFAIL and silence look alike from here).
    return AnswerKind.ERROR
