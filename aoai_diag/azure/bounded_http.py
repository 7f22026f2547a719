"""The Azure layer's HTTP: every exchange within the run's deadline, every answer within a size cap, and the
Resource Manager token sent to the Resource Manager endpoint only.

azure-core's RequestsTransport bounds each socket read (`read_timeout`), not an exchange: a peer that trickles one
byte a second keeps every read under the timeout and the run waiting for minutes (issue 19, class 2). And it reads
whatever body arrives into memory: a 50 MB token answer cost 300 MB, a Resource Graph page of 100,000 rows
650–750 MB (class 3). The adapter here, mounted on the transport's requests session:
- refuses to start an exchange after the deadline, and clamps connect/read timeouts to the time left;
- watches every connection it opens with one `Cutoff` (aoai_diag/net/cutoff.py) that shuts them down at the
  deadline, so a trickling head or body ends then;
- reads the body itself, refusing one larger than its cap (a declared Content-Length is checked first);
- refuses a request that carries `Authorization` to any origin but the Resource Manager endpoint (class 6): SDK
  paging, our nextLink paging and long-running-operation polling all follow URLs a peer chose.
A refusal is an exception azure-core reports as ServiceResponseError; `refusal_of` finds it again so the evidence
names it (`denied_from` in arm_clients).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from aoai_diag.net.cutoff import Cutoff

MAX_ARM_BODY = 16 * 1024 * 1024
"""Largest Resource Manager answer read: a Resource Graph page of 1,000 rows of VNets with their subnets and NSGs
with their rules is a few MB."""
MAX_TOKEN_BODY = 1024 * 1024
"""Largest identity-endpoint answer read: a token answer is a few KB."""
CHUNK = 64 * 1024

Origin = tuple[str, str, int]

_current = threading.local()
"""The cutoff of the exchange running on this thread: connections opened during it are watched by it."""


class Refusal(requests.exceptions.RequestException):
    """An exchange this transport would not complete; `code` is the evidence's code, the message one line."""

    code = "Refused"


class AnswerTooLarge(Refusal):
    code = "Truncated"


class ForeignHost(Refusal):
    code = "ForeignLink"


class DeadlinePassed(requests.exceptions.ReadTimeout):
    """The run's deadline passed before or during the exchange."""

    code = "Timeout"


def refusal_of(exc: BaseException) -> BaseException | None:
    """The Refusal or DeadlinePassed behind an azure-core error (its `inner_exception` chain), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, Refusal | DeadlinePassed):
            return current
        current = getattr(current, "inner_exception", None) or current.__cause__ or current.__context__
        seen += 1
    return None


def origin(url: str) -> Origin | None:
    """(scheme, host, port) of `url`, the default port filled in; None if it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _watched(cls: type[Any]) -> type[Any]:
    class Watched(cls):  # type: ignore[misc,valid-type]
        def connect(self) -> None:
            cutoff: Cutoff | None = getattr(_current, "cutoff", None)
            if cutoff is not None:
                cutoff.watch(self)  # `sock` is read when the cutoff fires: set during connect, before TLS
            super().connect()

    Watched.__name__ = f"Watched{cls.__name__}"
    return Watched


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _watched(HTTPConnection)


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _watched(HTTPSConnection)


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """A requests adapter whose exchanges end by `deadline`, read at most `max_body` bytes, and send
    `Authorization` only to `token_origin` (None: no such rule)."""

    def __init__(
        self,
        cutoff: Cutoff,
        deadline: float,
        max_body: int,
        token_origin: Origin | None,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        self.cutoff = cutoff
        self.deadline = deadline
        self.max_body = max_body
        self.token_origin = token_origin
        self.clock = clock
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        url = str(request.url or "")
        target = origin(url)
        shown = f"{target[1]}:{target[2]}" if target else url[:80]
        if self.token_origin is not None and "Authorization" in request.headers and target != self.token_origin:
            # The token is the caller's Azure identity: it goes to the cloud's Resource Manager and nowhere else,
            # whatever URL an answer told us to follow.
            raise ForeignHost(
                f"refused to send the Resource Manager token to {shown}, which is not the Resource Manager endpoint "
                f"{self.token_origin[1]}:{self.token_origin[2]}",
                request=request,
            )
        left = self.deadline - self.clock()
        if left <= 0.01 or self.cutoff.fired:
            raise DeadlinePassed(f"the run's deadline passed before {shown} was asked", request=request)
        _current.cutoff = self.cutoff
        try:
            response = super().send(
                request, stream=True, timeout=_clamp(timeout, left), verify=verify, cert=cert, proxies=proxies
            )
            self._read_body(response, shown, request)
        except Refusal:
            raise
        except (requests.RequestException, OSError) as exc:
            if self.cutoff.fired:
                raise DeadlinePassed(f"the run's deadline passed while {shown} was answering", request=request) from exc
            raise
        finally:
            _current.cutoff = None
        return response

    def _read_body(self, response: requests.Response, shown: str, request: requests.PreparedRequest) -> None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            response.close()
            raise AnswerTooLarge(
                f"{shown} announced an answer of {int(declared)} bytes; at most {self.max_body} are read",
                request=request,
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > self.max_body:
                response.close()
                raise AnswerTooLarge(
                    f"{shown} answered more than {self.max_body} bytes; the rest was not read", request=request
                )
            chunks.append(chunk)
        if self.cutoff.fired:
            raise DeadlinePassed(f"the run's deadline passed while {shown} was answering", request=request)
        response._content = b"".join(chunks)
        response._content_consumed = True


def _clamp(timeout: Any, left: float) -> Any:
    """requests' timeout (a number or a (connect, read) pair) no longer than `left`."""
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(float(t), left) for t in timeout)
    return left if timeout is None else min(float(timeout), left)


class BoundedHttp:
    """One requests session for the run's Azure layer: Resource Manager through one adapter, identity endpoints
    through another (its own cap), both cut at `deadline` by one timer. Build once per session; `close` at the end."""

    def __init__(
        self,
        deadline: float,
        timeout: float,
        verify: str | bool,
        token_origin: Origin | None,
        clock: Callable[[], float] = time.monotonic,
        pool_size: int = 32,
    ) -> None:
        from azure.core.pipeline.transport import RequestsTransport

        self.deadline = deadline
        self.cutoff = Cutoff(max(0.0, deadline - clock()))
        arm_adapter = BoundedAdapter(
            self.cutoff, deadline, MAX_ARM_BODY, token_origin, clock, pool_connections=4, pool_maxsize=pool_size
        )
        token_adapter = BoundedAdapter(self.cutoff, deadline, MAX_TOKEN_BODY, None, clock)
        self.arm_session = requests.Session()
        self.arm_session.mount("https://", arm_adapter)
        self.arm_session.mount("http://", arm_adapter)
        self.token_session = requests.Session()
        self.token_session.mount("https://", token_adapter)
        self.token_session.mount("http://", token_adapter)
        common: dict[str, Any] = {
            "session_owner": False,
            "connection_timeout": timeout,
            "read_timeout": timeout,
            "connection_verify": verify,
        }
        self.arm_transport = RequestsTransport(session=self.arm_session, **common)
        self.token_transport = RequestsTransport(session=self.token_session, **common)

    def close(self) -> None:
        self.cutoff.cancel()
        self.arm_session.close()
        self.token_session.close()
