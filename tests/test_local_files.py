"""Local files the probes read: one bad resolv.conf line, a hosts file cut at the read limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from aoai_diag.checks import hosts_file, resolver_config
from aoai_diag.context import Settings
from aoai_diag.engine import run_probes
from aoai_diag.evidence import parse
from aoai_diag.model import CheckResult, Status
from aoai_diag.runner import new_context
from aoai_diag.targets import parse_target

TARGET = parse_target("contoso")


def run_one(probe: object, **settings: object) -> CheckResult:
    base: dict[str, object] = {"timeout": 1.0, "public_resolvers": (), "azure_dns": ("127.0.0.1", 9)}
    base.update(settings)
    (result,) = run_probes(TARGET, new_context(Settings(**base)), [probe])  # type: ignore[list-item]
    parse(result.id, result.evidence.to_dict(), strict=True)  # the evidence fits its declared type
    return result


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("nameserver foo", "not an IP address"),
        ("nameserver", "no address"),
        ("search corp..example", "not a domain name"),
    ],
)
def test_one_bad_resolv_conf_line_is_skipped_and_the_rest_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str, reason: str
) -> None:
    # Given a resolv.conf with one line the resolver library refuses among good ones
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"# corp\n{bad}\nnameserver 10.1.0.53\nsearch lab.example\nnameserver fd00::53\n")
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(conf))
    # When the probe reads it
    result = run_one(resolver_config.PROBE)
    # Then the good lines still count, and the bad one is named, not the whole file called unreadable
    assert result.status is Status.PASS, result.summary
    assert result.evidence.nameservers == ("10.1.0.53:53", "[fd00::53]:53")
    assert result.evidence.error is None
    (skipped,) = result.evidence.skipped
    assert skipped.line == 2 and skipped.text == bad and reason in skipped.reason
    assert f"ignored line 2 ({bad!r}" in result.summary
    if not bad.startswith("search"):
        assert result.evidence.search == ("lab.example",)


def test_only_bad_nameserver_lines_is_none_configured_not_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver foo\nnameserver bar.example\n")
    monkeypatch.setattr(resolver_config, "RESOLV_CONF", str(conf))
    result = run_one(resolver_config.PROBE)
    assert result.status is Status.FAIL
    assert [s.line for s in result.evidence.skipped] == [1, 2]
    assert "and 1 more" in result.summary


def test_hosts_file_cut_at_the_read_limit_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a hosts file whose entry for the account lies beyond the read limit
    hosts = tmp_path / "hosts"
    filler = "".join(f"10.9.{i // 250}.{i % 250} filler-{i}.example\n" for i in range(400))
    hosts.write_text(filler + f"10.0.0.5 {TARGET.host}\n")
    limit = len(filler) - 10  # the last filler line is cut in the middle
    monkeypatch.setattr(hosts_file, "MAX_BYTES", limit)
    # When the probe reads it
    result = run_one(hosts_file.PROBE, hosts_file=str(hosts))
    # Then it says the file was cut where, and never passes with "no entry"
    assert result.status is Status.WARN
    assert f"file larger than {limit} bytes, entries after byte {limit} not read" in result.summary
    assert result.evidence.truncated is True
    assert result.evidence.read_limit == limit
    assert result.evidence.size_bytes == hosts.stat().st_size
    assert result.evidence.entries == ()


def test_cut_hosts_file_keeps_entries_before_the_cut_and_drops_the_cut_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = tmp_path / "hosts"
    head = f"10.0.0.5 {TARGET.host}\n"
    cut_line = f"10.0.0.6 {TARGET.host}.other.example\n"
    hosts.write_text(head + cut_line + "# tail\n" * 50)
    # the cut falls right after the account's name in the second line: read whole, it would look like an entry
    monkeypatch.setattr(hosts_file, "MAX_BYTES", len(head) + len(f"10.0.0.6 {TARGET.host}"))
    result = run_one(hosts_file.PROBE, hosts_file=str(hosts))
    assert result.status is Status.WARN
    assert [(e.address, e.line) for e in result.evidence.entries] == [("10.0.0.5", 1)]
    assert "entries after byte" in result.summary


def test_hosts_file_within_the_limit_is_not_truncated(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    result = run_one(hosts_file.PROBE, hosts_file=str(hosts))
    assert result.status is Status.PASS
    assert result.evidence.truncated is False
    assert result.evidence.size_bytes == hosts.stat().st_size
