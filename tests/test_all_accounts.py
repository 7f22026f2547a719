"""`check --all-accounts`: the accounts come from the Azure layer (ARM emulator, real SDK clients)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import pytest

from aoai_diag.cli import account_targets
from tests.azure_harness import lab, topology


def test_all_accounts_lists_the_visible_openai_accounts(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path) as env:
        targets = account_targets(env.settings, "AzureCloud")
    hosts = [t.host for t in targets]
    assert "contoso.openai.azure.com" in hosts
    assert all(h.endswith(".openai.azure.com") for h in hosts)


def test_all_accounts_without_credential_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path) as env:
        no_credential = replace(env.settings, env={"PATH": ""}, imds_endpoint="http://127.0.0.1:9")
        with pytest.raises(click.UsageError) as info:
            account_targets(no_credential, "AzureCloud")
    assert "--all-accounts" in info.value.message and "\n" not in info.value.message


def test_all_accounts_refuses_no_azure(tmp_path: Path) -> None:
    with lab(topology("healthy_jumpbox"), tmp_path) as env, pytest.raises(click.UsageError):
        account_targets(replace(env.settings, azure=False), "AzureCloud")
