"""Evidence bundles: everything a run observed, saved so the diagnosis can be re-run elsewhere.

"Collect on the customer's jumpbox, analyse at your desk": `collect` writes the parsed targets and every
CheckResult (schema: aoai_diag/data/bundle.schema.json); `analyze` rebuilds each target's report with
runner.build_target_report — the same code path as a live run — so the diagnosis is identical. Secrets never go
in: probes already redact proxy userinfo, and everything is scrubbed again here (redact.py) in case a probe
slipped. A bundle is written only to a regular file (atomically) or stdout, never over a device, FIFO or folder.
"""

from __future__ import annotations

import json
import os
import platform
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aoai_diag import __version__
from aoai_diag.context import format_endpoint
from aoai_diag.errors import first_line
from aoai_diag.evidence import EvidenceError, read
from aoai_diag.evidence.base import finite_number, json_value, parse_int
from aoai_diag.model import CheckResult, Report, Status, TargetReport
from aoai_diag.redact import redact_value

BUNDLE_VERSION = "1.0"
SUPPORTED_MAJOR = 1
MAX_BYTES = 64 * 1024 * 1024


class BundleError(ValueError):
    """A bundle cannot be read or used; the message is one line for the user."""


class BundleDestinationError(ValueError):
    """`collect -o FILE` cannot write there (a device, a FIFO, a folder, an empty path); one line for the user."""


# The redaction every output shares (redact.py); `scrub` is its name here.
scrub = redact_value


def settings_summary(settings: Any) -> dict[str, Any]:
    """What the run was configured with, for the reader of the bundle; never the process environment."""
    summary = {
        "timeout": settings.timeout,
        "deadline": settings.run_deadline,
        "cloud": settings.cloud,
        "port": settings.port,
        "hosts_file": settings.hosts_file,
        "resolvers": [format_endpoint(r) for r in settings.resolvers],
        "public_dns": settings.public_dns,
        "public_resolvers": [format_endpoint(r) for r in settings.public_resolvers],
        "azure_dns": format_endpoint(settings.azure_dns),
        "imds_endpoint": settings.imds_endpoint,
        "data_plane_api_version": settings.data_plane_api_version,
        "azure": settings.azure,
        "subscriptions": list(settings.subscriptions),
        "vnet_id": settings.vnet_id,
        "arm_endpoint": settings.arm_endpoint,
        "authority_host": settings.authority_host,
    }
    return scrub(summary)


def make_bundle(report: Report, settings: Any, created_at: datetime | None = None) -> dict[str, Any]:
    """The bundle mapping for a finished live run. `collected` keeps the live diagnosis for comparison."""
    created = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "bundle_version": BUNDLE_VERSION,
        "tool_version": __version__,
        "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "platform": {"system": platform.system(), "python": platform.python_version()},
        "settings": settings_summary(settings),
        "targets": [
            {
                "target": scrub(dict(t.target)),
                "checks": [scrub(c.to_dict()) for c in t.checks],
                "collected": {"verdict": t.verdict.value, "causes": [f.cause_id for f in t.findings]},
            }
            for t in report.targets
        ],
    }


def check_destination(path: str) -> str:
    """Where `collect -o path` will write: '-' (stdout) or a regular file, existing or not, in a writable folder.

    Called before the run (the evidence would be lost after it). A symbolic link is followed to the file it names,
    which is replaced; devices (/dev/null, /dev/full, /dev/stdout), FIFOs, sockets and folders are refused, as is
    an empty path. Raises BundleDestinationError.
    """
    if path == "-":
        return path
    if not path.strip():
        raise BundleDestinationError("cannot write the bundle: the file name is empty (use '-' for stdout)")
    real = os.path.realpath(path)
    try:
        mode = os.stat(path).st_mode  # follows links: /dev/stdout is a link to a pipe, a tty or a file
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise BundleDestinationError(f"cannot write {path}: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise BundleDestinationError(f"cannot write {path}: it is a folder; give a file name")
        if not stat.S_ISREG(mode):
            raise BundleDestinationError(
                f"cannot write {path}: not a regular file ({_kind(mode)}); give a file name, or '-' for stdout"
            )
        if not os.access(real, os.W_OK):
            raise BundleDestinationError(f"cannot write {path}: the file is not writable")
    folder = os.path.dirname(real)
    if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        raise BundleDestinationError(f"cannot write {path}: {folder} is not a writable folder")
    return real


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def write_bundle(bundle: Mapping[str, Any], path: str) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a bundle; '-' is stdout.

    Redacted again here, the last boundary before the file. The destination is checked again just before the
    rename, so a device node that appeared meanwhile is never replaced. Raises OSError or BundleDestinationError.
    """
    text = json.dumps(redact_value(bundle), indent=2) + "\n"
    if path == "-":
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
        return
    destination = check_destination(path)
    directory = os.path.dirname(destination)
    fd, tmp = tempfile.mkstemp(prefix=".aoai-diag-bundle-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        check_destination(destination)
        os.replace(tmp, destination)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class SavedTarget:
    target: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    collected: Mapping[str, Any] | None
    """The diagnosis at collection time ({verdict, causes}), when recorded."""


@dataclass(frozen=True)
class Bundle:
    bundle_version: str
    tool_version: str
    created_at: str
    settings: Mapping[str, Any]
    targets: tuple[SavedTarget, ...]


def _major(version: Any) -> int:
    match = re.fullmatch(r"(\d+)\.(\d+)", str(version))
    if not match:
        raise BundleError(f"not a usable bundle: bundle_version {str(version)[:20]!r} is not MAJOR.MINOR")
    return int(match.group(1))


def parse_bundle(data: Any, name: str = "bundle") -> Bundle:
    """Validate a bundle and read its evidence into the typed evidence (aoai_diag/evidence).

    Raises BundleError with one line naming the bad field, e.g. `targets[0].checks[tcp_connect].evidence.port`.
    """
    if not isinstance(data, Mapping) or "bundle_version" not in data:
        raise BundleError(f"{name} is not an aoai-diag evidence bundle (no bundle_version)")
    major = _major(data["bundle_version"])
    if major > SUPPORTED_MAJOR:
        raise BundleError(
            f"{name} is bundle version {data['bundle_version']} (written by aoai-diag {_text(data.get('tool_version'))}); "
            f"this aoai-diag {__version__} reads {SUPPORTED_MAJOR}.x: upgrade aoai-diag to analyze it"
        )
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise BundleError(f"{name} holds no targets")
    try:
        targets = tuple(_saved_target(entry, f"targets[{i}]") for i, entry in enumerate(raw_targets))
        settings = data.get("settings")
        settings = json_value(settings, "settings") if isinstance(settings, Mapping) else {}
    except EvidenceError as exc:
        # One line whatever the bundle holds: a key may carry a newline or be very long.
        where = _CONTROL.sub("?", exc.path if len(exc.path) <= 240 else exc.path[:240] + "...")
        raise BundleError(f"{name}: malformed {where}: {_CONTROL.sub('?', exc.problem)[:160]}") from None
    return Bundle(
        bundle_version=str(data["bundle_version"]),
        tool_version=_text(data.get("tool_version")),
        created_at=_text(data.get("created_at")),
        settings=settings,
        targets=targets,
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(value: Any) -> str:
    """A header field shown to the user: a short one-line string, or `?`."""
    return _CONTROL.sub("?", value[:100]) if isinstance(value, str) and value else "?"


def _saved_target(entry: Any, path: str) -> SavedTarget:
    if not isinstance(entry, Mapping):
        raise EvidenceError(path, "must be an object")
    checks = entry.get("checks")
    if not isinstance(checks, list):
        raise EvidenceError(f"{path}.checks", "must be a list")
    collected = entry.get("collected")
    return SavedTarget(
        target=_target(entry.get("target"), f"{path}.target"),
        checks=tuple(_check(c, f"{path}.checks", j) for j, c in enumerate(checks)),
        collected=_collected(collected, f"{path}.collected") if collected is not None else None,
    )


def _target(value: Any, path: str) -> dict[str, Any]:
    from aoai_diag.clouds import CLOUDS

    if not isinstance(value, Mapping):
        raise EvidenceError(path, "must be an object")
    out = dict(json_value(value, path))
    for key in ("input", "label", "host", "cloud"):
        if not isinstance(out.get(key), str) or not out[key]:
            raise EvidenceError(f"{path}.{key}", "must be a non-empty string")
    if out["cloud"] not in CLOUDS:
        raise EvidenceError(f"{path}.cloud", f"unknown cloud (choose from {', '.join(CLOUDS)})")
    names = out.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise EvidenceError(f"{path}.names", "must be a non-empty list of names")
    return out


def _check(value: Any, path: str, index: int) -> CheckResult:
    if not isinstance(value, Mapping):
        raise EvidenceError(f"{path}[{index}]", "must be an object")
    check_id = value.get("id")
    if not isinstance(check_id, str) or not _CHECK_ID.fullmatch(check_id):
        raise EvidenceError(f"{path}[{index}].id", "must be a check id (lower-case letters, digits, _)")
    path = f"{path}[{check_id}]"
    try:
        status = Status(value.get("status"))
    except ValueError:
        raise EvidenceError(f"{path}.status", f"must be one of {', '.join(s.value for s in Status)}") from None
    summary, reason = value.get("summary"), value.get("reason")
    if summary is not None and not isinstance(summary, str):
        raise EvidenceError(f"{path}.summary", "must be a string")
    if reason is not None and not isinstance(reason, str):
        raise EvidenceError(f"{path}.reason", "must be a string or null")
    duration = value.get("duration_ms")
    if duration is not None:
        duration = finite_number(duration, f"{path}.duration_ms")
    evidence = value.get("evidence")
    return CheckResult(
        id=check_id,
        status=status,
        summary=summary or "",
        evidence=read(check_id, {} if evidence is None else evidence, f"{path}.evidence"),
        duration_ms=max(duration or 0.0, 0.0),
        reason=reason,
    )


_CHECK_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""As in the schemas: an id also becomes a metric label and part of the path an error names."""


def _collected(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise EvidenceError(path, "must be an object")
    verdict, causes = value.get("verdict"), value.get("causes", [])
    if verdict is not None and not isinstance(verdict, str):
        raise EvidenceError(f"{path}.verdict", "must be a string")
    if not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
        raise EvidenceError(f"{path}.causes", "must be a list of cause ids")
    return {"verdict": verdict, "causes": list(causes)}


def _open_source(path: str) -> Any:
    """The bundle's bytes: stdin for '-' (as `collect -o -` writes stdout), else the file."""
    if path == "-":
        import contextlib
        import sys

        return contextlib.nullcontext(sys.stdin.buffer)
    return open(path, "rb")


def load_bundle(path: str) -> Bundle:
    """Read and validate a bundle file ('-' is stdin); raises BundleError with one line."""
    try:
        with _open_source(path) as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise BundleError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MiB; not an evidence bundle")
    try:
        data = json.loads(raw.decode("utf-8"), parse_int=parse_int)
    except UnicodeDecodeError:
        raise BundleError(f"{path} is not an aoai-diag evidence bundle (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not an aoai-diag evidence bundle (invalid JSON at line {exc.lineno})") from None
    except RecursionError:  # json's answer to deeply nested arrays or objects
        raise BundleError(f"{path} is not an aoai-diag evidence bundle (JSON nested too deeply)") from None
    return parse_bundle(data, path)


def analyze(bundle: Bundle) -> Report:
    """Re-run the diagnosis on saved evidence (runner.build_target_report, as a live run does)."""
    from aoai_diag.runner import build_report, build_target_report
    from aoai_diag.targets import Target

    reports: list[TargetReport] = []
    for i, saved in enumerate(bundle.targets):
        try:
            target = Target.from_dict(dict(saved.target))
        except (KeyError, ValueError, TypeError) as exc:
            detail = first_line(str(exc)) or type(exc).__name__
            raise BundleError(f"malformed targets[{i}].target: {detail}") from None
        reports.append(build_target_report(target, saved.checks))
    return build_report(reports)


def differences(bundle: Bundle, report: Report) -> Sequence[str]:
    """One line per target whose diagnosis now differs from the one recorded at collection time."""
    out = []
    for saved, now in zip(bundle.targets, report.targets, strict=True):
        if saved.collected is None:
            continue
        before = (saved.collected.get("verdict"), list(saved.collected.get("causes") or []))
        after = (now.verdict.value, [f.cause_id for f in now.findings])
        if before != after:
            out.append(
                f"{now.target.get('host', '?')}: collected as {before[0]} {before[1]}, analysed now as {after[0]} "
                f"{after[1]} (aoai-diag {bundle.tool_version} -> {__version__})"
            )
    return out
