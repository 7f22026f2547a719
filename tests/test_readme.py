"""The README stays true: its set-up commands, every check, cause and option of `check` are documented."""

from __future__ import annotations

import re

from aoai_diag import catalogue
from aoai_diag.checks import PROBES
from aoai_diag.cli import check
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    test_command = "python -m pip install -q -e '.[test]' && python -m pytest"
    assert test_command in README
    assert test_command in (REPO / ".ci" / "run").read_text()


def test_every_check_is_documented() -> None:
    for probe in PROBES:
        assert f"`{probe.id}`" in README, probe.id


def test_every_cause_is_documented() -> None:
    for cause_id in catalogue.load():
        assert f"`{cause_id}`" in README, cause_id


def test_every_check_option_is_documented() -> None:
    for param in check.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert re.search(rf"`{re.escape(opt)}[` ]", README), opt


def test_exit_codes_table_matches_verdict_module() -> None:
    from aoai_diag import verdict

    for code in (verdict.EXIT_HEALTHY, verdict.EXIT_UNHEALTHY, verdict.EXIT_USAGE, verdict.EXIT_INCONCLUSIVE):
        assert re.search(rf"^\| {code} \| ", README, re.M), code
