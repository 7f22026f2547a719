"""A stuck system resolver is counted and capped, not multiplied (issue 19, class 5): calls beyond the gate's limit
are refused at once as evidence, and the gate frees a slot only when the stuck call itself returns."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from aoai_diag import blocking
from aoai_diag.checks import system_resolution


def test_lookups_beyond_the_limit_are_refused_while_earlier_ones_stay_stuck(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = blocking.Gate(limit=2)
    monkeypatch.setattr(system_resolution, "RESOLVER", gate)
    release = threading.Event()
    calls: list[str] = []

    def stuck_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        release.wait(10)
        return [(2, 1, 6, "", ("10.0.0.5", 443))]

    names = ["a.openai.azure.com", "b.openai.azure.com", "c.openai.azure.com"]
    try:
        first = asyncio.run(system_resolution.resolve_all(stuck_getaddrinfo, names, 443, 0.3))
        assert gate.in_flight == 2, "the abandoned calls still hold their slots"
        again = asyncio.run(system_resolution.resolve_all(stuck_getaddrinfo, names[:1], 443, 0.3))
    finally:
        release.set()
    errors = [str(r.error) for r in first.values()]
    assert errors.count("timeout") == 2
    assert [e for e in errors if e != "timeout"] == ["system resolver busy: 2 earlier lookups have not returned"]
    assert str(again[names[0]].error).startswith("system resolver busy")
    assert len(calls) == 2, "a refused lookup never reached getaddrinfo"
    for _ in range(100):  # the released calls give their slots back
        if gate.in_flight == 0:
            break
        threading.Event().wait(0.01)
    assert gate.in_flight == 0
    found = asyncio.run(system_resolution.resolve_all(stuck_getaddrinfo, names[:1], 443, 1.0))
    assert found[names[0]].addresses == ("10.0.0.5",)
