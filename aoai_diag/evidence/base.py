"""Typed evidence: a frozen dataclass per probe, read from and written to the JSON shape of docs/evidence.md.

Why: evidence crosses a trust boundary when a bundle made elsewhere (or edited by hand) is analysed, and every
consumer used to parse the raw mapping defensively in its own way. `from_dict` is the one place that checks it.

Rules of `from_dict` (tolerant where the meaning is clear, strict where a wrong value would mislead):
- a missing field takes its default (the value the probe writes when it has nothing: None, empty list, False);
- null is accepted only where the field is declared optional (`X | None`);
- a value of the wrong type, a non-finite number, an integer beyond +/-2**63, or a non-mapping where a mapping is
  required raises EvidenceError naming the path of the bad field
  (`targets[0].checks[tcp_connect].evidence.attempts[1].connect_ms`);
- an int is accepted where a float is declared (JSON does not tell 3 from 3.0);
- keys the type does not declare are kept as they are in `extra` (checked to be plain finite JSON), so a bundle
  written by a newer minor version keeps its additions; `strict=True` refuses them instead (the tests use it to
  make sure every field a probe writes is declared here).
`to_dict` writes every declared field (defaults included) followed by the extra keys, so a consumer never meets a
missing key or a value of the wrong type.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar, get_args, get_origin

INT_LIMIT = 2**63
"""Larger integers are not evidence of anything (and `float()` of a 5000-digit integer raises)."""
MAX_DEPTH = 64


class OutOfRange:
    """Stands for an integer literal too long to be evidence, so validation can name its path (see parse_int)."""

    def __repr__(self) -> str:
        return "<integer out of range>"


def parse_int(text: str) -> int | OutOfRange:
    """`json.loads(parse_int=...)`: Python refuses to convert more than 4300 digits, with no hint of where."""
    return int(text) if len(text.lstrip("-")) <= 19 else OutOfRange()


class EvidenceError(ValueError):
    """A value does not fit its declared evidence type; `path` names the field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '<root>'}: {problem}")
        self.path = path
        self.problem = problem


E = TypeVar("E", bound="Evidence")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evidence:
    """Base of every typed evidence shape: a probe constructs it, the diagnosis reads its attributes, `to_dict`
    writes it to JSON and `from_dict` reads it back."""

    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=True)
    """Keys this version does not declare, kept verbatim (plain finite JSON)."""

    KEY_ALIASES: ClassVar[Mapping[str, str]] = {}
    """JSON key -> field name, for keys that are not identifiers (`class`, `apim-request-id`)."""

    @classmethod
    def from_dict(cls: type[E], data: Any, path: str = "", *, strict: bool = False) -> E:
        return _convert_evidence(cls, data, path, strict, 0)

    def to_dict(self) -> dict[str, Any]:
        out = {key: _dump(getattr(self, name)) for name, key in _layout(type(self))}
        for key, value in self.extra.items():
            out.setdefault(key, _dump(value))
        return out


def _dump(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, Evidence):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


_LAYOUTS: dict[type, tuple[tuple[str, str], ...]] = {}


def _layout(cls: type[Evidence]) -> tuple[tuple[str, str], ...]:
    """(field name, JSON key) of each declared field, in order; computed once per type (to_dict runs for every
    result of every report)."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        names = _json_names(cls)
        layout = _LAYOUTS[cls] = tuple((f.name, names[f.name]) for f in _fields(cls))
    return layout


_HINTS: dict[type, dict[str, Any]] = {}


def _fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.name != "extra"]


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _json_names(cls: type[Evidence]) -> dict[str, str]:
    reverse = {name: key for key, name in cls.KEY_ALIASES.items()}
    return {f.name: reverse.get(f.name, f.name) for f in _fields(cls)}


def _describe(value: Any) -> str:
    if isinstance(value, OutOfRange):
        return "an integer out of range"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_path(path: str, key: object) -> str:
    """`path.key` for a field-like key, `path[key]` for a name or address used as a key."""
    text = str(key)
    return _join(path, text) if _PLAIN_KEY.fullmatch(text) else f"{path}[{text}]"


def _convert(tp: Any, value: Any, path: str, strict: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise EvidenceError(path, "nested too deeply")
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            if len(args) < len(get_args(tp)):
                return None
            raise EvidenceError(path, f"must be {_expected(tp)}, not null")
        (inner,) = args  # evidence unions are always `X | None`
        return _convert(inner, value, path, strict, depth)
    if value is None and tp is not Any:
        raise EvidenceError(path, f"must be {_expected(tp)}, not null")
    if tp is Any:
        return _json_value(value, path, depth)
    if isinstance(tp, type) and issubclass(tp, Evidence):
        return _convert_evidence(tp, value, path, strict, depth)
    if tp is bool:
        if not isinstance(value, bool):
            raise EvidenceError(path, f"must be a boolean, not {_describe(value)}")
        return value
    if isinstance(value, OutOfRange):
        raise EvidenceError(path, "integer out of range")
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EvidenceError(path, f"must be an integer, not {_describe(value)}")
        if not -INT_LIMIT <= value <= INT_LIMIT:
            raise EvidenceError(path, "integer out of range")
        return value
    if tp is float:
        return _convert_float(value, path)
    if tp is str:
        if not isinstance(value, str):
            raise EvidenceError(path, f"must be a string, not {_describe(value)}")
        return value
    if origin is tuple:
        item_type = get_args(tp)[0]
        if not isinstance(value, list | tuple):
            raise EvidenceError(path, f"must be a list, not {_describe(value)}")
        return tuple(_convert(item_type, v, f"{path}[{i}]", strict, depth + 1) for i, v in enumerate(value))
    if origin in (Mapping, dict):
        _, value_type = get_args(tp)
        if not isinstance(value, Mapping):
            raise EvidenceError(path, f"must be an object, not {_describe(value)}")
        return {str(k): _convert(value_type, v, _key_path(path, k), strict, depth + 1) for k, v in value.items()}
    raise TypeError(f"unsupported evidence annotation {tp!r} at {path}")  # a bug in this package, not in the input


def _convert_float(value: Any, path: str) -> float:
    if isinstance(value, OutOfRange):
        raise EvidenceError(path, "integer out of range")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvidenceError(path, f"must be a number, not {_describe(value)}")
    if isinstance(value, int) and not -INT_LIMIT <= value <= INT_LIMIT:
        raise EvidenceError(path, "number out of range")
    number = float(value)
    if not math.isfinite(number):
        raise EvidenceError(path, "must be a finite number")
    return number


def _convert_evidence(cls: type[E], value: Any, path: str, strict: bool, depth: int) -> E:
    if not isinstance(value, Mapping):
        raise EvidenceError(path, f"must be an object, not {_describe(value)}")
    hints = _hints(cls)
    names = _json_names(cls)
    by_key = {names[f.name]: f for f in _fields(cls)}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, item in value.items():
        key = str(key)
        f = by_key.get(key)
        if f is None:
            if strict:
                raise EvidenceError(_join(path, key), f"not a declared field of {cls.__name__}")
            extra[key] = _json_value(item, _join(path, key), depth + 1)
            continue
        kwargs[f.name] = _convert(hints[f.name], item, _join(path, key), strict, depth + 1)
    return cls(extra=extra, **kwargs)


def _json_value(value: Any, path: str, depth: int) -> Any:
    """Plain JSON with finite numbers and bounded integers (what an undeclared key may hold)."""
    if depth > MAX_DEPTH:
        raise EvidenceError(path, "nested too deeply")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not -INT_LIMIT <= value <= INT_LIMIT:
            raise EvidenceError(path, "integer out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EvidenceError(path, "must be a finite number")
        return value
    if isinstance(value, OutOfRange):
        raise EvidenceError(path, "integer out of range")
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, _key_path(path, k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise EvidenceError(path, f"must be plain JSON, not {_describe(value)}")


def _expected(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _expected(inner[0]) if inner else "null"
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is tuple:
        return "a list"
    return "an object"


def json_value(value: Any, path: str = "") -> Any:
    """`value` checked to be plain finite JSON (for parts of a bundle that have no declared type)."""
    return _json_value(value, path, 0)


def finite_number(value: Any, path: str) -> float:
    """`value` as a finite float; raises EvidenceError naming `path`."""
    return _convert_float(value, path)
