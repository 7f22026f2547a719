"""No secret ever printed: redact.py's rules, the producers that must not emit secrets in the first place, and a
canary run of the installed CLI that plants a distinct secret in every input channel and looks for it in every
output of every command (stdout, stderr, bundles written, `serve` bodies and its request log)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aoai_diag import redact
from aoai_diag.blocking import run_sync
from aoai_diag.checks.proxy_settings import evaluate
from aoai_diag.redact import redact_text, redact_value, secrets_in, userinfo
from tests.conftest import FIXTURES, guarded_env
from tests.monitoring_support import closed_port, loopback_site
from tests.servers import arm_emulator


@pytest.fixture(autouse=True)
def _no_learnt_secrets() -> Iterator[None]:
    # The structural rules must hold on their own: no literal learnt from this process's environment helps them.
    redact.forget()
    yield
    redact.forget()


@pytest.mark.parametrize(
    ("text", "secret"),
    [("http://user:S3cret/PxA2@proxy:3128", "S3cret"), ("http://user:Pa#ss?w0rd@proxy:3128/x?y=1", "Pa#ss"),
     ("http://user:p@ss@w0rd@proxy:3128", "w0rd"), ("https:/user:hunter22@contoso.openai.azure.com", "hunter22"),
     ("//user:hunter22@contoso.openai.azure.com/x", "hunter22"), ("user:hunter22@proxy:3128", "hunter22"),
     ("invalid target 'user:hunter22@contoso.openai.azure.com'", "hunter22"),
     ("socks5h://alice:hunter22@[::1]:1080", "hunter22"),
     ("GET /probe?target=https%3A%2F%2Fu%3Ahunter22%40contoso.openai.azure.com HTTP/1.1", "hunter22"),
     ("Authorization: Bearer abcdefghijk", "abcdefghijk"), ("api-key: 0123abcd", "0123abcd"),
     ("Ocp-Apim-Subscription-Key=0123abcd", "0123abcd"), ("AZURE_CLIENT_SECRET=hunter22", "hunter22"),
     ("https://x.blob.core.windows.net/c?sv=1&sig=SIGSECRET&se=2", "SIGSECRET"),
     ("token eyJhbGciOiJIUzI1.eyJzdWIiOiIx.c2lnbmF0dXJl here", "eyJhbGciOiJIUzI1"),
     ("key 0123456789abcdef0123456789ABCDEF", "0123456789abcdef")],
)  # fmt: skip
def test_every_spelling_of_a_secret_is_redacted(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


@pytest.mark.parametrize(
    "text",
    ["http://proxy:3128", "http://proxy:3128/path?user=a@b", "10.0.0.5:443 and [::1]:53", "mail ops@contoso.com",
     "https://contoso.openai.azure.com/openai/models?api-version=2024-10-21",
     "vm 02aab8a4-74ef-476e-8182-f6d2ba4166a6", "nameserver 127.0.0.53"],
)  # fmt: skip
def test_evidence_without_secrets_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_redacted_url_keeps_scheme_host_and_port() -> None:
    assert redact_text("via http://user:S3cret/PxA2@proxy:3128 (env)") == "via http://***@proxy:3128 (env)"
    assert redact_text("u:p4ssw0rd@proxy:3128") == "***@proxy:3128"


def test_learnt_secrets_are_redacted_wherever_they_appear() -> None:
    env = {"AZURE_CLIENT_SECRET": "Zq8~longsecretvalue", "HTTPS_PROXY": "http://bob:Sl4shX/Pass@proxy:3128"}
    redact.learn(env, ["--imds-endpoint", "http://u:ImdsPw99@127.0.0.1"])
    # a URL parser that ends the host at `/` says "Port could not be cast to integer value as 'Sl4shX'"
    text = "secret Zq8~longsecretvalue; port 'Sl4shX'; pass Sl4shX/Pass; ImdsPw99"
    assert redact_text(text) == "secret ***; port '***'; pass ***; ***"


def test_secrets_in_reads_credential_variables_and_url_userinfo() -> None:
    found = secrets_in(
        {"AZURE_CLIENT_CERTIFICATE_PASSWORD": "certpass1", "NO_PROXY": "x,http://a:nopr0xy1@h", "PATH": "/usr/bin"},
        ["check", "https://u:argpass1@contoso.openai.azure.com"],
    )
    assert {"certpass1", "nopr0xy1", "argpass1"} <= set(found)
    assert "/usr/bin" not in found
    assert userinfo("http://u:p@proxy:3128") == "u:p" and userinfo("http://proxy:3128") is None


def test_redact_value_redacts_secret_keys_and_nested_text() -> None:
    out = redact_value({"headers": {"api-key": "k", "x": ["http://u:pw@h"]}, "n": 3, "ok": True})
    assert out == {"headers": {"api-key": "***", "x": ["http://***@h"]}, "n": 3, "ok": True}


@pytest.mark.parametrize(
    "proxy", ["http://user:S3cret/PxA2@127.0.0.1:3128", "http://user:S3cret#PxA2@127.0.0.1:3128",
              "http://user:S3cret?PxA2@127.0.0.1:3128", "user:S3cret@PxA2@127.0.0.1:3128"],
)  # fmt: skip
def test_proxy_evidence_never_holds_the_password(proxy: str) -> None:
    # The producer itself, before any output boundary: variables, proxy_url, error (urlsplit's port message).
    evidence = evaluate("contoso.openai.azure.com", 443, {"HTTPS_PROXY": proxy, "NO_PROXY": "http://n:S3cretNo@x"})
    flat = json.dumps(evidence.to_dict())
    assert "S3cret" not in flat and "PxA2" not in flat, flat
    assert evidence.applies is True and evidence.variables["HTTPS_PROXY"].endswith("@127.0.0.1:3128")


def test_imds_evidence_never_holds_the_endpoint_password() -> None:
    from aoai_diag.net.imds import fetch_instance

    evidence = run_sync(fetch_instance, 5.0, f"http://u:ImdsS3cret@127.0.0.1:{closed_port()}", 0.2, 0.2)
    assert "ImdsS3cret" not in json.dumps(evidence.to_dict()) and evidence.error


# --- the canary: the installed CLI, every input channel, every output ---------------------------------------------


@dataclass
class Canary:
    secrets: dict[str, str] = field(default_factory=dict)

    def plant(self, channel: str) -> str:
        value = f"cn{len(self.secrets):02d}{re.sub(r'[^a-z]', '', channel.lower())[:8]}Q7"
        self.secrets[channel] = value
        return value

    def leaks(self, text: str) -> list[str]:
        return [f"{channel} ({value})" for channel, value in self.secrets.items() if value in text]


def cli() -> list[str]:
    script = Path(sys.executable).with_name("aoai-diag")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aoai_diag"]


@dataclass
class Run:
    argv: list[str]
    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], env: dict[str, str], stdin: str | None = None) -> Run:
    proc = subprocess.run(
        [*cli(), *argv], capture_output=True, text=True, env=env, timeout=90, input=stdin, check=False
    )
    return Run(argv, proc.returncode, proc.stdout, proc.stderr)


def canary_env(canary: Canary, ca: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    dead = f"127.0.0.1:{closed_port()}"
    env = guarded_env(
        {
            # every proxy spelling, each with a password holding a character URL parsers split on
            "HTTPS_PROXY": f"http://px:{canary.plant('HTTPS_PROXY')}/a@{dead}",
            "https_proxy": f"http://px:{canary.plant('https_proxy')}#b@{dead}",
            "HTTP_PROXY": f"http://px:{canary.plant('HTTP_PROXY')}?c@{dead}",
            "http_proxy": f"px:{canary.plant('http_proxy')}@{dead}",
            "ALL_PROXY": f"socks5://px:{canary.plant('ALL_PROXY')}@{dead}",
            "all_proxy": f"//px:{canary.plant('all_proxy')}@{dead}",
            # the emulators listen on 127.0.0.1: the SDK must not send them through the (dead) proxy
            "NO_PROXY": f"localhost,127.0.0.1,http://np:{canary.plant('NO_PROXY')}@{dead}",
            "no_proxy": f"127.0.0.1,https:/np:{canary.plant('no_proxy')}@{dead}",
            # Azure credentials, as azure-identity's EnvironmentCredential reads them
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_CLIENT_ID": "app-1",
            "AZURE_CLIENT_SECRET": canary.plant("AZURE_CLIENT_SECRET"),
            "AZURE_CLIENT_CERTIFICATE_PASSWORD": canary.plant("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            "AZURE_OPENAI_API_KEY": canary.plant("AZURE_OPENAI_API_KEY"),
            "REQUESTS_CA_BUNDLE": str(ca),
            "PATH": str(Path(sys.executable).parent),
            "TERM": "xterm",
        }
    )
    env.update(extra or {})
    return env


def refused_inputs(canary: Canary, site_args: list[str]) -> list[list[str]]:
    """Targets in every malformed spelling and endpoint options carrying credentials: each must be refused
    without repeating the secret."""
    host = "contoso.openai.azure.com"
    runs: list[list[str]] = []
    for n, form in enumerate(
        ["https://u:{}@" + host, "https:/u:{}@" + host, "//u:{}@" + host, "u:{}@" + host + ":443",
         "https://u:{}/x#y?z@" + host + "/", "https://" + host + ":8443/?api-key={}", "contoso?sig={}"]
    ):  # fmt: skip
        runs.append(["check", form.format(canary.plant(f"target{n}")), *site_args])
    for option, form in (
        ("--imds-endpoint", "http://u:{}@127.0.0.1:9"),
        ("--arm-endpoint", "https://u:{}@127.0.0.1:9"),
        ("--authority-host", "u:{}@login.example"),
        ("--resolver", "u:{}@127.0.0.1"),
        ("--public-resolver", "http://u:{}@127.0.0.1"),
        ("--azure-dns", "u:{}@127.0.0.1:53"),
    ):
        runs.append(["check", "contoso", *site_args, option, form.format(canary.plant(option))])
    runs.append(["serve", "--listen", f"u:{canary.plant('--listen')}@127.0.0.1:0", "--no-azure"])
    runs.append(["check", "contoso", "-o", f"http://u:{canary.plant('-o')}@x", *site_args])
    return runs


def serve_and_scrape(env: dict[str, str], args: list[str], canary: Canary) -> tuple[list[str], str]:
    """`serve --log-requests` scraped with a credentialed target (400) and a real one; returns bodies and stderr."""
    import urllib.error
    import urllib.parse
    import urllib.request

    proc = subprocess.Popen(
        [*cli(), "serve", "--listen", "127.0.0.1:0", "--log-requests", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    bodies: list[str] = []
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on " in line, line
        url = line.split("listening on ", 1)[1].split()[0]
        secret_target = f"https://u:{canary.plant('serve target')}@contoso.openai.azure.com"
        for query in (urllib.parse.urlencode({"target": secret_target}), "target=contoso"):
            try:
                with urllib.request.urlopen(f"{url}/probe?{query}", timeout=30) as response:
                    bodies.append(response.read().decode())
            except urllib.error.HTTPError as exc:
                bodies.append(exc.read().decode())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        return bodies, line + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_canary_secrets_appear_in_no_output_of_any_command(tmp_path: Path) -> None:
    canary = Canary()
    topo = arm_emulator.load_topology(FIXTURES / "arm" / "vpn_client.json")
    ca = tmp_path / "arm-ca.pem"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with loopback_site(["contoso"]) as site, arm_emulator.serve(topo, ca) as arm:
        env = canary_env(canary, ca)
        dns = ["--resolver", site.resolver, "--public-resolver", site.public_resolver, "--azure-dns", site.resolver]
        local = [*dns, "--imds-endpoint", site.imds, "--port", str(site.port), "--timeout", "1", "--no-azure"]
        # The Azure layer on, against the emulator: the planted client secret goes to the SDK and its token request.
        azure = [
            *local[:-3],
            "--timeout",
            "3",
            "--deadline",
            "12",
            "--arm-endpoint",
            arm.endpoint,
            "--authority-host",
            arm.endpoint,
        ]
        bundle = out_dir / "bundle.json"
        good = [["check", "contoso", "-o", "json", *azure], ["collect", "contoso", "-o", str(bundle), *azure]]
        good += [["check", "contoso", "-o", fmt, *local] for fmt in ("table", "prometheus", "nagios")]
        good += [["collect", "contoso", "-o", "-", *local]]
        bad = refused_inputs(canary, local)
        no_imds = [*dns, "--no-azure", "--timeout", "1"]
        env_runs = [
            (["check", "contoso", *no_imds], {"AOAI_DIAG_IMDS_ENDPOINT": f"http://u:{canary.plant('IMDS env')}@h"}),
            (["check", "contoso", *no_imds], {"AOAI_DIAG_ARM_ENDPOINT": f"https://u:{canary.plant('ARM env')}@h"}),
            (["check", "contoso", *no_imds], {"AOAI_DIAG_AUTHORITY_HOST": f"u:{canary.plant('AUTH env')}@h"}),
        ]
        with ThreadPoolExecutor(6) as pool:
            jobs = [(argv, {}) for argv in good + bad] + env_runs
            runs = list(pool.map(lambda job: run_cli(job[0], {**env, **job[1]}), jobs))
            bodies, serve_log = serve_and_scrape(env, local, canary)
        assert bundle.exists(), runs[1].stderr
        analyses = [(["analyze", str(bundle), "-o", fmt], None) for fmt in ("table", "json", "prometheus", "nagios")]
        analyses.append((["analyze", "-", "-o", "json"], bundle.read_text()))
        with ThreadPoolExecutor(5) as pool:
            runs += list(pool.map(lambda job: run_cli(job[0], env, stdin=job[1]), analyses))
        assert ("POST", "/tenant-1/oauth2/v2.0/token") in arm.requests, "the planted client secret was used"
    # the runs did what they should, so the outputs searched are real ones
    checks = [runs[0], *runs[2:5]]
    assert all(r.stdout and r.code in (1, 2, 3) for r in checks), [(r.code, r.stderr) for r in checks]
    assert runs[1].code == 0 and runs[5].code == 0 and json.loads(runs[5].stdout)["bundle_version"]
    for run in runs[6 : 6 + len(bad) + len(env_runs)]:
        assert run.code == 2 and run.stdout == "" and run.stderr.count("\n") == 1, (run.argv, run.stderr)
    assert all(r.code in (1, 2, 3) and r.stdout for r in runs[-5:]), [(r.code, r.stderr) for r in runs[-5:]]
    assert "400" in serve_log and "aoai_diag_probe_success" in bodies[1] and "user information" in bodies[0]
    # Then no planted secret is in any output, nor in any file written
    outputs = [(f"{' '.join(r.argv[:3])} stdout", r.stdout) for r in runs]
    outputs += [(f"{' '.join(r.argv[:3])} stderr", r.stderr) for r in runs]
    outputs += [("serve body", b) for b in bodies] + [("serve log", serve_log)]
    outputs += [(str(p), p.read_text(errors="replace")) for p in out_dir.rglob("*") if p.is_file()]
    leaks = [(where, canary.leaks(text)) for where, text in outputs if canary.leaks(text)]
    assert not leaks, leaks
    assert len(canary.secrets) >= 30


def test_a_refused_target_is_not_repeated_in_any_stream() -> None:
    # Without the learnt-literal backstop (a child's argv holds no secret word apart from the target itself,
    # so the structural refusal is what keeps it out).
    run = run_cli(["check", "https://alice:Pa55/w0rdX@contoso.openai.azure.com", "--no-azure"], guarded_env())
    assert run.code == 2
    assert "Pa55" not in run.stderr and "w0rdX" not in run.stderr and "alice" not in run.stderr
    assert "user information" in run.stderr


def test_table_summary_redacts_a_proxy_password_with_a_slash(tmp_path: Path) -> None:
    env = guarded_env({"HTTPS_PROXY": "http://user:S3cret/PxA2@127.0.0.1:9"})
    with loopback_site(["contoso"]) as site:
        run = run_cli(["check", "contoso", *site.cli_args(0.5)], env)
    assert "proxy_settings" in run.stdout and "***@127.0.0.1:9" in run.stdout
    assert "S3cret" not in run.stdout + run.stderr and "PxA2" not in run.stdout + run.stderr


def test_environment_is_not_needed_for_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # The structural rules do not depend on what was learnt: with nothing learnt, evidence text is still clean.
    monkeypatch.setattr(os, "environ", {})
    assert redact_text("proxy http://u:S3cret/x@h:1") == "proxy http://***@h:1"


@pytest.mark.parametrize(
    "value",
    [{"api-key": None, "authorization": [], "token": {}, "cookie": True, "password": ""},
     {"note": "api-key: null and Authorization: {}", "url": "https://h/p?target=https%3A%2F%2Fu%3Ap%22w%40h"},
     {"x": "AZURE_CLIENT_SECRET=[1]", "y": "user:pa\"ss@proxy:3128", "z": 'he said "http://u:p@h"'}],
)  # fmt: skip
def test_redacted_json_text_is_still_json(value: dict[str, object]) -> None:
    # stdout is redacted as text after the renderers: a JSON report must stay parseable.
    text = json.dumps(value, indent=2)
    parsed = json.loads(redact_text(text))
    assert set(parsed) == set(value)


def test_ordinary_words_in_secret_named_variables_are_not_blanked_out() -> None:
    redact.learn({"AZURE_TOKEN_MODE": "managed", "X_SECRET": "hunter22", "GITHUB_TOKEN": "correcthorsebattery"})
    assert redact_text("managed identity; hunter22; correcthorsebattery") == "managed identity; ***; ***"
