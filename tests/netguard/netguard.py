"""Network safety for the test suite: only loopback (127.0.0.0/8, ::1) may be reached.

Guards connect/connect_ex (TCP), sendto/sendmsg (UDP: dnspython does not connect its UDP sockets, so
pytest-socket's connect guard alone would miss it), getaddrinfo/gethostbyname of non-literal names (which would
ask the machine's real resolver) and reverse lookups (gethostbyaddr, getnameinfo) of non-loopback addresses. Violations are recorded so a fixture can fail the test even when the code under
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
_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex
_real_gethostbyaddr = socket.gethostbyaddr
_real_getnameinfo = socket.getnameinfo
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

    def refuse_name_lookup(what: str, host: Any) -> None:
        """A name (not an address literal, not loopback) would be sent to the machine's real resolver."""
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback(name):
            try:
                ipaddress.ip_address(str(name).split("%", 1)[0])
            except ValueError:
                VIOLATIONS.append(f"{what}({name!r})")
                raise socket.gaierror(socket.EAI_NONAME, f"test network guard: {what}({name!r}) refused") from None

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        refuse_name_lookup("getaddrinfo", host)
        return _real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        refuse_name_lookup("gethostbyname", host)
        return _real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        refuse_name_lookup("gethostbyname_ex", host)
        return _real_gethostbyname_ex(host)

    def gethostbyaddr(host: str) -> Any:
        # A reverse lookup of anything but loopback asks the real resolver for a PTR record.
        if not is_loopback(host):
            VIOLATIONS.append(f"gethostbyaddr({host!r})")
            raise socket.herror(1, f"test network guard: gethostbyaddr({host!r}) refused")
        return _real_gethostbyaddr(host)

    def getnameinfo(sockaddr: Any, flags: int) -> Any:
        if not flags & socket.NI_NUMERICHOST and not is_loopback(sockaddr[0]):
            VIOLATIONS.append(f"getnameinfo({sockaddr!r})")
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: getnameinfo({sockaddr!r}) refused")
        return _real_getnameinfo(sockaddr, flags)

    connect._netguard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.gethostbyaddr = gethostbyaddr
    socket.getnameinfo = getnameinfo


def guard_connect_in_front() -> None:
    """Put the check in front of whatever socket.socket.connect is now.

    pytest-socket (--allow-hosts) swaps in its own connect at each test's setup and the bare one at teardown: it
    blocks, but raises RuntimeError (which code under test does not expect) and records nothing, so a swallowed
    attempt would go unnoticed. Called at each test's start, after pytest-socket's setup.
    """
    current = socket.socket.connect
    if getattr(current, "_netguard", False):
        return

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address, "connect")
        return current(self, address)

    connect._netguard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign]
