"""The tier's record: scenario table, the verdict/cause matrix the tool produced, wall time per scenario."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from datetime import datetime, timezone

from tests.e2e.harness import RunResult


def _cell(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "–"


def render(results: Sequence[RunResult]) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# aoai-diag end-to-end run",
        "",
        f"{now}, {platform.node()}, Python {platform.python_version()}, {len(results)} scenarios. "
        "Each scenario: `ip netns exec <ns> aoai-diag check contoso -o json` (installed CLI, no test flags).",
        "",
        "## Scenarios",
        "",
        "| scenario | client | pattern | family | description |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        s = r.scenario
        lines.append(f"| {s.id} | {s.client} | {s.pattern} | {s.family} | {s.description} |")
    lines += [
        "",
        "## Verdict / cause matrix (expected vs produced)",
        "",
        "| scenario | expected verdict | got verdict | expected causes | got causes | exit | wall s | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.scenario
        bad = r.mismatch()
        lines.append(
            f"| {s.id} | {s.expect.verdict} | {r.verdict or '–'} | {_cell(s.expect.causes)} | {_cell(r.causes)} "
            f"| {r.exit_code} | {r.wall_s:.2f} | {'OK' if bad is None else 'MISMATCH'} |"
        )
    lines += ["", "## Check statuses per scenario", ""]
    ids: list[str] = []
    for r in results:
        for cid in r.check_statuses:
            if cid not in ids:
                ids.append(cid)
    if ids:
        lines.append("| scenario | " + " | ".join(ids) + " |")
        lines.append("|---|" + "---|" * len(ids))
        for r in results:
            st = r.check_statuses
            lines.append(f"| {r.scenario.id} | " + " | ".join(st.get(i, "–") for i in ids) + " |")
    mism = [(r.scenario.id, r.mismatch()) for r in results if r.mismatch()]
    if mism:
        lines += ["", "## Mismatches", ""]
        lines += [f"- **{sid}**: {why}" for sid, why in mism]
    total = sum(r.wall_s for r in results)
    lines += ["", f"Total CLI wall time: {total:.1f} s.", ""]
    return "\n".join(lines)
