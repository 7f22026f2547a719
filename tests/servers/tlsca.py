"""Test PKI built with trustme: an "Azure" CA, a foreign "inspection" CA, and the server certificates tests serve.

`make_pki(directory)` writes PEM files:
    azure-ca.pem        the Azure CA alone (point SSL_CERT_FILE / REQUESTS_CA_BUNDLE here)
    inspection-ca.pem   the inspection CA alone (to emulate a machine that trusts the corporate root)
    azure.pem           leaf for *.openai.azure.com, *.cognitiveservices.azure.com, *.services.ai.azure.com (chain + key)
    inspection.pem      the same names, issued by the inspection CA (what a TLS-inspecting proxy presents)
    expired.pem         Azure names, Azure CA, expired a day ago
    wrong-name.pem      Azure CA, but only for www.example.test (another service on the address)

Standalone: `python -m tests.servers.tlsca --out DIR` writes the files and prints "ready".
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import trustme

AZURE_NAMES = ("*.openai.azure.com", "*.cognitiveservices.azure.com", "*.services.ai.azure.com")
AZURE_ORG = "Microsoft Corporation"
INSPECTION_ORG = "Zscaler Inc."
CERT_KINDS = ("azure", "inspection", "expired", "wrong-name")


@dataclass(frozen=True)
class Pki:
    directory: Path
    azure_ca: Path
    """PEM of the Azure CA: what the system trust store holds in tests."""
    inspection_ca: Path

    def cert(self, kind: str) -> Path:
        """Chain + private key PEM for `kind` (one of CERT_KINDS), loadable with SSLContext.load_cert_chain."""
        if kind not in CERT_KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}; one of {', '.join(CERT_KINDS)}")
        return self.directory / f"{kind}.pem"


def _write_leaf(path: Path, leaf: trustme.LeafCert) -> None:
    parts = [blob.bytes() for blob in leaf.cert_chain_pems] + [leaf.private_key_pem.bytes()]
    path.write_bytes(b"".join(parts))


def make_pki(directory: Path | str) -> Pki:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    azure = trustme.CA(organization_name=AZURE_ORG, organization_unit_name="Azure TLS Issuing CA (test)")
    inspection = trustme.CA(organization_name=INSPECTION_ORG, organization_unit_name="Inspection root (test)")
    azure.cert_pem.write_to_path(str(directory / "azure-ca.pem"))
    inspection.cert_pem.write_to_path(str(directory / "inspection-ca.pem"))
    now = dt.datetime.now(dt.timezone.utc)
    _write_leaf(directory / "azure.pem", azure.issue_cert(*AZURE_NAMES, organization_name=AZURE_ORG))
    _write_leaf(directory / "inspection.pem", inspection.issue_cert(*AZURE_NAMES, organization_name=INSPECTION_ORG))
    _write_leaf(
        directory / "expired.pem",
        azure.issue_cert(*AZURE_NAMES, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)),
    )
    _write_leaf(directory / "wrong-name.pem", azure.issue_cert("www.example.test"))
    return Pki(directory, directory / "azure-ca.pem", directory / "inspection-ca.pem")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the test PKI")
    parser.add_argument("--out", required=True, help="directory for the PEM files")
    args = parser.parse_args(argv)
    make_pki(args.out)
    print("ready", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
