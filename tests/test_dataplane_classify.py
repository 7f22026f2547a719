"""The H1..H12 classifier against the verbatim texts of the public reports listed in docs/dataplane-answers.md."""

from __future__ import annotations

import json

import pytest

from aoai_diag.dataplane_classify import caller_ip, classify

APIM = {"apim-request-id": "2d0f5a2e-6a53-4d2d-9a5e-1c1b1b7b1a11", "content-type": "application/json"}
DENIED = {**APIM, "policy-id": "ThrowExceptionDueToTrafficDenied"}


def err(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


CASES = [
    (
        "H1",
        401,
        APIM,
        err(
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
            "an active subscription and use a correct regional API endpoint for your resource.",
        ),
    ),
    ("H2", 403, DENIED, err("AccessDenied", "Public access is disabled. Please configure private endpoint.")),
    ("H3", 403, DENIED, err("403", "Access denied due to Virtual Network/Firewall rules.")),
    (
        "H4",
        403,
        APIM,
        err(
            "403",
            "A Virtual Network is configured for this resource. Please use the correct endpoint for making requests. "
            "Check https://aka.ms/cogsvc-vnet for more details.",
        ),
    ),
    ("H5", 403, APIM, err("403", "Traffic is not from an approved private endpoint.")),
    ("H6", 404, APIM, err("404", "Resource not found")),
    ("H7", 404, APIM, err("404", "Subdomain does not map to a resource")),
    ("H8", 400, APIM, err("BadRequest", "Please provide an authentication key.")),
    ("H9", 401, APIM, err("PermissionDenied", "Principal does not have access to API/Operation.")),
    (
        "H10",
        403,
        APIM,
        err("403", "This request is not authorized by network security perimeter to access this resource."),
    ),
    (
        "H11",
        401,
        {"content-type": "application/json"},
        '{"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include '
        'subscription key when making requests to an API."}',
    ),
    (
        "H12",
        403,
        {"server": "nginx", "content-type": "text/html"},
        "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    ),
]


@pytest.mark.parametrize(("label", "status", "headers", "body"), CASES, ids=[c[0] for c in CASES])
def test_each_label_from_its_verbatim_text(label: str, status: int, headers: dict[str, str], body: str) -> None:
    result = classify(status, headers, body)
    assert result.classification == label
    assert result.azure_answered == ("apim-request-id" in headers)


def test_error_code_and_message_are_parsed() -> None:
    result = classify(403, DENIED, err("AccessDenied", "Public access is disabled. Please configure private endpoint."))
    assert result.error_code == "AccessDenied"
    assert result.error_message == "Public access is disabled. Please configure private endpoint."


def test_h1_with_unauthorized_code_variant() -> None:
    body = err("Unauthorized", "Access denied due to invalid subscription key or wrong API endpoint. Make sure ...")
    assert classify(401, APIM, body).classification == "H1"


def test_h9_by_code_alone_and_foundry_wording() -> None:
    assert classify(401, APIM, err("PermissionDenied", "something new")).classification == "H9"
    foundry = err("Forbidden", "The principal `x` lacks the required data action `y` to perform `z` operation.")
    assert classify(401, APIM, foundry).classification == "H9"


def test_h3_caller_ip_from_the_message() -> None:
    body = err("403", "Access denied due to Virtual Network/Firewall rules. Your IP address is 203.0.113.7.")
    result = classify(403, DENIED, body)
    assert (result.classification, result.caller_ip) == ("H3", "203.0.113.7")


def test_caller_ip_variants() -> None:
    assert caller_ip("Your IP address is 198.51.100.20") == "198.51.100.20"
    assert caller_ip('"Your IP address is 2001:db8::5."') == "2001:db8::5"
    assert caller_ip("Your IP address is not-an-ip.") is None
    assert caller_ip("nothing here") is None


def test_policy_id_alone_marks_azure() -> None:
    result = classify(
        403,
        {"policy-id": "ThrowExceptionDueToTrafficDenied"},
        err("403", "Access denied due to Virtual Network/Firewall rules."),
    )
    assert result.azure_answered and result.classification == "H3"


@pytest.mark.parametrize("status", [407, 502, 504])
def test_intermediary_statuses_without_azure_headers_are_h12(status: int) -> None:
    assert classify(status, {"server": "squid/5.7"}, "").classification == "H12"


def test_html_without_content_type_is_h12() -> None:
    assert classify(403, {}, "<!DOCTYPE html><html><body>Blocked by policy</body></html>").classification == "H12"


def test_statuscode_shape_required_for_h11() -> None:
    # The same words inside Azure's {"error": ...} shape are not the customer-APIM answer.
    body = err("401", "Access denied due to missing subscription key.")
    assert classify(401, APIM, body).classification == "unknown"


def test_marker_on_wrong_status_is_unknown() -> None:
    assert (
        classify(500, APIM, err("500", "Public access is disabled. Please configure private endpoint.")).classification
        == "unknown"
    )


def test_garbage_body_is_unknown_not_a_crash() -> None:
    result = classify(200, APIM, "\x00\xff{not json")
    assert (result.classification, result.error_code, result.error_message) == ("unknown", None, None)


@pytest.mark.parametrize("body", ["[" * 60000, '{"error": ' * 30000, "\x00\xff not json", ""])
def test_bodies_that_are_not_json_are_classified_not_raised(body: str) -> None:
    # json refuses deep nesting with RecursionError, not ValueError: still just "not the usual JSON shape".
    result = classify(403, {"content-type": "application/json"}, body)
    assert result.classification == "unknown"
    assert result.error_code is None and result.error_message is None
