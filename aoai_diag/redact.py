"""One redaction for every output: table, JSON, Prometheus, Nagios, bundles, stderr, `serve` bodies and logs.

Two layers. Producers (probes, target parsing, option checks) never put a secret in what they return, and every
output boundary passes its text or data through `redact_text` / `redact_value` as a backstop: credentials in URLs
in any spelling, `Authorization`/`api-key`-style headers, bearer tokens, JWTs, SAS signatures, 32-hex keys, and
the literal values of secrets this process was given (`learn`: Azure credential variables, proxy passwords,
credentials typed on the command line), so a secret that slipped into free text is still caught.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "***"

# A secret must be this long to be replaced wherever it appears as plain text; shorter ones would mangle ordinary
# words. Shorter secrets are still caught in their structural places (URL userinfo, headers, query parameters).
MIN_LITERAL = 6

# Environment variables whose whole value is a secret (azure-identity's EnvironmentCredential names, API keys).
SECRET_ENV_NAME = re.compile(
    r"(?i)(secret|passw(or)?d|token|api[-_]?key|access[-_]?key|(^|_)sas(_|$)|connection[-_]?string|credential|_key$)"
)
# Variables whose value is a URL that may carry user:password@ (curl, requests, Go, pip all read these).
URL_ENV_NAMES = frozenset(
    name
    for base in ("https_proxy", "http_proxy", "all_proxy", "ftp_proxy", "no_proxy", "socks_proxy")
    for name in (base, base.upper())
)

# Dictionary keys whose values are secrets whatever they look like (HTTP auth headers, Azure key headers).
_SECRET_KEY = re.compile(
    r"(?i)(secret|passw(or)?d|token|api[-_]?key|authorization|cookie|subscription[-_]?key|^sig$|^sas$)"
)

# Where an authority (user:password@host) starts: `scheme://`, `scheme:/` (one slash, which urlsplit reads as a
# path but people mean as a URL) or a bare `//`.
_AUTHORITY_START = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*:/{1,3}|(?<![\w/])//)")
# What may follow the userinfo's `@`: a host (name, IPv4, [IPv6]) with an optional port, then the end of the
# authority. Passwords may hold `/`, `#`, `?` and `@` (unencoded, as users type them), so the userinfo ends at the
# LAST `@` that is followed by such a host.
_HOST_AFTER_AT = re.compile(r"(?:\[[0-9a-fA-F:.%\w]*\]|[\w.-]+)(?::\d*)?(?=[/?#\s\"'<>,;)\]}]|$)")
_DELIM = re.compile(r"[/?#]")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_HOST_ONLY = re.compile(r"(?:\[[0-9a-fA-F:.%\w]*\]|[\w.-]+)(?::\d*)?")
# The end of a token that may hold a URL: whitespace and the quotes/brackets that surround URLs in messages.
_TOKEN_END = re.compile(r"[\s\"'<>]")
# Scheme-less `user:password@host[:port]` (HTTPS_PROXY=user:pw@proxy:3128).
_BARE_USERINFO = re.compile(r"(?<![\w.:/@%*-])[\w.~%!$&()*+,;=-]+:(?!/)[^\s\"'<>]*@(?=[\w.-]+(?::\d+)?\b)")

# (pattern, replacement, needles): a rule runs only on text holding one of its needles (lower-case), which keeps
# redacting a megabyte report fast.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # HTTP headers written out in text: `Authorization: Bearer x`, `api-key=x`, `Ocp-Apim-Subscription-Key: x`
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|api[-_]?key|ocp-apim-subscription-key|x-api-key|cookie|set-cookie)"
            r"(\"?\s*[:=]\s*\"?)(?!(?:null|true|false)\b)(?:(?:bearer|basic|digest|negotiate|sharedkey|token)\s+)?"
            r"[^\s\"',;&\[\]{}]+"
        ),
        r"\1\2***",
        ("authorization", "api-key", "api_key", "apikey", "subscription-key", "cookie"),
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***", ("bearer", "basic")),
    # JSON Web Tokens (Entra ID access tokens)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED, ("eyj",)),
    # SAS signatures, keys and tokens passed in query strings
    (
        re.compile(
            r"(?i)([?&;](?:sig|api-key|api_key|key|code|token|access_token|refresh_token|client_secret|password"
            r"|subscription-key)=)[^&\s\"'#]+"
        ),
        r"\1***",
        ("=",),
    ),
    # Azure AI services keys are 32 hex characters (UUIDs have dashes and are not matched)
    (re.compile(r"\b[0-9a-fA-F]{32}\b"), REDACTED, ("",)),
)

# NAME=value assignments of secret-bearing variables (AZURE_CLIENT_SECRET=..., in a message or a dump)
_ASSIGNMENT = re.compile(r"\b([A-Za-z0-9_]+)=([^\s\"',;&\[\]{}]+)")
_SECRET_NAME_PART = re.compile(r"(?i)secret|password|passwd|token|api_key|access_key")


def _redact_assignment(match: re.Match[str]) -> str:
    if _SECRET_NAME_PART.search(match.group(1)):
        return f"{match.group(1)}={REDACTED}"
    return match.group(0)


_lock = threading.Lock()
_literals: tuple[str, ...] = ()


def _userinfo_end(text: str, start: int) -> int | None:
    """Index of the `@` ending the userinfo of an authority that starts at `start`, or None when there is none."""
    end_match = _TOKEN_END.search(text, start)
    end = end_match.start() if end_match else len(text)
    first_delim = _DELIM.search(text, start, end)
    if first_delim and "@" not in text[start : first_delim.start()]:
        if _HOST_ONLY.fullmatch(text, start, first_delim.start()):
            return None  # a well-formed host[:port] ends the authority: an `@` after it is in the path or query
    at = text.rfind("@", start, end)
    while at >= start:
        if _HOST_AFTER_AT.match(text, at + 1):
            return at
        at = text.rfind("@", start, at)
    return None


def redact_url_userinfo(text: str) -> str:
    """`scheme://user:pw@host`, `scheme:/user:pw@host`, `//user:pw@host` -> `...***@host`, anywhere in `text`.

    Only the tokens (runs without spaces or quotes) that hold an `@` are examined, so a large report is cheap.
    """
    if "@" not in text:
        return text
    out: list[str] = []
    pos = 0
    at = text.find("@")
    while at >= 0:
        start = max(_last_token_end(text, at), pos)
        end_match = _TOKEN_END.search(text, at)
        end = end_match.start() if end_match else len(text)
        out.append(text[pos:start])
        out.append(_redact_token_userinfo(text[start:end]))
        pos = end
        at = text.find("@", end)
    out.append(text[pos:])
    return "".join(out)


def _redact_token_userinfo(token: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _AUTHORITY_START.finditer(token):
        if match.start() < pos:
            continue
        at = _userinfo_end(token, match.end())
        if at is None or at == match.end():
            continue
        out.append(token[pos : match.end()])
        out.append(REDACTED)
        pos = at
    out.append(token[pos:])
    return _BARE_USERINFO.sub(REDACTED + "@", "".join(out))


def userinfo(url: str) -> str | None:
    """The userinfo of a URL as people type it (`user:pw` in `http://user:pw@proxy:3128`), or None."""
    text = url.strip()
    match = _AUTHORITY_START.match(text)
    start = match.end() if match else 0
    at = _userinfo_end(text, start)
    if at is None or at == start:
        return None
    info = text[start:at]
    if not match and ":" not in info:
        return None  # `name@host` without a scheme is not a credential
    return info


def _decoded_tokens(text: str) -> str:
    """Percent-encoded URLs (a query string in a request log) are checked decoded: `%40` is an `@`."""
    if "%" not in text:
        return text
    out: list[str] = []
    pos = 0
    for match in _PERCENT.finditer(text):
        if match.start() < pos:
            continue
        start = max(_last_token_end(text, match.start()), pos)
        end_match = _TOKEN_END.search(text, match.end())
        end = end_match.start() if end_match else len(text)
        token = text[start:end]
        decoded = unquote(token)
        cleaned = _redact_plain(decoded)
        out.append(text[pos:start])
        if cleaned == decoded:
            out.append(token)
        elif re.search(r"[\s\"'\\<>\x00-\x1f]", cleaned):
            # The decoded text goes where the encoded token was (a JSON string, a log line): nothing that ends it.
            out.append(REDACTED)
        else:
            out.append(cleaned)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _last_token_end(text: str, before: int, window: int = 4096) -> int:
    """Start of the token holding index `before` (looking back at most `window` characters)."""
    floor = max(0, before - window)
    return max(floor - 1, *(text.rfind(ch, floor, before) for ch in " \t\n\r\"'<>")) + 1


def _redact_plain(text: str) -> str:
    text = redact_url_userinfo(text)
    low = text.lower()
    for pattern, replacement, needles in _TEXT_RULES:
        if any(needle in low for needle in needles):
            text = pattern.sub(replacement, text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_redact_assignment, text)
    for secret in _literals:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_text(text: str) -> str:
    """`text` with every secret it holds replaced by `***`."""
    if not text:
        return text
    return _redact_plain(_decoded_tokens(text))


def redact_value(value: Any) -> Any:
    """A copy of a JSON-compatible value with every secret replaced by `***` (keys named like secrets included)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = redact_text(str(key))
            secret = _SECRET_KEY.search(key) and item not in (None, "", [], {}) and not isinstance(item, bool)
            out[key] = REDACTED if secret else redact_value(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def _pieces(secret: str) -> list[str]:
    """A secret and its parts as they may be printed: whole, password alone, the segments a URL parser splits it
    into at `/`, `#`, `?`, `@` (`Port could not be cast to integer value as 'S3cret'`), and percent-decoded."""
    out = {secret, unquote(secret)}
    if ":" in secret:
        out.add(secret.split(":", 1)[1])
    for part in list(out):
        out.update(re.split(r"[/#?@:]", part))
    return [p for p in out if _worth_redacting(p)]


def _worth_redacting(piece: str) -> bool:
    """Long enough, and not an ordinary word (a `*_TOKEN_MODE=managed` variable must not blank out "managed")."""
    if len(piece) < MIN_LITERAL:
        return False
    return not piece.isalpha() or len(piece) >= 12


def secrets_in(env: Mapping[str, str], args: Iterable[str] = ()) -> list[str]:
    """The secret strings in an environment and command line: values of secret-named variables, and the
    userinfo of every URL-valued proxy variable and command-line argument."""
    found: list[str] = []
    for name, value in env.items():
        if not value:
            continue
        if name in URL_ENV_NAMES:
            for item in value.split(","):
                info = userinfo(item)
                if info:
                    found += _pieces(info)
        elif SECRET_ENV_NAME.search(name):
            found += _pieces(value.strip())
    for arg in args:
        for word in re.split(r"[\s=,]", arg):
            info = userinfo(word)
            if info:
                found += _pieces(info)
    return found


def learn(env: Mapping[str, str], args: Iterable[str] = ()) -> None:
    """Remember the secrets of this process so that their literal values are redacted from every output."""
    global _literals
    new = secrets_in(env, args)
    with _lock:
        # longest first, so that a secret holding another is replaced whole
        _literals = tuple(sorted(set(_literals) | set(new), key=len, reverse=True))


def forget() -> None:
    """Drop learnt secrets (tests)."""
    global _literals
    with _lock:
        _literals = ()


def _redact_field(value: Any) -> Any:
    import dataclasses
    import enum

    if isinstance(value, enum.Enum) or value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact_dataclass(value)
    if isinstance(value, Mapping):
        # A mapping field of an evidence type may hold nested evidence (a DnsAnswer per name): each value is redacted
        # as a field (a dataclass as a dataclass), under the secret-key rule of `redact_value`.
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = redact_text(str(key))
            secret = _SECRET_KEY.search(key) and item not in (None, "", [], {}) and not isinstance(item, bool)
            out[key] = REDACTED if secret else _redact_field(item)
        return out
    if isinstance(value, tuple):
        return tuple(_redact_field(item) for item in value)
    if isinstance(value, list):
        return [_redact_field(item) for item in value]
    return value


def redact_dataclass(obj: Any) -> Any:
    """A copy of a (frozen) dataclass such as model.Report with every text field and evidence mapping redacted,
    nested results and findings included; enums and numbers are kept as they are."""
    import dataclasses

    changes = {f.name: _redact_field(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    return dataclasses.replace(obj, **changes)


def redact_report(report: Any) -> Any:
    """The report every renderer receives (table, JSON, Prometheus, Nagios, `serve`)."""
    return redact_dataclass(report)
