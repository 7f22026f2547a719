"""The Azure Instance Metadata Service, asked once: is this machine an Azure VM, and which one?

`GET /metadata/instance?api-version=2021-02-01` with `Metadata: true`, never through a proxy
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service). Used by the `azure_platform` probe
and by `--all-accounts` discovery; the caller bounds the connect (off Azure nothing answers on 169.254.169.254).
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from aoai_diag.errors import one_line
from aoai_diag.redact import redact_url_userinfo

API_VERSION = "2021-02-01"
MAX_BODY = 256 * 1024


def _get(mapping: Any, *path: Any) -> Any:
    for key in path:
        try:
            mapping = mapping[key]
        except (KeyError, IndexError, TypeError):
            return None
    return mapping


def parse_instance(document: Any) -> dict[str, Any]:
    """The `vm` evidence from an instance document; missing fields become null. Raises ValueError if not one."""
    compute = _get(document, "compute")
    if not isinstance(compute, dict):
        raise ValueError("the answer has no 'compute' section")
    nic = _get(document, "network", "interface", 0)
    address = _get(nic, "ipv4", "subnet", 0, "address")
    prefix = _get(nic, "ipv4", "subnet", 0, "prefix")
    return {
        "subscription_id": compute.get("subscriptionId"),
        "resource_group": compute.get("resourceGroupName"),
        "name": compute.get("name"),
        "vm_id": compute.get("vmId"),
        "location": compute.get("location"),
        "resource_id": compute.get("resourceId"),
        "private_ip": _get(nic, "ipv4", "ipAddress", 0, "privateIpAddress"),
        "subnet_prefix": f"{address}/{prefix}" if address and prefix is not None else None,
        "mac": _get(nic, "macAddress"),
    }


def fetch_instance(endpoint: str, connect_timeout: float, read_timeout: float) -> dict[str, Any]:
    """Ask IMDS once; returns the evidence mapping (never raises for network or content problems)."""
    shown = redact_url_userinfo(endpoint)  # never a credential in the evidence, even if one was configured
    evidence: dict[str, Any] = {"on_azure": False, "vm": None, "endpoint": shown, "http_status": None, "error": None}
    try:
        parts = urlsplit(endpoint)
        port = parts.port or 80  # .port raises ValueError for a bad port, urlsplit for a bad IPv6 literal
    except ValueError:
        parts, port = None, 0
    if parts is None or parts.scheme != "http" or not parts.hostname:
        evidence["error"] = f"IMDS endpoint must be http://host[:port], got {shown!r}"
        evidence["on_azure"] = None
        return evidence
    base = parts.path.rstrip("/")
    conn = http.client.HTTPConnection(parts.hostname, port, timeout=connect_timeout)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(read_timeout)
        conn.request("GET", f"{base}/metadata/instance?api-version={API_VERSION}", headers={"Metadata": "true"})
        response = conn.getresponse()
        body = response.read(MAX_BODY)
        evidence["http_status"] = response.status
    except TimeoutError:
        evidence["error"] = f"no answer from {shown} within {connect_timeout:g} s"
        return evidence
    except (OSError, http.client.HTTPException) as exc:
        evidence["error"] = redact_url_userinfo(f"{shown}: {one_line(exc)}")
        return evidence
    finally:
        conn.close()
    if response.status != 200:
        # 429 is Azure IMDS throttling (5 requests/s per VM:
        # https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#rate-limiting); other
        # statuses come from another cloud's metadata service or something else on the address, which is not Azure.
        evidence["on_azure"] = None if response.status == 429 else False
        evidence["error"] = f"{shown} answered HTTP {response.status}"
        return evidence
    try:
        evidence["vm"] = parse_instance(json.loads(body.decode("utf-8")))
    except (ValueError, RecursionError) as exc:  # RecursionError: json's answer to deeply nested arrays
        evidence["on_azure"] = None
        evidence["error"] = f"IMDS answer is not instance metadata: {one_line(exc)}"
        return evidence
    evidence["on_azure"] = True
    return evidence
