from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_bad_target_is_usage_error_without_traceback() -> None:
    result = CliRunner().invoke(main, ["check", "https://user:secret@contoso.openai.azure.com/x"])
    assert result.exit_code == 2
    assert "secret" not in result.output
    assert "Traceback" not in result.output


def test_unbalanced_bracket_url_is_usage_error_without_traceback() -> None:
    # urlsplit raises ValueError("Invalid IPv6 URL") for it: that must not reach the internal-error handler.
    result = CliRunner().invoke(main, ["check", "https://[::1"])
    assert result.exit_code == 2
    assert "invalid target" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_deeply_nested_bundle_is_a_one_line_usage_error(tmp_path: Path) -> None:
    # json refuses deep nesting with RecursionError, not JSONDecodeError.
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 2
    assert "nested too deeply" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_usage_errors_are_one_line_on_stderr_with_exit_2() -> None:
    for argv in (["check", "10.0.0.5"], ["check", "contoso", "--timeout", "0"], ["nosuch"], ["analyze"]):
        proc = subprocess.run(
            [sys.executable, "-m", "aoai_diag", *argv], capture_output=True, text=True, env=guarded_env(), check=False
        )
        assert proc.returncode == 2, argv
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and ": error: " in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
