"""ARM transport failures become evidence with a code that says what happened, read from the exception types the
transport raised (azure-core wraps requests, which wraps urllib3), never from their text."""

from __future__ import annotations

import errno
import ssl

import pytest
import requests
import urllib3.exceptions
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from aoai_diag.azure.arm_clients import denied_from


def wrapped(inner: BaseException, message: str) -> ServiceRequestError:
    """The shape azure-core's RequestsTransport raises: requests' error around urllib3's MaxRetryError."""
    retry = urllib3.exceptions.MaxRetryError(None, "/subscriptions", reason=inner)  # type: ignore[arg-type]
    return ServiceRequestError(message, error=requests.exceptions.ConnectionError(retry))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (wrapped(urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "verify failed")), "x"), "TlsError"),
        (wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "no words here"), "ConnectionFailed"),
        (wrapped(OSError(errno.ENETUNREACH, "some localized text"), ""), "ConnectionFailed"),
        # The text says "refused", the type says a read timed out: the type wins.
        (ServiceResponseError("Connection refused?", error=TimeoutError("read")), "Timeout"),
        (ServiceRequestError(""), "Timeout"),
    ],
)
def test_transport_failures_are_named(error: BaseException, code: str) -> None:
    denied = denied_from(error, "/subscriptions")
    assert denied.code == code
    assert denied.scope == "/subscriptions" and "\n" not in denied.message
