"""A TCP listener whose connects time out: listen(0) with its one queue slot taken and never accepted.

On Linux a SYN to a listener with a full accept queue is dropped (net.ipv4.tcp_abort_on_overflow = 0), so the
client's connect() waits until its own timeout — a real "filtered" timeout on loopback, no firewall needed.
`Blackhole.filled()` says whether the queue really is full (a probe connect then times out).

Standalone: `python -m tests.servers.blackhole --listen IP:PORT` prints "ready".
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers.standalone import parse_listen, serve_until_stopped


class Blackhole:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(0)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.held: list[socket.socket] = []
        # Fill the queue: backlog 0 still admits one connection; a second connect proves the queue is full.
        for _ in range(3):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(0.1)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                break
            self.held.append(sock)

    def close(self) -> None:
        for sock in self.held:
            sock.close()
        self.listener.close()


@contextmanager
def blackhole(host: str = "127.0.0.1") -> Iterator[Blackhole]:
    hole = Blackhole(host)
    try:
        yield hole
    finally:
        hole.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a TCP port whose connects time out")
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--config", help="ignored (uniform command line with the other servers)")
    args = parser.parse_args(argv)
    hole = Blackhole(*parse_listen(args.listen))
    return serve_until_stopped(hole.close)


if __name__ == "__main__":
    sys.exit(main())
