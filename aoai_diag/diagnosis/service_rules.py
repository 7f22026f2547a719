"""Local service rules: what the data plane answered (the H1-H12 labels of aoai_diag/dataplane_classify.py) and
whether the account has a private endpoint at all.

The service's own answers are treated alike: "Public access is disabled" (H2) and "Access denied due to Virtual
Network/Firewall rules" (H3) are both named, and both are consequences of a DNS or proxy root cause when one is in
the report (catalogue `consequence_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import LocalView, answer_kind, fill
from aoai_diag.model import Finding

# 407 is a proxy asking for credentials: the answer did not come from Azure (H12).
_PROXY_AUTH = 407


def no_private_endpoint(ev: Evidence) -> Iterator[Finding]:
    """The public chain has no `<sub>.privatelink.` hop: the account has no private endpoint.

    A resource with a private endpoint never loses that hop on public DNS
    (https://learn.microsoft.com/azure/ai-services/speech-service/speech-services-private-link).
    """
    view = LocalView(ev)
    if view.pe_exists is False:
        public = view.public()
        chain = " -> ".join(str(n) for n in (public.answer.get("chain") or [])) if public else ""
        if public is None or answer_kind(public.answer) not in ("public", "mixed", "private"):
            return
        yield Finding(
            cause_id="svc.no_private_endpoint",
            checks=("public_dns",),
            detail=(
                f"Public DNS ({public.server}) resolves {view.host} without a {view.privatelink_host} hop "
                f"({chain}): the account has no private endpoint, so there is no private path to use."
            ),
        )


def dataplane_answer(ev: Evidence) -> Iterator[Finding]:
    """Map the application path's HTTP answer to a cause; H1/H6/H9 prove the path and give nothing here."""
    view = LocalView(ev)
    attempt = view.app_attempt()
    if attempt is None:
        return
    label = attempt.get("classification")
    peer = str(attempt.get("address"))
    peer_class = attempt.get("address_class")
    via = attempt.get("via")
    how = f"through the proxy {attempt.get('proxy')}" if via == "proxy" else f"from {peer} ({peer_class})"
    private_direct = via == "direct" and peer_class == "private"
    status = attempt.get("status")
    if label == "H2":
        yield Finding(
            cause_id="svc.public_access_disabled_public_path",
            checks=("https_dataplane",),
            detail=(
                f"The service answered 403 'Public access is disabled' {how}: the request arrived on the public "
                "front end of an account whose public access is off."
                + (
                    " The socket peer is private, so a firewall or proxy in the path forwarded it publicly."
                    if private_direct
                    else ""
                )
            ),
            candidates=("net.firewall_reorigination",) if private_direct else (),
        )
    elif label == "H3":
        caller = attempt.get("caller_ip")
        seen = f"The service saw the caller as {caller}." if caller else "The service did not name the caller IP."
        candidates: tuple[str, ...] = ()
        if private_direct:
            candidates = ("net.firewall_reorigination", "svc.service_endpoint_without_vnet_rule")
        elif view.on_azure:
            candidates = ("svc.same_region_ip_rule", "svc.service_endpoint_without_vnet_rule")
        yield Finding(
            cause_id="svc.ip_not_allowed",
            checks=("https_dataplane",),
            detail=(f"The service answered 403 'Access denied due to Virtual Network/Firewall rules' {how}. {seen}"),
            remediation=fill("svc.ip_not_allowed", egress_ip=str(caller) if caller else None),
            candidates=candidates,
        )
    elif label == "H4":
        yield Finding(
            cause_id="svc.no_custom_subdomain",
            checks=("https_dataplane",),
            detail=f"The service answered 403 'A Virtual Network is configured for this resource' {how}.",
        )
    elif label == "H5":
        yield Finding(
            cause_id="svc.traffic_not_approved_pe",
            checks=("https_dataplane",),
            detail=f"The service answered 403 'Traffic is not from an approved private endpoint' {how}.",
            candidates=(
                "svc.pe_pending",
                "svc.pe_disconnected",
                "dns.record_overwritten_by_other_pe",
                "dns.record_stale_ip",
            ),
        )
    elif label == "H7":
        yield Finding(
            cause_id="dns.subdomain_mismatch",
            checks=("https_dataplane",),
            detail=(
                f"The service answered 404 'Subdomain does not map to a resource' {how}: no account has the "
                f"custom subdomain '{view.label}'."
            ),
        )
    elif label == "H10":
        yield Finding(
            cause_id="svc.nsp_enforced",
            checks=("https_dataplane",),
            detail=f"The service answered 403 naming a network security perimeter {how}.",
        )
    elif label == "H11":
        yield Finding(
            cause_id="svc.auth_lookalike",
            checks=("https_dataplane",),
            detail=(
                f"An API Management gateway answered 401 'missing subscription key' {how}: a customer APIM sits in "
                "front of the account; the network path to it works."
            ),
        )
    elif label == "H12" or status == _PROXY_AUTH or attempt.get("outcome") == "proxy_error":
        headers = attempt.get("headers")
        server = headers.get("server") if isinstance(headers, Mapping) else None
        yield Finding(
            cause_id="edge.intermediary_response",
            checks=("https_dataplane",),
            detail=(
                f"Something other than Azure answered {how} (status {status}"
                + (f", Server: {server}" if server else "")
                + f", {attempt.get('error') or 'no apim-request-id'})."
            ),
        )


RULES = (no_private_endpoint, dataplane_answer)
