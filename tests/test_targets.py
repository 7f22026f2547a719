from __future__ import annotations

import pytest

from aoai_diag.targets import TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "host", "label"),
    [
        ("contoso", "contoso.openai.azure.com", "contoso"),
        ("Contoso", "contoso.openai.azure.com", "contoso"),
        ("contoso.openai.azure.com", "contoso.openai.azure.com", "contoso"),
        ("contoso.cognitiveservices.azure.com.", "contoso.cognitiveservices.azure.com", "contoso"),
        ("https://contoso.services.ai.azure.com/api/projects/p1", "contoso.services.ai.azure.com", "contoso"),
        ("https://contoso.openai.azure.com:443/openai/deployments", "contoso.openai.azure.com", "contoso"),
    ],
)
def test_accepted_forms(text: str, host: str, label: str) -> None:
    target = parse_target(text)
    assert (target.host, target.label) == (host, label)
    assert target.names[0] == host
    assert set(target.names) == {
        "contoso.openai.azure.com",
        "contoso.cognitiveservices.azure.com",
        "contoso.services.ai.azure.com",
    }


def test_sovereign_cloud_suffixes() -> None:
    gov = parse_target("contoso", "AzureUSGovernment")
    assert gov.host == "contoso.openai.azure.us"
    assert parse_target("contoso.openai.azure.cn").cloud.name == "AzureChinaCloud"


def test_privatelink_name() -> None:
    assert parse_target("contoso").privatelink_name() == "contoso.privatelink.openai.azure.com"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "10.0.0.5",
        "https://[::1]/",
        "https://[::1",
        "a" * 64,
        "bad_name",
        "-lead",
        "contoso.example.com",
        "http://contoso.openai.azure.com",
        "contoso.privatelink.openai.azure.com",
        "a.b.openai.azure.com",
    ],
)
def test_rejected_with_one_line(text: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert "\n" not in str(info.value)


def test_userinfo_is_refused_and_never_echoed() -> None:
    with pytest.raises(TargetError) as info:
        parse_target("https://alice:hunter2@contoso.openai.azure.com/")
    assert "hunter2" not in str(info.value) and "alice" not in str(info.value)
