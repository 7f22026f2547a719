"""Facts derived from what this machine observed (DNS answers, path, service answer), registered by name."""

from __future__ import annotations

from typing import Any

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, Unknown, fact, known, unknown, unread
from aoai_diag.diagnosis.local_view import LocalView, answer_kind

_PUBLIC_DNS = "a public resolver's answer for the name (run without --no-public-dns, or: dig @1.1.1.1 <host>)"


@fact("local.public_dns_knows_name")
def public_dns_knows_name(ev: Evidence) -> Fact[Any]:
    """Public DNS answers the account's name (True), or says NXDOMAIN (False): does the account exist at all."""
    missing = unread(ev, "public_dns", decide=_PUBLIC_DNS)
    if missing is not None:
        return missing
    data = ev.get("public_dns")
    if data.get("public_addresses") or data.get("privatelink_hop") is True or data.get("vnet_proxy") is True:
        return known(True, "public_dns")
    public = LocalView(ev).public()
    kind = answer_kind(public.answer) if public else None
    if kind in ("private", "public", "mixed", "nodata"):
        return known(True, "public_dns")
    if kind == "nxdomain":
        return known(False, "public_dns")
    return unknown(Unknown.FAILED, "public_dns", detail="no public resolver gave a usable answer", decide=_PUBLIC_DNS)
