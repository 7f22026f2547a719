"""Run one OS command with a bounded time and get its text back; the single seam tests replace."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import time
from dataclasses import dataclass

_ZONE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


def ip_literal(text: str) -> str:
    """`text` when it is an IP address fit for a command line, else ValueError.

    Python accepts any zone after `%` (`fe80::1%a';Remove-Item x`); a zone here is an interface name or index.
    """
    address = ipaddress.ip_address(text)
    zone = getattr(address, "scope_id", None)
    if zone is not None and not _ZONE.match(zone):
        raise ValueError(f"{zone!r} is not an interface name or index")
    return text


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None
    """None when the command could not be started or did not finish in time."""
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        """One line on why the command gave no usable output."""
        if self.returncode is None:
            return self.stderr or f"{self.argv[0]} did not run"
        text = (self.stderr or self.stdout).strip().splitlines()
        return f"{self.argv[0]} exit {self.returncode}: {text[0] if text else 'no output'}"


def run(argv: list[str], timeout: float, input: str | None = None, encoding: str | None = None) -> CommandResult:
    """`argv` with no shell, at most `timeout` seconds; `input` is its whole stdin (none: no stdin at all).

    `encoding`: how the output is decoded (default: the locale's); undecodable bytes become U+FFFD, never an error.
    """
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            encoding=encoding,
            errors="replace",
            timeout=timeout,
            check=False,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
        )
    except FileNotFoundError:
        return CommandResult(tuple(argv), None, "", f"{argv[0]} not found")
    except subprocess.TimeoutExpired:
        return CommandResult(tuple(argv), None, "", f"{argv[0]} did not finish within {timeout:g} s")
    except OSError as exc:
        return CommandResult(tuple(argv), None, "", f"{argv[0]}: {exc.strerror or exc}")
    return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def platform() -> str:
    """`windows`, `macos`, `linux` or `other`: which adapter applies."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("linux"):
        return "linux"
    return "other"


def powershell(script: str, timeout: float) -> CommandResult:
    """A PowerShell one-liner, without the user's profile (which may print or be slow).

    Its output is set to UTF-8 first: by default PowerShell writes to a pipe in the console's OEM code page, where
    an interface named `乙太網路` or `Ethernet-Verbindung` arrives as question marks or mojibake.
    """
    utf8 = "[Console]::OutputEncoding = New-Object Text.UTF8Encoding $false; "  # $false: no byte-order mark
    return run(
        ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", utf8 + script], timeout, encoding="utf-8"
    )


def run_all(argvs: list[list[str]], timeout: float) -> list[CommandResult]:
    """Several commands started at once (no shell, no stdin), each given what is left of one `timeout`: the caller
    waits for the slowest, not for the sum, and needs no thread per command."""
    deadline = time.monotonic() + timeout
    started: list[subprocess.Popen[str] | CommandResult] = []
    for argv in argvs:
        try:
            started.append(
                subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    errors="replace",
                )
            )
        except FileNotFoundError:
            started.append(CommandResult(tuple(argv), None, "", f"{argv[0]} not found"))
        except OSError as exc:
            started.append(CommandResult(tuple(argv), None, "", f"{argv[0]}: {exc.strerror or exc}"))
    results: list[CommandResult] = []
    for argv, proc in zip(argvs, started, strict=True):
        if isinstance(proc, CommandResult):
            results.append(proc)
            continue
        try:
            out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results.append(CommandResult(tuple(argv), None, "", f"{argv[0]} did not finish within {timeout:g} s"))
            continue
        results.append(CommandResult(tuple(argv), proc.returncode, out, err))
    return results
