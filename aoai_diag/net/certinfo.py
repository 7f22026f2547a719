"""What a server certificate says: issuer, subject, SANs, expiry. Pure functions over DER bytes.

Decoded with `cryptography` (a dependency of azure-identity, so always installed); the standard library has no
public DER decoder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aoai_diag.evidence.path import CertName


@dataclass(frozen=True)
class CertDescription:
    """What tls_handshake records of a certificate (the fields of `TlsAttempt` of the same names)."""

    issuer: CertName
    issuer_text: str
    subject_text: str
    sans: tuple[str, ...]
    not_after: str
    """ISO 8601 UTC."""
    days_left: int


def _name_text(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


def _with_cryptography(der: bytes, now: dt.datetime) -> CertDescription:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def pairs(name: x509.Name) -> list[tuple[str, str]]:
        short = {
            NameOID.COMMON_NAME: "CN",
            NameOID.ORGANIZATION_NAME: "O",
            NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
            NameOID.COUNTRY_NAME: "C",
            NameOID.STATE_OR_PROVINCE_NAME: "ST",
            NameOID.LOCALITY_NAME: "L",
        }
        return [(short.get(a.oid, a.oid.dotted_string), str(a.value)) for a in name]

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
        sans += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    not_after = cert.not_valid_after_utc
    issuer = pairs(cert.issuer)
    named = dict(issuer)
    return CertDescription(
        issuer=CertName(CN=named.get("CN"), O=named.get("O")),
        issuer_text=_name_text(issuer),
        subject_text=_name_text(pairs(cert.subject)),
        sans=tuple(sans),
        not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        days_left=int((not_after - now).total_seconds() // 86400),
    )


def describe_der(der: bytes, now: dt.datetime | None = None) -> CertDescription:
    """Issuer {CN, O}, issuer and subject as text, SANs, expiry (ISO UTC) and days left. Raises ValueError."""
    try:
        return _with_cryptography(der, now or dt.datetime.now(dt.timezone.utc))
    except Exception as exc:
        raise ValueError(f"undecodable certificate: {exc}") from exc
