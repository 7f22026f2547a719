"""Network safety for the test suite: only loopback (127.0.0.0/8, ::1) may be reached.

Guards connect/connect_ex (TCP), sendto/sendmsg (UDP: dnspython does not connect its UDP sockets, so
pytest-socket's connect guard alone would miss it) and getaddrinfo of non-literal names (which would ask the
machine's real resolver). Violations are recorded so a fixture can fail the test even when the code under
test swallowed the error.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

VIOLATIONS: list[str] = []

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_sendmsg = socket.socket.sendmsg
_real_getaddrinfo = socket.getaddrinfo
_installed = False


class NonLoopbackTraffic(OSError):
    """Raised instead of sending anything to a non-loopback address."""


def is_loopback(host: Any) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any, what: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not is_loopback(host):
        VIOLATIONS.append(f"{what} to {address!r}")
        raise NonLoopbackTraffic(101, f"test network guard: {what} to non-loopback {address!r} refused")


def install(raise_error: bool = True) -> None:
    global _installed
    if _installed:
        return
    _installed = True

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address, "connect")
        return _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address, "connect")
        return _real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        _check(self, args[-1], "sendto")
        return _real_sendto(self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        if address is not None:
            _check(self, address, "sendmsg")
        return _real_sendmsg(self, buffers, ancdata, flags, *(() if address is None else (address,)))

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback(name):
            try:
                ipaddress.ip_address(str(name).split("%", 1)[0])
            except ValueError:
                VIOLATIONS.append(f"getaddrinfo({name!r})")
                raise socket.gaierror(socket.EAI_NONAME, f"test network guard: getaddrinfo({name!r}) refused") from None
        return _real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
