from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aoai_diag.cli import main
from tests.conftest import guarded_env


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("check", "causes", "checks"):
        assert command in result.output


def test_help_does_not_import_azure_sdk() -> None:
    code = (
        "import sys; from aoai_diag.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('azure', 'dns', 'tabulate')))\n"
        "print('LOADED', bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=guarded_env(), check=True)
    assert "LOADED []" in out.stdout


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a subprocess: a traceback would really reach stderr (CliRunner swallows it)."""
    script = Path(sys.executable).with_name("aoai-diag")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aoai_diag"]
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, env=env or guarded_env(), timeout=60, check=False
    )


def assert_one_line_usage_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_bad_target_is_usage_error_without_traceback() -> None:
    proc = cli("check", "https://user:secret@contoso.openai.azure.com/x")
    assert_one_line_usage_error(proc)
    assert "secret" not in proc.stderr


def test_unbalanced_bracket_url_is_usage_error_without_traceback() -> None:
    # urlsplit raises ValueError("Invalid IPv6 URL") for it: that must not reach the internal-error handler.
    proc = cli("check", "https://[::1")
    assert_one_line_usage_error(proc)
    assert "invalid target" in proc.stderr


def test_deeply_nested_bundle_is_a_one_line_usage_error(tmp_path: Path) -> None:
    # json refuses deep nesting with RecursionError, not JSONDecodeError.
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    proc = cli("analyze", str(path))
    assert_one_line_usage_error(proc)
    assert "nested too deeply" in proc.stderr


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [("--timeout", "nan", "finite"), ("--timeout", "inf", "range"), ("--deadline", "nan", "finite"),
     ("--deadline", "-inf", "range"), ("--imds-endpoint", "notaurl", "not a URL"),
     ("--imds-endpoint", "ftp://x", "scheme must be http"), ("--imds-endpoint", "::::", "not a URL"),
     ("--imds-endpoint", "https://169.254.169.254", "scheme must be http"),
     ("--imds-endpoint", "http://:80", "no host"), ("--imds-endpoint", "http://h:99999", "bad port"),
     ("--arm-endpoint", "notaurl", "not a URL"), ("--arm-endpoint", "ftp://x", "scheme"),
     ("--arm-endpoint", "https://u:pw@arm.example", "user information"), ("--authority-host", "::::", "not a URL"),
     ("--authority-host", "ftp://login.example", "scheme"), ("--authority-host", "u:pw@login.example", "user info"),
     ("--resolver", "u:pw@127.0.0.1", "IP[:PORT]"), ("--azure-dns", "nope", "IP[:PORT]")],
)  # fmt: skip
def test_bad_option_values_are_usage_errors_before_any_probe(option: str, value: str, needle: str) -> None:
    proc = cli("check", "contoso", "--no-azure", option, value)
    assert_one_line_usage_error(proc)
    assert needle in proc.stderr and option in proc.stderr
    assert ":pw@" not in proc.stderr and "checking" not in proc.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("http://127.0.0.1:8080/", "http://127.0.0.1:8080"), ("https://arm.example", "https://arm.example"),
     ("login.example", "login.example"), ("https://[::1]:8443", "https://[::1]:8443")],
)  # fmt: skip
def test_good_endpoint_values_are_accepted(value: str, expected: str) -> None:
    from aoai_diag.context import check_url_endpoint

    assert check_url_endpoint(value, ("http", "https"), bare_host=True) == expected


@pytest.mark.parametrize(
    ("target", "needle"),
    [("https://contoso.openai.azure.com:8443/", "--port 8443"), ("contoso.openai.azure.com:8443", "--port 8443"),
     ("https://contoso.openai.azure.com:notaport/", "not a URL")],
)  # fmt: skip
def test_a_port_in_the_target_is_refused_not_ignored(target: str, needle: str) -> None:
    proc = cli("check", target, "--no-azure")
    assert_one_line_usage_error(proc)
    assert needle in proc.stderr


def test_port_443_in_the_target_is_the_default_port() -> None:
    from aoai_diag.targets import parse_target

    assert parse_target("https://contoso.openai.azure.com:443/").host == "contoso.openai.azure.com"


def test_usage_errors_are_one_line_on_stderr_with_exit_2() -> None:
    for argv in (["check", "10.0.0.5"], ["check", "contoso", "--timeout", "0"], ["nosuch"], ["analyze"]):
        proc = subprocess.run(
            [sys.executable, "-m", "aoai_diag", *argv], capture_output=True, text=True, env=guarded_env(), check=False
        )
        assert proc.returncode == 2, argv
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and ": error: " in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_causes_json_lists_each_cause_with_its_variants_and_relations() -> None:
    import json

    from aoai_diag import catalogue

    result = CliRunner().invoke(main, ["causes", "-o", "json"])
    assert result.exit_code == 0, result.output
    listed = {c["id"]: c for c in json.loads(result.output)["causes"]}
    assert set(listed) == set(catalogue.load())
    with_variants = [c for c in catalogue.load().values() if c.remediation_variants]
    assert with_variants, "the catalogue has causes with remediation variants"
    for cause in with_variants:
        assert listed[cause.id]["remediation_variants"] == dict(cause.remediation_variants)
    for cause in catalogue.load().values():
        entry = listed[cause.id]
        assert (entry["premises"], entry["generic"], entry["consequence_of"]) == (
            list(cause.premises),
            cause.generic,
            list(cause.consequence_of),
        )
