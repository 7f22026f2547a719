"""Scenario data -> configs of the servers in tests/servers/, started inside the scenario's namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.harness import ScenarioRun

# Endpoint behaviours a scenario may name: (service.py behaviour, tlsca certificate kind).
# http-facts.md §1: H1 = reached the service, no key; H2 = public front door of an account with public access
# disabled; H5 = traffic over a PE connection the account does not accept (e.g. still Pending).
SERVICE_BEHAVIOURS: dict[str, tuple[str, str]] = {
    "private_endpoint": ("H1", "azure"),
    "private_endpoint_inspected": ("H1", "inspection"),  # a TLS-inspecting firewall re-signs the PE's certificate
    "public_disabled": ("H2", "azure"),
    "public_open": ("H1", "azure"),
    "public_firewalled": ("H3", "azure"),
    "pe_not_approved": ("H5", "azure"),
}


def start_service(run: ScenarioRun, address: str, behaviour: str) -> None:
    if behaviour not in SERVICE_BEHAVIOURS:
        raise ValueError(f"{run.scenario.id}: unknown endpoint behaviour {behaviour!r}")
    assert run.pki is not None
    answer, cert = SERVICE_BEHAVIOURS[behaviour]
    ip = run.scenario.ip(address)
    config = {"listen": f"{ip}:443", "cert": str(run.pki.cert(cert)), "behaviour": answer}
    run._start("service", [], config, f"service-{address}")


def start_proxy(run: ScenarioRun) -> None:
    sc = run.scenario
    proxy: dict[str, Any] = sc.proxy or {}
    ip, port = sc.ip(proxy.get("address", "proxy")), int(proxy.get("port", 3128))
    config: dict[str, Any] = {"mode": proxy.get("mode", "tunnel")}
    if proxy.get("resolve") == "public":
        # A corporate proxy resolves names on the internet: every tunnel lands on the public front door
        # (causes.md edge.proxy_env_no_proxy, net.firewall_reorigination).
        config["upstream"] = f"{sc.ip('front_door')}:443"
    run._start("connect_proxy", [f"{ip}:{port}"], config, "proxy")


def start_azure(run: ScenarioRun) -> None:
    from tests.e2e.harness import ServerMissing

    raise ServerMissing("tests/servers/arm_emulator.py not integrated yet")
