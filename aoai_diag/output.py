"""stdout and stderr as the CLI writes them: every write redacted, every write failure made explicit.

The CLI replaces sys.stdout and sys.stderr with GuardedStream at start-up, so whatever reaches the terminal (click
messages, renderers, warnings a library prints) passes through redact.redact_text, and a failed write (a closed
pipe, a full disk) raises OutputWriteFailed, which the CLI turns into its own exit code instead of "internal error".
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from aoai_diag.exit_status import OutputWriteFailed
from aoai_diag.redact import redact_text


class GuardedStream:
    """A text stream wrapping another. Deliberately no `buffer` attribute: click would otherwise write to the
    binary buffer underneath and bypass the redaction."""

    def __init__(self, inner: TextIO, name: str) -> None:
        self._inner = inner
        self.name = name

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self._inner, "errors", None) or "strict"

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        try:
            self._inner.write(redact_text(text))
        except OSError as exc:
            raise OutputWriteFailed(self.name, exc) from None
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except OSError as exc:
            raise OutputWriteFailed(self.name, exc) from None
        except ValueError:  # already closed
            pass

    def isatty(self) -> bool:
        try:
            return bool(self._inner.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(getattr(self._inner, "closed", False))

    def abandon(self) -> None:
        """Send whatever is still buffered, and all later writes, to the null device: the reader is gone (or the
        disk is full) and Python must not fail again flushing at exit ("Exception ignored ... BrokenPipeError")."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def install() -> tuple[GuardedStream, GuardedStream]:
    """Replace sys.stdout and sys.stderr; returns the two guards."""
    out = GuardedStream(sys.stdout, "stdout")
    err = GuardedStream(sys.stderr, "stderr")
    sys.stdout, sys.stderr = out, err
    return out, err
