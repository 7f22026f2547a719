"""One token-caching credential for the whole run, with DefaultAzureCredential's order but bounded.

Order (as DefaultAzureCredential): environment service principal, managed identity, Azure CLI. Unlike it, a
source is only tried when it can work: managed identity only when IMDS answered the `azure_platform` probe
(~12.8 s wasted off Azure otherwise, measured with azure-identity's own probe of IMDS), the CLI only when `az` is on
PATH. With none usable the layer learns it at once and reports skip with the reason.
AzureCliCredential launches `az` for each token (~0.4 s) and every SDK client would cache its own: the
wrapper here caches tokens per scope for all clients.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any

from aoai_diag.context import DEFAULT_IMDS_ENDPOINT, Settings

# Refresh this long before expiry so a token never expires mid-run.
_REFRESH_MARGIN_S = 120


class NoCredential(Exception):
    """No credential source is usable on this machine; the message says why (one line)."""


class CachingCredential:
    """A TokenCredential that asks the inner credential once per scope set until near expiry."""

    def __init__(self, inner: Any, source: str) -> None:
        self._inner = inner
        self.source = source
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], Any] = {}

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        key = tuple(sorted(scopes))
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_on - _REFRESH_MARGIN_S < time.time():
                kwargs.pop("enable_cae", None)
                token = checked_token(self._inner.get_token(*scopes, **kwargs))
                self._tokens[key] = token
            return token

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close:
            close()


MAX_TOKEN_CHARS = 32 * 1024
"""An access token is a JWT of a few KB; a longer one is an identity endpoint misbehaving."""


class BadToken(Exception):
    """The identity endpoint answered something that is not a usable token; the message says what (one line)."""


def checked_token(token: Any) -> Any:
    """`token` if it is an access token we can send: a short string without line breaks and a finite expiry.
    A NaN or Infinity expiry, a number where the token belongs or a megabyte of token is the identity endpoint
    misbehaving (issue 19), reported as such rather than sent to Resource Manager or crashing the run."""
    value = getattr(token, "token", None)
    expires = getattr(token, "expires_on", None)
    if not isinstance(value, str) or not value:
        raise BadToken(f"the identity endpoint answered a token that is {type(value).__name__}, not text")
    if len(value) > MAX_TOKEN_CHARS or any(c in value for c in "\r\n\x00"):
        raise BadToken(f"the identity endpoint answered an unusable token ({len(value)} characters)")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not 0 < expires < 2**42:
        raise BadToken(f"the identity endpoint answered an unusable expiry ({str(expires)[:30]})")
    return token


def authority_host(settings: Settings) -> str:
    host = settings.authority_host or settings.cloud_obj.authority_host
    return host if "://" in host else f"https://{host}"


def ca_bundle(settings: Settings) -> str | bool:
    """`connection_verify` for every client: REQUESTS_CA_BUNDLE as seen by this run (TLS inspection)."""
    bundle = settings.env.get("REQUESTS_CA_BUNDLE")
    return bundle if bundle else True


def build_credential(settings: Settings, on_azure: bool, timeout: float, transport: Any = None) -> CachingCredential:
    """The run's credential; raises NoCredential at once when nothing can work.

    `transport` (the session's bounded one: aoai_diag/azure/bounded_http.py) keeps token requests within the run's
    deadline and token answers within their size cap.
    """
    from azure.identity import AzureCliCredential, ChainedTokenCredential, ClientSecretCredential

    env = settings.env
    verify = ca_bundle(settings)
    pipeline: dict[str, Any] = {
        "connection_timeout": timeout,
        "read_timeout": timeout,
        "retry_total": 0,
        "connection_verify": verify,
    }
    if transport is not None:
        pipeline["transport"] = transport
    chain: list[Any] = []
    names: list[str] = []
    skipped: list[str] = []
    tenant, client, secret = env.get("AZURE_TENANT_ID"), env.get("AZURE_CLIENT_ID"), env.get("AZURE_CLIENT_SECRET")
    if tenant and client and secret:
        custom_authority = bool(settings.authority_host)
        chain.append(
            ClientSecretCredential(
                tenant,
                client,
                secret,
                authority=authority_host(settings),
                disable_instance_discovery=custom_authority,
                **pipeline,
            )
        )
        names.append("environment")
    else:
        skipped.append("environment (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET not set)")
    platform = platform_identity(settings, pipeline)
    if platform is not None:
        chain.append(platform[0])
        names.append(platform[1])
    elif on_azure:
        chain.append(_managed_identity(settings, pipeline))
        names.append("managed_identity")
    else:
        skipped.append("managed identity (IMDS did not answer, and no platform identity endpoint is set)")
    if shutil.which("az", path=env.get("PATH")):
        chain.append(AzureCliCredential(process_timeout=max(1, int(timeout) + 1)))
        names.append("azure_cli")
    else:
        skipped.append("Azure CLI (az not on PATH)")
    if not chain:
        raise NoCredential("no usable Azure credential: " + "; ".join(skipped))
    inner = chain[0] if len(chain) == 1 else ChainedTokenCredential(*chain)
    return CachingCredential(inner, "+".join(names))


def platform_identity(settings: Settings, pipeline: dict[str, Any]) -> tuple[Any, str] | None:
    """The app host's own identity, when its platform offers one (no IMDS there), with its source name:

    - App Service, Functions, Container Apps: IDENTITY_ENDPOINT + IDENTITY_HEADER
      (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference,
      https://learn.microsoft.com/azure/container-apps/managed-identity#rest-endpoint-reference);
      Azure ML compute: MSI_ENDPOINT + MSI_SECRET; both through ManagedIdentityCredential, which picks the protocol.
      azure-identity and MSAL read these variables from the process environment when a token is asked for: every
      endpoint is whatever the environment says (tests point them at loopback).
    - AKS workload identity: AZURE_FEDERATED_TOKEN_FILE + AZURE_CLIENT_ID + AZURE_TENANT_ID, exchanged at
      AZURE_AUTHORITY_HOST (https://learn.microsoft.com/azure/aks/workload-identity-overview); `--authority-host`
      overrides it, and then instance discovery is off (a private or emulated authority has none).
    None: no platform identity here (IMDS, if it answered, is the managed identity).
    """
    env = settings.env
    if (env.get("IDENTITY_ENDPOINT") and env.get("IDENTITY_HEADER")) or env.get("MSI_ENDPOINT"):
        from azure.identity import ManagedIdentityCredential

        kwargs = dict(pipeline)
        if env.get("AZURE_CLIENT_ID"):
            kwargs["client_id"] = env["AZURE_CLIENT_ID"]  # a user-assigned identity of the app
        source = "app_service" if env.get("IDENTITY_ENDPOINT") else "azure_ml"
        return ManagedIdentityCredential(**kwargs), f"managed_identity({source})"
    token_file, client, tenant = (
        env.get("AZURE_FEDERATED_TOKEN_FILE"),
        env.get("AZURE_CLIENT_ID"),
        env.get("AZURE_TENANT_ID"),
    )
    if token_file and client and tenant:
        from azure.identity import WorkloadIdentityCredential

        authority = settings.authority_host or env.get("AZURE_AUTHORITY_HOST") or settings.cloud_obj.authority_host
        return (
            WorkloadIdentityCredential(
                tenant_id=tenant,
                client_id=client,
                token_file_path=token_file,
                authority=authority if "://" in authority else f"https://{authority}",
                disable_instance_discovery=bool(settings.authority_host),
                **pipeline,
            ),
            "workload_identity",
        )
    return None


def _managed_identity(settings: Settings, pipeline: dict[str, Any]) -> Any:
    from azure.identity import ManagedIdentityCredential

    # azure-identity and MSAL read the IMDS host from this variable at request time; it is the only way to point managed identity at --imds-endpoint.
    if settings.imds_endpoint.rstrip("/") != DEFAULT_IMDS_ENDPOINT:
        os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = settings.imds_endpoint.rstrip("/")
    client_id = settings.env.get("AZURE_CLIENT_ID")
    kwargs = dict(pipeline)
    if client_id:
        kwargs["client_id"] = client_id
    return ManagedIdentityCredential(**kwargs)
