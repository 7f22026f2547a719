"""Every Azure OpenAI / AI Services account the credential can see (for `check --all-accounts`)."""

from __future__ import annotations

import time

from aoai_diag.context import ProbeContext, Settings

# Kinds whose accounts answer on the OpenAI data plane (AI Services includes Azure OpenAI).
OPENAI_KINDS = ("openai", "aiservices")


def list_accounts(settings: Settings, on_azure: bool | None = None) -> list[str]:
    """Hosts (`<subdomain>.<openai suffix>`) of every visible account, sorted; accounts without a custom
    subdomain are left out (they cannot be reached privately by name). Raises NoCredential / ArmFailure."""
    from aoai_diag.azure import snapshot

    # Discovery runs before the targets, under the same deadline as one target's run: the IMDS question, the token,
    # the subscription list and every Resource Graph page end by then (the session's transport cuts exchanges at
    # its deadline: aoai_diag/azure/bounded_http.py).
    ctx = ProbeContext(settings=settings, deadline=time.monotonic() + settings.run_deadline)
    if on_azure is None:
        from aoai_diag.net.imds import fetch_instance

        imds = fetch_instance(settings.imds_endpoint, ctx.op_timeout(cap=settings.imds_timeout), ctx.op_timeout())
        on_azure = imds.on_azure is True
    inv = snapshot.inventory(ctx, on_azure)
    suffix = settings.cloud_obj.suffixes[0]
    hosts = {
        f"{a.custom_subdomain.lower()}.{suffix}"
        for a in inv.accounts
        if a.custom_subdomain and (a.kind or "").lower() in OPENAI_KINDS
    }
    return sorted(hosts)
