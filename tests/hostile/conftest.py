"""One loopback DNS server for the whole tier: the account's names answer privately at once, so a run's time is
spent on the hostile peer under test, not on waiting for a nameserver that does not exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile import support
from tests.servers import dns_server

VIEW = {
    "records": {
        "contoso.openai.azure.com": {"cname": "contoso.privatelink.openai.azure.com", "ttl": 60},
        "contoso.privatelink.openai.azure.com": {"a": ["10.0.0.5"], "ttl": 60},
    },
    "default": "nxdomain",
}


@pytest.fixture(scope="session", autouse=True)
def nameserver() -> Iterator[str]:
    with dns_server.serve(VIEW) as (_, endpoints):
        host, port = endpoints[0]
        support.NAMESERVER = f"{host}:{port}"
        yield support.NAMESERVER
