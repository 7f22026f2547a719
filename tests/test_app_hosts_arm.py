"""App hosts from Resource Manager (issue 18, parts 4-6): sites, Container Apps environments and AKS clusters served
by the ARM emulator in the REST specs' shapes, read through Resource Graph and through plain GETs/lists by the real
azure-core pipeline; the host's subnet as the client subnet; the `app.*` causes; `--from` through the CLI.

Topology: fixtures/arm/app_hosts.json (vnet-apps peered with the PE's vnet-app and linked to the zone), off Azure
with a client-secret credential. Variants are built here as patches of that topology.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aoai_diag.azure import app_hosts, convert
from aoai_diag.diagnosis import app_facts
from aoai_diag.evidence.azure import Route
from aoai_diag.evidence.host import AppHost as AppHostSignals
from aoai_diag.model import Status, Verdict
from tests import azure_harness as h

SUB = "6c1f3a52-0d4e-4b8a-9e21-3f5a7b9c1d01"
RG = f"/subscriptions/{SUB}/resourceGroups"
VNET = f"{RG}/rg-apps/providers/Microsoft.Network/virtualNetworks/vnet-apps"
NSG = f"{RG}/rg-apps/providers/Microsoft.Network/networkSecurityGroups/nsg-apps"
SITE = f"{RG}/rg-apps/providers/Microsoft.Web/sites/app-contoso"
ENV = f"{RG}/rg-apps/providers/Microsoft.App/managedEnvironments/cae-contoso"
ZONE = f"{RG}/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.openai.azure.com"
KINDS = {
    "webapp": "webapp:app-contoso",
    "functionapp": "functionapp:func-contoso",
    "containerapp": "containerapp:ca-contoso",
    "aks": "aks:aks-contoso",
}


def base() -> dict[str, Any]:
    topo = h.topology("app_hosts")
    topo.pop("imds", None)  # off Azure: the client-secret credential of the harness
    return topo


def find(topo: dict[str, Any], rid: str) -> dict[str, Any]:
    for res in topo["resources"]:
        if res["id"].lower() == rid.lower():
            return res  # type: ignore[no-any-return]
        for child in (res.get("properties") or {}).get("subnets") or ():
            if child["id"].lower() == rid.lower():
                return child  # type: ignore[no-any-return]
    raise KeyError(rid)


def site_props(topo: dict[str, Any], **props: Any) -> dict[str, Any]:
    find(topo, SITE)["properties"].update(props)
    return topo


def route_all_off(topo: dict[str, Any]) -> dict[str, Any]:
    site = find(topo, SITE)["properties"]
    site["vnetRouteAllEnabled"] = False
    site["siteConfig"]["vnetRouteAllEnabled"] = False
    site["outboundVnetRouting"]["applicationTraffic"] = False
    find(topo, SITE + "/config/web")["properties"]["vnetRouteAllEnabled"] = False
    return topo


@pytest.fixture
def run_for(tmp_path: Path) -> Iterator[Any]:
    def run(topo: dict[str, Any], ref: str, group: str | None = None) -> Any:
        with h.lab(topo, tmp_path, from_host=ref, from_resource_group=group) as lab:
            report, _ = lab.run()
            run.requests = list(lab.arm.requests)  # type: ignore[attr-defined]
            return report

    yield run


def by_id(report: Any) -> dict[str, Any]:
    return {c.id: c for c in report.checks}


# --- conversion: REST shapes -> our types -------------------------------------------------------------------------


def test_site_shapes_convert_and_route_all_reads_every_property() -> None:
    # Given the REST shape of a site: outboundVnetRouting decides; the older flags turn route-all on too.
    site = find(base(), SITE)
    host = convert.site(site)
    assert (host.kind, host.subnet_ids, host.route_all, host.route_all_source) == (
        "webapp",
        (f"{VNET}/subnets/snet-web",),
        True,
        "outboundVnetRouting",
    )
    older = {"id": SITE, "name": "app-contoso", "kind": "functionapp", "properties": {"siteConfig": {}}}
    assert convert.site(older).route_all is None and convert.site(older).kind == "functionapp"
    web = {"properties": {"vnetRouteAllEnabled": True}}
    assert (convert.site(older, web).route_all, convert.site(older, web).route_all_source) == (True, "config/web")
    dns = {**older, "properties": {"dnsConfiguration": {"dnsServers": ["8.8.8.8", "bad"], "dnsAltServer": "1.1.1.1"}}}
    assert (convert.site(dns).dns_servers, convert.site(dns).dns_alt_server) == (("8.8.8.8",), "1.1.1.1")


def test_environment_and_cluster_shapes_convert() -> None:
    topo = base()
    app = find(topo, f"{RG}/rg-apps/providers/Microsoft.App/containerApps/ca-contoso")
    host = convert.managed_environment(find(topo, ENV), app)
    assert (host.kind, host.name, host.environment_id, host.internal) == ("containerapp", "ca-contoso", ENV, True)
    assert host.subnet_ids == (f"{VNET}/subnets/snet-cae",)
    aks_id = f"{RG}/rg-apps/providers/Microsoft.ContainerService/managedClusters/aks-contoso".replace(
        "resourceGroups", "resourcegroups"
    )
    cluster = convert.managed_cluster(find(topo, aks_id))
    assert (cluster.kind, cluster.resource_group, cluster.network_plugin, cluster.dns_service_ip) == (
        "aks",
        "rg-apps",
        "azure",
        "10.0.0.10",
    )
    assert cluster.subnet_ids == (f"{VNET}/subnets/snet-aks",) and cluster.agent_pools[0].name == "nodepool1"
    # A pod subnet (Azure CNI dynamic IP) is where pods leave from.
    pools = {"properties": {"agentPoolProfiles": [{"name": "p", "vnetSubnetID": "/s/node", "podSubnetID": "/s/pod"}]}}
    assert convert.managed_cluster({"id": aks_id, **pools}).subnet_ids == ("/s/pod",)


@pytest.mark.parametrize(
    ("text", "group", "message"),
    [
        ("webapp", None, "expected KIND:NAME"),
        ("vm:box", None, "expected KIND:NAME"),
        ("webapp:bad'name", None, "not a resource name"),
        ("webapp:ok", "rg'x", "not a resource group name"),
        ("/subscriptions/x/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v", None, "not the id"),
    ],
)
def test_bad_references_are_one_line_errors(text: str, group: str | None, message: str) -> None:
    with pytest.raises(app_hosts.HostRefError, match=message):
        app_hosts.parse_ref(text, group)


def test_route_choice_follows_the_private_endpoint_route_rules() -> None:
    drop = [Route(prefixes=("10.1.0.0/16",), next_hop_type="None", source="User")]
    # The PE's /32 beats a broader user route unless the PE subnet's policies let route tables apply.
    assert app_hosts.route_to("10.1.2.4", drop, "peered", ["10.30.0.0/16"], False).next_hop_type == "InterfaceEndpoint"
    assert app_hosts.route_to("10.1.2.4", drop, "peered", ["10.30.0.0/16"], True).next_hop_type == "None"
    # Not peered and no user route: a private range outside the VNet has next hop None (no path).
    assert app_hosts.route_to("10.1.2.4", [], "not_peered", ["10.30.0.0/16"], False).next_hop_type == "None"
    assert app_hosts.rfc1918("100.64.0.4") is False and app_hosts.rfc1918("172.20.0.1") is True


# --- healthy and broken, per host kind ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_healthy_host_path_for_each_kind(run_for: Any, kind: str) -> None:
    report = run_for(base(), KINDS[kind])
    checks = by_id(report)
    assert checks["arm_app_host"].status is Status.PASS, checks["arm_app_host"].summary
    assert checks["arm_app_host"].evidence.host.kind == kind
    assert checks["arm_client_network"].evidence.source == "host"
    assert checks["arm_client_network"].evidence.vnet.id.endswith("/vnet-apps")
    assert checks["arm_nsg"].evidence.source_ip.startswith("10.30.")
    # Found by name through Resource Graph, then read with plain GETs.
    assert checks["arm_app_host"].evidence.source == "resource_graph"
    assert report.verdict is Verdict.HEALTHY and not report.findings


@pytest.mark.parametrize("kind", ["webapp", "containerapp"])
def test_no_vnet_integration(run_for: Any, kind: str) -> None:
    topo = base()
    if kind == "webapp":
        site_props(topo, virtualNetworkSubnetId=None)
    else:
        find(topo, ENV)["properties"].pop("vnetConfiguration")
    report = run_for(topo, KINDS[kind])
    assert h.causes(report) == {"app.no_vnet_integration"}
    assert report.verdict is Verdict.UNHEALTHY
    assert by_id(report)["arm_app_host"].status is Status.FAIL


def test_dns_setting_pointing_at_a_public_resolver(run_for: Any) -> None:
    report = run_for(site_props(base(), dnsConfiguration={"dnsServers": ["8.8.8.8"]}), KINDS["webapp"])
    assert h.causes(report) == {"app.dns_setting_overrides"}
    net = by_id(report)["arm_client_network"].evidence
    assert (net.dns_servers, net.dns_source) == (("8.8.8.8",), "site dnsConfiguration")


def test_dns_setting_to_azure_dns_is_healthy(run_for: Any) -> None:
    report = run_for(site_props(base(), dnsConfiguration={"dnsServers": ["168.63.129.16"]}), KINDS["webapp"])
    assert not report.findings and report.verdict is Verdict.HEALTHY


def test_route_all_off_with_a_dns_server_outside_rfc1918(run_for: Any) -> None:
    topo = route_all_off(base())
    vnet = find(topo, VNET)["properties"]
    vnet["addressSpace"]["addressPrefixes"].append("100.64.0.0/24")
    vnet["dhcpOptions"]["dnsServers"] = ["100.64.0.4"]
    report = run_for(topo, KINDS["webapp"])
    assert h.causes(report) == {"app.route_all_off"}
    assert "100.64.0.4" in report.findings[0].detail


def test_route_all_off_alone_is_no_cause(run_for: Any) -> None:
    # Everything the app needs is RFC 1918: it enters the VNet without route-all.
    report = run_for(route_all_off(base()), KINDS["webapp"])
    assert not report.findings and report.verdict is Verdict.HEALTHY


def test_zone_not_linked_names_the_integration_vnet(run_for: Any) -> None:
    topo = base()
    topo["resources"] = [r for r in topo["resources"] if not r["id"].endswith("/virtualNetworkLinks/link-apps")]
    report = run_for(topo, KINDS["aks"])
    assert h.causes(report) == {"dns.zone_not_linked"}
    assert "vnet-apps" in report.findings[0].detail and VNET in report.findings[0].resources


def test_integration_subnet_nsg_names_its_nsg(run_for: Any) -> None:
    topo = base()
    find(topo, NSG)["properties"]["securityRules"].append(
        {
            "id": f"{NSG}/securityRules/DenyHttpsOut",
            "name": "DenyHttpsOut",
            "properties": {
                "priority": 100,
                "direction": "Outbound",
                "access": "Deny",
                "protocol": "Tcp",
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "10.1.0.0/16",
                "destinationPortRange": "443",
            },
        }
    )
    report = run_for(topo, KINDS["functionapp"])
    assert h.causes(report) == {"net.client_nsg_outbound"}
    assert report.findings[0].resources == (NSG,)


def test_user_route_dropping_the_pe_address(run_for: Any) -> None:
    topo = base()
    table = f"{RG}/rg-apps/providers/Microsoft.Network/routeTables/rt-apps"
    topo["resources"].append(
        {
            "id": table,
            "name": "rt-apps",
            "type": "Microsoft.Network/routeTables",
            "location": "westeurope",
            "properties": {
                "disableBgpRoutePropagation": False,
                "routes": [
                    {
                        "id": f"{table}/routes/drop-pe",
                        "name": "drop-pe",
                        "properties": {"addressPrefix": "10.1.2.4/32", "nextHopType": "None"},
                    }
                ],
            },
        }
    )
    find(topo, f"{VNET}/subnets/snet-cae")["properties"]["routeTable"] = {"id": table}
    report = run_for(topo, KINDS["containerapp"])
    assert h.causes(report) == {"net.udr_nva_drop"}


def test_forbidden_site_read_is_unknown_not_absent(run_for: Any) -> None:
    topo = base()
    topo["faults"] = [{"match": "/providers/Microsoft.Web/sites/app-contoso", "status": 403}]
    report = run_for(topo, SITE)
    checks = by_id(report)
    assert checks["arm_app_host"].status is Status.ERROR
    assert h.causes(report) == {"app.host_unread"}
    finding = report.findings[0]
    assert set(finding.candidates) == {"app.no_vnet_integration", "app.dns_setting_overrides", "app.route_all_off"}
    assert finding.decide and "Reader on resource group rg-apps" in finding.decide
    assert report.verdict is Verdict.INCONCLUSIVE


def test_without_resource_graph_the_host_is_found_by_list_calls(run_for: Any) -> None:
    topo = base()
    topo["graph"] = False
    report = run_for(topo, KINDS["containerapp"])
    host = by_id(report)["arm_app_host"]
    assert host.evidence.source == "list_calls" and host.status is Status.PASS
    assert any("/providers/Microsoft.App/containerApps" in p for _, p in run_for.requests)


def test_ambiguous_name_is_named_with_its_matches_and_g_decides(run_for: Any) -> None:
    report = run_for(base(), "webapp:app-dup")
    host = by_id(report)["arm_app_host"]
    assert host.status is Status.ERROR and len(host.evidence.matches) == 2
    report = run_for(base(), "webapp:app-dup", "rg-apps2")
    assert by_id(report)["arm_app_host"].status is Status.PASS


def test_this_machines_checks_stay_out_of_the_host_verdict(run_for: Any) -> None:
    # Given this machine's own data-plane request failed: the host's path is still judged from Resource Manager alone.
    topo = base()
    topo["local"] = {
        "https_dataplane": {"status": "fail", "evidence": {"attempts": []}},
        "tcp_connect": {"status": "fail", "evidence": {"attempts": []}},
    }
    report = run_for(topo, KINDS["webapp"])
    assert report.verdict is Verdict.HEALTHY and not report.unexplained


def test_route_all_gap_is_unknown_without_the_property() -> None:
    from aoai_diag.diagnosis.evidence import Evidence
    from aoai_diag.model import CheckResult
    from aoai_diag.targets import parse_target

    host: dict[str, Any] = {
        "kind": "webapp",
        "id": SITE,
        "name": "app-contoso",
        "subnet_ids": ["/s"],
        "route_all": None,
    }
    pes = {"private_endpoints": [{"id": "/pe", "ip_addresses": ["100.64.1.4"]}]}
    checks = {
        "arm_app_host": CheckResult("arm_app_host", Status.PASS, "", {"host": host}, 0.0),
        "arm_private_endpoints": CheckResult("arm_private_endpoints", Status.PASS, "", pes, 0.0),
    }
    fact = app_facts.route_all_gap(Evidence(parse_target("contoso"), checks))
    assert not fact.known and fact.decide and "outboundVnetRouting" in fact.decide
    # A CheckResult reads its evidence when it is made: the changed host is a new result.
    host["route_all"] = False
    checks["arm_app_host"] = CheckResult("arm_app_host", Status.PASS, "", {"host": host}, 0.0)
    fact = app_facts.route_all_gap(Evidence(parse_target("contoso"), checks))
    assert fact.known and fact.value == ("100.64.1.4",)


# --- `--from` through the CLI --------------------------------------------------------------------------------------


def _cli(tmp_path: Path, topo: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    from tests.servers import arm_emulator

    ca = tmp_path / "ca.pem"
    with arm_emulator.serve(copy.deepcopy(topo), ca) as arm:
        env = {
            "REQUESTS_CA_BUNDLE": str(ca),
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_CLIENT_ID": "app-1",
            "AZURE_CLIENT_SECRET": "s3cret",
            "PATH": "",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        command = [
            sys.executable,
            "-m",
            "aoai_diag",
            "check",
            "contoso",
            "--arm-endpoint",
            arm.endpoint,
            "--authority-host",
            arm.endpoint,
            "--imds-endpoint",
            h.DEAD_IMDS,
            "--no-public-dns",
            "--resolver",
            "127.0.0.1:9",
            "--timeout",
            "2",
            *args,
        ]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cli_from_each_kind(tmp_path: Path, kind: str) -> None:
    done = _cli(tmp_path, base(), "--from", KINDS[kind], "-o", "json")
    # This machine reaches nothing (a dead resolver): the verdict and exit code are the host's path.
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["targets"][0]
    host = next(c for c in report["checks"] if c["id"] == "arm_app_host")
    assert host["evidence"]["mode"] == "from" and host["evidence"]["host"]["kind"] == kind
    assert report["verdict"] == "healthy" and report["diagnosis"] == []


def test_cli_from_broken_host_exits_unhealthy_and_marks_the_sections(tmp_path: Path) -> None:
    done = _cli(tmp_path, site_props(base(), virtualNetworkSubnetId=None), "--from", "webapp:app-contoso")
    assert done.returncode == 1, done.stderr
    assert "app.no_vnet_integration" in done.stdout
    assert "read from Resource Manager (nothing was sent from the host)" in done.stdout
    assert "This machine's own checks" in done.stdout


def test_cli_ambiguous_name_is_one_line_listing_the_matches(tmp_path: Path) -> None:
    done = _cli(tmp_path, base(), "--from", "webapp:app-dup")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "2 matches" in lines[0]
    assert "rg-apps/providers/Microsoft.Web/sites/app-dup" in lines[0] and "rg-apps2" in lines[0]


def test_cli_unknown_host_and_bad_option_are_one_line_errors(tmp_path: Path) -> None:
    done = _cli(tmp_path, base(), "--from", "aks:nope")
    assert done.returncode == 2 and "no aks nope" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = _cli(tmp_path, base(), "-g", "rg-apps")
    assert done.returncode == 2 and "goes with --from" in done.stderr


# --- inside the host: the app_host probe's evidence names it ------------------------------------------------------


def test_inside_an_app_service_app_its_signals_name_the_site_and_its_dns_setting_wins() -> None:
    from aoai_diag.context import Settings
    from aoai_diag.model import CheckResult

    signals = {
        "app_service": {
            "site_name": "app-contoso",
            "resource_group": "rg-apps",
            "subscription_id": SUB,
            "private_ip": "10.30.1.9",
            "dns_server": "8.8.8.8",
        }
    }
    deps = {"app_host": CheckResult("app_host", Status.PASS, "", signals, 0.0)}
    assert app_hosts.reference(Settings(), deps) == (SITE, "rg-apps", "inside")
    assert app_hosts.reference(Settings(from_host="aks:k"), deps) == ("aks:k", None, "from")
    container = {"app_host": CheckResult("app_host", Status.PASS, "", {"container_app": {"app_name": "ca-x"}}, 0.0)}
    assert app_hosts.reference(Settings(), container) == ("containerapp:ca-x", None, "inside")
    assert app_hosts.reference(Settings(), {}) is None
    # WEBSITE_DNS_SERVER (seen only inside) takes precedence over the site property and the VNet's servers.
    host = convert.site(find(site_props(base(), dnsConfiguration={"dnsServers": ["10.9.9.9"]}), SITE))
    vnet = convert.vnet(find(base(), VNET))
    inside = deps["app_host"].typed(AppHostSignals).app_service
    assert app_hosts.effective_dns_servers(host, vnet, inside) == (
        ("8.8.8.8",),
        "app setting WEBSITE_DNS_SERVER",
    )
    assert app_hosts.effective_dns_servers(host, vnet, None) == (("10.9.9.9",), "site dnsConfiguration")
    assert app_hosts.effective_dns_servers(None, vnet, inside) == ((), "vnet")


def test_a_from_bundle_gives_the_same_host_diagnosis_offline(run_for: Any) -> None:
    from aoai_diag.bundle import analyze, make_bundle, parse_bundle
    from aoai_diag.context import Settings
    from aoai_diag.runner import build_report

    report = run_for(site_props(base(), virtualNetworkSubnetId=None), KINDS["webapp"])
    bundle = parse_bundle(json.loads(json.dumps(make_bundle(build_report([report]), Settings()))))
    again = analyze(bundle).targets[0]
    assert (again.verdict, h.causes(again)) == (report.verdict, {"app.no_vnet_integration"})


def test_host_asking_a_dns_server_in_another_vnet_is_judged_by_that_vnets_links(run_for: Any) -> None:
    # Given the site's DNS setting names a server in the PE's VNet (vnet-app, linked to the zone): healthy; once that
    # link goes, the cause is the resolver VNet's link, named for the host.
    topo = site_props(base(), dnsConfiguration={"dnsServers": ["10.1.0.4"]})
    assert not run_for(topo, KINDS["webapp"]).findings
    topo["resources"] = [r for r in topo["resources"] if not r["id"].endswith("/virtualNetworkLinks/link-app")]
    report = run_for(topo, KINDS["webapp"])
    assert h.causes(report) == {"dns.zone_not_linked_resolver_vnet"}
    assert report.findings[0].detail.startswith("The host app-contoso's DNS server 10.1.0.4 lives in vnet-app")


def test_inside_an_app_the_host_is_read_and_its_dns_app_setting_is_the_cause(tmp_path: Path) -> None:
    """With `app_host` among the probes' `after` (the app_host probe of issue 18, parts 1-3, registered with them):
    the site named by the platform's signals is read and WEBSITE_DNS_SERVER names the cause."""
    import dataclasses
    import time

    from aoai_diag.context import ProbeContext
    from aoai_diag.engine import run_probes
    from aoai_diag.runner import build_target_report
    from aoai_diag.targets import parse_target

    signals = {
        "kind": "app_service",
        "app_service": {
            "site_name": "app-contoso",
            "resource_group": "rg-apps",
            "subscription_id": SUB,
            "private_ip": "10.30.1.9",
            "dns_server": "1.1.1.1",
        },
    }
    local = (h._fixture_probe("app_host", {"status": "pass", "evidence": signals}),)
    probes = tuple(
        dataclasses.replace(p, after=(*p.after, "app_host")) if p.id in ("arm_client_network", "arm_app_host") else p
        for p in h.AZURE_PROBES
    )
    with h.lab(base(), tmp_path) as lab:
        ctx = ProbeContext(settings=lab.settings, deadline=time.monotonic() + lab.settings.run_deadline)
        target = parse_target("contoso")
        report = build_target_report(target, list(run_probes(target, ctx, local + probes)))
    checks = by_id(report)
    assert checks["arm_app_host"].evidence.mode == "inside"
    net = checks["arm_client_network"].evidence
    assert (net.source_ip, net.dns_servers, net.dns_source) == (
        "10.30.1.9",
        ("1.1.1.1",),
        "app setting WEBSITE_DNS_SERVER",
    )
    assert checks["arm_nsg"].evidence.source_ip == "10.30.1.9"
    assert "app.dns_setting_overrides" in h.causes(report)


def test_aks_on_its_managed_vnet_uses_the_node_resource_groups_vnet() -> None:
    cluster = convert.managed_cluster(
        {
            "id": f"{RG}/rg-apps/providers/Microsoft.ContainerService/managedClusters/aks-managed",
            "properties": {
                "nodeResourceGroup": "MC_rg-apps_aks-managed_westeurope",
                "agentPoolProfiles": [{"name": "p"}],
            },
        }
    )
    assert cluster.subnet_ids == ()
    managed = f"{RG}/MC_rg-apps_aks-managed_westeurope/providers/Microsoft.Network/virtualNetworks/aks-vnet-1234"
    vnets = [
        convert.vnet(find(base(), VNET)),
        convert.vnet({"id": managed, "properties": {"subnets": [{"id": f"{managed}/subnets/aks-subnet"}]}}),
    ]
    assert app_hosts.client_subnet_id(cluster, vnets) == f"{managed}/subnets/aks-subnet"
    assert app_hosts.client_subnet_id(cluster, vnets[:1]) is None


def test_a_search_that_cannot_finish_leaves_the_host_unknown(run_for: Any) -> None:
    topo = base()
    topo["graph"] = False
    topo["faults"] = [{"match": "/providers/Microsoft.App/containerApps", "status": 403}]
    report = run_for(topo, KINDS["containerapp"])
    host = by_id(report)["arm_app_host"]
    assert host.status is Status.ERROR and host.evidence.denied
    assert h.causes(report) == {"app.host_unread"} and report.verdict is Verdict.INCONCLUSIVE


def test_the_sites_alternate_dns_server_is_asked_too(run_for: Any) -> None:
    topo = site_props(base(), dnsConfiguration={"dnsServers": ["168.63.129.16"], "dnsAltServer": "8.8.4.4"})
    report = run_for(topo, KINDS["webapp"])
    assert by_id(report)["arm_client_network"].evidence.dns_servers == ("168.63.129.16", "8.8.4.4")
    assert h.causes(report) == {"app.dns_setting_overrides"}


EVIDENCE = Path(__file__).resolve().parent.parent / "fixtures" / "evidence"


def _recorded_dns_setting_run() -> dict[str, Any]:
    data = json.loads((EVIDENCE / "app_service_dns_setting_no_forwarder.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in data["checks"]}


def _diagnosed(checks: dict[str, Any]) -> Any:
    from aoai_diag.model import CheckResult
    from aoai_diag.runner import build_target_report
    from aoai_diag.targets import parse_target

    return build_target_report(parse_target("contoso"), [CheckResult.from_dict(c) for c in checks.values()])


def test_a_dns_app_setting_whose_server_does_not_forward_is_the_root() -> None:
    # Given an App Service app whose WEBSITE_DNS_SERVER (10.0.0.5, behind 127.0.0.11) answers publicly while
    # 168.63.129.16 answers privately (recorded inside the host by app_dns; the site read by arm_app_host)
    report = _diagnosed(_recorded_dns_setting_run())
    # then the setting is the root, the server's missing forwarder is superseded, the 403 follows from the setting
    roles = {f.cause_id: (f.role.value, f.consequence_of) for f in report.findings}
    assert roles == {
        "app.dns_setting_overrides": ("root", ()),
        "svc.public_access_disabled_public_path": ("consequence", ("app.dns_setting_overrides",)),
    }
    root = report.findings[0]
    assert "WEBSITE_DNS_SERVER" in root.detail and "10.0.0.5" in root.detail and "does not forward" in root.detail
    assert "app_dns" in root.checks
    assert "WEBSITE_DNS_SERVER" in (root.remediation or "")


def test_without_a_dns_setting_the_same_server_is_a_missing_forwarder() -> None:
    # Given the same observation, but the server came from resolv.conf and Resource Manager says the VNet's DNS
    checks = copy.deepcopy(_recorded_dns_setting_run())
    for server in checks["app_dns"]["evidence"]["servers"]:
        server["chosen_by"] = "resolv.conf"
    checks["arm_client_network"]["evidence"].update({"dns_source": "vnet", "dns_servers": []})
    report = _diagnosed(checks)
    # then no setting is blamed: the server that does not forward is the root
    first = report.findings[0]
    assert (first.cause_id, first.role.value) == ("dns.custom_server_no_forwarder", "root")
    assert "app.dns_setting_overrides" not in h.causes(report)


def test_a_dns_setting_whose_server_answers_privately_is_no_cause() -> None:
    # Given WEBSITE_DNS_SERVER names a server that app_dns saw answer as 168.63.129.16 does (no forwarding break)
    checks = copy.deepcopy(_recorded_dns_setting_run())
    checks["app_dns"]["evidence"]["forwarding_break"] = None
    # then the setting alone (a private address) is not a cause
    assert "app.dns_setting_overrides" not in h.causes(_diagnosed(checks))


def test_inside_an_app_without_reader_on_its_site_the_dns_setting_is_still_the_root() -> None:
    # Given the same observation inside the host, but the managed identity has no Reader on the site: Resource
    # Manager refuses the site (403) and the host's subnet (so nothing says which DNS servers the site configures)
    checks = copy.deepcopy(_recorded_dns_setting_run())
    denied = {
        "scope": checks["arm_app_host"]["evidence"]["ref"],
        "status": 403,
        "code": "AuthorizationFailed",
        "message": "no Reader",
    }
    checks["arm_app_host"].update(status="error", summary="could not read the host", reason="forbidden")
    checks["arm_app_host"]["evidence"].update(host=None, path=[], denied=[denied], error="forbidden")
    checks["arm_client_network"].update(status="error", summary="forbidden", reason="forbidden")
    checks["arm_client_network"]["evidence"] = {"denied": [dict(denied, scope="/subscriptions/x/.../snet-web")]}
    report = _diagnosed(checks)
    # then the setting, named by the app's own environment (WEBSITE_DNS_SERVER) and watched by app_dns, is the root,
    # with the app's name and resource group from that environment in the fix
    roots = [f for f in report.findings if f.role.value == "root"]
    assert [f.cause_id for f in roots] == ["app.dns_setting_overrides"]
    assert "10.0.0.5" in roots[0].detail and "WEBSITE_DNS_SERVER" in roots[0].detail
    assert "-g rg-apps -n app-contoso" in (roots[0].remediation or "")
    assert "dns.custom_server_no_forwarder" not in h.causes(report)
    # and the unread site still says what is not known, without the DNS setting among its candidates
    unread = next(f for f in report.findings if f.cause_id == "app.host_unread")
    assert "app.dns_setting_overrides" not in unread.candidates and "DNS setting" not in unread.detail
    assert set(unread.candidates) == {"app.no_vnet_integration", "app.route_all_off"}


def test_outside_the_host_an_unread_site_names_no_dns_setting_cause() -> None:
    # Given a --from run (no app_host inside) where the site could not be read
    checks = copy.deepcopy(_recorded_dns_setting_run())
    del checks["app_host"], checks["app_dns"]
    checks["arm_app_host"].update(status="error", summary="could not read the host", reason="forbidden")
    checks["arm_app_host"]["evidence"].update(host=None, path=[], error="forbidden")
    report = _diagnosed(checks)
    # then the DNS setting stays a candidate of the unread host, never a cause
    assert "app.dns_setting_overrides" not in h.causes(report)
    unread = next(f for f in report.findings if f.cause_id == "app.host_unread")
    assert "app.dns_setting_overrides" in unread.candidates
