"""Local path rules: TCP to the resolved address, the TLS handshake, and proxies in the way.

A TCP connect that succeeds proves little (an Azure Firewall completes the handshake itself:
https://learn.microsoft.com/azure/firewall/firewall-faq#why-can-a-tcp-ping-and-similar-tools-successfully-connect-to-a-target-fqdn-even-when-no-rule-on-azure-firewall-allows-that-traffic),
so a failure after TCP is judged at the TLS step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aoai_diag.diagnosis import local_facts as lf
from aoai_diag.diagnosis.evidence import Evidence
from aoai_diag.diagnosis.local_view import LocalView, fill, fmt_addresses
from aoai_diag.evidence.answers import split_addresses
from aoai_diag.evidence.path import CertName, KernelRoute, ProxySettings, TcpAttempt, TlsAttempt
from aoai_diag.model import Finding

_BLOCKED = ("timeout", "unreachable", "refused")
DECIDE = "Azure access (effective routes and NSGs of this VM, peerings, the endpoint's state) tells these apart."


def _private(attempts: Sequence[TcpAttempt]) -> list[TcpAttempt]:
    return [a for a in attempts if split_addresses([a.address])[0]]


def _outcomes(attempts: Sequence[TcpAttempt]) -> str:
    return ", ".join(f"{a.address} {a.outcome}" for a in attempts)


_BLOCKED_ON_AZURE = (
    "net.client_nsg_outbound",
    "net.pe_subnet_nsg",
    "net.udr_nva_drop",
    "net.asymmetric_no_snat",
    "net.peering_not_connected",
    "net.transitive_peering",
    "dns.record_stale_ip",
    "dns.record_overwritten_by_other_pe",
    "svc.pe_pending",
)


def private_address_unreachable(ev: Evidence) -> Iterator[Finding]:
    """DNS gives a private address but TCP to it times out, is unreachable or refused."""
    view = LocalView(ev)
    attempts = _private(view.tcp_attempts())
    if not attempts or any(a.outcome not in _BLOCKED for a in attempts):
        return
    refused = all(a.outcome == "refused" for a in attempts)
    if refused or view.on_azure:
        yield _blocked_here(view, attempts, refused=refused)
        return
    routed = _specific_routes(view, attempts)
    if routed is not None:
        yield _dropped_on_a_route(view, attempts, routed)
        return
    yield _not_on_private_network(view, attempts)


def _addresses(attempts: Sequence[TcpAttempt]) -> list[str]:
    return [a.address for a in attempts]


def _blocked_here(view: LocalView, attempts: Sequence[TcpAttempt], *, refused: bool) -> Finding:
    """Refused anywhere, or blocked from an Azure VM: something in the path (NSG, NVA, firewall) stops port 443."""
    addresses = _addresses(attempts)
    where = f"from this Azure VM ({view.vm_private_ip})" if view.on_azure and view.vm_private_ip else "from here"
    if view.app_host and not view.vm_private_ip:
        where = f"from the app host ({view.app_host})"
    return Finding(
        cause_id="edge.customer_firewall_443",
        checks=("tcp_connect",),
        detail=(
            f"{view.host} resolves to the private {fmt_addresses(addresses)}, but TCP {view.tcp_port()} {where} "
            f"fails ({_outcomes(attempts)}): something in the path blocks it. {DECIDE}"
        ),
        remediation=fill("edge.customer_firewall_443", pe_ip=addresses[0]),
        candidates=("dns.record_stale_ip", "net.local_route_conflict") if refused else _BLOCKED_ON_AZURE,
    )


def _specific_routes(view: LocalView, attempts: Sequence[TcpAttempt]) -> list[KernelRoute] | None:
    """The routes toward every timed-out address when each is a specific one (not the default), else None."""
    routes = view.routes()
    addresses = _addresses(attempts)
    routed = [r for a in addresses if (r := routes.get(a)) is not None and (r.local or r.via_default is False)]
    timed_out = all(a.outcome == "timeout" for a in attempts)
    return routed if timed_out and routed and len(routed) == len(addresses) else None


def _dropped_on_a_route(view: LocalView, attempts: Sequence[TcpAttempt], routed: list[KernelRoute]) -> Finding:
    """A specific route toward the address exists (`ip route get` would not pick the default route), yet the SYN
    goes unanswered: the network is there and something on the way drops port 443
    (https://learn.microsoft.com/azure/ai-services/openai/how-to/network, cause 3)."""
    addresses = _addresses(attempts)
    via = ", ".join(f"{r.address} via source {r.source}" for r in routed)
    return Finding(
        cause_id="edge.customer_firewall_443",
        checks=("tcp_connect", "route_lookup"),
        detail=(
            f"{view.host} resolves to the private {fmt_addresses(addresses)} and this machine has a route to it "
            f"({via}), but TCP {view.tcp_port()} times out ({_outcomes(attempts)}): a firewall on the way silently "
            "drops port 443."
        ),
        remediation=fill("edge.customer_firewall_443", pe_ip=addresses[0]),
        candidates=("net.vpn_routes_missing", "dns.record_stale_ip"),
    )


def _not_on_private_network(view: LocalView, attempts: Sequence[TcpAttempt]) -> Finding:
    addresses = _addresses(attempts)
    routes = view.routes()
    default_only = [r for a in addresses if (r := routes.get(a)) is not None and r.via_default is True]
    route_note = ""
    if default_only:
        route_note = (
            f" Only the default route covers {fmt_addresses([r.address for r in default_only])} "
            f"(source {default_only[0].source}, the same as toward the internet)."
        )
    return Finding(
        cause_id="net.not_on_private_network",
        checks=("tcp_connect", "azure_platform", *(("route_lookup",) if default_only else ())),
        detail=(
            f"{view.host} resolves to the private {fmt_addresses(addresses)}, but TCP {view.tcp_port()} fails "
            f"({_outcomes(attempts)}) and this machine is not an Azure VM: it has no route into the private "
            f"endpoint's network (VPN down or not routing that range?).{route_note}"
        ),
        candidates=(
            "net.vpn_disconnected",
            "net.vpn_routes_missing",
            "net.local_route_conflict",
            "edge.customer_firewall_443",
            "dns.record_stale_ip",
        ),
    )


# TLS outcomes after a TCP connect that mean nothing on the port speaks TLS: silence, a reset right after the
# ClientHello, or bytes that are not a TLS record (a plaintext HTTP server, garbage).
_NO_TLS_SERVICE = ("timeout", "reset", "protocol")


def tcp_ok_no_service(ev: Evidence) -> Iterator[Finding]:
    """TCP connects to the private address but no TLS service answers: silence, a reset, or a protocol error."""
    view = LocalView(ev)
    connected = {a.address for a in _private(view.tcp_attempts()) if a.outcome == "connected"}
    handshakes = [a for a in view.tls_attempts() if a.address in connected]
    stalled = [a for a in handshakes if a.outcome in _NO_TLS_SERVICE]
    if not stalled or len(stalled) < len(handshakes):
        return
    yield Finding(
        cause_id="edge.tcp_ok_no_service",
        checks=("tcp_connect", "tls_handshake"),
        detail=(
            f"TCP {view.tcp_port()} to {fmt_addresses(sorted(connected))} connects, but the TLS handshake for "
            f"{view.host} fails ({_tls_outcomes(stalled)}): {_no_service_reading(stalled)}"
        ),
        candidates=_no_service_candidates(stalled),
    )


def _no_service_candidates(attempts: Sequence[TlsAttempt]) -> tuple[str, ...]:
    if any(a.outcome == "protocol" for a in attempts):
        # Another service owns the address: a stale record or hosts entry, or a local network overlapping the VNet.
        return ("dns.record_stale_ip", "dns.hosts_override", "net.local_route_conflict")
    return ("net.udr_nva_drop", "net.asymmetric_no_snat", "edge.customer_firewall_443")


def _tls_outcomes(attempts: Sequence[TlsAttempt]) -> str:
    return ", ".join(f"{a.address} {a.outcome}" + (f": {a.error}" if a.outcome == "protocol" else "") for a in attempts)


def _no_service_reading(attempts: Sequence[TlsAttempt]) -> str:
    if any(a.outcome == "protocol" for a in attempts):
        return (
            "what listens on that port does not speak TLS (a plaintext HTTP server or another protocol), so it is "
            "not the private endpoint."
        )
    return "a firewall or NVA accepts the connection without passing it on."


def no_network(ev: Evidence) -> Iterator[Finding]:
    """Nothing answers: not one resolver (configured, Azure, public) and not one address. Not a DNS problem."""
    silence = ev.fact("local.reaches_nothing")
    if not silence.is_true() or not isinstance(silence.value, lf.Silence):
        return
    seen = silence.value
    tried = f"; TCP {', '.join(seen.addresses)}" if seen.addresses else ""
    yield Finding(
        cause_id="net.no_network",
        checks=tuple(dict.fromkeys(("dns_nameservers", "public_dns", *silence.sources))),
        detail=(
            f"This machine reaches nothing: its DNS servers ({', '.join(seen.resolvers)}) and the public resolvers "
            f"({', '.join(seen.public)}) all stayed silent{tried}. Without a working network no DNS, route or "
            "firewall cause can be judged."
        ),
    )


def tls_certificate(ev: Evidence) -> Iterator[Finding]:
    """The certificate is not Azure's: a TLS-inspecting middlebox, or another service at this address."""
    view = LocalView(ev)
    for attempt in view.tls_attempts():
        outcome = attempt.outcome
        address = attempt.address
        issuer = attempt.issuer_text or _cert_name(attempt.issuer) or "an unknown issuer"
        if outcome in ("untrusted", "expired"):
            yield Finding(
                cause_id="edge.tls_inspection",
                checks=("tls_handshake",),
                detail=(
                    f"The certificate {address} presents for {view.host} is {outcome} ({attempt.verify_error}); "
                    f"issuer: {issuer}. A TLS-inspecting proxy or firewall replaces Azure's certificate."
                ),
            )
            return
        if outcome == "name_mismatch":
            sans = ", ".join(attempt.sans or ()) or "none"
            yield Finding(
                cause_id="edge.tls_wrong_name",
                checks=("tls_handshake",),
                detail=(
                    f"{address} presents a certificate that does not cover {view.host} (names: {sans}; "
                    f"subject: {attempt.subject_text}): this address belongs to another service."
                ),
                candidates=("dns.record_stale_ip", "dns.hosts_override"),
            )
            return


def _cert_name(name: CertName | None) -> str:
    """`CN=..., O=...` of an issuer recorded by its attributes (older evidence has no `issuer_text`)."""
    if name is None:
        return ""
    return ", ".join(f"{key}={value}" for key, value in (("CN", name.CN), ("O", name.O)) if value)


def _stack(proxy: ProxySettings) -> str:
    """Which client library the system proxy verdict is for (WinINET's ProxyOverride is read differently by each)."""
    rules = proxy.bypass_rules
    if rules == "httpx":
        return " for httpx (the openai Python SDK's client), which reads no ProxyOverride"
    if rules in ("requests", "urllib", "winhttp"):
        return f" (no entry of its bypass list matches the host as {rules} reads it)"
    return ""


def proxy_in_path(ev: Evidence) -> Iterator[Finding]:
    """A proxy applies to the account host, so the proxy (not this machine's DNS) picks the path."""
    view = LocalView(ev)
    proxy = view.proxy()
    if proxy is None:
        return
    source = proxy.source
    url = proxy.proxy_url or f"{proxy.proxy_host}:{proxy.proxy_port}"
    no_proxy = proxy.no_proxy
    not_covered = f"NO_PROXY ({no_proxy}) does not cover it" if no_proxy else "NO_PROXY is not set"
    note = ""
    if proxy.bypassed_by_address:
        note = (
            f" The NO_PROXY entry {proxy.bypassed_by_address} matches the resolved address, but clients "
            "compare IP entries only with IP-literal URLs."
        )
    if source in ("wininet", "winhttp"):
        yield Finding(
            cause_id="edge.system_proxy_pac",
            checks=("proxy_settings",),
            detail=f"The system proxy settings ({source}) send https://{view.host} through {url}{_stack(proxy)}.{note}",
        )
        return
    variables = ", ".join(sorted(proxy.variables)) or "a proxy variable"
    yield Finding(
        cause_id="edge.proxy_env_no_proxy",
        checks=("proxy_settings",),
        detail=f"{variables} sends https://{view.host} through {url} and {not_covered}.{note}",
        remediation=fill(
            "edge.proxy_env_no_proxy",
            # The target cloud's suffixes (sovereign clouds differ), then what NO_PROXY already holds.
            variant="cloud",
            no_proxy=",".join([*(f".{s}" for s in view.target.cloud.suffixes), *([no_proxy] if no_proxy else [])]),
        ),
    )


RULES = (no_network, private_address_unreachable, tcp_ok_no_service, tls_certificate, proxy_in_path)
