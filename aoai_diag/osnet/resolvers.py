"""Which DNS server(s) the OS sends each name to, and the rule that chose them, on every OS.

`read(platform, timeout)` reads the OS configuration once (the thin part); `choose(config, name)` is pure and gives
the `NameChoice` evidence (its answers still to ask), `split_rules(config)` the `SplitRule`s. Kinds: `nrpt` (Windows
NRPT namespace), `scoped` (macOS per-domain resolver), `link_domain` (systemd-resolved link domain), `default` (what
every other name gets).
"""

from __future__ import annotations

from collections.abc import Sequence

from aoai_diag.evidence.osnet import NameChoice, SplitRule
from aoai_diag.osnet import linux, macos, windows
from aoai_diag.osnet.dnsconfig import InterfaceServers, OsDnsConfig
from aoai_diag.osnet.vpnprofile import suffix_covers


def read(platform: str, timeout: float, nameservers: list[str]) -> OsDnsConfig:
    """The OS's per-name DNS rules; `nameservers` is the resolv.conf / registry list already read."""
    if platform == "windows":
        return windows.read_resolver_rules(timeout)
    if platform == "macos":
        return macos.read_resolver_rules(timeout)
    stub = any(ns.split("]")[0].lstrip("[").rsplit(":", 1)[0] in linux.STUB_ADDRESSES for ns in nameservers)
    if platform == "linux" and stub:
        return linux.read_resolver_rules(timeout)
    return OsDnsConfig(platform=platform, source="resolv.conf")


def split_rules(config: OsDnsConfig) -> list[SplitRule]:
    """The per-domain rules (NRPT namespaces, scoped resolvers, link domains other than the catch-all `~.`)."""
    if config.source == "resolvectl":
        return [
            SplitRule(kind="link_domain", match=bare, servers=section.servers, interface=section.interface)
            for section in config.links
            for domain in section.domains
            if (bare := domain.lstrip("~").strip("."))
        ]
    return [
        SplitRule(kind=r.kind, match=r.match, servers=r.servers, interface=r.interface)
        for r in config.rules
        if r.match and r.match.strip(".")
    ]


def choose(config: OsDnsConfig, name: str, nameservers: Sequence[str]) -> NameChoice:
    """The rule that picks the servers for `name` (kind, match, servers, interface, why; its answers are asked by the
    probe); `nameservers` is the resolv.conf / registry list."""
    source = config.source
    if source == "resolvectl" and config.links:
        kind, match, sections = linux.choose(list(config.links), name)
        servers = tuple(dict.fromkeys(s for section in sections for s in section.servers))
        links = [s.interface or "global" for s in sections]
        if match == ".":
            why = f"route-only domain ~. of {', '.join(links)} (every name no longer domain claims)"
        elif match:
            why = f"link domain {match} of {', '.join(links)}"
        else:
            why = f"default route links {', '.join(links)}" if links else "no default route link and no fallback"
        return NameChoice(kind=kind, match=match, servers=servers, interface=", ".join(links), why=why)
    if source == "nrpt":
        matching = [r for r in config.rules if r.match and windows.nrpt_covers(r.match, name)]
        interface_servers, interface_names = _interface_servers(config.interfaces)
        if matching:
            rule = max(matching, key=lambda r: windows.nrpt_rank(str(r.match)))
            namespace = str(rule.match)
            cut = " (the list was cut: further servers unknown)" if rule.truncated else ""
            if rule.exempt:
                # Exempt from the NRPT: the name goes where names without a rule go (kind `default`).
                return NameChoice(
                    kind="default",
                    match=namespace,
                    servers=interface_servers,
                    interface=interface_names,
                    why=f"NRPT exemption {namespace} (no DNS server): the interfaces' DNS servers",
                )
            what = "host rule" if not namespace.startswith(".") else "namespace"
            return NameChoice(
                kind="nrpt",
                match=namespace,
                servers=rule.servers,
                interface=rule.interface,
                why=f"NRPT {what} {namespace}{cut}",
            )
        if config.interfaces:
            return NameChoice(
                kind="default",
                servers=interface_servers,
                interface=interface_names,
                why="no NRPT rule matches: the interfaces' DNS servers",
            )
    if source == "scutil":
        scoped = [(r, r.match) for r in config.rules if r.match is not None and suffix_covers(r.match, name)]
        if scoped:
            # Longest domain wins; a lower `order` breaks a tie.
            rule, domain = max(scoped, key=lambda pair: (len(pair[1].strip(".")), -(pair[0].order or 0)))
            return NameChoice(
                kind=rule.kind,
                match=domain,
                servers=rule.servers,
                interface=rule.interface,
                why=f"scoped resolver for {domain}",
            )
        defaults = [r for r in config.rules if r.match is None]
        if defaults:
            first = defaults[0]
            where = f" ({first.interface})" if first.interface else ""
            return NameChoice(
                kind="default", servers=first.servers, interface=first.interface, why=f"default resolver #1{where}"
            )
    return NameChoice(kind="default", servers=tuple(nameservers), why="the system nameserver list (no per-domain rule)")


def _interface_servers(rows: Sequence[InterfaceServers]) -> tuple[tuple[str, ...], str]:
    """(the interfaces' DNS servers, IPv4 rows first then by interface index; the interfaces that list some)."""
    ordered = sorted(rows, key=lambda r: (r.family != "IPv4", r.index))
    servers = tuple(dict.fromkeys(s for r in ordered for s in r.servers))
    names = list(dict.fromkeys(r.interface for r in ordered if r.servers))
    return servers, ", ".join(names)
