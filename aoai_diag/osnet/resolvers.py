"""Which DNS server(s) the OS sends each name to, and the rule that chose them, on every OS.

`read(platform, timeout)` reads the OS configuration once (the thin part); `choose(config, name)` is pure and gives
the `NameChoice` evidence (its answers still to ask), `split_rules(config)` the `SplitRule`s. Kinds: `nrpt` (Windows
NRPT namespace), `scoped` (macOS per-domain resolver), `link_domain` (systemd-resolved link domain), `default` (what
every other name gets).
"""

from __future__ import annotations

from typing import Any

from aoai_diag.evidence.osnet import NameChoice, SplitRule
from aoai_diag.osnet import linux, macos, windows
from aoai_diag.osnet.vpnprofile import suffix_covers


def read(platform: str, timeout: float, nameservers: list[str]) -> dict[str, Any]:
    """{platform, source, rules, interfaces, errors}; `nameservers` is the resolv.conf / registry list already read."""
    if platform == "windows":
        found = windows.read_resolver_rules(timeout)
        return {"platform": platform, "source": "nrpt", **found}
    if platform == "macos":
        found = macos.read_resolver_rules(timeout)
        return {"platform": platform, "source": "scutil", **found}
    stub = any(ns.split("]")[0].lstrip("[").rsplit(":", 1)[0] in linux.STUB_ADDRESSES for ns in nameservers)
    if platform == "linux" and stub:
        found = linux.read_resolver_rules(timeout)
        return {"platform": platform, "source": "resolvectl", **found}
    return {"platform": platform, "source": "resolv.conf", "rules": [], "interfaces": [], "errors": []}


def split_rules(config: dict[str, Any]) -> list[SplitRule]:
    """The per-domain rules (NRPT namespaces, scoped resolvers, link domains other than the catch-all `~.`)."""
    if config["source"] == "resolvectl":
        found = []
        for section in config["rules"]:
            for domain in section["domains"]:
                bare = domain.lstrip("~").strip(".")
                if bare:
                    found.append(
                        SplitRule(
                            kind="link_domain",
                            match=bare,
                            servers=tuple(section["servers"]),
                            interface=section["interface"],
                        )
                    )
        return found
    return [
        SplitRule(kind=r["kind"], match=r["match"], servers=tuple(r["servers"]), interface=r.get("interface"))
        for r in config["rules"]
        if r.get("match") and r["match"].strip(".")
    ]


def choose(config: dict[str, Any], name: str, nameservers: list[str]) -> NameChoice:
    """The rule that picks the servers for `name` (kind, match, servers, interface, why; its answers are asked by the
    probe); `nameservers` is the resolv.conf / registry list."""
    source = config["source"]
    if source == "resolvectl" and config["rules"]:
        kind, match, sections = linux.choose(config["rules"], name)
        servers = list(dict.fromkeys(s for section in sections for s in section["servers"]))
        links = [s["interface"] or "global" for s in sections]
        if match == ".":
            why = f"route-only domain ~. of {', '.join(links)} (every name no longer domain claims)"
        elif match:
            why = f"link domain {match} of {', '.join(links)}"
        else:
            why = f"default route links {', '.join(links)}" if links else "no default route link and no fallback"
        return NameChoice(kind=kind, match=match, servers=tuple(servers), interface=", ".join(links), why=why)
    if source == "nrpt":
        matching = [r for r in config["rules"] if r.get("match") and windows.nrpt_covers(r["match"], name)]
        interfaces = _interface_servers(config.get("interfaces") or [])
        if matching:
            rule = max(matching, key=lambda r: windows.nrpt_rank(r["match"]))
            cut = " (the list was cut: further servers unknown)" if rule.get("truncated") else ""
            if rule.get("exempt"):
                # Exempt from the NRPT: the name goes where names without a rule go (kind `default`).
                return NameChoice(
                    kind="default",
                    match=rule["match"],
                    servers=tuple(interfaces[0]),
                    interface=interfaces[1],
                    why=f"NRPT exemption {rule['match']} (no DNS server): the interfaces' DNS servers",
                )
            what = "host rule" if not rule["match"].startswith(".") else "namespace"
            return NameChoice(
                kind="nrpt",
                match=rule["match"],
                servers=tuple(rule["servers"]),
                interface=rule.get("interface"),
                why=f"NRPT {what} {rule['match']}{cut}",
            )
        if config.get("interfaces"):
            return NameChoice(
                kind="default",
                servers=tuple(interfaces[0]),
                interface=interfaces[1],
                why="no NRPT rule matches: the interfaces' DNS servers",
            )
    if source == "scutil":
        matching = [r for r in config["rules"] if r.get("match") is not None and suffix_covers(r["match"], name)]
        if matching:
            # Longest domain wins; a lower `order` breaks a tie.
            rule = max(matching, key=lambda r: (len(r["match"].strip(".")), -(r.get("order") or 0)))
            return NameChoice(
                kind=rule["kind"],
                match=rule["match"],
                servers=tuple(rule["servers"]),
                interface=rule.get("interface"),
                why=f"scoped resolver for {rule['match']}",
            )
        defaults = [r for r in config["rules"] if r.get("match") is None]
        if defaults:
            first = defaults[0]
            where = f" ({first['interface']})" if first.get("interface") else ""
            return NameChoice(
                kind="default",
                servers=tuple(first["servers"]),
                interface=first.get("interface"),
                why=f"default resolver #1{where}",
            )
    return NameChoice(kind="default", servers=tuple(nameservers), why="the system nameserver list (no per-domain rule)")


def _interface_servers(rows: list[dict[str, Any]]) -> tuple[list[str], str]:
    """(the interfaces' DNS servers, IPv4 rows first then by interface index; the interfaces that list some)."""
    ordered = sorted(rows, key=lambda r: (r["family"] != "IPv4", r["index"]))
    servers = list(dict.fromkeys(s for r in ordered for s in r["servers"]))
    names = list(dict.fromkeys(r["interface"] for r in ordered if r["servers"]))
    return servers, ", ".join(names)
