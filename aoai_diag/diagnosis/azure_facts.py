"""Facts derived from the `arm_*` probes' evidence (docs/evidence.md, "Azure probes"), registered by name.

A read that was refused, throttled or never made gives an *unknown* fact, never a false one: a zone the
credential cannot see may exist.
"""

from __future__ import annotations

from typing import Any

from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.facts import Fact, fact, known, refused, unread

_ZONE_READER = "Reader on every subscription that may hold the privatelink zones would show whether the zone exists"


def _zone_reader(denied: Any) -> str:
    scopes = (
        [str(d.get("scope")) for d in denied if isinstance(d, dict) and d.get("scope")]
        if isinstance(denied, list)
        else []
    )
    if not scopes:
        return _ZONE_READER
    return f"Reader on {', '.join(dict.fromkeys(scopes))} would show whether the zone and its record exist there"


@fact("arm.zone_search_complete")
def zone_search_complete(ev: Evidence) -> Fact[Any]:
    """Every subscription and zone was read, so a zone or record not found is absent (True, or unknown)."""
    missing = unread(ev, "arm_dns_zones", decide=_zone_reader(ev.get("arm_dns_zones").get("denied")))
    if missing is not None:
        return missing
    data = ev.get("arm_dns_zones")
    if data.get("complete") is True:
        return known(True, "arm_dns_zones")
    return refused(data.get("denied"), "arm_dns_zones", "some scopes were not read", _zone_reader(data.get("denied")))
