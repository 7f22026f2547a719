"""Run one OS command with a bounded time and get its text back; the single seam tests replace."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


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


def run(argv: list[str], timeout: float) -> CommandResult:
    """`argv` with no shell, no stdin, at most `timeout` seconds."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
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
    """A PowerShell one-liner, without the user's profile (which may print or be slow)."""
    return run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script], timeout)
