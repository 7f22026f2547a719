"""Turn what the user typed into the host names an account answers on."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aoai_diag.clouds import Cloud, cloud_for_host, get_cloud

# RFC 1123 label; custom subdomains are 2-64 chars per
# https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains but DNS caps a label at 63.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class TargetError(ValueError):
    """A target the user typed cannot be an account host name; the message is one line."""


@dataclass(frozen=True)
class Target:
    input: str
    """What the user typed, with any userinfo removed."""
    label: str
    """The custom subdomain (first label of the host)."""
    host: str
    """The host the data plane is probed on."""
    cloud: Cloud
    names: tuple[str, ...]
    """Every host name of the account on this cloud, host first."""

    @property
    def suffix(self) -> str:
        return self.host[len(self.label) + 1 :]

    def privatelink_name(self, host: str | None = None) -> str:
        """`contoso.privatelink.openai.azure.com` for `contoso.openai.azure.com`."""
        host = host or self.host
        label, _, suffix = host.partition(".")
        return f"{label}.privatelink.{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "label": self.label,
            "host": self.host,
            "cloud": self.cloud.name,
            "names": list(self.names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(
            input=str(data["input"]),
            label=str(data["label"]),
            host=str(data["host"]),
            cloud=get_cloud(str(data["cloud"])),
            names=tuple(data["names"]),
        )


def _check_label(label: str, original: str) -> None:
    if not _LABEL.match(label):
        if len(label) > 63:
            raise TargetError(f"invalid target {original!r}: label {label[:20]}... is longer than 63 characters")
        raise TargetError(f"invalid target {original!r}: {label!r} is not a valid DNS label (letters, digits, hyphens)")


def parse_target(text: str, cloud_name: str = "AzureCloud") -> Target:
    """Parse a resource name, a host name on an account suffix, or an https:// URL.

    Raises TargetError with a one-line message for anything else (IP literals included: the
    certificate and Host header need the account's name, cause edge.tls_wrong_name).
    """
    raw = text.strip()
    if not raw:
        raise TargetError("invalid target '': empty")
    shown = raw
    if "@" in raw:
        # user:password@ in any spelling (https://, https:/, //, none): refused, and never echoed back.
        raise TargetError("invalid target: user information (user:password@) is refused; give the account name")
    if "://" in raw:
        try:
            parts = urlsplit(raw)
            port = parts.port  # raises ValueError for a port that is not a number or out of range
        except ValueError:  # "Invalid IPv6 URL" for an unbalanced bracket, or a bad port
            raise TargetError("invalid target: not a URL (bad port or unbalanced brackets)") from None
        if parts.scheme.lower() != "https":
            raise TargetError(f"invalid target: only https:// URLs are accepted, got {parts.scheme[:20]}://")
        host = (parts.hostname or "").rstrip(".").lower()
        shown = f"https://{host}"
        if not host:
            raise TargetError(f"invalid target {shown!r}: no host name")
        if port is not None and port != 443:
            # The probes use --port for every target; a port in the URL that is not used would be a silent lie.
            raise TargetError(
                f"invalid target '{shown}:{port}': a port in the URL is not used; drop it and give --port {port}"
            )
    elif raw.startswith("/") or ":/" in raw:
        raise TargetError("invalid target: not a URL; give an https:// URL, a host name or an account name")
    else:
        host = raw.rstrip(".").lower()
        name, colon, port_text = host.rpartition(":")
        if colon and port_text.isdigit() and name and ":" not in name:
            raise TargetError(
                f"invalid target {raw!r}: a port after the host name is not used; drop it and give --port {port_text}"
            )
    if not host:
        raise TargetError(f"invalid target {shown!r}: empty host name")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise TargetError(
            f"invalid target {shown!r}: an IP address cannot be checked; give the account name "
            "(the certificate and the service need the host name)"
        )
    requested = get_cloud(cloud_name)
    if "." not in host:
        _check_label(host, shown)
        cloud = requested
        label = host
        full = f"{label}.{cloud.suffixes[0]}"
    else:
        for label_part in host.split("."):
            _check_label(label_part, shown)
        found = cloud_for_host(host)
        if found is None:
            suffixes = ", ".join(requested.suffixes)
            raise TargetError(f"invalid target {shown!r}: not a host on an account suffix ({suffixes})")
        cloud = found
        label, _, suffix = host.partition(".")
        if suffix.startswith("privatelink."):
            raise TargetError(
                f"invalid target {shown!r}: use the public name {label}.{suffix[len('privatelink.') :]}; "
                "the certificate does not cover privatelink names"
            )
        if suffix not in cloud.suffixes:
            raise TargetError(f"invalid target {shown!r}: give the account host <subdomain>.<suffix>")
        full = host
    names = (full, *(f"{label}.{s}" for s in cloud.suffixes if f"{label}.{s}" != full))
    return Target(input=shown, label=label, host=full, cloud=cloud, names=names)
