"""Exceptions as one line of text, for evidence, summaries and the CLI's messages.

Library messages may be empty or span several lines (SDK errors carry whole response bodies); evidence and
the CLI's errors must stay one line, and an empty message must not crash the code reporting it.
"""

from __future__ import annotations


def first_line(text: str) -> str:
    """The first non-blank line of `text`, stripped; '' when there is none."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def one_line(exc: BaseException, limit: int = 300, text: str | None = None) -> str:
    """`TypeName: first line of the message` (`TypeName` alone when there is none), cut to `limit` characters.

    `text` replaces the exception's own message (e.g. OpenSSL's verify_message, which says more).
    """
    detail = first_line(str(exc) if text is None else text)
    return (f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)[:limit]
