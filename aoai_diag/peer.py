"""Values from a peer (IMDS, Resource Manager, an identity endpoint), checked where they enter.

A peer can answer anything: NaN or Infinity (which Python's json module accepts and the strict JSON report refuses),
numbers of 5,000 digits, strings of megabytes, a list where an object belongs, nesting thousands deep. Whatever it
answers must become evidence of a misbehaving peer (an error with its reason), never a crash and never "nan" in a
summary. `loads` parses only standard JSON with finite numbers; `check_json` walks an already parsed value (the
Azure SDK parses bodies itself); `text` takes one field that must be a short string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aoai_diag.evidence.base import _describe as _kind  # the typed evidence's words for a JSON value's kind

MAX_DEPTH = 64
"""Deeper nesting than any Azure answer has (an ARM resource is ~10 levels)."""
MAX_STRING = 64 * 1024
"""Longest string taken from a peer: ARM ids are at most a few hundred characters, descriptions 1,024."""
MAX_DIGITS = 20
"""An integer literal longer than this is not a count, a port or a time stamp (2**63 has 19 digits)."""


class PeerValueError(ValueError):
    """A value a peer sent cannot be used; the message (one line) names where it was and what was wrong."""


def _constant(name: str) -> Any:
    raise PeerValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses to inf
        raise PeerValueError(f"{text[:30]} is not a finite number")
    return number


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise PeerValueError(f"an integer of {len(text)} digits")
    return int(text)


def loads(data: bytes | str, what: str) -> Any:
    """Standard JSON with finite numbers and bounded nesting and strings; raises PeerValueError naming `what`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except PeerValueError as exc:
        raise PeerValueError(f"{what}: {exc}") from None
    except RecursionError:
        raise PeerValueError(f"{what}: nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        raise PeerValueError(f"{what}: not JSON ({str(exc)[:120]})") from None
    return check_json(value, what)


def check_json(value: Any, path: str, depth: int = 0) -> Any:
    """`value` unchanged if it is plain JSON with finite numbers, nesting at most MAX_DEPTH and strings at most
    MAX_STRING characters; raises PeerValueError naming the path of the first bad value."""
    if depth > MAX_DEPTH:
        raise PeerValueError(f"{path}: nested more than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise PeerValueError(f"{path}: a string of {len(value)} characters (at most {MAX_STRING} taken)")
        return value
    if isinstance(value, int):
        if abs(value) >= 10**MAX_DIGITS:
            raise PeerValueError(f"{path}: an integer out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PeerValueError(f"{path}: {value!r} is not a finite number")
        return value
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_json(item, f"{path}.{str(key)[:40]}", depth + 1)
        return value
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_json(item, f"{path}[{i}]", depth + 1)
        return value
    raise PeerValueError(f"{path}: {_kind(value)} is not JSON")


def text(value: Any, path: str, limit: int = 1024) -> str | None:
    """An optional short string field: None stays None; anything but a string of at most `limit` characters raises
    PeerValueError (a name that is a number, or a megabyte long, says the peer is not what it claims to be)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PeerValueError(f"{path} is {_kind(value)}, not a string")
    if len(value) > limit:
        raise PeerValueError(f"{path} is {len(value)} characters long (at most {limit} expected)")
    return value
