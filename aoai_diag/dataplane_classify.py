"""Classify one data-plane HTTP response into H1..H12 (../shared/reference/http-facts.md §1). Pure: no I/O.

Marker strings are verbatim from the reports cited next to each one; matching is case-insensitive on the
`error.message` (or the whole body when it is not the usual JSON shape), because whitespace and JSON layout vary.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Labels that prove the request reached the account's data plane with the network path allowed.
REACHABLE = ("H1", "H6", "H9")

# (label, status codes, marker) checked in order; the first match wins.
_MARKERS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    # H2 https://ks6088ts.github.io/blog/fork-azure-openai-playground ;
    #    https://azure.github.io/jpazpaas/2024/01/25/search-private-access-to-openai.html
    ("H2", (403,), "Public access is disabled. Please configure private endpoint."),
    # H3 https://github.com/Azure-Samples/azure-sql-db-chatbot/issues/3 ;
    #    https://github.com/microsoft/microsoft-foundry-for-vscode/issues/29
    ("H3", (403,), "Access denied due to Virtual Network/Firewall rules."),
    # H4 https://github.com/continuedev/continue/issues/12547
    ("H4", (403,), "A Virtual Network is configured for this resource. Please use the correct endpoint"),
    # H5 https://learn.microsoft.com/en-us/answers/a/12755231
    ("H5", (403,), "Traffic is not from an approved private endpoint."),
    # H10 https://learn.microsoft.com/azure/ai-services/openai/how-to/network-security-perimeter (AOAI wording
    #     unseen; Storage: https://github.com/microsoft/AzureStorageExplorer/issues/8979)
    ("H10", (403,), "network security perimeter"),
    # H7 https://github.com/Azure-Samples/azure-search-openai-demo/issues/294
    ("H7", (404,), "Subdomain does not map to a resource"),
    # H6 https://github.com/microsoft/autogen/issues/3953 ; https://github.com/stulzq/azure-openai-proxy/issues/52
    ("H6", (404,), "Resource not found"),
    # H8 https://github.com/Azure/azure-sdk-for-net/issues/12813
    ("H8", (400,), "Please provide an authentication key"),
    # H11 https://github.com/openai/openai-python/issues/1527 ; https://github.com/continuedev/continue/issues/4601
    ("H11", (401,), "Access denied due to missing subscription key"),
    # H1 https://github.com/SciSharp/BotSharp/issues/386 ; https://github.com/vercel/chatbot/issues/588
    ("H1", (401,), "Access denied due to invalid subscription key or wrong API endpoint"),
    # H9 https://github.com/Azure-Samples/rag-data-openai-python-promptflow/issues/28 ;
    #    https://github.com/microsoft/semantic-kernel/issues/10020 ; https://github.com/davrous/AzureAgentToM365/issues/3
    ("H9", (401,), "Principal does not have access to API/Operation"),
    ("H9", (401,), "lacks the required data action"),
)

# http-facts.md §1 H3: "Your IP address is X.X.X.X." — the source address the service saw.
_CALLER_IP = re.compile(r"Your IP address is\s+\[?([0-9A-Fa-f:.]+?)\]?\.?(?=[\s\"'<,;]|$)")

# http-facts.md §3: a service-side network denial carries this policy id.
TRAFFIC_DENIED_POLICY = "ThrowExceptionDueToTrafficDenied"

RECORDED_HEADERS = ("apim-request-id", "x-ms-region", "policy-id", "server", "content-type", "via")


@dataclass(frozen=True)
class Classified:
    classification: str
    """`H1`..`H12` or `unknown`."""
    error_code: str | None
    error_message: str | None
    caller_ip: str | None
    azure_answered: bool
    """apim-request-id present, or policy-id ThrowExceptionDueToTrafficDenied (http-facts.md §3)."""


def _parse_error(text: str) -> tuple[str | None, str | None, bool]:
    """(error.code, error.message, has_apim_shape) from a JSON body; the APIM shape is {statusCode, message}."""
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays, which json refuses that way
        return None, None, False
    if not isinstance(data, dict):
        return None, None, False
    err = data.get("error")
    if isinstance(err, dict):
        code = err.get("code")
        message = err.get("message")
        return (None if code is None else str(code)), (None if message is None else str(message)), False
    if "statusCode" in data and "message" in data:
        return str(data["statusCode"]), str(data["message"]), True
    return None, None, False


def caller_ip(text: str) -> str | None:
    match = _CALLER_IP.search(text)
    if not match:
        return None
    candidate = match.group(1).rstrip(".")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def lower_headers(headers: Mapping[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for k, v in items:
        out.setdefault(k.lower(), v)
    return out


def is_html(content_type: str | None, text: str) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = text.lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html")


def classify(status: int, headers: Mapping[str, str], body: str) -> Classified:
    """Classify a response; `headers` keys must be lower-case."""
    code, message, apim_shape = _parse_error(body)
    azure = bool(headers.get("apim-request-id")) or headers.get("policy-id", "").strip() == TRAFFIC_DENIED_POLICY
    haystack = (message or body).lower()
    label = "unknown"
    if status == 401 and (code or "").lower() == "permissiondenied":
        label = "H9"
    else:
        for name, statuses, marker in _MARKERS:
            if status in statuses and marker.lower() in haystack:
                label = name
                break
    if label == "H11" and not apim_shape:
        label = "unknown"
    if label == "unknown" and not azure:
        # An intermediary (proxy, WAF, another front end) answered: HTML page, proxy auth, bad gateway.
        if status in (407, 502, 503, 504) or is_html(headers.get("content-type"), body):
            label = "H12"
    return Classified(label, code, message, caller_ip(message or body), azure)
