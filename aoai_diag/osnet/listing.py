"""PowerShell `Format-List` output (`Name : value` blocks separated by blank lines), parsed into dicts."""

from __future__ import annotations

import re

_LINE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_]*)\s*:\s?(?P<value>.*)$")


def blocks(text: str) -> list[dict[str, str]]:
    """One dict per object; a value wrapped onto the next indented line is joined back."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            if current:
                found.append(current)
            current, last = {}, None
            continue
        match = _LINE.match(raw)
        if match:
            last = match["key"]
            current[last] = match["value"].strip()
        elif last is not None and raw[:1].isspace():
            current[last] = (current[last] + " " + raw.strip()).strip()
    if current:
        found.append(current)
    return found


def items(text: str) -> tuple[list[str], bool]:
    """`{10.0.0.4, 10.0.0.5...}` -> (the whole items, whether PowerShell cut the list).

    A list longer than $FormatEnumerationLimit ends in `...`; a cell wider than its table column is cut mid-item
    with `...` (and loses its `}`). A cut item is unknown, never an address: it is dropped and the list marked cut.
    """
    text = text.strip()
    cut = text.endswith(("...", "\u2026")) or (text.startswith("{") and not text.endswith("}"))
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    found = []
    for raw in re.split(r"[,;]", text):
        item = raw.strip()
        if item.endswith("...") or item.endswith("\u2026"):
            cut = True
            continue
        if item:
            found.append(item)
    return found, cut


def values(text: str) -> list[str]:
    """`{10.0.0.4, 10.0.0.5}`, `10.0.0.4` or `` -> a list of items."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return [v.strip() for v in re.split(r"[,;]", text) if v.strip() and v.strip() != "..."]
