"""Scenario data -> configs of the servers in tests/servers/, started inside the scenario's namespace."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.e2e.scenario import REPO

if TYPE_CHECKING:
    from tests.e2e.harness import ScenarioRun

# Endpoint behaviours a scenario may name: (service.py behaviour, tlsca certificate kind).
# aoai_diag/dataplane_classify.py: H1 = reached the service, no key; H2 = public front door of an account with public access
# disabled; H5 = traffic over a PE connection the account does not accept (e.g. still Pending).
SERVICE_BEHAVIOURS: dict[str, tuple[str, str]] = {
    "private_endpoint": ("H1", "azure"),
    "private_endpoint_inspected": ("H1", "inspection"),  # a TLS-inspecting firewall re-signs the PE's certificate
    "other_service": ("H1", "wrong-name"),  # another service on the address: a valid certificate for other names
    "public_disabled": ("H2", "azure"),
    "public_open": ("H1", "azure"),
    "public_firewalled": ("H3", "azure"),
    "pe_not_approved": ("H5", "azure"),
}


# Endpoint behaviours that do not speak TLS at all (tests/servers/not_tls.py): behaviour -> not_tls mode.
NOT_TLS_BEHAVIOURS: dict[str, str] = {"plaintext_http": "http", "garbage": "garbage"}


def start_service(run: ScenarioRun, address: str, behaviour: str) -> None:
    if behaviour in NOT_TLS_BEHAVIOURS:
        ip = run.scenario.ip(address)
        run._start("not_tls", [f"{ip}:443"], {"mode": NOT_TLS_BEHAVIOURS[behaviour]}, f"not-tls-{address}")
        return
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
        # (causes edge.proxy_env_no_proxy, net.firewall_reorigination).
        config["upstream"] = f"{sc.ip('front_door')}:443"
    if sc.azure:
        # The proxy reaches Resource Manager and the login endpoint as it would on the internet.
        from tests.e2e.harness import ARM_HOST, LOGIN_HOST

        config["resolve"] = {ARM_HOST: sc.ip("arm"), LOGIN_HOST: sc.ip("login")}
    run._start("connect_proxy", [f"{ip}:{port}"], config, "proxy")


ARM_TOPOLOGIES = (REPO / "fixtures" / "arm", REPO / "fixtures" / "scenarios" / "arm")


def topology_path(name: str) -> Path:
    for folder in ARM_TOPOLOGIES:
        path = folder / f"{name}.json"
        if path.exists():
            return path
    from tests.e2e.harness import ServerMissing

    raise ServerMissing(f"ARM topology {name!r} not found in fixtures/arm/ or fixtures/scenarios/arm/")


def imds_instance(topology: dict[str, Any], vm_name: str) -> dict[str, Any]:
    """The IMDS instance document of the topology's VM (its NIC's address and subnet), as the real IMDS shows it."""
    by_id = {r["id"].lower(): r for r in topology["resources"]}
    vms = [r for r in topology["resources"] if r.get("type", "").lower() == "microsoft.compute/virtualmachines"]
    vm = next((v for v in vms if v["name"] == vm_name), None)
    if vm is None:
        raise ValueError(f"no VM {vm_name!r} in the topology (VMs: {[v['name'] for v in vms]})")
    parts = vm["id"].split("/")
    nic_id = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
    ipconf = by_id[nic_id.lower()]["properties"]["ipConfigurations"][0]["properties"]
    subnet_id = ipconf["subnet"]["id"]
    vnet = by_id["/".join(subnet_id.split("/")[:9]).lower()]
    subnet = next(s for s in vnet["properties"]["subnets"] if s["id"].lower() == subnet_id.lower())
    network, prefix = subnet["properties"]["addressPrefix"].split("/")
    return {
        "compute": {
            "azEnvironment": "AzurePublicCloud",
            "location": vm.get("location", "westeurope"),
            "name": vm["name"],
            "osType": "Linux",
            "resourceGroupName": parts[4],
            "resourceId": vm["id"],
            "subscriptionId": parts[2],
            "vmId": vm.get("properties", {}).get("vmId", "02aab8a4-74ef-476e-8182-f6d2ba4166a6"),
            "vmSize": "Standard_B2s",
            "zone": "",
            "tags": "",
        },
        "network": {
            "interface": [
                {
                    "ipv4": {
                        "ipAddress": [{"privateIpAddress": ipconf["privateIPAddress"], "publicIpAddress": ""}],
                        "subnet": [{"address": network, "prefix": prefix}],
                    },
                    "ipv6": {"ipAddress": []},
                    "macAddress": "000D3A2B4C5D",
                }
            ]
        },
    }


def start_azure(run: ScenarioRun) -> None:
    """IMDS (instance + managed identity) at 169.254.169.254 and ARM at management.azure.com:443."""
    from tests.servers.arm_emulator import load_topology

    sc = run.scenario
    azure: dict[str, Any] = sc.azure or {}
    path = topology_path(str(azure["arm"]))
    topology = load_topology(path)
    if azure.get("vm"):
        run._start("imds", [f"{sc.ip('imds')}:80"], {"instance": imds_instance(topology, azure["vm"])}, "imds")
    arm_ca = run.workdir / "arm-ca.pem"
    resolved = run.workdir / "arm-topology.json"
    resolved.write_text(json.dumps(topology))
    argv = [sys.executable, "-m", "tests.servers.arm_emulator", "--listen", f"{sc.ip('arm')}:443"]
    argv += ["--config", str(resolved), "--ca-out", str(arm_ca)]
    from tests.e2e.harness import server_env

    run.ns.start(argv, env=server_env(), cwd=str(REPO), log_dir=run.logs)
    # The emulator signs with its own CA: the user's bundle trusts both, like a corporate bundle would.
    assert run.pki is not None
    bundle = run.workdir / "ca-bundle.pem"
    bundle.write_bytes(run.pki.ca_pem.read_bytes() + arm_ca.read_bytes())
    run.ca_bundle = bundle


def start_identity(run: ScenarioRun) -> None:
    """The app host's identity endpoint on loopback (App Service 2019-08-01 / Azure ML 2017-09-01 protocols)."""
    from tests.e2e.scenario import IDENTITY_LISTEN, IDENTITY_SECRET

    host, port = IDENTITY_LISTEN
    run._start("identity_endpoint", [f"{host}:{port}"], {"secret": IDENTITY_SECRET}, "identity")
