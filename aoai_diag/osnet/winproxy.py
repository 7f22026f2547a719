"""A Windows proxy bypass list judged the way each HTTP client library reads it, not by NO_PROXY's rules.

WinINET's `ProxyOverride` (Internet Options, "Do not use proxy server for addresses beginning with") and WinHTTP's
bypass list are read by the client libraries themselves, each with its own rules, so one list can bypass the proxy
for one library and not for another:

- requests (`requests.utils.proxy_bypass_registry`, the Azure SDK's default transport): the list split on `;`, empty
  entries dropped, no blank stripped; `<local>` matches a name without a dot; each entry is a glob turned into a
  regular expression matched at the *start* of the host name, case-insensitively (`openai.azure.com` does not match
  `acct.openai.azure.com`; `contoso` matches `contoso.openai.azure.com`).
  https://github.com/psf/requests/blob/main/src/requests/utils.py
- urllib before `_proxy_bypass_winreg_override` (CPython up to 3.12): the same regular expressions, but empty entries
  kept (a doubled or trailing `;` then bypasses every host) and the host's addresses tried too.
  urllib with it (CPython 3.13+): entries stripped, `<local>` as above, else a whole-name glob (`fnmatch`).
  https://github.com/python/cpython/blob/main/Lib/urllib/request.py
- httpx (the `openai` SDK's client): takes the WinINET proxy through `urllib.request.getproxies()` but reads no
  bypass list from the registry, only NO_PROXY: ProxyOverride bypasses nothing.
  https://github.com/encode/httpx/blob/master/httpx/_utils.py (get_environment_proxies)
- WinHTTP (`netsh winhttp set proxy ... bypass-list=`): entries split on `;` or blanks, `<local>` as above, else a
  whole-name wildcard match, case-insensitive.
  https://learn.microsoft.com/windows/win32/winhttp/netsh-exe-commands#set-proxy
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import urllib.request

WININET_STACKS = ("requests", "httpx", "urllib")
"""The Python client libraries that use the WinINET proxy setting, in the order their verdicts are reported."""
NEW_URLLIB = hasattr(urllib.request, "_proxy_bypass_winreg_override")
"""This interpreter's urllib reads ProxyOverride with whole-name globs (CPython 3.13+)."""


def _prefix_regex(entry: str) -> str:
    return entry.replace(".", r"\.").replace("*", r".*").replace("?", r".")


def _requests(host: str, override: str) -> str | None:
    for entry in (e for e in override.split(";") if e):
        if entry == "<local>":
            if "." not in host:
                return entry
        elif re.match(_prefix_regex(entry), host, re.I):
            return entry
    return None


def _urllib_old(host: str, override: str, addresses: list[str]) -> str | None:
    for entry in override.split(";"):
        if entry == "<local>" and "." not in host:
            return entry
        if any(re.match(_prefix_regex(entry), value, re.I) for value in [host, *addresses]):
            return entry
    return None


def _whole_name(host: str, override: str, separators: str) -> str | None:
    for raw in re.split(separators, override):
        entry = raw.strip()
        if not entry:
            continue
        if entry == "<local>":
            if "." not in host:
                return entry
        elif fnmatch.fnmatchcase(host.lower(), entry.lower()):
            return entry
    return None


def bypass_by_stack(
    host: str, override: str, addresses: list[str], new_urllib: bool = NEW_URLLIB
) -> dict[str, str | None]:
    """{stack: the ProxyOverride entry that makes it bypass the proxy for `host`, or None} for each Python library
    that uses the WinINET proxy. `addresses`: the host's resolved addresses (old urllib tries them too)."""
    host = host.lower().rstrip(".")
    valid = []
    for address in addresses:
        try:
            valid.append(str(ipaddress.ip_address(address.split("%", 1)[0])))
        except ValueError:
            continue
    return {
        "requests": _requests(host, override),
        "httpx": None,  # reads no registry bypass list
        "urllib": _whole_name(host, override, ";") if new_urllib else _urllib_old(host, override, valid),
    }


def winhttp_bypass(host: str, bypass: str) -> str | None:
    """The WinHTTP bypass-list entry that makes WinHTTP bypass the proxy for `host`, or None."""
    return _whole_name(host.lower().rstrip("."), bypass, r"[;\s]+")
