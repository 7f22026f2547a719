"""The README stays short and true: its set-up commands, the options of `check` and the exit codes are documented
there; everything else lives in docs/ (and bench/README.md), where the README's links lead."""

from __future__ import annotations

import re
from pathlib import Path

from aoai_diag.checks import PROBES
from aoai_diag.cli import check
from tests.conftest import REPO

README_PATH = REPO / "README.md"
README = README_PATH.read_text()
DOCS = REPO / "docs"
TEST_COMMAND = "python -m pip install -q -e '.[test]' && python -m pytest"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")

# What moved out of the README, and a heading and a passage that prove it arrived whole.
MOVED = {
    "docs/json-report.md": ("## Fields", '"schema_version": "1.3"'),
    "docs/azure-layer.md": ("## What it reads, with which rights", "effectiveNetworkSecurityGroups/action"),
    "docs/monitoring.md": ("## Alert on the cause", "AzureOpenAIPrivatePathBroken"),
    "docs/security.md": ("## Secrets, credentials, files and `serve`", "**Secrets are never printed.**"),
    "docs/causes.md": ("## Roles, unknowns and candidates", "**Unknown is not absent.**"),
    "bench/README.md": ("## Reading the figures", "interpreter finalization after an Azure SDK run"),
    "docs/architecture.md": ("## Adding a probe (four places)", "## Adding a cause (two places)"),
}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)  # a `# comment` in code is no heading
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def local_links(path: Path) -> list[tuple[Path, str]]:
    """(file, anchor) of every relative link in a Markdown file; anchor '' when there is none."""
    found = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        found.append(((path.parent / file_part).resolve() if file_part else path, anchor))
    return found


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    ci_command = ci[ci.index("# README test command:") + 1]
    assert ci_command == TEST_COMMAND
    assert f"\n{TEST_COMMAND}\n" in README
    assert "\npip install . && aoai-diag check contoso\n" in README


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= 250


def test_readme_links_every_topic_page() -> None:
    linked = {file for file, _ in local_links(README_PATH)}
    for page in (*MOVED, "docs/evidence.md", "docs/os-support.md"):
        assert (REPO / page).resolve() in linked, page


def test_links_resolve_to_files_and_headings() -> None:
    for page in (README_PATH, REPO / "bench" / "README.md", *sorted(DOCS.glob("*.md"))):
        for file, anchor in local_links(page):
            assert file.exists(), f"{page.name}: {file} does not exist"
            if anchor and file.suffix == ".md":
                assert anchor in anchors(file), f"{page.name}: no heading #{anchor} in {file.name}"


def test_each_moved_section_is_in_its_page_and_not_in_the_readme() -> None:
    for page, (heading, passage) in MOVED.items():
        text = (REPO / page).read_text()
        assert heading in text.splitlines(), (page, heading)
        assert passage in text, (page, passage)
        assert passage not in README, (page, passage)
    # The cause table lives in docs/causes.md and `aoai-diag causes` (tests/test_catalogue.py keeps it in step).
    assert "| `dns.zone_missing` |" not in README


def test_architecture_is_the_asyncio_house_map() -> None:
    text = (DOCS / "architecture.md").read_text()
    assert len(text.splitlines()) <= 150
    assert "## Measured choices" in text.splitlines()
    assert "blocking.in_thread" in text and "gather" in text
    # The machinery issue 16 removes is not described as part of the house.
    for gone in ("ioloop", "steps.py", "workers.py", "Polling", "Concurrently", "_Loop"):
        assert gone not in text, gone
    assert not re.search(r"`driven?`|\bdriven?\(", text)


def test_every_check_is_documented() -> None:
    evidence = (DOCS / "evidence.md").read_text()
    for probe in PROBES:
        assert re.search(rf"^\| `{probe.id}` \|", evidence, re.M), probe.id


def test_every_check_option_is_documented() -> None:
    for param in check.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert re.search(rf"`{re.escape(opt)}[` ]", README), opt


def test_exit_codes_table_matches_verdict_module() -> None:
    from aoai_diag import verdict

    for code in (verdict.EXIT_HEALTHY, verdict.EXIT_UNHEALTHY, verdict.EXIT_USAGE, verdict.EXIT_INCONCLUSIVE):
        assert re.search(rf"^\| {code} \| ", README, re.M), code
