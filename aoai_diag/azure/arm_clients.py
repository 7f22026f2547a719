"""Management clients for one run: one credential, one HTTP session, bounded timeouts and retries.

SDK defaults wait minutes on a dropped connection and poll long-running operations every 30 s
(azure-core transport and polling defaults): every client here gets `connection_timeout` /
`read_timeout` from the run, a retry policy that honours 429 Retry-After but never sleeps past the run's
deadline, and LRO polling that follows Retry-After with a short fallback interval.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aoai_diag import blocking
from aoai_diag.azure.credential import CachingCredential, ca_bundle
from aoai_diag.context import Settings
from aoai_diag.errors import first_line
from aoai_diag.evidence.azure import Denied
from aoai_diag.net.connect import classify_connect_error

if TYPE_CHECKING:  # requests and urllib3 load with the Azure layer, not with `--help`
    from aoai_diag.azure.bounded_http import BoundedHttp

T = TypeVar("T")

# API versions of the generic reads (no SDK client is needed for these two).
SUBSCRIPTIONS_API = "2022-12-01"
COMPUTE_API = "2024-07-01"
# Plain GETs of network and private DNS resources (no SDK client: see snapshot._get).
NETWORK_API = "2024-05-01"
PRIVATE_DNS_API = "2024-06-01"
# Fallback interval between LRO polls when the service sends no Retry-After (the SDK default is 30 s).
LRO_POLL_S = 0.25
# Time kept before the deadline for the last poll's answer, and the least time worth one more poll.
LRO_LAST_POLL_MARGIN_S = 0.25
LRO_MIN_POLL_S = 0.05
MAX_WORKERS = 16
"""Connections kept per host: as many as the Azure layer's reads that run at once."""


PAGE_BUDGET = 100
"""nextLink pages followed at most per list; a list that needs more is reported truncated (unknown, not absent)."""


def bounded_http(settings: Settings, deadline: float, clock: Callable[[], float], base_url: str) -> BoundedHttp:
    """The run's Azure HTTP (deadline, size caps, the token only to `base_url`'s origin): see bounded_http.py."""
    from aoai_diag.azure.bounded_http import BoundedHttp, origin

    timeout = max(0.05, min(settings.timeout, deadline - clock()))
    return BoundedHttp(deadline, timeout, ca_bundle(settings), origin(base_url), clock, pool_size=MAX_WORKERS * 2)


class ArmFailure(Exception):
    """An ARM read that did not give an answer; `denied` says which scope and why (one line)."""

    def __init__(self, denied: Denied) -> None:
        super().__init__(f"{denied.scope}: {denied.message}")
        self.denied = denied


def _deadline_retry_policy(deadline: float, clock: Callable[[], float]) -> Any:
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.policies import RetryPolicy

    class DeadlineRetryPolicy(RetryPolicy):  # type: ignore[misc]
        """RetryPolicy that gives up instead of sleeping (Retry-After or backoff) past the run's deadline."""

        def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
            if not super().increment(settings, response=response, error=error):
                return False
            wait = self.get_retry_after(response) if isinstance(response, PipelineResponse) else None
            if wait is None:
                wait = self.get_backoff_time(settings)
            return bool(clock() + wait + 0.05 < deadline)

    # A hanging read is not retried: it would only spend the deadline again.
    return DeadlineRetryPolicy(
        retry_total=3, retry_connect=1, retry_read=0, retry_status=3, retry_backoff_factor=0.1, retry_backoff_max=1
    )


def denied_from(exc: BaseException, scope: str) -> Denied:
    """Translate an SDK exception into evidence (never a traceback)."""
    from azure.core.exceptions import DecodeError, HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ArmFailure):
        return exc.denied
    from aoai_diag.azure.bounded_http import refusal_of

    refusal = refusal_of(exc)
    if refusal is not None:  # our own transport's refusal (deadline, size cap, foreign host): named as such
        return Denied(
            scope=scope,
            status=None,
            code=str(getattr(refusal, "code", "Refused")),
            message=first_line(str(refusal))[:200],
        )
    if isinstance(exc, DecodeError):
        return Denied(
            scope=scope,
            status=getattr(exc, "status_code", None),
            code="MalformedResponse",
            message="unreadable JSON in the answer",
        )
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None)
        text = first_line(str(getattr(getattr(exc, "error", None), "message", None) or exc.reason or exc))[:200]
        return Denied(scope=scope, status=exc.status_code, code=code, message=text)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError)):
        text = first_line(str(exc))[:200] or "timeout"
        kind = transport_failure(exc)
        # A TLS failure is not a timeout: behind an inspecting proxy it is the corporate CA missing from
        # REQUESTS_CA_BUNDLE, and the evidence must say so.
        if kind == "tls":
            return Denied(scope=scope, status=None, code="TlsError", message=f"TLS failed: {text}")
        if kind == "connect":
            return Denied(scope=scope, status=None, code="ConnectionFailed", message=f"cannot connect: {text}")
        return Denied(scope=scope, status=None, code="Timeout", message=f"no answer: {text}")
    return Denied(scope=scope, status=None, code=type(exc).__name__, message=first_line(str(exc))[:200])


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: azure-core's `inner_exception`, requests/urllib3's `reason` and args, the chain."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "inner_exception", None), getattr(current, "reason", None)]
        wrapped += [current.__cause__, current.__context__, *current.args]
        todo.extend(w for w in wrapped if isinstance(w, BaseException))


def transport_failure(exc: BaseException) -> str:
    """`tls`, `connect` or `timeout`: why a request got no HTTP answer, from the exception types it carries."""
    causes = list(_causes(exc))
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "tls"
    if any(isinstance(c, OSError) and classify_connect_error(c) in ("refused", "unreachable") for c in causes):
        return "connect"
    return "timeout"


@contextlib.contextmanager
def _as_arm_failure(scope: str) -> Iterator[None]:
    """A plain request's failure as ArmFailure naming `scope`: an unreadable body is MalformedResponse."""
    try:
        yield
    except ArmFailure:
        raise
    except ValueError as exc:
        raise ArmFailure(
            Denied(scope=scope, status=None, code="MalformedResponse", message=f"unreadable JSON: {exc}"[:200])
        ) from None
    except Exception as exc:
        raise ArmFailure(denied_from(exc, scope)) from None


class ArmSession:
    """Lazily built clients sharing one credential and one connection pool."""

    def __init__(
        self,
        settings: Settings,
        credential: CachingCredential,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        http: BoundedHttp | None = None,
    ) -> None:
        self.settings = settings
        self.credential = credential
        self.deadline = deadline
        self.clock = clock
        cloud = settings.cloud_obj
        self.base_url = (settings.arm_endpoint or cloud.arm_endpoint).rstrip("/")
        self.scope = cloud.arm_scope
        self.http = http or bounded_http(settings, deadline, clock, self.base_url)
        self._transport = self.http.arm_transport
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.on_azure = False
        """Whether IMDS answered (set by snapshot.session): the run-wide inventory is built with it."""
        self.lro_count = 0
        """Long-running operations started by this session (the benchmark and the tests read it)."""

    def remaining(self) -> float:
        return max(0.01, self.deadline - self.clock())

    def _common(self) -> dict[str, Any]:
        from azure.core.pipeline.transport import RequestsTransport  # noqa: F401  (keeps the import local)

        return {
            "base_url": self.base_url,
            "credential_scopes": [self.scope],
            "transport": self._transport,
            "retry_policy": _deadline_retry_policy(self.deadline, self.clock),
            "polling_interval": LRO_POLL_S,
        }

    def _client(self, kind: str, subscription: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            client = self._clients.get((kind, subscription))
            if client is None:
                client = self._clients[(kind, subscription)] = build()
            return client

    def network(self, subscription: str) -> Any:
        def build() -> Any:
            from azure.mgmt.network import NetworkManagementClient

            return NetworkManagementClient(self.credential, subscription, **self._common())

        return self._client("network", subscription, build)

    def privatedns(self, subscription: str) -> Any:
        def build() -> Any:
            from azure.mgmt.privatedns import PrivateDnsManagementClient

            return PrivateDnsManagementClient(self.credential, subscription, **self._common())

        return self._client("privatedns", subscription, build)

    def cognitive(self, subscription: str) -> Any:
        def build() -> Any:
            from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

            return CognitiveServicesManagementClient(self.credential, subscription, **self._common())

        return self._client("cognitive", subscription, build)

    def _generic(self) -> Any:
        def build() -> Any:
            from azure.core.configuration import Configuration
            from azure.core.pipeline.policies import BearerTokenCredentialPolicy
            from azure.mgmt.core import ARMPipelineClient

            config: Any = Configuration()
            config.authentication_policy = BearerTokenCredentialPolicy(self.credential, self.scope)
            config.retry_policy = _deadline_retry_policy(self.deadline, self.clock)
            return ARMPipelineClient(base_url=self.base_url, config=config, transport=self._transport)

        return self._client("generic", "", build)

    def get_json(self, path: str, api_version: str) -> dict[str, Any]:
        """A plain ARM GET (for APIs without a client here); raises ArmFailure."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        client = self._generic()
        if not path.startswith("/"):  # a URL (or an id) an answer gave us
            self.check_link(path[:200], path, "link")
        url = path if not path.startswith("/") else f"{self.base_url}{path}"
        with _as_arm_failure(path):
            response = client.send_request(HttpRequest("GET", url, params={"api-version": api_version}))
            if response.status_code >= 400:
                raise HttpResponseError(response=response)
            return _json_object(response)

    def post_json(self, path: str, api_version: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A plain ARM POST of a JSON body (Resource Graph's query); the answer checked as it enters. Raises
        ArmFailure."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        client = self._generic()
        with _as_arm_failure(path):
            response = client.send_request(
                HttpRequest("POST", f"{self.base_url}{path}", params={"api-version": api_version}, json=dict(body))
            )
            if response.status_code >= 400:
                raise HttpResponseError(response=response)
            return _json_object(response)

    def list_json(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every page of a plain ARM list (follows nextLink); raises ArmFailure, `Truncated` when the pages did not
        end within the page budget or looped (what was read is not the whole list: unknown, never absent)."""
        items, truncated = self.list_pages(path, api_version)
        if truncated is not None:
            raise ArmFailure(truncated)
        return items

    def list_pages(self, path: str, api_version: str) -> tuple[list[dict[str, Any]], Denied | None]:
        """The items of a plain ARM list and, when it was cut short, why (a `Truncated` Denied naming `path`).

        A nextLink is followed only on the Resource Manager endpoint itself (it carries the token) and only once:
        a link seen before, or more than PAGE_BUDGET pages, ends the list as truncated. Raises ArmFailure.
        """
        items: list[dict[str, Any]] = []
        page: dict[str, Any] = self.get_json(path, api_version)
        seen: set[str] = set()
        for _ in range(PAGE_BUDGET):
            values = page.get("value") or []
            if not isinstance(values, list):
                raise ArmFailure(
                    Denied(scope=path, status=None, code="MalformedResponse", message="a page's 'value' is not a list")
                )
            items.extend(self._row(v, path) for v in values)
            next_link = page.get("nextLink")
            if not next_link:
                return items, None
            if not isinstance(next_link, str) or next_link in seen:
                reason = "a nextLink repeats a page already read" if next_link in seen else "a nextLink is not a URL"
                return items, Denied(
                    scope=path, status=None, code="Truncated", message=f"{reason}: stopped after {len(items)} items"
                )
            seen.add(next_link)
            self.check_link(path, next_link, "nextLink")
            page = self.get_json(next_link, api_version)
        return items, Denied(
            scope=path,
            status=None,
            code="Truncated",
            message=f"more than {PAGE_BUDGET} pages: stopped after {len(items)} items",
        )

    @staticmethod
    def _row(value: Any, scope: str) -> dict[str, Any]:
        from aoai_diag.azure.convert import checked_row
        from aoai_diag.peer import PeerValueError

        try:
            return checked_row(value, "row")
        except PeerValueError as exc:
            raise ArmFailure(
                Denied(scope=scope, status=None, code="MalformedResponse", message=str(exc)[:200])
            ) from None

    def check_link(self, scope: str, url: str, what: str) -> None:
        """Refuse (ArmFailure `ForeignLink`) a URL an answer gave us that is not on the Resource Manager endpoint:
        following it would hand the caller's token to whoever the answer named."""
        from aoai_diag.azure.bounded_http import origin

        if url.startswith("/"):
            return
        if origin(url) != origin(self.base_url):
            shown = (origin(url) or ("?", url[:60], 0))[1]
            raise ArmFailure(
                Denied(
                    scope=scope,
                    status=None,
                    code="ForeignLink",
                    message=f"the answer's {what} points to {shown}, not to the Resource Manager endpoint: not followed "
                    "(the token goes to Resource Manager only)",
                )
            )

    def call(self, scope: str, fn: Callable[[], T]) -> T:
        """Run one SDK read; any failure becomes ArmFailure naming `scope`."""
        try:
            return fn()
        except ArmFailure:
            raise
        except Exception as exc:
            raise ArmFailure(denied_from(exc, scope)) from None

    def parallel(self, calls: Mapping[str, Callable[[], T]]) -> dict[str, T | Denied]:
        """Run independent reads concurrently; each result is the value or the Denied that replaced it."""
        futures = {key: blocking.submit(fn) for key, fn in calls.items()}
        out: dict[str, T | Denied] = {}
        for key, future in futures.items():
            try:
                out[key] = future.result(timeout=self.remaining())
            except ArmFailure as exc:
                out[key] = exc.denied
            except Exception as exc:
                out[key] = denied_from(exc, key)
        return out

    def submit(self, fn: Callable[..., T], *args: Any) -> Any:
        """Start `fn(*args)` in the one executor (a Future); for prefetching reads whose result is cached."""
        return blocking.submit(fn, *args)

    def lro(self, scope: str, path: str, api_version: str, deadline: float | None = None) -> dict[str, Any]:
        """POST a long-running operation and poll it, never past `deadline` (default: the session's).

        ARM answers 202 with `Location` (and `Azure-AsyncOperation`) and `Retry-After`; the `Location` URL answers
        202 while the operation runs and 200 with the result when it is done (final-state-via location,
        https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations). An operation
        still running at the deadline raises ArmFailure with code `Unfinished`: an unknown, never a longer wait.
        """
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        until = min(deadline, self.deadline) if deadline is not None else self.deadline
        client = self._generic()
        self.lro_count += 1
        with _as_arm_failure(scope):
            response = client.send_request(
                HttpRequest("POST", f"{self.base_url}{path}", params={"api-version": api_version})
            )
            location: str | None = None
            for _ in range(1000):
                if response.status_code >= 400:
                    raise HttpResponseError(response=response)
                if response.status_code != 202:
                    return _json_object(response)
                # A poll's 202 may name a new Location; without one the same URL is polled again.
                location = response.headers.get("Location") or location
                if not location:
                    raise ArmFailure(
                        Denied(
                            scope=scope, status=202, code="MalformedResponse", message="202 without a Location to poll"
                        )
                    )
                self.check_link(scope, location, "Location")
                # Retry-After is followed, except that a last poll goes out shortly before the deadline when the
                # advised wait would pass it: the service often finishes sooner than it advises (10 s is common).
                left = until - self.clock() - LRO_LAST_POLL_MARGIN_S
                if left < LRO_MIN_POLL_S:
                    raise ArmFailure(
                        Denied(
                            scope=scope,
                            status=None,
                            code="Unfinished",
                            message="long-running operation not finished within the deadline",
                        )
                    )
                wait = min(_retry_after(response.headers.get("Retry-After")), left)
                if wait > 0:
                    time.sleep(wait)
                response = client.send_request(HttpRequest("GET", location))
            raise ArmFailure(
                Denied(scope=scope, status=None, code="Unfinished", message="long-running operation never finished")
            )


def _retry_after(value: str | None) -> float:
    """Seconds to wait before the next poll: the service's Retry-After, else a short fallback."""
    try:
        return max(0.0, float(value)) if value is not None else LRO_POLL_S
    except ValueError:
        return LRO_POLL_S


def _json_object(response: Any) -> dict[str, Any]:
    """The answer's JSON object, checked as it enters (standard JSON, finite numbers, bounded strings and nesting:
    aoai_diag/peer.py); raises ValueError, which `_as_arm_failure` reports as MalformedResponse."""
    from aoai_diag import peer

    data = peer.loads(response.content, "the answer")
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    return data


def pages(iterator: Iterator[Any], limit: int = 5000) -> list[Any]:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= limit:
            break
    return out
