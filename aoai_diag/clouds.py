"""Per-cloud host suffixes, privatelink zones and control-plane endpoints.

Suffixes and zones: https://learn.microsoft.com/azure/private-link/private-endpoint-dns (commercial);
Government: https://learn.microsoft.com/azure/ai-services/openai/azure-government ; China suffixes are
less well documented, so ARM's requiredZoneNames wins when read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    suffixes: tuple[str, ...]
    """Public host suffixes of an account, primary (OpenAI) first."""
    arm_endpoint: str
    authority_host: str
    arm_scope: str

    def privatelink_zone(self, suffix: str) -> str:
        return f"privatelink.{suffix}"

    @property
    def privatelink_zones(self) -> tuple[str, ...]:
        return tuple(self.privatelink_zone(s) for s in self.suffixes)


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud(
        name="AzureCloud",
        suffixes=("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com"),
        arm_endpoint="https://management.azure.com",
        authority_host="login.microsoftonline.com",
        arm_scope="https://management.azure.com/.default",
    ),
    "AzureUSGovernment": Cloud(
        name="AzureUSGovernment",
        suffixes=("openai.azure.us", "cognitiveservices.azure.us"),
        arm_endpoint="https://management.usgovcloudapi.net",
        authority_host="login.microsoftonline.us",
        arm_scope="https://management.usgovcloudapi.net/.default",
    ),
    "AzureChinaCloud": Cloud(
        name="AzureChinaCloud",
        suffixes=("openai.azure.cn", "cognitiveservices.azure.cn"),
        arm_endpoint="https://management.chinacloudapi.cn",
        authority_host="login.chinacloudapi.cn",
        arm_scope="https://management.chinacloudapi.cn/.default",
    ),
}


def get_cloud(name: str) -> Cloud:
    try:
        return CLOUDS[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r} (choose from {', '.join(CLOUDS)})") from None


def cloud_for_host(host: str) -> Cloud | None:
    """The cloud whose suffixes include host's parent domain, if any."""
    for cloud in CLOUDS.values():
        for suffix in cloud.suffixes:
            if host.endswith("." + suffix):
                return cloud
    return None
