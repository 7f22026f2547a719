"""JSON Schema of every check's evidence, generated from the dataclasses (so the two cannot drift).

The block lives in aoai_diag/data/report.schema.json and bundle.schema.json, between the `check_evidence`
definition and the next hand-written one; `python -m aoai_diag.evidence.schema` rewrites it in both files and a
test fails when it is out of date. Fields are never required (a probe that stops early writes only some of them)
and undeclared keys are allowed (a newer minor version may add some), as `from_dict` accepts them.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

from aoai_diag.evidence import evidence_types
from aoai_diag.evidence.base import Evidence, _fields, _hints, _json_names

PREFIX = "evidence."
DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMA_FILES = (DATA / "report.schema.json", DATA / "bundle.schema.json")
BLOCK_START = '    "check_evidence": {'


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        schema = _type_schema(inner, defs)
        if "type" in schema:  # the common case, kept cheap for validators: {"type": ["string", "null"]}
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}
    if tp is Any:
        return {}
    if isinstance(tp, type) and issubclass(tp, Evidence):
        _define(tp, defs)
        return {"$ref": f"#/$defs/{PREFIX}{tp.__name__}"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(get_args(tp)[0], defs)}
    _, value_type = get_args(tp)
    return {"type": "object", "additionalProperties": _type_schema(value_type, defs)}


def _define(cls: type[Evidence], defs: dict[str, Any]) -> None:
    key = PREFIX + cls.__name__
    if key in defs:
        return
    defs[key] = {}  # placeholder: a type may refer to itself through its fields
    hints, names = _hints(cls), _json_names(cls)
    properties: dict[str, Any] = {}
    for f in _fields(cls):
        properties[names[f.name]] = _type_schema(hints[f.name], defs)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):  # dataclass' generated signature
        schema = {"description": " ".join(cls.__doc__.split()), **schema}
    defs[key] = schema


def evidence_defs() -> dict[str, Any]:
    """`check_evidence` (which shape applies to which check id) and one definition per evidence type."""
    defs: dict[str, Any] = {}
    for kind in evidence_types().values():
        _define(kind, defs)
    selector = {
        "description": "Evidence shape per check id (docs/evidence.md); generated from aoai_diag/evidence.",
        "allOf": [
            {
                "if": {"properties": {"id": {"const": check_id}}, "required": ["id"]},
                "then": {"properties": {"evidence": {"$ref": f"#/$defs/{PREFIX}{kind.__name__}"}}},
            }
            for check_id, kind in evidence_types().items()
        ],
    }
    return {"check_evidence": selector, **dict(sorted(defs.items()))}


def block_text() -> str:
    """The generated `$defs` entries as they appear in the schema files (4-space indent, one entry per line)."""
    return "".join(
        f"    {json.dumps(key)}: {json.dumps(value, separators=(', ', ': '))},\n"
        for key, value in evidence_defs().items()
    )


def current_block(text: str) -> tuple[int, int]:
    """Where the generated block is in a schema file's text: from BLOCK_START to the first line after it that is
    not generated (generated entries are one line each)."""
    start = text.index(BLOCK_START)
    end = start
    while text.startswith(('    "check_evidence": ', f'    "{PREFIX}'), end):
        end = text.index("\n", end) + 1
    return start, end


def rewrite(path: Path) -> bool:
    """Replace the generated block in `path`; True when the file changed."""
    text = path.read_text()
    start, end = current_block(text)
    new = text[:start] + block_text() + text[end:]
    json.loads(new)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    changed = [str(p) for p in SCHEMA_FILES if rewrite(p)]
    print("rewrote " + ", ".join(changed) if changed else "schemas up to date", file=sys.stderr)
