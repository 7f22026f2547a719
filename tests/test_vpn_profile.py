"""The VPN profile as evidence: azurevpnconfig.xml, VpnSettings.xml and the package zip, secrets left out."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from aoai_diag.checks import vpn_profile
from aoai_diag.context import ProbeContext, Settings
from aoai_diag.evidence.osnet import RouteCoverage, VpnProfile, VpnProfileContent
from aoai_diag.model import CheckResult, Status
from aoai_diag.osnet.vpnprofile import (
    VpnProfileError,
    covering_route,
    load_profile,
    parse_azurevpnconfig,
    parse_vpnsettings,
    suffix_covers,
)
from aoai_diag.targets import parse_target
from tests.conftest import FIXTURES, guarded_env

VPN = FIXTURES / "osnet" / "vpn"
GATEWAY = "azuregateway-6b1e0c9a-2f4d-4e3b-8a77-1c5d9e2f3a4b-0e1f2a3b4c5d.vpn.azure.com"
SECRETS = (
    "5f2d8a1c9e7b",  # serversecret (Entra profile)
    "0a1b2c3d4e5f",  # serversecret (certificate profile)
    "A8985D3A65E5",  # server certificate hash
    "3F1A9C2E7B5D",  # client certificate hash
    "8f0e2c55-3d7b",  # tenant id (issuer, tenant)
    "c632b3df",  # audience
    "MIIDjjCCAnag",  # CA certificate body
    "P2SRootCert",
)


def package(tmp_path: Path, *members: tuple[str, str]) -> Path:
    path = tmp_path / "vnet-hub.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, fixture in members:
            archive.write(VPN / fixture, name)
        archive.writestr("Generic/VpnServerRoot.cer", b"0\x82\x03\x8e0\x82\x02v")
    return path


def test_entra_profile_default_has_no_client_config() -> None:
    profile = parse_azurevpnconfig((VPN / "azurevpnconfig_entra.xml").read_text())
    assert profile.gateway == GATEWAY and profile.name == "vnet-hub" and profile.auth_type == "aad"
    assert profile.dns_servers == () and profile.dns_suffixes == () and profile.include_routes == ()
    assert profile.routes_known is False
    assert profile.omitted == ("audience", "cert", "hash", "issuer", "serversecret", "tenant")


def test_custom_profile_dns_suffixes_and_routes() -> None:
    profile = parse_azurevpnconfig((VPN / "azurevpnconfig_custom.xml").read_text())
    assert profile.dns_servers == ("10.1.0.4", "10.1.0.5")
    assert profile.dns_suffixes == (".contoso.internal", ".privatelink.openai.azure.com")
    assert profile.include_routes == ("10.3.0.0/16",) and profile.exclude_routes == ("10.1.2.0/28",)
    assert profile.vpn_type == "OpenVPN (tcp)"


def test_vpnsettings_routes_pool_and_type() -> None:
    profile = parse_vpnsettings((VPN / "VpnSettings.xml").read_text())
    assert profile.advertised_routes == ("10.0.0.0/16", "10.1.0.0/16") and profile.routes_known is True
    assert profile.client_address_pool == ("172.16.201.0/24",) and profile.vpn_type == "IkeV2,OpenVPN"
    assert profile.dns_servers == () and profile.omitted == ("cacert",)


def test_zip_merges_both_files_and_leaves_every_secret_out(tmp_path: Path) -> None:
    path = package(
        tmp_path,
        ("AzureVPN/azurevpnconfig.xml", "azurevpnconfig_custom.xml"),
        ("Generic/VpnSettings.xml", "VpnSettings.xml"),
    )
    profile = load_profile(str(path))
    assert profile.files == ("AzureVPN/azurevpnconfig.xml", "Generic/VpnSettings.xml")
    assert profile.gateway == GATEWAY and profile.routes_known is True
    assert profile.advertised_routes == ("10.0.0.0/16", "10.1.0.0/16")
    assert profile.dns_servers == ("10.1.0.4", "10.1.0.5")
    # the first file's value of a field wins; lists are joined
    assert profile.vpn_type == "OpenVPN (tcp)" and profile.client_address_pool == ("172.16.201.0/24",)
    dumped = json.dumps(profile.to_dict())
    assert not [s for s in SECRETS if s in dumped]


def test_routes_exclude_wins_and_longest_route_is_named() -> None:
    profile = VpnProfileContent(advertised_routes=("10.0.0.0/8", "10.1.0.0/16"), exclude_routes=("10.1.2.0/28",))
    assert covering_route(profile, "10.1.3.4") == ("10.1.0.0/16", None)
    assert covering_route(profile, "10.1.2.4") == ("10.1.0.0/16", "10.1.2.0/28")
    assert covering_route(profile, "192.168.7.1") == (None, None)


@pytest.mark.parametrize(
    ("suffix", "name", "covers"),
    [
        (".openai.azure.com", "contoso.openai.azure.com", True),
        ("openai.azure.com", "contoso.openai.azure.com", True),
        (".privatelink.openai.azure.com", "contoso.openai.azure.com", False),
        (".", "contoso.openai.azure.com", True),
        (".azure.com.evil", "contoso.openai.azure.com", False),
    ],
)
def test_suffix_covers(suffix: str, name: str, covers: bool) -> None:
    assert suffix_covers(suffix, name) is covers


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<html><body>login</body></html>", "not an Azure VPN Client profile"),
        ("<AzVpnProfile><name>x", "not well-formed XML"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><AzVpnProfile/>', "document type declaration"),
        ("<VpnProfile><Routes>10.0.0.0/16</Routes></VpnProfile>", "not a VpnSettings.xml"),
    ],
)
def test_not_a_profile(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.xml"
    path.write_text(content)
    with pytest.raises(VpnProfileError, match=message):
        load_profile(str(path))


def test_zip_without_profile_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(VpnProfileError, match="neither"):
        load_profile(str(empty))
    with pytest.raises(VpnProfileError, match="cannot read"):
        load_profile(str(tmp_path / "absent.xml"))


def probe(path: Path, *addresses: str) -> CheckResult:
    ctx = ProbeContext(settings=Settings(vpn_profile=str(path)), deadline=time.monotonic() + 5)
    resolution = CheckResult("system_resolution", Status.PASS, "", {"addresses": list(addresses)}, 0.0)
    outcome = vpn_profile.collect(parse_target("contoso"), ctx, {"system_resolution": resolution})
    return CheckResult("vpn_profile", outcome.status, outcome.summary, outcome.evidence, 0.0, outcome.reason)


def test_probe_passes_when_the_profile_covers_address_and_names(tmp_path: Path) -> None:
    path = tmp_path / "azurevpnconfig.xml"
    text = (VPN / "azurevpnconfig_custom.xml").read_text()
    path.write_text(
        text.replace("<dnssuffix>.privatelink.openai.azure.com</dnssuffix>", "<dnssuffix>.azure.com</dnssuffix>")
        .replace("<mask>28</mask>", "<mask>32</mask>")
        .replace("10.3.0.0", "10.1.0.0")
    )
    result = probe(path, "10.1.2.4")
    assert result.status is Status.PASS, result.summary
    evidence = result.typed(VpnProfile)
    assert evidence.coverage == {"10.1.2.4": RouteCoverage(route="10.1.0.0/16", excluded_by=None)}
    assert evidence.file == "azurevpnconfig.xml"


def test_probe_warns_on_excluded_address_and_uncovered_names() -> None:
    result = probe(VPN / "azurevpnconfig_custom.xml", "10.1.2.4")
    assert result.status is Status.WARN
    evidence = result.typed(VpnProfile)
    assert evidence.coverage["10.1.2.4"].excluded_by == "10.1.2.0/28"
    assert evidence.suffix_coverage["contoso.openai.azure.com"] is None
    assert "do not cover contoso.openai.azure.com" in result.summary


def test_probe_names_an_unreadable_profile_and_records_only_its_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "azurevpnconfig.xml"
    bad.write_text("<AzVpnProfile><name>x")
    result = probe(bad, "10.1.2.4")
    assert result.status is Status.ERROR and "not well-formed XML" in result.summary
    # the file's base name only (the directory may name the user); the profile itself is unknown, not empty
    assert result.typed(VpnProfile) == VpnProfile(file="azurevpnconfig.xml", profile=None)


def test_probe_is_switched_off_without_the_option() -> None:
    assert vpn_profile.PROBE.disabled(Settings()) == "no --vpn-profile given"


def test_cli_bad_profile_is_a_one_line_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "azurevpnconfig.xml"
    bad.write_text("not xml at all")
    proc = subprocess.run(
        [sys.executable, "-m", "aoai_diag", "check", "contoso", "--vpn-profile", str(bad)],
        capture_output=True,
        text=True,
        env=guarded_env(),
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--vpn-profile" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_collect_with_the_package_then_analyze_keeps_the_profile_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from click.testing import CliRunner

    from aoai_diag.cli import main
    from tests.monitoring_support import fake_getaddrinfo, loopback_site

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo())
    zipped = package(
        tmp_path,
        ("AzureVPN/azurevpnconfig.xml", "azurevpnconfig_entra.xml"),
        ("Generic/VpnSettings.xml", "VpnSettings.xml"),
    )
    bundle_path = tmp_path / "bundle.json"
    with loopback_site(["contoso"]) as site:
        args = [*site.cli_args(timeout=0.5), "--vpn-profile", str(zipped)]
        collected = CliRunner().invoke(main, ["collect", "contoso", "-o", str(bundle_path), *args])
    assert collected.exit_code == 0, collected.output
    text = bundle_path.read_text()
    assert not [s for s in SECRETS if s in text] and str(tmp_path) not in text
    bundle = json.loads(text)
    import jsonschema

    schema = json.loads((FIXTURES.parent / "aoai_diag" / "data" / "bundle.schema.json").read_text())
    jsonschema.validate(bundle, schema)
    (check,) = [c for c in bundle["targets"][0]["checks"] if c["id"] == "vpn_profile"]
    assert check["evidence"]["profile"]["advertised_routes"] == ["10.0.0.0/16", "10.1.0.0/16"]
    assert check["evidence"]["file"] == "vnet-hub.zip"
    analysed = subprocess.run(
        [sys.executable, "-m", "aoai_diag", "analyze", str(bundle_path), "-o", "json"],
        capture_output=True,
        text=True,
        env=guarded_env(),
        timeout=60,
    )
    report = json.loads(analysed.stdout)
    (target,) = report["targets"]
    assert [f["id"] for f in target["diagnosis"]] == bundle["targets"][0]["collected"]["causes"]
    assert any(c["id"] == "vpn_profile" and c["status"] == "warn" for c in target["checks"])


def test_unzipped_package_folder_reads_like_the_zip(tmp_path: Path) -> None:
    for folder, name, fixture in (
        ("AzureVPN", "azurevpnconfig.xml", "azurevpnconfig_custom.xml"),
        ("Generic", "VpnSettings.xml", "VpnSettings.xml"),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes((VPN / fixture).read_bytes())
    zipped = package(
        tmp_path,
        ("AzureVPN/azurevpnconfig.xml", "azurevpnconfig_custom.xml"),
        ("Generic/VpnSettings.xml", "VpnSettings.xml"),
    )
    assert load_profile(str(tmp_path)) == load_profile(str(zipped))
    with pytest.raises(VpnProfileError, match="the folder holds neither"):
        load_profile(str(tmp_path / "AzureVPN"))


# Real package shapes (issue 20): the auth type in <Auth>, elements the client ignores, every credential left out ----


def test_vpnsettings_auth_type_read_from_auth_when_authenticationtype_is_absent() -> None:
    # Shape: the generic package's VpnSettings.xml (https://learn.microsoft.com/azure/vpn-gateway/about-vpn-profile-download)
    text = (VPN / "VpnSettings.xml").read_text().replace("<AuthenticationType>EapTls</AuthenticationType>", "")
    assert parse_vpnsettings(text.replace("<Version>", "<Auth>EapTls</Auth><Version>")).auth_type == "EapTls"
    nested = text.replace("<Version>", "<Auth><Type>AAD</Type><Audience>c632b3df</Audience></Auth><Version>")
    profile = parse_vpnsettings(nested)
    assert profile.auth_type == "AAD" and "audience" in profile.omitted
    assert "c632b3df" not in json.dumps(profile.to_dict())
    assert parse_vpnsettings(text).auth_type is None


def test_misplaced_dns_suffixes_are_warned_not_read() -> None:
    # <dnssuffixes> pasted inside <servervalidation>: the Azure VPN Client reads it only inside <clientconfig>
    # (https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations), so it sets no suffix
    text = (VPN / "azurevpnconfig_entra.xml").read_text()
    pasted = "<dnssuffixes><dnssuffix>.privatelink.openai.azure.com</dnssuffix></dnssuffixes><serversecret>"
    profile = parse_azurevpnconfig(text.replace("<serversecret>", pasted, 1))
    assert profile.dns_suffixes == ()
    assert profile.warnings == (
        "<dnssuffixes> inside <servervalidation> is ignored: the VPN client reads it only inside <clientconfig>",
    )


def test_the_macos_clients_dnsssuffix_typo_is_warned() -> None:
    # The macOS Azure VPN Client exports <dnsssuffix> (three s) and then ignores it on the next import:
    # https://github.com/MicrosoftDocs/azure-docs/issues/120028
    text = (VPN / "azurevpnconfig_custom.xml").read_text()
    profile = parse_azurevpnconfig(
        text.replace("dnssuffix>.contoso", "dnsssuffix>.contoso").replace(
            "internal</dnssuffix>", "internal</dnsssuffix>"
        )
    )
    assert profile.dns_suffixes == (".privatelink.openai.azure.com",)
    assert profile.warnings == (
        "<dnsssuffix> inside <dnssuffixes> is ignored: the VPN client reads only <dnssuffix> there",
    )
    # the properly placed profile warns of nothing
    assert parse_azurevpnconfig(text).warnings == ()


def test_every_credential_element_is_named_in_omitted_and_none_is_copied() -> None:
    text = (
        (VPN / "VpnSettings.xml")
        .read_text()
        .replace(
            "<RadiusServerRootCertificate />",
            "<RadiusServerRootCertificate>MIIRadiusRoot</RadiusServerRootCertificate>"
            "<CaCerts><Cert>MIICaOne</Cert><Cert>MIICaTwo</Cert></CaCerts>"
            "<RadiusServerSecret>hunter2</RadiusServerSecret><ClientCertificatePassword>pw</ClientCertificatePassword>",
        )
    )
    profile = parse_vpnsettings(text)
    assert profile.omitted == (
        "cacert",
        "cacerts",
        "cert",
        "clientcertificatepassword",
        "radiusserverrootcertificate",
        "radiusserversecret",
    )
    dumped = json.dumps(profile.to_dict())
    assert not [s for s in ("MIIRadiusRoot", "MIICaOne", "hunter2", "MIIDjjCCAnag") if s in dumped]
    # the public CA names the client checks the gateway against are not credentials
    assert "servercertrootcn" not in profile.omitted


@pytest.mark.parametrize(
    "attack",
    [
        # billion laughs: entity expansion
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><AzVpnProfile>&lol2;</AzVpnProfile>',
        # external entity (XXE) reading a local file
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><VpnProfile><VpnServer>&xxe;</VpnServer></VpnProfile>',
        # an external DTD
        '<!DOCTYPE VpnProfile SYSTEM "http://127.0.0.1:9/p.dtd"><VpnProfile><VpnServer>x</VpnServer></VpnProfile>',
    ],
)
def test_xml_entity_attacks_are_refused(tmp_path: Path, attack: str) -> None:
    path = tmp_path / "azurevpnconfig.xml"
    path.write_text(attack)
    with pytest.raises(VpnProfileError, match="document type declaration is not allowed"):
        load_profile(str(path))
