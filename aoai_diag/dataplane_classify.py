"""Classify one data-plane HTTP response into an `Answer` (labels H1..H12, docs/dataplane-answers.md). Pure: no I/O.

Marker strings are verbatim from the reports cited next to each one; matching is case-insensitive on the
`error.message` (or the whole body when it is not the usual JSON shape), because whitespace and JSON layout vary.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Answer(str, enum.Enum):
    """What answered a key-less data-plane request, and what that says about the path (docs/dataplane-answers.md).

    The values are the short labels recorded in evidence and bundles (`classification`); members compare equal to
    them, so saved evidence reads the same.
    """

    KEY_REJECTED = "H1"
    """401 invalid key: the service was reached and its network rules allow this path."""
    PUBLIC_ACCESS_DISABLED = "H2"
    """403 on the public front end of an account whose public network access is disabled."""
    NETWORK_RULES_DENY = "H3"
    """403 on the public front end: the account's IP/VNet rules do not admit the caller."""
    WRONG_ENDPOINT = "H4"
    """403: network rules exist and the request used a regional or other endpoint, not the custom subdomain."""
    PE_NOT_APPROVED = "H5"
    """403 over a private endpoint connection the account does not accept."""
    NOT_FOUND = "H6"
    """404 from the service for the path: reachable, the path or version is wrong."""
    SUBDOMAIN_UNKNOWN = "H7"
    """404: no account answers on this subdomain."""
    KEY_REQUIRED_ON_REGIONAL = "H8"
    """400: a token on a regional endpoint; token authentication needs the custom subdomain."""
    NO_DATA_ROLE = "H9"
    """401 PermissionDenied: a valid identity without a data-plane role; the network path is fine."""
    PERIMETER_DENY = "H10"
    """403 from an enforced network security perimeter."""
    CUSTOMER_APIM = "H11"
    """401 in API Management's own shape: a customer's gateway in front of the account."""
    INTERMEDIARY = "H12"
    """Something other than the service answered: a proxy, firewall or other front end (HTML, 407, 502)."""
    UNKNOWN = "unknown"
    """None of the above."""

    def __str__(self) -> str:
        return self.value


# Answers that prove the request reached the account's data plane with the network path allowed.
REACHABLE = (Answer.KEY_REJECTED, Answer.NOT_FOUND, Answer.NO_DATA_ROLE)

# (answer, status codes, marker) checked in order; the first match wins.
_MARKERS: tuple[tuple[Answer, tuple[int, ...], str], ...] = (
    # H2 https://ks6088ts.github.io/blog/fork-azure-openai-playground ;
    #    https://azure.github.io/jpazpaas/2024/01/25/search-private-access-to-openai.html
    (Answer.PUBLIC_ACCESS_DISABLED, (403,), "Public access is disabled. Please configure private endpoint."),
    # H3 https://github.com/Azure-Samples/azure-sql-db-chatbot/issues/3 ;
    #    https://github.com/microsoft/microsoft-foundry-for-vscode/issues/29
    (Answer.NETWORK_RULES_DENY, (403,), "Access denied due to Virtual Network/Firewall rules."),
    # H4 https://github.com/continuedev/continue/issues/12547
    (
        Answer.WRONG_ENDPOINT,
        (403,),
        "A Virtual Network is configured for this resource. Please use the correct endpoint",
    ),
    # H5 https://learn.microsoft.com/en-us/answers/a/12755231
    (Answer.PE_NOT_APPROVED, (403,), "Traffic is not from an approved private endpoint."),
    # H10 https://learn.microsoft.com/azure/ai-services/openai/how-to/network-security-perimeter (AOAI wording
    #     unseen; Storage: https://github.com/microsoft/AzureStorageExplorer/issues/8979)
    (Answer.PERIMETER_DENY, (403,), "network security perimeter"),
    # H7 https://github.com/Azure-Samples/azure-search-openai-demo/issues/294
    (Answer.SUBDOMAIN_UNKNOWN, (404,), "Subdomain does not map to a resource"),
    # H6 https://github.com/microsoft/autogen/issues/3953 ; https://github.com/stulzq/azure-openai-proxy/issues/52
    (Answer.NOT_FOUND, (404,), "Resource not found"),
    # H8 https://github.com/Azure/azure-sdk-for-net/issues/12813
    (Answer.KEY_REQUIRED_ON_REGIONAL, (400,), "Please provide an authentication key"),
    # H11 https://github.com/openai/openai-python/issues/1527 ; https://github.com/continuedev/continue/issues/4601
    (Answer.CUSTOMER_APIM, (401,), "Access denied due to missing subscription key"),
    # H1 https://github.com/SciSharp/BotSharp/issues/386 ; https://github.com/vercel/chatbot/issues/588
    (Answer.KEY_REJECTED, (401,), "Access denied due to invalid subscription key or wrong API endpoint"),
    # H9 https://github.com/Azure-Samples/rag-data-openai-python-promptflow/issues/28 ;
    #    https://github.com/microsoft/semantic-kernel/issues/10020 ; https://github.com/davrous/AzureAgentToM365/issues/3
    (Answer.NO_DATA_ROLE, (401,), "Principal does not have access to API/Operation"),
    (Answer.NO_DATA_ROLE, (401,), "lacks the required data action"),
)

# H3 answers may end "Your IP address is X.X.X.X.": the source address the service saw (docs/dataplane-answers.md).
_CALLER_IP = re.compile(r"Your IP address is\s+\[?([0-9A-Fa-f:.]+?)\]?\.?(?=[\s\"'<,;]|$)")

# A service-side network denial carries this policy id (docs/dataplane-answers.md, "Proof that Azure answered").
TRAFFIC_DENIED_POLICY = "ThrowExceptionDueToTrafficDenied"

RECORDED_HEADERS = ("apim-request-id", "x-ms-region", "policy-id", "server", "content-type", "via")


@dataclass(frozen=True)
class Classified:
    classification: Answer
    error_code: str | None
    error_message: str | None
    caller_ip: str | None
    azure_answered: bool
    """apim-request-id present, or policy-id ThrowExceptionDueToTrafficDenied."""


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
    label = Answer.UNKNOWN
    if status == 401 and (code or "").lower() == "permissiondenied":
        label = Answer.NO_DATA_ROLE
    else:
        for name, statuses, marker in _MARKERS:
            if status in statuses and marker.lower() in haystack:
                label = name
                break
    if label is Answer.CUSTOMER_APIM and not apim_shape:
        label = Answer.UNKNOWN
    if label is Answer.UNKNOWN and not azure:
        # An intermediary (proxy, WAF, another front end) answered: HTML page, proxy auth, bad gateway.
        if status in (407, 502, 503, 504) or is_html(headers.get("content-type"), body):
            label = Answer.INTERMEDIARY
    return Classified(label, code, message, caller_ip(message or body), azure)
