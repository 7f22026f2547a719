"""Run one scenario: build its namespace, start its servers, run the installed CLI inside, read the report.

The CLI runs exactly as a user runs it: `aoai-diag check contoso -o json`, the console script installed next to
this interpreter, no test-only flags. The only test-specific input is the environment a user behind a corporate
CA also sets (SSL_CERT_FILE / REQUESTS_CA_BUNDLE pointing at the CA that signed every certificate here).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e import views
from tests.e2e.namespace import Namespace
from tests.e2e.scenario import REPO, Scenario

CLI = Path(sys.executable).parent / "aoai-diag"
SCHEMA = REPO / "aoai_diag" / "data" / "report.schema.json"
VPN_FIXTURES = REPO / "fixtures" / "osnet" / "vpn"
CLI_TIMEOUT_S = 60.0
ARM_HOST = "management.azure.com"
LOGIN_HOST = "login.microsoftonline.com"


class ServerMissing(Exception):
    """A test server module the scenario needs is not in tests/servers/ (yet)."""


def server_available(module: str) -> bool:
    return importlib.util.find_spec(f"tests.servers.{module}") is not None


def needed_servers(scenario: Scenario) -> list[str]:
    needed = ["dns_server"] if scenario.dns else []
    if scenario.endpoints:
        needed += ["service", "tlsca"]
    from tests.e2e.servers import NOT_TLS_BEHAVIOURS

    if set(scenario.endpoints.values()) & set(NOT_TLS_BEHAVIOURS):
        needed.append("not_tls")
    if scenario.proxy:
        needed.append("connect_proxy")
    if scenario.azure:
        needed += ["imds", "arm_emulator", "tlsca"]
    return sorted(set(needed))


@dataclass
class RunResult:
    scenario: Scenario
    exit_code: int
    stdout: str
    stderr: str
    wall_s: float
    report: dict[str, Any] | None
    schema_error: str | None = None
    namespace: str = ""
    server_logs: dict[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str | None:
        return self.report.get("verdict") if self.report else None

    @property
    def causes(self) -> list[str]:
        if not self.report:
            return []
        return sorted({d["id"] for t in self.report.get("targets", []) for d in t.get("diagnosis", [])})

    @property
    def roles(self) -> dict[str, str]:
        """cause id -> role (root / consequence / advisory) as the report states it."""
        if not self.report:
            return {}
        return {d["id"]: str(d.get("role")) for t in self.report.get("targets", []) for d in t.get("diagnosis", [])}

    @property
    def check_statuses(self) -> dict[str, str]:
        if not self.report or not self.report.get("targets"):
            return {}
        return {c["id"]: c["status"] for c in self.report["targets"][0].get("checks", [])}

    def mismatch(self) -> str | None:
        """None when the tool concluded what the scenario expects; else one line saying how it differs."""
        exp = self.scenario.expect
        if self.report is None:
            return f"no JSON report (exit {self.exit_code}): {self.stderr.strip()[-300:]}"
        problems = []
        if self.schema_error:
            problems.append(f"report violates schema: {self.schema_error}")
        if self.verdict != exp.verdict:
            problems.append(f"verdict {self.verdict} != expected {exp.verdict}")
        missing = sorted(set(exp.causes) - set(self.causes))
        extra = sorted(set(self.causes) - set(exp.causes) - set(exp.also_allowed))
        if missing:
            problems.append(f"missing causes {missing}")
        if extra:
            problems.append(f"unexpected causes {extra}")
        wrong_roles = {c: r for c, r in exp.roles.items() if self.roles.get(c) != r}
        if wrong_roles:
            problems.append(f"roles {[(c, self.roles.get(c)) for c in wrong_roles]} != expected {wrong_roles}")
        if exp.exit_code is not None and self.exit_code != exp.exit_code:
            problems.append(f"exit {self.exit_code} != expected {exp.exit_code}")
        return "; ".join(problems) or None


class Pki:
    """The session's test PKI (tests.servers.tlsca): an "Azure" CA the CLI trusts, and an inspection CA it does not."""

    def __init__(self, directory: Path) -> None:
        from tests.servers import tlsca

        self.tls = tlsca.make_pki(directory)
        self.ca_pem = self.tls.azure_ca

    def cert(self, kind: str) -> Path:
        return self.tls.cert(kind)


def resolv_conf_text(scenario: Scenario) -> str:
    lines = ["# written by tests/e2e for namespace scenario " + scenario.id]
    lines += [f"nameserver {scenario.ip(n)}" for n in scenario.resolv_conf]
    # Fail fast like a tuned client would; glibc's defaults (5 s x 2 attempts) only slow the tier down.
    lines.append("options timeout:1 attempts:1")
    return "\n".join(lines) + "\n"


def hosts_text(scenario: Scenario) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{scenario.ip(addr)} {name}" for name, addr in scenario.hosts.items()]
    if scenario.azure:
        # Stands in for the public DNS answer for the control plane: the emulators live at these addresses.
        lines += [f"{scenario.ip('arm')} {ARM_HOST}", f"{scenario.ip('login')} {LOGIN_HOST}"]
    return "\n".join(lines) + "\n"


def dns_config(scenario: Scenario) -> dict[str, Any]:
    pe, front = scenario.ip("pe"), scenario.ip("front_door")
    kinds = sorted(set(scenario.dns.values()))
    return {
        "views": {k: views.view(k, scenario.account, pe, front) for k in kinds},
        "bind": {f"{scenario.ip(addr)}:53": kind for addr, kind in scenario.dns.items()},
    }


def server_env() -> dict[str, str]:
    """Servers run from the repository with a clean environment (no proxies, no guard: the namespace guards)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def cli_env(scenario: Scenario, ca_bundle: Path | None, home: Path) -> dict[str, str]:
    """A user's environment: nothing inherited from the test runner but PATH; the corporate CA; the scenario's env."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home), "NO_COLOR": "1"}
    if ca_bundle is not None:
        env["SSL_CERT_FILE"] = str(ca_bundle)
        env["REQUESTS_CA_BUNDLE"] = str(ca_bundle)
    env.update(scenario.env)
    return env


class ScenarioRun:
    """Owns the namespace and servers of one scenario; close() always cleans up."""

    def __init__(self, scenario: Scenario, workdir: Path, pki: Pki | None) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.pki = pki
        self.ns = Namespace(scenario.id)
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.ca_bundle: Path | None = pki.ca_pem if pki is not None else None

    def close(self) -> None:
        self.ns.close()

    def _config(self, name: str, data: dict[str, Any]) -> Path:
        path = self.workdir / f"{name}.json"
        path.write_text(json.dumps(data, indent=2))
        return path

    def _start(self, module: str, listens: list[str], config: dict[str, Any], name: str) -> None:
        if not server_available(module):
            raise ServerMissing(f"tests/servers/{module}.py does not exist yet")
        argv = [sys.executable, "-m", f"tests.servers.{module}"]
        for listen in listens:
            argv += ["--listen", listen]
        argv += ["--config", str(self._config(name, config))]
        self.ns.start(argv, env=server_env(), cwd=str(REPO), log_dir=self.logs)

    def setup(self) -> None:
        sc = self.scenario
        missing = [m for m in needed_servers(sc) if not server_available(m)]
        if missing:
            raise ServerMissing(f"tests/servers/{', '.join(missing)} not written yet")
        self.ns.create(sc.all_addresses(), resolv_conf_text(sc), hosts_text(sc))
        if sc.drop:
            self.ns.drop_rules((sc.ip(a), p) for a, p in sc.drop)
        if sc.dns:
            self._start("dns_server", [f"{sc.ip(a)}:53" for a in sc.dns], dns_config(sc), "dns")
        from tests.e2e import servers as adapters

        for addr, behaviour in sc.endpoints.items():
            adapters.start_service(self, addr, behaviour)
        if sc.proxy:
            adapters.start_proxy(self)
        if sc.azure:
            adapters.start_azure(self)

    def _home(self) -> Path:
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return home

    def profile_args(self) -> list[str]:
        """`--vpn-profile PATH` when the scenario's user holds a VPN profile: one file, or the package zip."""
        spec = self.scenario.vpn_profile
        if not spec:
            return []
        folders = {"azurevpnconfig": ("AzureVPN", "azurevpnconfig.xml"), "vpnsettings": ("Generic", "VpnSettings.xml")}
        if len(spec) == 1:
            ((kind, fixture),) = spec.items()
            path = self._home() / folders[kind][1]
            path.write_bytes((VPN_FIXTURES / fixture).read_bytes())
            return ["--vpn-profile", str(path)]
        path = self._home() / "vnet-hub.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for kind, fixture in spec.items():
                archive.write(VPN_FIXTURES / fixture, "/".join(folders[kind]))
        return ["--vpn-profile", str(path)]

    def collect(self, bundle: Path) -> subprocess.CompletedProcess[str]:
        """`aoai-diag collect ACCOUNT -o BUNDLE` inside the namespace, as a user on that machine would run it."""
        home = self._home()
        argv = [str(CLI), "collect", self.scenario.account, "-o", str(bundle), *self.profile_args()]
        return self.ns.run(argv, env=cli_env(self.scenario, self.ca_bundle, home), timeout=CLI_TIMEOUT_S, cwd=str(home))

    def run_cli(self) -> RunResult:
        sc = self.scenario
        home = self._home()
        argv = [str(CLI), "check", sc.account, "-o", "json", *self.profile_args(), *sc.args]
        start = time.monotonic()
        proc = self.ns.run(argv, env=cli_env(sc, self.ca_bundle, home), timeout=CLI_TIMEOUT_S, cwd=str(home))
        wall = time.monotonic() - start
        report: dict[str, Any] | None = None
        schema_error = None
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            report = None
        if report is not None and SCHEMA.exists():
            schema_error = validate(report)
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in sorted(self.logs.glob("*")) if p.stat().st_size}
        return RunResult(sc, proc.returncode, proc.stdout, proc.stderr, wall, report, schema_error, self.ns.name, logs)


def validate(report: dict[str, Any]) -> str | None:
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads(SCHEMA.read_text())
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        return f"{path}: {exc.message}"[:300]
    return None
