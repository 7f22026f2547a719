"""The Azure Resource Manager layer: credential, clients, one converter, the run-wide snapshot.

Nothing here imports the Azure SDK at module top: `aoai-diag --help` and local-only runs must not pay
~700 ms of imports (measured: bench/startup.py).
"""
