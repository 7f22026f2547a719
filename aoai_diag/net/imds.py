"""The Azure Instance Metadata Service, asked once: is this machine an Azure VM, and which one?

`GET /metadata/instance?api-version=2021-02-01` with `Metadata: true`, never through a proxy
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service). Used by the `azure_platform` probe
and by `--all-accounts` discovery; the caller bounds the connect (off Azure nothing answers on 169.254.169.254).
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from aoai_diag import peer
from aoai_diag.errors import one_line
from aoai_diag.evidence.path import AzurePlatform, ImdsVm
from aoai_diag.net.cutoff import Cutoff
from aoai_diag.redact import redact_url_userinfo

API_VERSION = "2021-02-01"
MAX_BODY = 256 * 1024
"""An instance document is about 5 KB; a larger answer is not one (and is not read past this)."""


def _get(mapping: Any, *path: Any) -> Any:
    for key in path:
        try:
            mapping = mapping[key]
        except (KeyError, IndexError, TypeError):
            return None
    return mapping


def _address(value: Any, path: str) -> str | None:
    text = peer.text(value, path, 64)
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise peer.PeerValueError(f"{path} {text[:40]!r} is not an IP address") from None


def parse_instance(document: Any) -> ImdsVm:
    """The `vm` evidence from an instance document; missing fields become null. Raises ValueError if not one.

    Every field is checked as it enters (issue 19): a name that is a number, a location of a megabyte or an address
    that is not one raises PeerValueError naming the field, so a misbehaving peer is reported as such and never
    shown as "Azure VM nan in inf".
    """
    compute = _get(document, "compute")
    if not isinstance(compute, dict):
        raise ValueError("the answer has no 'compute' section")
    nic = _get(document, "network", "interface", 0)
    address = _address(_get(nic, "ipv4", "subnet", 0, "address"), "network.interface[0].ipv4.subnet[0].address")
    prefix = _get(nic, "ipv4", "subnet", 0, "prefix")
    if prefix is not None:
        # The service sends the prefix length as a string ("24"); a plain integer is taken too.
        text = str(prefix) if isinstance(prefix, str | int) and not isinstance(prefix, bool) else ""
        if not (text.isdigit() and len(text) <= 3 and int(text) <= 128):
            raise peer.PeerValueError(
                f"network.interface[0].ipv4.subnet[0].prefix {str(prefix)[:20]!r} is not a prefix length"
            )
        prefix = int(text)

    def short(name: str) -> str | None:
        return peer.text(compute.get(name), f"compute.{name}", 256)

    return ImdsVm(
        subscription_id=short("subscriptionId"),
        resource_group=short("resourceGroupName"),
        name=short("name"),
        vm_id=short("vmId"),
        location=short("location"),
        resource_id=peer.text(compute.get("resourceId"), "compute.resourceId", 1024),
        private_ip=_address(
            _get(nic, "ipv4", "ipAddress", 0, "privateIpAddress"),
            "network.interface[0].ipv4.ipAddress[0].privateIpAddress",
        ),
        subnet_prefix=f"{address}/{prefix}" if address and prefix is not None else None,
        mac=peer.text(_get(nic, "macAddress"), "network.interface[0].macAddress", 64),
    )


def fetch_instance(endpoint: str, connect_timeout: float, read_timeout: float) -> AzurePlatform:
    """Ask IMDS once; returns the evidence (never raises for network or content problems).

    The whole exchange (connect, request, head and body) ends within `connect_timeout + read_timeout`: a read
    timeout alone restarts with every byte, and a peer trickling one byte a second would hold it for days.
    """
    shown = redact_url_userinfo(endpoint)  # never a credential in the evidence, even if one was configured
    # on_azure False: nothing answered as IMDS; None: something answered, unusably (or the endpoint is unusable).
    unusable = AzurePlatform(on_azure=None, endpoint=shown)
    try:
        parts = urlsplit(endpoint)
        port = parts.port or 80  # .port raises ValueError for a bad port, urlsplit for a bad IPv6 literal
    except ValueError:
        parts, port = None, 0
    if parts is None or parts.scheme != "http" or not parts.hostname:
        return dataclasses.replace(unusable, error=f"IMDS endpoint must be http://host[:port], got {shown!r}")
    base = parts.path.rstrip("/")
    conn = http.client.HTTPConnection(parts.hostname, port, timeout=connect_timeout)
    cutoff = Cutoff(connect_timeout + read_timeout)
    too_slow = f"{shown} did not finish its answer within {connect_timeout + read_timeout:g} s"
    status: int | None = None
    try:
        conn.connect()
        assert conn.sock is not None
        cutoff.watch(conn.sock)
        conn.sock.settimeout(read_timeout)
        conn.request("GET", f"{base}/metadata/instance?api-version={API_VERSION}", headers={"Metadata": "true"})
        response = conn.getresponse()
        body = response.read(MAX_BODY + 1)
        status = response.status
        if cutoff.fired:
            raise TimeoutError
    except TimeoutError:
        if cutoff.fired:  # something answered, too slowly to be used
            return dataclasses.replace(unusable, http_status=status, error=too_slow)
        error = f"no answer from {shown} within {connect_timeout:g} s"
        return AzurePlatform(on_azure=False, endpoint=shown, http_status=status, error=error)
    except (OSError, http.client.HTTPException) as exc:
        if cutoff.fired:  # the cut socket fails the read in its own way; the reason is the time
            return dataclasses.replace(unusable, http_status=status, error=too_slow)
        error = redact_url_userinfo(f"{shown}: {one_line(exc)}")
        return AzurePlatform(on_azure=False, endpoint=shown, http_status=status, error=error)
    finally:
        cutoff.cancel()
        conn.close()
    answered = dataclasses.replace(unusable, http_status=status)
    if response.status != 200:
        # 429 is Azure IMDS throttling (5 requests/s per VM:
        # https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#rate-limiting); other
        # statuses come from another cloud's metadata service or something else on the address, which is not Azure.
        on_azure = None if response.status == 429 else False
        return dataclasses.replace(answered, on_azure=on_azure, error=f"{shown} answered HTTP {response.status}")
    if len(body) > MAX_BODY:
        error = f"IMDS answer is not instance metadata: larger than {MAX_BODY} bytes (truncated)"
        return dataclasses.replace(answered, error=error)
    try:
        vm = parse_instance(peer.loads(body, "the answer"))
    except ValueError as exc:  # PeerValueError included: a misbehaving peer is evidence, not a crash
        return dataclasses.replace(answered, error=f"IMDS answer is not instance metadata: {str(exc)[:300]}")
    return dataclasses.replace(answered, on_azure=True, vm=vm)
