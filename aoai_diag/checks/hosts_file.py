"""Hosts-file entries for the account's names: they win over DNS for getaddrinfo, not for nslookup/dig.

A file larger than the read limit is read up to it: the probe then warns instead of reporting "no entry".

Evidence: `HostsFile` (aoai_diag/evidence/dns.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from typing import NamedTuple

from aoai_diag.checks.base import Probe, blocking_body
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.dns import HostsEntry, HostsFile
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.targets import Target

# A hosts file is small; reading more than this would mean something odd (a mistaken path).
MAX_BYTES = 16 * 1024 * 1024


def default_hosts_path() -> str:
    if sys.platform.startswith("win"):
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.join(root, "System32", "drivers", "etc", "hosts")
    return "/etc/hosts"


class IndexedName(NamedTuple):
    """One name on one line of the hosts file; `column` (the name's place on its line) only orders the entries of
    one line, it is not evidence."""

    name: str
    address: str
    line: int
    column: int


def account_suffixes() -> tuple[str, ...]:
    """Every cloud's account host suffixes: each name a target looks up (privatelink ones too) ends with one."""
    from aoai_diag.clouds import CLOUDS

    return tuple(sorted({s for cloud in CLOUDS.values() for s in cloud.suffixes}))


def _lines_naming(data: bytes, suffixes: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of every line of `data` holding one of `suffixes` (any case), in file order.

    Found with bytes.find, not by splitting: a million-line hosts file or 16 MB of short names costs one scan
    instead of a string per line and an index entry per name (0.4–1.6 GB, issue 19).
    """
    lower = data.lower()
    spans: set[tuple[int, int]] = set()
    for suffix in suffixes:
        needle = suffix.encode("ascii")
        at = lower.find(needle)
        while at != -1:
            start = lower.rfind(b"\n", 0, at) + 1
            end = lower.find(b"\n", at)
            end = len(lower) if end == -1 else end
            spans.add((start, end))
            at = lower.find(needle, end)
    return sorted(spans)


def index_hosts(data: bytes | str, suffixes: tuple[str, ...] | None = None) -> dict[str, list[IndexedName]]:
    """The entries of `data` (a hosts file) for names ending with one of `suffixes` (default: every cloud's account
    suffixes), by name, in file order. Other names are not indexed: no target looks them up.
    """
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    wanted = tuple(s.lower() for s in (suffixes if suffixes is not None else account_suffixes()))
    index: dict[str, list[IndexedName]] = {}
    number, counted = 1, 0
    for start, end in _lines_naming(raw, wanted):
        number += raw.count(b"\n", counted, start)
        counted = start
        line = raw[start:end].split(b"#", 1)[0].decode("utf-8", errors="replace")
        fields = re.finditer(r"\S+", line)
        first = next(fields, None)
        if first is None:
            continue
        address = first.group()
        try:
            # IPv6 zone ids (fe80::1%eth0) are valid in hosts files
            ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        for column, match in enumerate(fields):
            name = match.group().rstrip(".").lower()
            if name.endswith(wanted):
                index.setdefault(name, []).append(IndexedName(name, address, number, column))
    return index


class _HostsFile:
    """The hosts file as read once per run: every target of a fleet looks its names up in the same reading."""

    def __init__(self, path: str, limit: int) -> None:
        self.missing = False
        self.error: OSError | None = None
        self.size = 0
        self.truncated = False
        self.index: dict[str, list[IndexedName]] = {}
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
                self.size = max(os.fstat(fh.fileno()).st_size, len(data))
        except FileNotFoundError:
            self.missing = True
            return
        except OSError as exc:
            self.error = exc
            return
        self.truncated = len(data) > limit
        if self.truncated:
            # The last line read is cut in the middle: a name cut short must not pass for another.
            data = data[:limit].rsplit(b"\n", 1)[0]
        self.index = index_hosts(data)

    def entries(self, wanted: set[str]) -> tuple[HostsEntry, ...]:
        found = sorted((e for name in wanted for e in self.index.get(name, ())), key=lambda e: (e.line, e.column))
        return tuple(HostsEntry(name=e.name, address=e.address, line=e.line) for e in found)


def collect(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    path = ctx.settings.hosts_file or default_hosts_path()
    wanted = set(target.names) | {target.privatelink_name(n) for n in target.names}
    limit = MAX_BYTES
    hosts: _HostsFile = ctx.once(f"hosts_file:{path}", lambda: _HostsFile(path, limit))
    if hosts.missing:
        if ctx.settings.hosts_file:
            return Outcome(Status.ERROR, f"hosts file {path} does not exist", HostsFile(path=path), "file not found")
        return Outcome(Status.PASS, f"no hosts file at {path}: nothing overrides DNS", HostsFile(path=path))
    if hosts.error is not None:
        exc = hosts.error
        return Outcome(
            Status.ERROR, f"cannot read hosts file {path}: {exc.strerror or exc}", HostsFile(path=path), "unreadable"
        )
    truncated = hosts.truncated
    entries = hosts.entries(wanted)
    evidence = HostsFile(path=path, entries=entries, size_bytes=hosts.size, truncated=truncated, read_limit=limit)
    cut = f"file larger than {limit} bytes, entries after byte {limit} not read" if truncated else ""
    if not entries:
        if truncated:
            # "No entry" would be a claim about the part that was not read.
            return Outcome(Status.WARN, f"{path}: {cut}; no entry for {target.host} before that", evidence, cut)
        return Outcome(Status.PASS, f"no entry for {target.host} in {path}", evidence)
    shown = ", ".join(f"{e.name} -> {e.address} (line {e.line})" for e in entries[:3])
    # An entry is not wrong by itself (Microsoft suggests one for VPN testing); diagnosis compares it with DNS.
    return Outcome(Status.WARN, f"hosts file overrides DNS: {shown}" + (f" ({cut})" if cut else ""), evidence)


run = blocking_body(collect)


PROBE = Probe(id="hosts_file", title="Hosts-file entries for the account's names", evidence=HostsFile, stage=0, run=run)
