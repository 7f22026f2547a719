"""Every exit code of the CLI, and the one translator from "how the run ended" to a code (README: Exit codes).

Monitoring reads the code: only 0, 1 and 3 are verdicts. Everything else says the run produced no verdict
(bad input, a bug, an output that could not be written, an interruption, a reader that went away), so an alert
never fires on a verdict that was not reached.
"""

from __future__ import annotations

import enum
import errno
from typing import Any

import click


class ExitStatus(enum.IntEnum):
    HEALTHY = 0
    UNHEALTHY = 1
    USAGE = 2
    """Bad target, option or bundle; an output destination refused before the run."""
    INCONCLUSIVE = 3
    INTERNAL = 4
    """A bug: one line on stderr (AOAI_DIAG_DEBUG=1 shows the traceback)."""
    OUTPUT_FAILED = 5
    """The report or bundle could not be written (disk full, I/O error): no verdict was delivered."""
    INTERRUPTED = 130
    """Ctrl-C (SIGINT): 128 + 2, as shells report it."""
    PIPE_CLOSED = 141
    """The reader of stdout went away (`| head -c1`): 128 + SIGPIPE (13), as shells report it; no verdict."""

    @property
    def is_verdict(self) -> bool:
        return self in (ExitStatus.HEALTHY, ExitStatus.UNHEALTHY, ExitStatus.INCONCLUSIVE)


NAGIOS_UNKNOWN = 3


class Failure(click.ClickException):
    """A command gives up with a one-line message and a status (a refused bundle, an unwritable destination).

    A ClickException so that click itself (standalone mode, CliRunner) also prints it and exits with the status.
    """

    def __init__(self, message: str, status: ExitStatus = ExitStatus.USAGE) -> None:
        super().__init__(message)
        self.status = status
        # click types exit_code as a ClassVar (one code per exception class) but reads it from the instance
        # (`e.exit_code` in Command.main); a Failure's status is per instance.
        self.exit_code = int(status)  # type: ignore[misc]  # click's ClassVar annotation is narrower than its use

    def show(self, file: Any = None) -> None:
        click.echo(f"aoai-diag: {self.format_message()}", err=True, file=file)


class OutputWriteFailed(Exception):
    """Writing to stdout or stderr failed; raised by output.GuardedStream so no handler on the way mistakes it
    for a probe's or a bundle's OSError."""

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(f"cannot write to {stream}: {error.strerror or error}")
        self.stream = stream
        self.error = error

    @property
    def pipe_closed(self) -> bool:
        return isinstance(self.error, BrokenPipeError) or self.error.errno in (errno.EPIPE, errno.ECONNRESET)


def status_for(exc: BaseException) -> ExitStatus:
    """The exit status for a run that ended with `exc` (the translator; verdict codes come from verdict.py)."""
    if isinstance(exc, Failure):
        return exc.status
    if isinstance(exc, OutputWriteFailed):
        return ExitStatus.PIPE_CLOSED if exc.pipe_closed else ExitStatus.OUTPUT_FAILED
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, click.Abort):
        # click turns KeyboardInterrupt (and EOF at a prompt) into Abort; the cause tells them apart.
        return ExitStatus.INTERRUPTED if isinstance(exc.__cause__, KeyboardInterrupt) else ExitStatus.USAGE
    if isinstance(exc, click.ClickException):
        return ExitStatus.USAGE
    return ExitStatus.INTERNAL


def for_output(status: ExitStatus, nagios: bool) -> int:
    """The code to exit with for a run that reached no verdict. With `-o nagios` that is UNKNOWN (Nagios plugin
    guidelines: https://nagios-plugins.org/doc/guidelines.html#AEN78), so a usage error is never read as CRITICAL."""
    if nagios and not status.is_verdict:
        return NAGIOS_UNKNOWN
    return int(status)
