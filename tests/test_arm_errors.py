"""ARM transport failures become evidence with a code that says what happened."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ServiceRequestError

from aoai_diag.azure.arm_clients import denied_from


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (
            "HTTPSConnectionPool(...): Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1)))",
            "TlsError",
        ),
        ("HTTPSConnectionPool(...): NewConnectionError(...: [Errno 111] Connection refused)", "ConnectionFailed"),
        ("HTTPSConnectionPool(...): Read timed out. (read timeout=2.0)", "Timeout"),
        ("", "Timeout"),
    ],
)
def test_transport_failures_are_named(message: str, code: str) -> None:
    denied = denied_from(ServiceRequestError(message), "/subscriptions")
    assert denied.code == code
    assert denied.scope == "/subscriptions" and "\n" not in denied.message
