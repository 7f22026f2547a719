"""The explicit probe registry: one module per probe, one line here (STYLE.md §5).

Order is the order of the report. Azure-layer probes import the SDK only inside their run functions.
"""

from __future__ import annotations

from aoai_diag.checks import hosts_file
from aoai_diag.checks.base import Probe

PROBES: tuple[Probe, ...] = (hosts_file.PROBE,)
