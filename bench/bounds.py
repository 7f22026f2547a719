"""Every bounded wait, timed: what the unit tests assert as behaviour (timeout outcomes, counts), measured here.

Unit tests never assert on wall-clock time (issue 16); this script times the same situations against the same
loopback servers and prints each figure beside its bound:

- local probes (`runner.run_check`, one target, `--timeout T`): a silent DNS server everywhere, an IMDS that accepts
  and never answers, an OS resolver that hangs; a service port with three blackholed addresses of five; a TLS
  listener that never speaks; an HTTPS server that never answers; a proxy that never answers CONNECT. Each check's
  own `duration_ms` must stay within its bound (one timeout for one wait, since waits run concurrently) and the run
  within its deadline (2 x T).
- the Azure layer (tests/azure_harness.py, the ARM emulator with the real SDK clients): 429 Retry-After honoured,
  a Retry-After past the deadline not slept, long-running operations polled on Retry-After and never past the
  deadline, a hanging operation, no credential.

Run: `python bench/bounds.py [--timeout 0.5] [--repeat 3]` (no root; everything stays on loopback). Best of
`--repeat` runs per row (after one untimed warm-up); "ok" when within the bound.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import blackhole, connect_proxy, dns_server, service, tlsca

GRACE = 0.3
"""Seconds allowed beyond a bound for the engine to collect a result and for a loaded 2-core machine."""

Row = tuple[str, float, float]  # what, measured seconds, bound seconds


def fake_getaddrinfo(addresses: list[str], hang: float = 0.0) -> Callable[..., Any]:
    """The OS resolver's stand-in: the account's names -> `addresses` (after `hang` s); every other name fails, so
    nothing here can reach a real resolver."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = str(host).strip("[]")
        with contextlib.suppress(ValueError):
            import ipaddress

            ipaddress.ip_address(name)
            return real(host, port, family, type, proto, flags)
        if hang:
            time.sleep(hang)
        if not name.endswith(".azure.com") or not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port or 0))) for a in addresses]

    return resolve


@contextlib.contextmanager
def resolver(addresses: list[str], hang: float = 0.0) -> Iterator[None]:
    original = socket.getaddrinfo
    socket.getaddrinfo = fake_getaddrinfo(addresses, hang)  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = original  # type: ignore[assignment]


def checks_of(timeout: float, port: int, dns: tuple[str, int], imds: str, env: dict[str, str]) -> dict[str, float]:
    """One run of every local probe for `contoso`; seconds per check, and "run" for the whole run."""
    from aoai_diag.context import Settings
    from aoai_diag.runner import run_check
    from aoai_diag.targets import parse_target

    settings = Settings(
        timeout=timeout,
        port=port,
        resolvers=(dns,),
        public_resolvers=(dns,),
        azure_dns=dns,
        imds_endpoint=imds,
        imds_timeout=timeout,
        azure=False,
        env=env,
    )
    t0 = time.perf_counter()
    report = run_check([parse_target("contoso")], settings)
    took = {c.id: c.duration_ms / 1000.0 for c in report.targets[0].checks}
    took["run"] = time.perf_counter() - t0
    return took


def best(repeat: int, fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    fn()  # warm-up, untimed: first imports, the first TLS context, a getaddrinfo left hanging by the previous row
    runs = [fn() for _ in range(repeat)]
    return {key: min(r[key] for r in runs) for key in runs[0]}


def local_rows(timeout: float, repeat: int, pki: tlsca.Pki) -> list[Row]:
    t, deadline = timeout, 2 * timeout
    rows: list[Row] = []
    silent = lambda: dns_server.serve({"views": {"dead": {"default": "silent"}}}, "dead")  # noqa: E731
    with silent() as (_, [dns]), socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes the handshake; nobody reads or answers
        imds = f"http://127.0.0.1:{mute.getsockname()[1]}"
        with resolver([], hang=3.0):
            got = best(repeat, lambda: checks_of(t, 9, dns, imds, {}))
        rows += [
            ("silent DNS: dns_nameservers", got["dns_nameservers"], t),
            ("silent DNS: public_dns (one resolver)", got["public_dns"], t),
            ("IMDS accepts, never answers: azure_platform", got["azure_platform"], t),
            ("OS resolver hangs 3 s: system_resolution", got["system_resolution"], t),
            ("everything silent: the whole run", got["run"], deadline),
        ]
        holes = [blackhole.Blackhole("127.0.0.5")]
        try:
            port = holes[0].address[1]
            holes += [blackhole.Blackhole(h, port) for h in ("127.0.0.8", "127.0.0.9")]
            with service.serve({"cert": str(pki.cert("azure"))}, host="127.0.0.6", port=port):
                five = ["127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"]
                with resolver(five):
                    got = best(repeat, lambda: checks_of(t, port, dns, imds, {"SSL_CERT_FILE": str(pki.azure_ca)}))
            rows.append(("5 addresses, 3 blackholed: tcp_connect", got["tcp_connect"], t))
        finally:
            for hole in holes:
                hole.close()
        trust = {"SSL_CERT_FILE": str(pki.azure_ca)}
        with service.serve({"mode": "hang"}, host="127.0.0.6") as srv, resolver(["127.0.0.6"]):
            got = best(repeat, lambda: checks_of(t, srv.address[1], dns, imds, trust))
        rows.append(("TLS listener never speaks: tls_handshake", got["tls_handshake"], t))
        with service.serve({"cert": str(pki.cert("azure")), "mode": "hang_http"}, host="127.0.0.6") as srv:
            with resolver(["127.0.0.6"]):
                got = best(repeat, lambda: checks_of(t, srv.address[1], dns, imds, trust))
        rows.append(("HTTPS never answers: https_dataplane", got["https_dataplane"], deadline))
        with service.serve({"cert": str(pki.cert("azure"))}, host="127.0.0.6") as srv:
            with connect_proxy.serve({"mode": "hang"}) as proxy, resolver(["127.0.0.6"]):
                env = {**trust, "HTTPS_PROXY": f"http://127.0.0.1:{proxy.address[1]}"}
                got = best(repeat, lambda: checks_of(t, srv.address[1], dns, imds, env))
        rows.append(("proxy never answers CONNECT: https_dataplane", got["https_dataplane"], deadline))
    return rows


def azure_rows(repeat: int) -> list[Row]:
    from tests.azure_harness import DEAD_IMDS, lab, topology

    tcp_failed = {
        "tcp_connect": {
            "status": "fail",
            "evidence": {"port": 443, "attempts": [{"address": "10.1.2.4", "class": "private", "outcome": "timeout"}]},
        }
    }
    healthy = topology("healthy_jumpbox")
    cases: list[tuple[str, dict[str, Any], dict[str, Any], float]] = [
        ("429 Retry-After 1 s, retried once", {"faults": [_429(1, times=1)]}, {}, 1.0 + 1.5),
        ("429 Retry-After 60 s past a 3 s deadline: not slept", {"faults": [_429(60)]}, {"deadline": 3.0}, 1.5),
        ("operations polled on Retry-After 0 (SDK default 30 s)", {"lro_polls": 3}, {}, 2.0),
        (
            "operation hangs 10 s, deadline 3 s",
            {"faults": [{"match": "/effectiveRouteTable", "kind": "hang", "seconds": 10}]},
            {"timeout": 0.5, "deadline": 3.0},
            3.0,
        ),
        (
            "operation unfinished, Retry-After 1 s, deadline 1.5 s",
            {"local": tcp_failed, "lro_polls": 100, "lro_retry_after": 1},
            {"timeout": 1.0, "deadline": 1.5},
            1.5 + 0.5,
        ),
        (
            "Retry-After 30 s, done at once, deadline 2 s",
            {"local": tcp_failed, "lro_polls": 0, "lro_retry_after": 30},
            {"timeout": 1.0, "deadline": 2.0},
            2.0 + 0.5,
        ),
        ("no credential: the layer skips", {}, {"imds_endpoint": DEAD_IMDS, "env": {"PATH": ""}}, 1.0),
    ]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, changes, overrides, bound in cases:
            topo = dict(topology("broken/net.udr_nva_drop") if "30 s" in what else healthy, **changes)
            times = []
            for _ in range(repeat):
                with lab(topo, Path(tmp), **overrides) as env:
                    t0 = time.perf_counter()
                    env.run()
                    times.append(time.perf_counter() - t0)
            rows.append((what, min(times), bound))
    return rows


def _429(retry_after: int, times: int | None = None) -> dict[str, Any]:
    fault: dict[str, Any] = {"match": "ResourceGraph/resources", "status": 429, "retry_after": retry_after}
    if times is not None:
        fault["times"] = times
    return fault


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-azure", action="store_true", help="only the local probes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = local_rows(args.timeout, args.repeat, tlsca.make_pki(Path(tmp)))
    if not args.no_azure:
        rows += azure_rows(args.repeat)
    over = 0
    print(f"{'situation':<60} {'measured s':>10} {'bound s':>8}")
    for what, took, bound in rows:
        ok = took <= bound + GRACE
        over += not ok
        print(f"{what:<60} {took:>10.2f} {bound:>8.2f}  {'ok' if ok else 'OVER'}")
    print(f"(bound + {GRACE} s grace; --timeout {args.timeout:g})")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
