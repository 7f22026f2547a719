"""Loaded by subprocesses that tests start (PYTHONPATH=tests/netguard): refuse non-loopback traffic.

pytest-socket guards only the pytest process; a CLI run in a subprocess gets this guard instead.
"""

import os

if os.environ.get("AOAI_DIAG_NETGUARD") == "1":
    import netguard

    netguard.install(raise_error=True)
