"""What every test server needs to run standalone (`python -m tests.servers.X --listen IP:PORT --config F`).

The end-to-end tier starts servers inside network namespaces and waits for "ready" on stdout; SIGTERM stops them.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from typing import Any


def parse_listen(text: str) -> tuple[str, int]:
    """`1.2.3.4:53`, `[::1]:53` -> (host, port)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    return host, int(port)


def load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: the config must be a JSON object")
    return data


def serve_until_stopped(close: Callable[[], None]) -> int:
    """Say "ready", wait for SIGTERM or Ctrl-C, then close the servers."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    close()
    return 0
