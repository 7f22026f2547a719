"""The DNS servers this machine is configured to ask (or the `--resolver` list that replaces them).

dnspython reads /etc/resolv.conf (Linux, macOS) or the registry (Windows). On Windows, VPN clients may steer
names through the NRPT instead, which no nameserver list shows (dns-facts.md §7,
https://github.com/dmauser/PrivateLink/tree/master/DNS-Integration-P2S): system_resolution sees that path.

Evidence:
    source ("system" | "option"): where the list came from.
    nameservers (list of "ip:port"): in the configured order; IPv6 as "[::1]:53".
    search (list of str): search domains.
    path (str | null): file read, when one was.
    error (str | null): why the configuration could not be read.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping

from aoai_diag.checks.base import Probe
from aoai_diag.context import ProbeContext
from aoai_diag.dnsquery import format_endpoint
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

RESOLV_CONF = "/etc/resolv.conf"


class ResolverConfigError(Exception):
    """The system resolver configuration could not be read; the message is one line."""


def read_system_config(path: str | None = None) -> tuple[list[str], list[str]]:
    """(nameservers as "ip:port", search domains) of the system resolver.

    An empty nameserver list is a valid answer (nothing configured); an unreadable file raises
    ResolverConfigError.
    """
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
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
        try:
            resolver.read_resolv_conf(io.StringIO(text))
        except dns.resolver.NoResolverConfiguration:
            # dnspython refuses a file without any nameserver line: that is "none configured", not unreadable.
            return [], _search_domains(text)
        except Exception as exc:
            raise ResolverConfigError(f"cannot parse {path}: {exc}") from None
    servers: list[str] = []
    for ns in resolver.nameservers:
        address = str(getattr(ns, "address", ns))
        port = int(getattr(ns, "port", resolver.nameserver_ports.get(address, resolver.port)))
        servers.append(format_endpoint((address, port)))
    search = [name.to_text(omit_final_dot=True) for name in resolver.search]
    return servers, search


def _search_domains(text: str) -> list[str]:
    found: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in ("search", "domain"):
            found.extend(f.rstrip(".") for f in fields[1:])
    return found


def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    if ctx.settings.resolvers:
        servers = [format_endpoint(r) for r in ctx.settings.resolvers]
        evidence = {"source": "option", "nameservers": servers, "search": [], "path": None, "error": None}
        return Outcome(Status.PASS, f"nameservers from --resolver: {', '.join(servers)}", evidence)
    path = None if sys.platform.startswith("win") else RESOLV_CONF
    try:
        servers, search = read_system_config(path)
    except ResolverConfigError as exc:
        evidence = {"source": "system", "nameservers": [], "search": [], "path": path, "error": str(exc)}
        return Outcome(Status.ERROR, f"resolver configuration unreadable: {exc}", evidence, str(exc))
    evidence = {"source": "system", "nameservers": servers, "search": search, "path": path, "error": None}
    if not servers:
        where = path or "the registry"
        return Outcome(Status.FAIL, f"no DNS server configured in {where}", evidence, "no nameservers")
    return Outcome(Status.PASS, f"system nameservers: {', '.join(servers)}", evidence)


PROBE = Probe(id="resolver_config", title="Configured DNS servers", run=run)
