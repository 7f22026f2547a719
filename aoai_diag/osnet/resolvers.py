"""Which DNS server(s) the OS sends each name to, and the rule that chose them, on every OS.

`read(platform, timeout)` reads the OS configuration once (the thin part); `choose(config, name)` is pure.
A rule is {kind, match, servers, interface?, source?}; kinds: `nrpt` (Windows NRPT namespace), `scoped` (macOS
per-domain resolver), `link_domain` (systemd-resolved link domain), `default` (what every other name gets).
"""

from __future__ import annotations

from typing import Any

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


def split_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-domain rules (NRPT namespaces, scoped resolvers, link domains other than the catch-all `~.`)."""
    if config["source"] == "resolvectl":
        found = []
        for section in config["rules"]:
            for domain in section["domains"]:
                bare = domain.lstrip("~").strip(".")
                if bare:
                    found.append(
                        {
                            "kind": "link_domain",
                            "match": bare,
                            "servers": section["servers"],
                            "interface": section["interface"],
                        }
                    )
        return found
    return [r for r in config["rules"] if r.get("match") and r["match"].strip(".")]


def choose(config: dict[str, Any], name: str, nameservers: list[str]) -> dict[str, Any]:
    """{kind, match, servers, interface, why} for `name`; `nameservers` is the resolv.conf / registry list."""
    source = config["source"]
    if source == "resolvectl" and config["rules"]:
        kind, match, sections = linux.choose(config["rules"], name)
        servers = list(dict.fromkeys(s for section in sections for s in section["servers"]))
        links = [s["interface"] or "global" for s in sections]
        why = f"link domain {match} of {', '.join(links)}" if match else f"default route links {', '.join(links)}"
        return {"kind": kind, "match": match, "servers": servers, "interface": ", ".join(links), "why": why}
    if source in ("nrpt", "scutil"):
        matching = [r for r in config["rules"] if r.get("match") is not None and suffix_covers(r["match"], name)]
        if matching:
            # Longest namespace wins; on macOS a lower `order` breaks a tie.
            rule = max(matching, key=lambda r: (len(r["match"].strip(".")), -(r.get("order") or 0)))
            label = "NRPT namespace" if source == "nrpt" else "scoped resolver for"
            return {
                "kind": rule["kind"],
                "match": rule["match"],
                "servers": list(rule["servers"]),
                "interface": rule.get("interface"),
                "why": f"{label} {rule['match']}",
            }
        if source == "scutil":
            defaults = [r for r in config["rules"] if r.get("match") is None]
            if defaults:
                first = defaults[0]
                where = f" ({first['interface']})" if first.get("interface") else ""
                return {
                    "kind": "default",
                    "match": None,
                    "servers": list(first["servers"]),
                    "interface": first.get("interface"),
                    "why": f"default resolver #1{where}",
                }
        if source == "nrpt" and config.get("interfaces"):
            rows = sorted(config["interfaces"], key=lambda r: (r["family"] != "IPv4", r["index"]))
            servers = list(dict.fromkeys(s for r in rows for s in r["servers"]))
            names = list(dict.fromkeys(r["interface"] for r in rows if r["servers"]))
            return {
                "kind": "default",
                "match": None,
                "servers": servers,
                "interface": ", ".join(names),
                "why": "no NRPT rule matches: the interfaces' DNS servers",
            }
    return {
        "kind": "default",
        "match": None,
        "servers": [ns for ns in nameservers],
        "interface": None,
        "why": "the system nameserver list (no per-domain rule)",
    }
