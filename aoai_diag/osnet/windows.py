"""Windows: the NRPT, the per-interface DNS servers and the route the OS picks, from PowerShell and the registry.

The Azure VPN Client applies its DNS servers through Name Resolution Policy Table rules, so `ipconfig /all`
does not list them (https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations,
"To confirm your in-use DNS settings, please consult Get-DnsClientNrptPolicy",
https://learn.microsoft.com/powershell/module/dnsclient/get-dnsclientnrptpolicy). A name that matches an NRPT
namespace goes to that rule's servers; any other name goes to the interfaces' DNS servers. A namespace with a
leading dot (`.contoso.com`) is a suffix, one without (`host.contoso.com`) names that one host, `.` is every name
(https://learn.microsoft.com/powershell/module/dnsclient/add-dnsclientnrptrule, -Namespace); the host rule wins over
any suffix, else the longest suffix. A rule with no DNS server is an exemption (DirectAccess "no name servers"): its
names go to the interfaces' DNS servers
(https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/ee649207(v=ws.10),
"NRPT exemptions"). When the group-policy NRPT key exists, Windows ignores the local one
(https://github.com/gravitational/teleport/pull/56729).

PowerShell's formatted output is for people: a table cuts a cell that does not fit its column with `...`, and a list
shows at most `$FormatEnumerationLimit` (4) items then `...`
(https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_preference_variables,
$FormatEnumerationLimit). So the reader asks for `ConvertTo-Json`; the text parsers stay for outputs saved as text,
and there a cut value is unknown (the row says `truncated`), never an address.

Readers (thin) and parsers (pure; each takes the JSON or the formatted text):
    `Get-DnsClientNrptPolicy` -> parse_nrpt_policy (the effective table, local and group-policy rules)
    `reg export` of HKLM\\SYSTEM\\CurrentControlSet\\Services\\Dnscache\\Parameters\\DnsPolicyConfig and
    HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\DNSClient\\DnsPolicyConfig -> parse_nrpt_registry
    `Get-DnsClientServerAddress` -> parse_server_addresses
    `Find-NetRoute -RemoteIPAddress <ip>` (one script for every address) -> parse_find_netroute
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from typing import Any

from aoai_diag.evidence.osnet import OsRoute
from aoai_diag.osnet import commands, listing
from aoai_diag.osnet.dnsconfig import InterfaceServers, OsDnsConfig, ResolverRule
from aoai_diag.osnet.vpnprofile import suffix_covers

NRPT_POLICY = (
    "ConvertTo-Json -Compress -InputObject @(Get-DnsClientNrptPolicy"
    " | Select-Object Namespace,NameServers,DirectAccessDnsServers,DirectAccessEnabled)"
)
SERVER_ADDRESSES = (
    "ConvertTo-Json -Compress -InputObject @(Get-DnsClientServerAddress"
    " | Select-Object InterfaceAlias,InterfaceIndex,AddressFamily,ServerAddresses)"
)
_FAMILIES = {2: "IPv4", 23: "IPv6", "ipv4": "IPv4", "ipv6": "IPv6", "2": "IPv4", "23": "IPv6"}
"""AddressFamily as Windows numbers it (AF_INET 2, AF_INET6 23) in JSON, or as the table shows it."""
LOCAL_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig"
GPO_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient\DnsPolicyConfig"


def _json_rows(text: str) -> list[dict[str, Any]] | None:
    """The objects of a `ConvertTo-Json` output (one object or a list), or None when the text is not JSON."""
    stripped = text.strip().lstrip("\ufeff")
    if not stripped.startswith(("[", "{")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    rows = data if isinstance(data, list) else [data]
    return [r for r in rows if isinstance(r, dict)]


def _strings(value: Any) -> list[str]:
    """A JSON string list (or one string, or null) as a list of non-empty strings."""
    items = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in items if isinstance(v, str | int) and str(v).strip()]


def _nrpt_rule(namespace: str, servers: list[str], truncated: bool, source: str) -> ResolverRule:
    return ResolverRule(
        kind="nrpt",
        match=namespace.lower(),
        servers=tuple(servers),
        source=source,
        exempt=not servers and not truncated,  # no server: the name goes to the interfaces' DNS servers
        truncated=truncated,
    )


def parse_nrpt_policy(text: str) -> list[ResolverRule]:
    """Rules from `Get-DnsClientNrptPolicy` (JSON, or Format-List text)."""
    rows = _json_rows(text)
    rules = []
    if rows is not None:
        for row in rows:
            servers = _strings(row.get("NameServers")) or _strings(row.get("DirectAccessDnsServers"))
            for namespace in _strings(row.get("Namespace")):
                rules.append(_nrpt_rule(namespace, servers, False, "policy"))
        return rules
    for block in listing.blocks(text):
        if "Namespace" not in block:
            continue
        servers, cut = listing.items(block.get("NameServers", ""))
        if not servers and not cut:
            servers, cut = listing.items(block.get("DirectAccessDnsServers", ""))
        for namespace in listing.values(block["Namespace"]):
            rules.append(_nrpt_rule(namespace, servers, cut, "policy"))
    return rules


def nrpt_covers(namespace: str, name: str) -> bool:
    """Whether an NRPT namespace applies to `name`: `.` every name, `.suffix` the names under it, else that host."""
    namespace = namespace.strip().lower()
    name = name.strip().lower().rstrip(".")
    if namespace.startswith("."):
        return suffix_covers(namespace, name)
    return namespace.rstrip(".") == name


def nrpt_rank(namespace: str) -> tuple[int, int]:
    """Precedence among the rules covering one name: the host rule first, then the longest suffix."""
    return (0 if namespace.startswith(".") else 1, len(namespace.strip(".")))


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


def parse_nrpt_registry(text: str) -> list[ResolverRule]:
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
            rules.append(_nrpt_rule(str(name), servers, False, source))

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


_SERVER_ROW = re.compile(r"^(?P<alias>\S.*?)\s+(?P<index>\d+)\s+(?P<family>IPv4|IPv6)\s+(?P<servers>\{.*)$")


def parse_server_addresses(text: str) -> list[InterfaceServers]:
    """Rows of `Get-DnsClientServerAddress` (JSON, or the table)."""
    objects = _json_rows(text)
    rows: list[InterfaceServers] = []
    if objects is not None:
        for row in objects:
            family = _FAMILIES.get(
                row.get("AddressFamily")
                if not isinstance(row.get("AddressFamily"), str)
                else str(row["AddressFamily"]).lower()
            )
            index = row.get("InterfaceIndex")
            if family is None or not isinstance(index, int) or isinstance(index, bool):
                continue
            alias = row.get("InterfaceAlias")
            rows.append(
                InterfaceServers(
                    interface=str(alias) if alias is not None else f"interface {index}",
                    index=index,
                    family=family,
                    servers=tuple(_strings(row.get("ServerAddresses"))),
                )
            )
        return rows
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _SERVER_ROW.match(line.rstrip())
        if match:
            servers, cut = listing.items(match["servers"])
            alias = match["alias"].strip()
            rows.append(
                InterfaceServers(
                    interface=alias,
                    index=int(match["index"]),
                    family=match["family"],
                    servers=tuple(servers),
                    truncated=cut or alias.endswith(("...", "\u2026")),
                )
            )
    return rows


def parse_find_netroute(text: str) -> OsRoute:
    """`Find-NetRoute -RemoteIPAddress X` (JSON, or Format-List text): the source address object and the route
    object."""
    source = None
    route: dict[str, str] = {}
    rows = _json_rows(text)
    blocks = (
        [{k: str(v) for k, v in row.items() if v is not None} for row in rows]
        if rows is not None
        else listing.blocks(text)
    )
    for block in blocks:
        if block.get("DestinationPrefix"):
            route = block
        elif block.get("IPAddress") and source is None:
            source = block.get("IPAddress")
    if not route:
        if not text.strip() or rows == []:
            # Find-NetRoute printed nothing for the address: Windows has no route to it.
            return OsRoute(error="no route", no_route=True)
        return OsRoute(error=text.strip().splitlines()[0])
    next_hop = route.get("NextHop") or None
    on_link = next_hop in (None, "0.0.0.0", "::")
    return OsRoute(
        interface=route.get("InterfaceAlias") or None,
        next_hop=None if on_link else next_hop,
        prefix=route.get("DestinationPrefix") or None,
        source=source,
    )


# Thin readers ------------------------------------------------------------------------------------------------------


MARK = "#### aoai-diag "


def split_marked(text: str) -> dict[str, str]:
    """Output of several commands printed one after another, each after a `#### aoai-diag <key>` line."""
    parts: dict[str, str] = {}
    key: str | None = None
    for line in text.lstrip("\ufeff").replace("\r\n", "\n").split("\n"):
        if line.startswith(MARK):
            key = line[len(MARK) :].strip()
            parts[key] = ""
        elif key is not None:
            parts[key] += line + "\n"
    return parts


def read_resolver_rules(timeout: float) -> OsDnsConfig:
    """NRPT rules and interface servers of this Windows machine.

    One PowerShell process for both cmdlets: starting PowerShell costs about a second.
    """
    errors: list[str] = []
    rules: list[ResolverRule] = []
    script = f"'{MARK}nrpt'; {NRPT_POLICY}; '{MARK}servers'; {SERVER_ADDRESSES}"
    result = commands.powershell(script, timeout)
    parts = split_marked(result.stdout) if result.ok else {}
    if "nrpt" in parts and _readable(parts["nrpt"]):
        rules = parse_nrpt_policy(parts["nrpt"])
    else:
        if not result.ok:
            errors.append(result.failure())
        else:
            errors.append("Get-DnsClientNrptPolicy printed " + ("nothing readable" if "nrpt" in parts else "nothing"))
        rules = read_nrpt_registry(timeout)
    interfaces = parse_server_addresses(parts.get("servers", ""))
    if result.ok and ("servers" not in parts or not _readable(parts["servers"])):
        errors.append("Get-DnsClientServerAddress printed " + ("nothing readable" if "servers" in parts else "nothing"))
    cut = [str(r.match) for r in rules if r.truncated] + [r.interface for r in interfaces if r.truncated]
    if cut:
        errors.append(
            f"PowerShell's display cut the DNS server lists of {', '.join(cut)}: the servers past the cut are unknown"
        )
    return OsDnsConfig(
        platform="windows", source="nrpt", rules=tuple(rules), interfaces=tuple(interfaces), errors=tuple(errors)
    )


def _readable(text: str) -> bool:
    """JSON that parses (`[]`: no rows), or formatted text (nothing printed: an empty table)."""
    stripped = text.strip()
    return _json_rows(stripped) is not None if stripped.startswith(("[", "{")) else True


def read_nrpt_registry(timeout: float) -> list[ResolverRule]:
    """The NRPT keys exported with `reg export` (no PowerShell needed); a key that does not exist adds nothing."""
    rules: list[ResolverRule] = []
    for key in (GPO_KEY, LOCAL_KEY):
        handle, path = tempfile.mkstemp(suffix=".reg")
        os.close(handle)
        try:
            if commands.run(["reg", "export", key, path, "/y"], timeout).ok:
                with open(path, encoding="utf-16", errors="replace") as fh:
                    rules.extend(parse_nrpt_registry(fh.read(4 * 1024 * 1024)))
                if key == GPO_KEY:
                    break  # the group-policy key exists: Windows ignores the local rules
        except (OSError, UnicodeError):
            continue  # an unreadable export tells nothing: the rules stay as read so far
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return rules


def read_routes(addresses: list[str], timeout: float) -> dict[str, OsRoute]:
    """`Find-NetRoute` for every address in one PowerShell process."""
    for address in addresses:
        commands.ip_literal(address)  # only addresses ever reach the command line
    script = "; ".join(
        f"'{MARK}{a}'; ConvertTo-Json -Compress -InputObject @(Find-NetRoute -RemoteIPAddress '{a}'"
        " -ErrorAction SilentlyContinue | Select-Object IPAddress,DestinationPrefix,InterfaceAlias,NextHop)"
        for a in addresses
    )
    result = commands.powershell(script, timeout)
    if not result.ok or "not recognized" in result.stderr:
        error = result.failure() if not result.ok else result.stderr.strip()[:200]
        return {a: OsRoute(error=error) for a in addresses}
    parts = split_marked(result.stdout)
    return {a: parse_find_netroute(parts[a]) if a in parts else OsRoute(error="no output") for a in addresses}
