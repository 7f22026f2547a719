"""Windows: the NRPT, the per-interface DNS servers and the route the OS picks, from PowerShell and the registry.

The Azure VPN Client applies its DNS servers through Name Resolution Policy Table rules, so `ipconfig /all`
does not list them (https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations,
"To confirm your in-use DNS settings, please consult Get-DnsClientNrptPolicy",
https://learn.microsoft.com/powershell/module/dnsclient/get-dnsclientnrptpolicy). A name that matches an NRPT
namespace goes to that rule's servers (the longest matching namespace when several do); any other name goes to
the interfaces' DNS servers.

Readers (thin) and parsers (pure):
    `Get-DnsClientNrptPolicy` -> parse_nrpt_policy (the effective table, local and group-policy rules)
    `reg export` of HKLM\\SYSTEM\\CurrentControlSet\\Services\\Dnscache\\Parameters\\DnsPolicyConfig and
    HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\DNSClient\\DnsPolicyConfig -> parse_nrpt_registry
    `Get-DnsClientServerAddress` -> parse_server_addresses
    `Find-NetRoute -RemoteIPAddress <ip>` -> parse_find_netroute
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import Any

from aoai_diag.osnet import commands, listing

NRPT_POLICY = "Get-DnsClientNrptPolicy | Format-List Namespace,NameServers,DirectAccessDnsServers"
SERVER_ADDRESSES = (
    "Get-DnsClientServerAddress | Format-Table -AutoSize InterfaceAlias,InterfaceIndex,AddressFamily,ServerAddresses"
    " | Out-String -Width 400"
)
LOCAL_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig"
GPO_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient\DnsPolicyConfig"


def parse_nrpt_policy(text: str) -> list[dict[str, Any]]:
    """Rules from `Get-DnsClientNrptPolicy` (Format-List): {kind, match, servers, source}."""
    rules = []
    for block in listing.blocks(text):
        if "Namespace" not in block:
            continue
        servers = listing.values(block.get("NameServers", "")) or listing.values(
            block.get("DirectAccessDnsServers", "")
        )
        for namespace in listing.values(block["Namespace"]):
            rules.append({"kind": "nrpt", "match": namespace.lower(), "servers": servers, "source": "policy"})
    return rules


def _reg_value(raw: str) -> str | list[str] | int:
    raw = raw.strip()
    if raw.startswith('"'):
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if raw.startswith("dword:"):
        return int(raw[6:], 16)
    match = re.match(r"hex\((?P<kind>[0-9a-f]+)\):(?P<bytes>.*)", raw, re.I | re.S)
    data = bytes(int(b, 16) for b in re.findall(r"[0-9a-fA-F]{2}", match["bytes"])) if match else b""
    if match and match["kind"] in ("7", "1", "2"):  # REG_MULTI_SZ, REG_SZ, REG_EXPAND_SZ: UTF-16LE
        strings = data.decode("utf-16-le", errors="replace").split("\x00")
        return [s for s in strings if s] if match["kind"] == "7" else (strings[0] if strings else "")
    return raw


def parse_nrpt_registry(text: str) -> list[dict[str, Any]]:
    """Rules from a `reg export` (.reg text) of the local and/or group-policy DnsPolicyConfig keys."""
    rules = []
    key: str | None = None
    entries: dict[str, Any] = {}
    # Joined continuation lines: a .reg file wraps long hex values with a trailing backslash.
    joined = re.sub(r"\\\r?\n\s*", "", text.replace("\r\n", "\n"))

    def flush() -> None:
        if key is None or "Name" not in entries:
            return
        names = entries["Name"] if isinstance(entries["Name"], list) else [entries["Name"]]
        servers = [s for s in re.split(r"[;,\s]+", str(entries.get("GenericDNSServers") or "")) if s]
        source = "group policy" if "\\POLICIES\\" in key.upper() else "local"
        for name in names:
            rules.append({"kind": "nrpt", "match": str(name).lower(), "servers": servers, "source": source})

    for line in joined.split("\n"):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            flush()
            key, entries = line[1:-1], {}
        elif line.startswith('"') and "=" in line:
            name, _, raw = line.partition("=")
            entries[name.strip('"')] = _reg_value(raw)
    flush()
    return rules


_SERVER_ROW = re.compile(r"^(?P<alias>\S.*?)\s+(?P<index>\d+)\s+(?P<family>IPv4|IPv6)\s+\{(?P<servers>[^}]*)\}\s*$")


def parse_server_addresses(text: str) -> list[dict[str, Any]]:
    """Rows of `Get-DnsClientServerAddress` (table): {interface, index, family, servers}."""
    rows = []
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _SERVER_ROW.match(line.rstrip())
        if match:
            rows.append(
                {
                    "interface": match["alias"].strip(),
                    "index": int(match["index"]),
                    "family": match["family"],
                    "servers": listing.values(match["servers"]),
                }
            )
    return rows


def parse_find_netroute(text: str) -> dict[str, Any]:
    """`Find-NetRoute -RemoteIPAddress X` (Format-List): the source address object and the route object."""
    source = None
    route: dict[str, str] = {}
    for block in listing.blocks(text):
        if "DestinationPrefix" in block:
            route = block
        elif "IPAddress" in block and source is None:
            source = block.get("IPAddress")
    if not route:
        if not text.strip():
            # Find-NetRoute printed nothing for the address: Windows has no route to it.
            return {"error": "no route", "no_route": True}
        return {"error": text.strip().splitlines()[0]}
    next_hop = route.get("NextHop") or None
    on_link = next_hop in (None, "0.0.0.0", "::")
    return {
        "interface": route.get("InterfaceAlias") or None,
        "next_hop": None if on_link else next_hop,
        "prefix": route.get("DestinationPrefix") or None,
        "source": source,
        "error": None,
    }


# Thin readers ------------------------------------------------------------------------------------------------------


MARK = "#### aoai-diag "


def split_marked(text: str) -> dict[str, str]:
    """Output of several commands printed one after another, each after a `#### aoai-diag <key>` line."""
    parts: dict[str, str] = {}
    key: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(MARK):
            key = line[len(MARK) :].strip()
            parts[key] = ""
        elif key is not None:
            parts[key] += line + "\n"
    return parts


def read_resolver_rules(timeout: float) -> dict[str, Any]:
    """NRPT rules and interface servers of this Windows machine: {rules, interfaces, errors}.

    One PowerShell process for both cmdlets: starting PowerShell costs about a second.
    """
    errors: list[str] = []
    rules: list[dict[str, Any]] = []
    script = f"'{MARK}nrpt'; {NRPT_POLICY} | Out-String -Width 400; '{MARK}servers'; {SERVER_ADDRESSES}"
    result = commands.powershell(script, timeout)
    parts = split_marked(result.stdout) if result.ok else {}
    if "nrpt" in parts:
        rules = parse_nrpt_policy(parts["nrpt"])
    else:
        errors.append(result.failure() if not result.ok else "Get-DnsClientNrptPolicy printed nothing")
        rules = read_nrpt_registry(timeout)
    interfaces = parse_server_addresses(parts.get("servers", ""))
    if "servers" not in parts and result.ok:
        errors.append("Get-DnsClientServerAddress printed nothing")
    return {"rules": rules, "interfaces": interfaces, "errors": errors}


def read_nrpt_registry(timeout: float) -> list[dict[str, Any]]:
    """The NRPT keys exported with `reg export` (no PowerShell needed); a key that does not exist adds nothing."""
    rules: list[dict[str, Any]] = []
    for key in (GPO_KEY, LOCAL_KEY):
        handle, path = tempfile.mkstemp(suffix=".reg")
        os.close(handle)
        try:
            if commands.run(["reg", "export", key, path, "/y"], timeout).ok:
                with open(path, encoding="utf-16", errors="replace") as fh:
                    rules.extend(parse_nrpt_registry(fh.read(4 * 1024 * 1024)))
        except (OSError, UnicodeError):
            continue  # an unreadable export tells nothing: the rules stay as read so far
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return rules


def read_routes(addresses: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """`Find-NetRoute` for every address in one PowerShell process."""
    for address in addresses:
        commands.ip_literal(address)  # only addresses ever reach the command line
    script = "; ".join(
        f"'{MARK}{a}'; Find-NetRoute -RemoteIPAddress '{a}' -ErrorAction SilentlyContinue | Format-List * | Out-String"
        for a in addresses
    )
    result = commands.powershell(script, timeout)
    if not result.ok or "not recognized" in result.stderr:
        return {a: {"error": result.failure() if not result.ok else result.stderr.strip()[:200]} for a in addresses}
    parts = split_marked(result.stdout)
    return {a: parse_find_netroute(parts[a]) if a in parts else {"error": "no output"} for a in addresses}
