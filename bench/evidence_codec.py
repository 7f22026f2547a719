"""CPU per result to read evidence JSON into its type and write it back, over every check in `fixtures/`.

Why: docs/architecture.md keeps typed evidence on stdlib dataclasses (`evidence/base.py`) rather than msgspec or
pydantic v2. A run decodes nothing (the probes construct their types); `analyze` decodes a bundle and every report
encodes. This measures both, and msgspec's `convert` on the same classes when msgspec is importable (it is not a
dependency: install it in a scratch environment to compare), plus each library's import cost.

    python bench/evidence_codec.py
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aoai_diag.evidence import evidence_types  # noqa: E402
from aoai_diag.evidence.base import Evidence  # noqa: E402


def checks_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("checks"), list):
            yield from (c for c in value["checks"] if isinstance(c, dict) and isinstance(c.get("evidence"), dict))
        for item in value.values():
            yield from checks_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from checks_in(item)


def samples() -> list[tuple[type[Evidence], dict[str, Any]]]:
    types = evidence_types()
    found = []
    for path in sorted((REPO / "fixtures").rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found += [(types[c["id"]], c["evidence"]) for c in checks_in(data) if c.get("id") in types]
    return found


def per_item_us(items: list[Any], fn: Callable[[Any], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1e6


def import_ms(module: str) -> float | None:
    """CPU to import `module` and use it once (pydantic imports its core lazily, on first use)."""
    start = time.process_time()
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return None
    if module == "pydantic":
        imported.TypeAdapter(int).validate_python(1)
    return (time.process_time() - start) * 1000


def main() -> int:
    items = samples()
    typed = [kind.from_dict(evidence) for kind, evidence in items]
    print(f"{len(items)} check results from fixtures/")
    print(f"from_dict (analyze, per result): {per_item_us(items, lambda i: i[0].from_dict(i[1])):.1f} µs")
    print(f"to_dict (every report, per result): {per_item_us(typed, lambda t: t.to_dict()):.1f} µs")
    print(f"construct at defaults (a probe, per result): {per_item_us(items, lambda i: i[0]()):.1f} µs")
    for module in ("msgspec", "pydantic"):
        cost = import_ms(module)
        print(f"import {module} and first use: " + (f"{cost:.0f} ms CPU" if cost is not None else "not installed"))
    if "msgspec" in sys.modules:
        convert = sys.modules["msgspec"].convert
        print(f"msgspec.convert (per result): {per_item_us(items, lambda i: convert(i[1], i[0], strict=False)):.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
