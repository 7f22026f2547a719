"""The DNS servers this machine is configured to ask (or the `--resolver` list that replaces them).

dnspython reads /etc/resolv.conf (Linux, macOS) or the registry (Windows). On Windows, VPN clients may steer
names through the NRPT instead, which no nameserver list shows
(https://github.com/dmauser/PrivateLink/tree/master/DNS-Integration-P2S; os_resolvers reads it): system_resolution sees that path.

Evidence: `ResolverConfig` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

import io
import ipaddress
import sys
from collections.abc import Mapping

from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.dns import ResolverConfig, SkippedLine
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.dnsquery import format_endpoint
from aoai_diag.targets import Target

RESOLV_CONF = "/etc/resolv.conf"
MAX_NAMESERVERS = 8
"""Servers kept (and asked by the DNS probes) at most. The C library uses the first 3 (MAXNS, resolv.conf(5));
10,000 listed servers would otherwise be 40,000 questions and exhaust the process's file descriptors."""


def capped(servers: list[str]) -> tuple[list[str], int]:
    """The first MAX_NAMESERVERS of `servers`, and how many were left out."""
    return servers[:MAX_NAMESERVERS], max(0, len(servers) - MAX_NAMESERVERS)


def truncation_note(dropped: int) -> str:
    return f"; truncated: {dropped} more nameservers listed, only the first {MAX_NAMESERVERS} kept" if dropped else ""


class ResolverConfigError(Exception):
    """The system resolver configuration could not be read; the message is one line."""


def unusable_lines(text: str) -> list[SkippedLine]:
    """resolv.conf lines dnspython would refuse, and why: one bad line must not hide the others."""
    import dns.name

    skipped: list[SkippedLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        reason = None
        if fields[0] == "nameserver":
            reason = "no address" if len(fields) < 2 else None if _is_address(fields[1]) else "not an IP address"
        elif fields[0] in ("search", "domain"):
            for name in fields[1:]:
                try:
                    dns.name.from_text(name)
                except Exception as exc:  # dnspython raises a family of DNSException subclasses
                    reason = f"not a domain name: {name[:60]!r} ({exc})"
                    break
        if reason:
            skipped.append(SkippedLine(line=number, text=raw.strip()[:200], reason=reason))
    return skipped


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])  # a link-local server may carry a zone (fe80::1%eth0)
    except ValueError:
        return False
    return True


def read_system_config(path: str | None = None) -> tuple[list[str], list[str]]:
    """(nameservers as "ip:port", search domains) of the system resolver; see read_config."""
    servers, search, _ = read_config(path)
    return servers, search


def read_config(path: str | None = None) -> tuple[list[str], list[str], list[SkippedLine]]:
    """(nameservers as "ip:port", search domains, skipped lines) of the system resolver.

    An empty nameserver list is a valid answer (nothing configured); an unreadable file raises
    ResolverConfigError. Lines that cannot be used are left out and listed (see unusable_lines).
    """
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    skipped: list[SkippedLine] = []
    if sys.platform.startswith("win") and path is None:
        try:
            resolver.read_registry()
        except Exception as exc:
            raise ResolverConfigError(f"cannot read the DNS settings from the registry: {exc}") from None
    else:
        path = path or RESOLV_CONF
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(1024 * 1024)
        except OSError as exc:
            raise ResolverConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        skipped = unusable_lines(text)
        bad = {s.line for s in skipped}
        text = "\n".join(line for n, line in enumerate(text.splitlines(), 1) if n not in bad) + "\n"
        try:
            resolver.read_resolv_conf(io.StringIO(text))
        except dns.resolver.NoResolverConfiguration:
            # dnspython refuses a file without any nameserver line: that is "none configured", not unreadable.
            return [], _search_domains(text), skipped
        except Exception as exc:
            raise ResolverConfigError(f"cannot parse {path}: {exc}") from None
    servers: list[str] = []
    for ns in resolver.nameservers:
        address = str(getattr(ns, "address", ns))
        port = int(getattr(ns, "port", resolver.nameserver_ports.get(address, resolver.port)))
        servers.append(format_endpoint((address, port)))
    search = [name.to_text(omit_final_dot=True) for name in resolver.search]
    return servers, search, skipped


def _search_domains(text: str) -> list[str]:
    found: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in ("search", "domain"):
            found.extend(f.rstrip(".") for f in fields[1:])
    return found


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    if ctx.settings.resolvers:
        servers, dropped = capped([format_endpoint(r) for r in ctx.settings.resolvers])
        evidence = ResolverConfig(source="option", nameservers=tuple(servers), truncated=dropped)
        return Outcome(
            Status.PASS, f"nameservers from --resolver: {', '.join(servers)}{truncation_note(dropped)}", evidence
        )
    path = None if sys.platform.startswith("win") else RESOLV_CONF
    try:
        servers, search, skipped = read_config(path)
    except ResolverConfigError as exc:
        evidence = ResolverConfig(source="system", path=path, error=str(exc))
        return Outcome(Status.ERROR, f"resolver configuration unreadable: {exc}", evidence, str(exc))
    servers, dropped = capped(servers)
    evidence = ResolverConfig(
        source="system",
        nameservers=tuple(servers),
        search=tuple(search),
        path=path,
        skipped=tuple(skipped),
        truncated=dropped,
    )
    note = truncation_note(dropped)
    if skipped:
        first = skipped[0]
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        note += f"; ignored line {first.line} ({first.text!r}: {first.reason}){more}"
    if not servers:
        where = path or "the registry"
        return Outcome(Status.FAIL, f"no DNS server configured in {where}{note}", evidence, "no nameservers")
    return Outcome(Status.PASS, f"system nameservers: {', '.join(servers)}{note}", evidence)


run = blocking_body(collect)


PROBE = Probe(id="resolver_config", title="Configured DNS servers", evidence=ResolverConfig, stage=0, run=run)
