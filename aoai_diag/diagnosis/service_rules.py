"""Local service rules: what the data plane answered (the H1-H12 labels of aoai_diag/dataplane_classify.py) and
whether the account has a private endpoint at all.

The service's own answers are treated alike: "Public access is disabled" (H2) and "Access denied due to Virtual
Network/Firewall rules" (H3) are both named, and both are consequences of a DNS or proxy root cause when one is in
the report (catalogue `consequence_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import LocalView, answer_kind, fill
from aoai_diag.evidence.path import HttpAttempt
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
        if public is None or answer_kind(public.answer) not in ("public", "mixed", "private"):
            return
        chain = " -> ".join(public.answer.chain)
        yield Finding(
            cause_id="svc.no_private_endpoint",
            checks=("public_dns",),
            detail=(
                f"Public DNS ({public.server}) resolves {view.host} without a {view.privatelink_host} hop "
                f"({chain}): the account has no private endpoint, so there is no private path to use."
            ),
        )


@dataclass(frozen=True)
class _Answer:
    """The application path's HTTP answer, as the rules below read it."""

    view: LocalView
    attempt: HttpAttempt

    @property
    def private_direct(self) -> bool:
        return self.attempt.via == "direct" and self.attempt.address_class == "private"

    @property
    def how(self) -> str:
        if self.attempt.via == "proxy":
            return f"through the proxy {self.attempt.proxy}"
        return f"from {self.attempt.address} ({self.attempt.address_class})"


def _public_access_disabled(answer: _Answer) -> Finding:
    forwarded = " The socket peer is private, so a firewall or proxy in the path forwarded it publicly."
    return Finding(
        cause_id="svc.public_access_disabled_public_path",
        checks=("https_dataplane",),
        detail=(
            f"The service answered 403 'Public access is disabled' {answer.how}: the request arrived on the public "
            "front end of an account whose public access is off." + (forwarded if answer.private_direct else "")
        ),
        candidates=("net.firewall_reorigination",) if answer.private_direct else (),
    )


def _ip_not_allowed(answer: _Answer) -> Finding:
    caller = answer.attempt.caller_ip
    seen = f"The service saw the caller as {caller}." if caller else "The service did not name the caller IP."
    candidates: tuple[str, ...] = ()
    if answer.private_direct:
        candidates = ("net.firewall_reorigination", "svc.service_endpoint_without_vnet_rule")
    elif answer.view.on_azure:
        candidates = ("svc.same_region_ip_rule", "svc.service_endpoint_without_vnet_rule")
    return Finding(
        cause_id="svc.ip_not_allowed",
        checks=("https_dataplane",),
        detail=f"The service answered 403 'Access denied due to Virtual Network/Firewall rules' {answer.how}. {seen}",
        remediation=fill("svc.ip_not_allowed", egress_ip=caller),
        candidates=candidates,
    )


def _no_custom_subdomain(answer: _Answer) -> Finding:
    return Finding(
        cause_id="svc.no_custom_subdomain",
        checks=("https_dataplane",),
        detail=f"The service answered 403 'A Virtual Network is configured for this resource' {answer.how}.",
    )


def _not_approved(answer: _Answer) -> Finding:
    return Finding(
        cause_id="svc.traffic_not_approved_pe",
        checks=("https_dataplane",),
        detail=f"The service answered 403 'Traffic is not from an approved private endpoint' {answer.how}.",
        candidates=(
            "svc.pe_pending",
            "svc.pe_disconnected",
            "dns.record_overwritten_by_other_pe",
            "dns.record_stale_ip",
        ),
    )


def _subdomain_mismatch(answer: _Answer) -> Finding:
    return Finding(
        cause_id="dns.subdomain_mismatch",
        checks=("https_dataplane",),
        detail=(
            f"The service answered 404 'Subdomain does not map to a resource' {answer.how}: no account has the "
            f"custom subdomain '{answer.view.label}'."
        ),
    )


def _nsp(answer: _Answer) -> Finding:
    return Finding(
        cause_id="svc.nsp_enforced",
        checks=("https_dataplane",),
        detail=f"The service answered 403 naming a network security perimeter {answer.how}.",
    )


def _apim(answer: _Answer) -> Finding:
    return Finding(
        cause_id="svc.auth_lookalike",
        checks=("https_dataplane",),
        detail=(
            f"An API Management gateway answered 401 'missing subscription key' {answer.how}: a customer APIM sits "
            "in front of the account; the network path to it works."
        ),
    )


def _intermediary(answer: _Answer) -> Finding:
    attempt = answer.attempt
    server = attempt.headers.get("server")
    return Finding(
        cause_id="edge.intermediary_response",
        checks=("https_dataplane",),
        detail=(
            f"Something other than Azure answered {answer.how} (status {attempt.status}"
            + (f", Server: {server}" if server else "")
            + f", {attempt.error or 'no apim-request-id'})."
        ),
    )


# The service's answers that name a cause (labels of aoai_diag/dataplane_classify.py); H1/H6/H9 prove the path.
_BY_LABEL: dict[str, Callable[[_Answer], Finding]] = {
    "H2": _public_access_disabled,
    "H3": _ip_not_allowed,
    "H4": _no_custom_subdomain,
    "H5": _not_approved,
    "H7": _subdomain_mismatch,
    "H10": _nsp,
    "H11": _apim,
    "H12": _intermediary,
}


def dataplane_answer(ev: Evidence) -> Iterator[Finding]:
    """Map the application path's HTTP answer to a cause; H1/H6/H9 prove the path and give nothing here."""
    view = LocalView(ev)
    attempt = view.app_attempt()
    if attempt is None:
        return
    answer = _Answer(view, attempt)
    build = _BY_LABEL.get(str(attempt.classification))
    if build is None and (attempt.status == _PROXY_AUTH or attempt.outcome == "proxy_error"):
        build = _intermediary
    if build is not None:
        yield build(answer)


RULES = (no_private_endpoint, dataplane_answer)
