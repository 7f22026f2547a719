"""Evidence bundles: collect -> analyze gives the identical diagnosis; the format is schema'd and versioned."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from aoai_diag import catalogue
from aoai_diag.bundle import (
    BundleDestinationError,
    BundleError,
    analyze,
    check_destination,
    load_bundle,
    parse_bundle,
    scrub,
    write_bundle,
)
from aoai_diag.cli import main
from aoai_diag.evidence.path import TcpConnect
from tests.conftest import FIXTURES, REPO, guarded_env
from tests.monitoring_support import fake_getaddrinfo, loopback_site

SCHEMA = json.loads((REPO / "aoai_diag" / "data" / "bundle.schema.json").read_text())
jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
BUNDLES = FIXTURES / "bundles"
EXPECTED = json.loads((BUNDLES / "expected.json").read_text())["bundles"]
PROXY_VARS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


def diagnosis(report_json: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(t["target"]["host"], t["verdict"], [f["id"] for f in t["diagnosis"]]) for t in report_json["targets"]]


@pytest.fixture
def offline_os_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo())
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


def test_every_example_bundle_is_listed_and_valid() -> None:
    files = sorted(p.name for p in BUNDLES.glob("*.json") if p.name != "expected.json")
    assert files == sorted(EXPECTED), "fixtures/bundles/expected.json must state what each bundle analyses to"
    for name in files:
        VALIDATOR.validate(json.loads((BUNDLES / name).read_text()))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_bundle_analyses_to_its_stated_causes(name: str) -> None:
    # Given an example bundle and what it is documented to show
    expected = EXPECTED[name]
    # When a colleague analyses it
    result = CliRunner().invoke(main, ["analyze", str(BUNDLES / name), "-o", "json"])
    # Then verdict, exit code and causes are the stated ones
    assert result.exit_code == expected["exit_code"], result.output
    report = json.loads(result.stdout)
    target = report["targets"][0]
    assert target["verdict"] == expected["verdict"]
    found = {f["id"] for f in target["diagnosis"]}
    named = found | {c for f in target["diagnosis"] for c in f["candidates"]}
    causes = catalogue.load()
    stated: set[str] = set(expected["also_allowed"])
    for alternatives in expected["causes"]:
        accepted = set(alternatives) | {c.id for c in causes.values() if set(c.supersedes) & set(alternatives)}
        assert named & accepted, f"{name}: none of {alternatives} in {sorted(named)}"
        stated |= accepted
    # and nothing beyond what the scenario allows
    assert found <= stated, f"{name}: unexpected causes {sorted(found - stated)}"
    # and the same diagnosis the live run recorded when it collected the bundle
    collected = json.loads((BUNDLES / name).read_text())["targets"][0]["collected"]
    assert (target["verdict"], [f["id"] for f in target["diagnosis"]]) == (collected["verdict"], collected["causes"])


def test_example_bundles_are_real_runs_of_their_scenarios() -> None:
    # Given the e2e scenarios the bundles were collected in (python -m tests.e2e.make_bundles)
    scenarios = {p.stem: json.loads(p.read_text()) for p in (FIXTURES / "scenarios").glob("*.json")}
    for name, expected in EXPECTED.items():
        assert expected["scenario"] in scenarios, f"{name}: no scenario {expected['scenario']}"
        stated = scenarios[expected["scenario"]]["expect"]
        # Then expected.json states that scenario's expectation, not a hand-edited one
        assert expected["verdict"] == stated["verdict"], name
        assert [c for (c,) in expected["causes"]] == stated.get("causes", []), name
        assert expected["also_allowed"] == stated.get("also_allowed", []), name
        bundle = json.loads((BUNDLES / name).read_text())
        # and the bundle was written by the CLI (collect), with its live diagnosis and per-check timings
        assert bundle["targets"][0]["collected"]["verdict"] == stated["verdict"], name
        assert all(isinstance(c["duration_ms"], int | float) for c in bundle["targets"][0]["checks"]), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_bundle_holds_no_secret_or_machine_path(name: str) -> None:
    text = (BUNDLES / name).read_text()
    # a managed-identity token is a JWT (eyJ...); none may be in a bundle, nor an auth header
    for marker in ("eyJ", "access_token", "Bearer ", "Authorization"):
        assert marker not in text, f"{name} holds {marker!r}"
    # paths are the ones any machine has (/etc/hosts), never the collecting machine's temporary or home dirs
    for prefix in ("/tmp/", "/root/", "/home/", "/work/", str(REPO)):
        assert prefix not in text, f"{name} names a machine-specific path under {prefix}"


def test_collect_then_analyze_gives_identical_diagnosis(tmp_path: Path, offline_os_resolver: None) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    bundle_path = tmp_path / "bundle.json"
    with loopback_site(["contoso", "fabrikam"]) as site:
        args = [*site.cli_args(timeout=0.5), "--hosts-file", str(hosts)]
        # Given a live check of two accounts on this (loopback-only) machine
        live = CliRunner().invoke(main, ["check", "contoso", "fabrikam", "-o", "json", *args])
        # When the evidence is collected, then analysed elsewhere
        collected = CliRunner().invoke(main, ["collect", "contoso", "fabrikam", "-o", str(bundle_path), *args])
    assert collected.exit_code == 0, collected.output
    analysed = subprocess.run(
        [sys.executable, "-m", "aoai_diag", "analyze", str(bundle_path), "-o", "json"],
        capture_output=True,
        text=True,
        env=guarded_env(),
        timeout=60,
    )
    # Then the diagnosis is the one collect saw, and the one a live check gives
    bundle = json.loads(bundle_path.read_text())
    VALIDATOR.validate(bundle)
    recorded = [(t["target"]["host"], t["collected"]["verdict"], t["collected"]["causes"]) for t in bundle["targets"]]
    assert diagnosis(json.loads(analysed.stdout)) == recorded
    assert diagnosis(json.loads(live.stdout)) == recorded
    assert analysed.returncode == live.exit_code
    assert "note:" not in analysed.stderr
    assert {c["id"] for c in bundle["targets"][0]["checks"]} >= {"system_resolution", "dns_nameservers"}
    # nothing listens on the site's service port: both accounts resolve privately but cannot be reached
    assert [(host, verdict) for host, verdict, _ in recorded] == [
        ("contoso.openai.azure.com", "unhealthy"),
        ("fabrikam.openai.azure.com", "unhealthy"),
    ]
    assert all(causes for _, _, causes in recorded)


def test_collect_writes_no_secrets(tmp_path: Path, offline_os_resolver: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a proxy with credentials in the environment and an API key lying around
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:s3cretpass@127.0.0.1:9/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "0123456789abcdef0123456789abcdef")
    bundle_path = tmp_path / "b.json"
    with loopback_site(["contoso"]) as site:
        result = CliRunner().invoke(main, ["collect", "contoso", "-o", str(bundle_path), *site.cli_args(0.5)])
    assert result.exit_code == 0, result.output
    text = bundle_path.read_text()
    # Then neither the password nor the key is in the bundle
    assert "s3cretpass" not in text and "alice" not in text
    assert "0123456789abcdef0123456789abcdef" not in text


def test_scrub_redacts_secret_shapes_and_keeps_evidence() -> None:
    raw = {
        "headers": {"Authorization": "Bearer abc.def.ghi-very-long", "api-key": "k", "content-type": "json"},
        "proxy": "http://bob:pw@proxy:3128",
        "note": "Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.sig and key 0123456789abcdef0123456789ABCDEF",
        "url": "https://x.blob.core.windows.net/c?sv=1&sig=SECRETSIG&se=2",
        "vm_id": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
        "addresses": ["10.0.0.5"],
    }
    out = scrub(raw)
    flat = json.dumps(out)
    for secret in ("abc.def", '"k"', "bob", ":pw@", "eyJhbGciOi", "0123456789abcdef", "SECRETSIG"):
        assert secret not in flat
    assert out["vm_id"] == raw["vm_id"] and out["addresses"] == ["10.0.0.5"]
    assert out["headers"]["content-type"] == "json"


def test_newer_major_version_is_refused_with_one_line(tmp_path: Path) -> None:
    data = json.loads((BUNDLES / "healthy.json").read_text())
    data["bundle_version"] = "2.0"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "version 2.0" in lines[0] and "upgrade" in lines[0]
    assert result.stdout == ""


def test_newer_minor_version_is_read(tmp_path: Path) -> None:
    data = json.loads((BUNDLES / "healthy.json").read_text())
    data["bundle_version"] = "1.7"
    data["field_from_the_future"] = {"x": 1}
    assert analyze(parse_bundle(data)).verdict.value == "healthy"


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff\xfe garbage", b"{not json", b"[1, 2, 3]", b'{"bundle_version": "1.0", "targets": "nope"}',
     b'{"bundle_version": "1.0", "targets": [{"target": {"host": "x"}, "checks": [{"id": "a", "status": "bogus"}]}]}',
     b'{"bundle_version": "one", "targets": []}'],
)  # fmt: skip
def test_garbage_file_is_one_line_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "aoai_diag", "analyze", str(path)],
        capture_output=True,
        text=True,
        env=guarded_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_load_bundle_reports_which_target_is_malformed(tmp_path: Path) -> None:
    data = json.loads((BUNDLES / "healthy.json").read_text())
    del data["targets"][0]["checks"][2]["status"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"targets\[0\]"):
        load_bundle(str(path))


@pytest.mark.parametrize(
    ("literal", "field", "problem"),
    [
        ("NaN", "attempts[0].connect_ms", "must be a finite number"),
        ("1e999", "attempts[0].connect_ms", "must be a finite number"),
        ("9" * 5000, "attempts[0].connect_ms", "integer out of range"),
        ('"fast"', "attempts[0].connect_ms", "must be a number, not a string"),
        ('{"a": 1}', "attempts", "must be a list, not an object"),
    ],
    ids=["nan", "1e999", "5000-digits", "string", "object"],
)
def test_load_bundle_names_the_bad_evidence_field(tmp_path: Path, literal: str, field: str, problem: str) -> None:
    data = json.loads((BUNDLES / "healthy.json").read_text())
    tcp = next(c for c in data["targets"][0]["checks"] if c["id"] == "tcp_connect")
    if field == "attempts":
        tcp["evidence"]["attempts"] = "PLACEHOLDER"
    else:
        tcp["evidence"]["attempts"][0]["connect_ms"] = "PLACEHOLDER"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data).replace('"PLACEHOLDER"', literal))
    with pytest.raises(BundleError) as info:
        load_bundle(str(path))
    message = str(info.value)
    assert f"malformed targets[0].checks[tcp_connect].evidence.{field}: {problem}" in message
    assert "\n" not in message


def test_a_bad_key_holding_a_newline_still_gives_one_line() -> None:
    data = json.loads((BUNDLES / "healthy.json").read_text())
    azure_dns = next(c for c in data["targets"][0]["checks"] if c["id"] == "azure_dns")
    azure_dns["evidence"]["answers"]["evil\nname" + "x" * 500] = {"ttl": "10"}
    with pytest.raises(BundleError) as info:
        parse_bundle(data)
    message = str(info.value)
    assert "\n" not in message and len(message) < 500
    assert "malformed targets[0].checks[azure_dns].evidence.answers[evil?name" in message


def test_loaded_evidence_is_normalized_for_the_diagnosis(tmp_path: Path) -> None:
    # A bundle whose evidence lacks optional keys: the diagnosis sees every declared key with its declared type.
    data = json.loads((BUNDLES / "healthy.json").read_text())
    tcp = next(c for c in data["targets"][0]["checks"] if c["id"] == "tcp_connect")
    del tcp["evidence"]["port"]
    tcp["evidence"]["attempts"][0].pop("connect_ms")
    tcp["evidence"]["attempts"][0]["rtt_ms"] = 1  # a key from a newer minor version is kept
    bundle = parse_bundle(data)
    evidence = next(c for c in bundle.targets[0].checks if c.id == "tcp_connect").typed(TcpConnect)
    assert evidence.port is None
    assert evidence.attempts[0].connect_ms is None and evidence.attempts[0].extra == {"rtt_ms": 1}
    assert analyze(bundle).targets[0].verdict.value == "healthy"  # the same story as before the keys were lost


def test_collect_refuses_an_unwritable_destination_before_running(tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "bundle.json"
    result = CliRunner().invoke(main, ["collect", "contoso", "-o", str(target), "--no-azure"])
    assert result.exit_code == 2
    assert "not a writable folder" in result.stderr and "\n" not in result.stderr.strip()
    assert "collecting evidence" not in result.stderr, "refused before any probe ran"


def _cli(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("aoai-diag")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aoai_diag"]
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, env=guarded_env(), timeout=60, input=stdin, check=False
    )


def _special_destinations(tmp_path: Path) -> list[tuple[str, str]]:
    # Private nodes in tmp_path, never the machine's own /dev entries: a regression run as root would replace
    # them for everyone (the bug this guards against).
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    out = [(str(fifo), "FIFO"), (str(folder), "folder"), ("", "empty"), (" ", "empty")]
    try:
        null = tmp_path / "null"  # a character device like /dev/null (major 1, minor 3); needs root
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return out
    link = tmp_path / "stdout-like"  # /dev/stdout is a link too
    link.symlink_to(null)
    return [*out, (str(null), "character device"), (str(link), "character device")]


def test_collect_refuses_special_files_before_any_probe(tmp_path: Path) -> None:
    for destination, needle in _special_destinations(tmp_path):
        before = os.stat(destination) if destination.strip() else None
        proc = _cli("collect", "contoso", "-o", destination, "--no-azure")
        assert proc.returncode == 2, (destination, proc.stderr)
        assert needle in proc.stderr and proc.stderr.count("\n") == 1, (destination, proc.stderr)
        assert "collecting evidence" not in proc.stderr and proc.stdout == "", "refused before any probe ran"
        if before is not None:  # the node is untouched: same inode, same type (a device stays a device)
            after = os.stat(destination)
            assert (after.st_ino, after.st_mode, after.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".aoai-diag")) == []


def test_write_bundle_never_replaces_a_node_that_became_special(tmp_path: Path) -> None:
    # Checked before the run, then a FIFO appears at the path: the rename must not replace it.
    path = tmp_path / "bundle.json"
    assert check_destination(str(path)) == str(path)
    os.mkfifo(path)
    with pytest.raises(BundleDestinationError, match="FIFO"):
        write_bundle({"bundle_version": "1.0"}, str(path))
    assert stat.S_ISFIFO(os.stat(path).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"], "no temporary file left behind"


def test_write_bundle_follows_a_link_to_a_regular_file(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_bundle({"bundle_version": "1.0"}, str(link))
    assert link.is_symlink() and json.loads(real.read_text()) == {"bundle_version": "1.0"}


def test_write_bundle_refuses_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "ro.json"
    path.write_text("keep")
    path.chmod(0o444)
    if os.access(path, os.W_OK):  # root ignores permission bits
        pytest.skip("running as root: every file is writable")
    with pytest.raises(BundleDestinationError, match="not writable"):
        check_destination(str(path))


def test_analyze_reads_a_bundle_from_stdin() -> None:
    text = (BUNDLES / "healthy.json").read_text()
    proc = _cli("analyze", "-", "-o", "json", stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "healthy"
    garbage = _cli("analyze", "-", stdin="{not json")
    assert garbage.returncode == 2 and garbage.stderr.count("\n") == 1 and "Traceback" not in garbage.stderr


def test_collect_to_stdout_then_analyze_from_stdin(offline_os_resolver: None) -> None:
    with loopback_site(["contoso"]) as site:
        collected = _cli("collect", "contoso", "-o", "-", *site.cli_args(timeout=0.5))
    assert collected.returncode == 0, collected.stderr
    assert json.loads(collected.stdout)["targets"][0]["target"]["host"] == "contoso.openai.azure.com"
    analysed = _cli("analyze", "-", "-o", "json", stdin=collected.stdout)
    assert analysed.returncode in (1, 3) and json.loads(analysed.stdout)["targets"]
