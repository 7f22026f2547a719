"""Would a typical HTTP client send `https://<host>` through a proxy? (cause edge.proxy_env_no_proxy)

A proxy usually resolves the host itself, with a resolver that cannot see the private zone, and then goes
public: the data plane answers 403 "Public access is disabled" although this machine's DNS is right
(https://docs.tabulareditor.com/en/troubleshooting/azure-openai-connection-errors.html).

Evidence: `ProxySettings` (aoai_diag/evidence/path.py).
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.dns import SystemResolution
from aoai_diag.evidence.path import ProxySettings, WindowsProxy, WinHttpProxy, WinInetProxy
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.osnet.winproxy import WININET_STACKS, bypass_by_stack, winhttp_bypass
from aoai_diag.redact import redact_url_userinfo, redact_value, userinfo
from aoai_diag.targets import Target

# curl and Python's urllib prefer the lower-case spelling when both exist; ALL_PROXY is the fallback for https.
HTTPS_PROXY_VARS = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARS = ("no_proxy", "NO_PROXY")
RECORDED_VARS = (*HTTPS_PROXY_VARS, "http_proxy", "HTTP_PROXY", *NO_PROXY_VARS)


def redact(url: str) -> str:
    """Replace userinfo with `***`: `http://u:p@proxy:3128` -> `http://***@proxy:3128`, also when the password
    holds `/`, `#`, `?` or `@` unencoded, or the scheme is missing (`u:p@proxy:3128`)."""
    return redact_url_userinfo(url)


def parse_proxy_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a proxy URL as clients read it; `proxy:3128` means `http://proxy:3128`.

    Raises ValueError with a message that never holds the URL's credentials.
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        hint = ""
        if userinfo(url):
            # Clients end the host at the first `/`, `?` or `#`: a password holding one must be percent-encoded.
            hint = " (a password holding '/', '#', '?' or '@' must be percent-encoded)"
        raise ValueError(f"bad port or address in proxy URL {redact(url)!r}{hint}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in proxy URL {redact(url)!r}")
    default = {"http": 80, "https": 443}.get(scheme, 1080)
    return scheme, host, port or default


def match_no_proxy(host: str, port: int, no_proxy: str) -> str | None:
    """The NO_PROXY entry that makes common clients bypass the proxy for host:port, or None.

    Rules shared by curl, requests and Go's httpproxy: `*` matches all; an entry matches the name itself and any
    subdomain, with or without a leading dot (`*.` is read as `.`); an entry with `:port` matches that port only.
    IP/CIDR entries match only IP-literal hosts (see `match_no_proxy_address`).
    """
    host = host.lower().rstrip(".")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return raw.strip()
        name, entry_port = entry, None
        if entry.count(":") == 1 and not entry.startswith("["):
            name, _, p = entry.partition(":")
            if p.isdigit():
                entry_port = int(p)
        if entry_port is not None and entry_port != port:
            continue
        if name.startswith("*."):
            name = name[1:]
        name = name.lstrip(".").rstrip(".")
        if not name:
            continue
        if host == name or host.endswith("." + name):
            return raw.strip()
    return None


def match_no_proxy_address(addresses: Sequence[str], no_proxy: str) -> str | None:
    """The IP or CIDR entry of NO_PROXY that contains one of `addresses`, or None."""
    ips = []
    for a in addresses:
        try:
            ips.append(ipaddress.ip_address(a.split("%", 1)[0]))
        except ValueError:
            continue
    for raw in no_proxy.split(","):
        entry = raw.strip().strip("[]")
        if not entry:
            continue
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if any(ip.version == net.version and ip in net for ip in ips):
            return raw.strip()
    return None


def first_set(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name)
        if value and value.strip():
            return name, value.strip()
    return None


def parse_winhttp_blob(blob: bytes) -> WinHttpProxy:
    """Decode the `WinHttpSettings` registry value (what `netsh winhttp show proxy` shows).

    Layout: DWORD version, DWORD counter, DWORD flags (bit 1 = proxy set), DWORD len + proxy string,
    DWORD len + bypass string. Raises ValueError on a short or inconsistent blob.
    """

    def dword(offset: int) -> int:
        if offset + 4 > len(blob):
            raise ValueError("WinHttpSettings value is truncated")
        return int.from_bytes(blob[offset : offset + 4], "little")

    flags = dword(8)
    proxy_len = dword(12)
    proxy_end = 16 + proxy_len
    if proxy_end > len(blob):
        raise ValueError("WinHttpSettings proxy string is truncated")
    proxy = blob[16:proxy_end].decode("latin-1")
    bypass_len = dword(proxy_end)
    if proxy_end + 4 + bypass_len > len(blob):
        raise ValueError("WinHttpSettings bypass string is truncated")
    bypass = blob[proxy_end + 4 : proxy_end + 4 + bypass_len].decode("latin-1")
    return WinHttpProxy(server=proxy if flags & 0x2 and proxy else None, bypass=bypass or None)


def pick_windows_server(server: str) -> str | None:
    """`http=a:1;https=b:2` -> the entry for https (b:2); a plain `host:port` applies to every scheme."""
    if "=" not in server:
        return server.strip() or None
    table = {}
    for part in server.split(";"):
        key, _, value = part.partition("=")
        table[key.strip().lower()] = value.strip()
    return table.get("https") or None


def read_windows_settings() -> WindowsProxy:  # pragma: no cover - needs a Windows registry
    """WinINET (per-user Internet Options) and WinHTTP (machine) proxy settings from the registry."""
    import importlib

    winreg: Any = importlib.import_module("winreg")  # typed as Any: the stubs exist only on Windows

    path = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:

        def value(name: str) -> str | None:
            # Text as the evidence type declares it, whatever registry type an admin or a tool stored it as.
            try:
                raw = winreg.QueryValueEx(key, name)[0]
            except FileNotFoundError:
                return None
            return None if raw is None else str(raw)

        wininet = WinInetProxy(
            enabled=value("ProxyEnable") not in (None, "0", ""),
            server=value("ProxyServer"),
            bypass=value("ProxyOverride"),
            pac_url=value("AutoConfigURL"),
        )
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path + r"\Connections") as key:
            blob = winreg.QueryValueEx(key, "WinHttpSettings")[0]
            winhttp = parse_winhttp_blob(bytes(blob))
    except FileNotFoundError:
        winhttp = WinHttpProxy()
    return WindowsProxy(wininet=wininet, winhttp=winhttp)


def _redacted(system: WindowsProxy) -> WindowsProxy:
    """The registry settings as recorded: any secret in a server, bypass list or PAC URL replaced by `***`."""

    def text(value: str | None) -> str | None:
        return None if value is None else str(redact_value(value))

    wininet, winhttp = system.wininet, system.winhttp
    return WindowsProxy(
        wininet=None
        if wininet is None
        else replace(wininet, server=text(wininet.server), bypass=text(wininet.bypass), pac_url=text(wininet.pac_url)),
        winhttp=None if winhttp is None else replace(winhttp, server=text(winhttp.server), bypass=text(winhttp.bypass)),
    )


def evaluate(
    host: str,
    port: int,
    env: Mapping[str, str],
    system: WindowsProxy | None = None,
    addresses: Sequence[str] = (),
) -> ProxySettings:
    """The evidence for `host` given an environment and (on Windows) the registry settings. Pure."""
    variables = {name: redact(env[name].strip()) for name in RECORDED_VARS if env.get(name, "").strip()}
    no_proxy_found = first_set(env, NO_PROXY_VARS)
    no_proxy = no_proxy_found[1] if no_proxy_found else None
    proxy: str | None = None
    source: str | None = None
    system_bypass: str | None = None
    found = first_set(env, HTTPS_PROXY_VARS)
    if found:
        proxy, source = found[1], "env"
    elif system is not None:
        # Python's urllib (and so requests and httpx) falls back to the WinINET settings when no variable is set.
        wininet = system.wininet or WinInetProxy()
        winhttp = system.winhttp or WinHttpProxy()
        if wininet.enabled and wininet.server:
            proxy, source = pick_windows_server(wininet.server), "wininet"
            if wininet.bypass and no_proxy is None:
                system_bypass = wininet.bypass
        elif winhttp.server:
            proxy, source = pick_windows_server(winhttp.server), "winhttp"
            if winhttp.bypass and no_proxy is None:
                system_bypass = winhttp.bypass
    evidence = ProxySettings(
        variables=variables,
        no_proxy=redact(no_proxy) if no_proxy else no_proxy,
        source=source,
        bypass_rules="no_proxy" if no_proxy else None,
        system=_redacted(system) if system is not None else None,
    )
    if no_proxy and addresses:
        matched = match_no_proxy_address(addresses, no_proxy)
        evidence = replace(evidence, bypassed_by_address=redact(matched) if matched else None)
    if not proxy:
        return evidence
    bypass = match_no_proxy(host, port, no_proxy) if no_proxy else None
    if system_bypass is not None:
        # A registry bypass list is read by each client library with its own rules (aoai_diag/osnet/winproxy.py).
        evidence = replace(evidence, no_proxy=redact(system_bypass))
        if source == "winhttp":
            bypass = winhttp_bypass(host, system_bypass)
            evidence = replace(evidence, bypass_rules="winhttp")
        else:
            stacks = bypass_by_stack(host, system_bypass, list(addresses))
            # `applies` when any Python library that takes this proxy sends the host through it: name that one.
            judged = next((k for k in WININET_STACKS if stacks[k] is None), WININET_STACKS[0])
            bypass = stacks[judged]
            evidence = replace(
                evidence,
                bypass_by_stack={k: redact(v) if v else v for k, v in stacks.items()},
                bypass_rules=judged,
            )
    error: str | None = None
    try:
        _, proxy_host, proxy_port = parse_proxy_url(proxy)
    except ValueError as exc:
        error = f"unusable proxy setting: {exc}"
        proxy_host, proxy_port = None, None
    return replace(
        evidence,
        bypassed_by=redact(bypass) if bypass else None,
        proxy_url=redact(proxy),
        proxy_host=proxy_host,
        proxy_port=proxy_port,
        applies=bypass is None,
        error=error,
    )


def resolved_addresses(deps: Mapping[str, CheckResult]) -> tuple[str, ...]:
    resolution = deps.get("system_resolution")
    return resolution.typed(SystemResolution).addresses if resolution else ()


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    system: WindowsProxy | None = None
    registry_error: str | None = None
    if sys.platform.startswith("win"):  # pragma: no cover - registry exists only on Windows
        try:
            system = read_windows_settings()
        except (OSError, ValueError) as exc:
            registry_error = f"cannot read the Windows proxy settings: {exc}"
    evidence = evaluate(target.host, ctx.settings.port, ctx.settings.env, system, resolved_addresses(deps))
    if registry_error:
        evidence = replace(evidence, error=registry_error)
    if evidence.applies:
        where = {"env": "environment", "wininet": "Internet Options", "winhttp": "WinHTTP"}.get(
            str(evidence.source), "settings"
        )
        note = ""
        if evidence.bypassed_by_address:
            note = f"; NO_PROXY entry {evidence.bypassed_by_address} matches the address but clients match names"
        return Outcome(
            Status.WARN,
            f"https://{target.host} goes through proxy {evidence.proxy_url} ({where}){note}",
            evidence,
        )
    if evidence.bypassed_by:
        return Outcome(
            Status.PASS,
            f"proxy {evidence.proxy_url} is bypassed for {target.host} by NO_PROXY entry {evidence.bypassed_by!r}",
            evidence,
        )
    if registry_error:
        return Outcome(Status.ERROR, registry_error, evidence, "registry unreadable")
    return Outcome(Status.PASS, "no proxy configured for https", evidence)


run = blocking_body(collect)


PROBE = Probe(
    id="proxy_settings",
    title="Proxy settings an HTTP client would use",
    evidence=ProxySettings,
    stage=1,
    run=run,
    after=("system_resolution",),
)
