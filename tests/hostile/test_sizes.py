"""Class 3 (issue 19): every read from a peer or a file has a cap sized to what the tool needs; past it the evidence
says so ("truncated", "larger than") and the run stays on time and in bounded memory (docs/limits.md)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.azure_harness import topology
from tests.hostile import support
from tests.hostile.peers import HostileArm, seen
from tests.hostile.support import arm_lab, assert_bounded, cli, local_args

DEADLINE = 3.0
LOCAL_RSS_MB = 120
"""A local-only run (no Azure SDK loaded) reading a hostile file: ~50 MB for a healthy one."""

PROFILE = """<?xml version="1.0" encoding="utf-8"?>
<AzVpnProfile><name>corp</name><serverlist><ServerEntry><fqdn>azuregateway-1.vpn.azure.com</fqdn></ServerEntry>
</serverlist><clientconfig><dnsservers><dnsserver>10.0.0.4</dnsserver></dnsservers></clientconfig></AzVpnProfile>
"""


def hostile(**modes: str) -> dict[str, object]:
    topo = {**topology("healthy_jumpbox"), "hostile": modes}
    topo.pop("imds")
    return topo


def test_a_resource_graph_page_of_100000_rows_is_refused_in_bounded_memory() -> None:
    # The refused page is followed by the per-subscription list calls (the SDK's network client alone takes ~1 s
    # to import here): a deadline that lets them finish, so the evidence is there to check.
    with arm_lab(hostile(graph="rows"), HostileArm) as lab:
        run = cli(*local_args(6.0), *lab.args(), env=lab.env())
    assert_bounded(run, 6.0)
    error = run.checks()["arm_account"]["evidence"]["graph_error"]
    assert error["code"] == "MalformedResponse" and "100000 rows" in error["message"], error


def test_a_50_mb_token_answer_is_cut_at_its_cap() -> None:
    with arm_lab(hostile(token="huge"), HostileArm) as lab:
        run = cli(*local_args(DEADLINE), *lab.args(), env=lab.env())
        authorized = [p for _, p, _, auth in seen(lab.arm) if auth]
    assert_bounded(run, DEADLINE)
    access = run.checks()["arm_access"]
    assert access["status"] == "error", access["summary"]
    assert "1048576 bytes" in access["summary"], access["summary"]
    assert authorized == [], authorized  # no Resource Manager request was made with what came back


def _understated_zip(path: Path) -> None:
    """A zip whose profile member claims 300 bytes and inflates to 200 MB (its headers are rewritten)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AzureVPN/azurevpnconfig.xml", PROFILE + " " * (200 * 1024 * 1024))
    data = bytearray(path.read_bytes())
    real = (len(PROFILE) + 200 * 1024 * 1024).to_bytes(4, "little")
    claimed = (300).to_bytes(4, "little")
    assert data.count(real) == 2  # the local header and the central directory
    path.write_bytes(bytes(data).replace(real, claimed))


def test_a_zip_member_that_understates_its_size_is_not_inflated(tmp_path: Path) -> None:
    bomb = tmp_path / "profile.zip"
    _understated_zip(bomb)
    run = cli(*local_args(DEADLINE), "--no-azure", "--vpn-profile", str(bomb))
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    assert run.code == 2 and "--vpn-profile" in run.stderr, run.stderr


def test_a_zip_of_a_hundred_large_profiles_reads_two(tmp_path: Path) -> None:
    package = tmp_path / "profile.zip"
    big = PROFILE.replace("<name>corp</name>", "<name>corp</name><!--" + "x" * 1_600_000 + "-->")  # 1.6 MB each
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(100):
            archive.writestr(f"p{i}/AzureVPN/azurevpnconfig.xml", big)
    run = cli(*local_args(DEADLINE), "--no-azure", "--vpn-profile", str(package))
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    profile = run.checks()["vpn_profile"]["evidence"]["profile"]
    assert len(profile["files"]) == 2, profile["files"]


def test_dev_zero_as_a_vpn_profile_is_refused_at_the_cap() -> None:
    run = cli(*local_args(DEADLINE), "--no-azure", "--vpn-profile", "/dev/zero")
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    assert run.code == 2 and "larger than 2097152 bytes" in run.stderr, run.stderr


def _hosts_args(path: Path) -> list[str]:
    args = local_args(DEADLINE)
    args[args.index("--hosts-file") + 1] = str(path)
    return [*args, "--no-azure"]


def test_a_million_line_hosts_file_is_read_for_the_few_names_looked_up(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    with hosts.open("w") as fh:
        fh.write("1.1.1.1 a\n" * 1_000_000)  # 10 MB: within the 16 MB read cap
        fh.write("10.0.0.99 contoso.openai.azure.com\n")
    run = cli(*_hosts_args(hosts))
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    evidence = run.checks()["hosts_file"]["evidence"]
    assert evidence["entries"] == [{"name": "contoso.openai.azure.com", "address": "10.0.0.99", "line": 1_000_001}]
    assert evidence["truncated"] is False


def test_16_mb_of_short_names_is_read_to_its_cap_and_said_truncated(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    line = "10.1.1.1 " + " ".join(f"n{i}" for i in range(2000)) + "\n"
    with hosts.open("w") as fh:
        fh.write("10.0.0.99 contoso.openai.azure.com\n")
        while fh.tell() < 17 * 1024 * 1024:
            fh.write(line)
        fh.write("10.0.0.98 contoso.openai.azure.com\n")  # past the cap: not read
    run = cli(*_hosts_args(hosts))
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    check = run.checks()["hosts_file"]
    assert check["evidence"]["truncated"] is True and "not read" in check["summary"], check
    assert [e["address"] for e in check["evidence"]["entries"]] == ["10.0.0.99"]


def test_ten_thousand_nameservers_are_cut_to_the_first_eight() -> None:
    args = local_args(DEADLINE)
    server = args[args.index("--resolver") + 1]
    run = cli(*args, "--no-azure", *(["--resolver", server] * 9_999))
    assert_bounded(run, DEADLINE, LOCAL_RSS_MB)
    checks = run.checks()
    config = checks["resolver_config"]
    assert config["evidence"]["truncated"] == 9_992 and "truncated" in config["summary"], config["summary"]
    asked = checks["dns_nameservers"]["evidence"]["servers"]
    assert len(asked) == 8 and checks["dns_nameservers"]["status"] == "pass", checks["dns_nameservers"]["summary"]
    assert support.NAMESERVER in asked[0]["server"]
