"""What every `arm_*` probe shares: the --no-azure switch, the IMDS facts, and error translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aoai_diag.context import Settings
from aoai_diag.evidence.azure import Denied
from aoai_diag.evidence.base import Evidence
from aoai_diag.evidence.host import AppHost
from aoai_diag.evidence.path import AzurePlatform, ImdsVm
from aoai_diag.model import CheckResult, Outcome, Status


def disabled(settings: Settings) -> str | None:
    return None if settings.azure else "--no-azure"


def imds(deps: Mapping[str, CheckResult]) -> AzurePlatform:
    """The azure_platform evidence, at its defaults when it did not run: every arm_* probe runs after it (`after=`)."""
    result = deps.get("azure_platform")
    return result.typed(AzurePlatform) if result is not None else AzurePlatform()


def on_azure(deps: Mapping[str, CheckResult]) -> bool:
    return imds(deps).on_azure is True


def on_app_host(deps: Mapping[str, CheckResult]) -> bool:
    """The run happens inside an app host (App Service, Container Apps, a pod, Azure ML): app_host named one."""
    host = deps.get("app_host")
    return host is not None and bool(host.typed(AppHost).kind)


def vm(deps: Mapping[str, CheckResult]) -> ImdsVm | None:
    return imds(deps).vm


def vm_id(deps: Mapping[str, CheckResult]) -> str | None:
    """This VM's resource id (IMDS), None off Azure or when IMDS did not give it."""
    found = vm(deps)
    return found.resource_id if found is not None and found.resource_id else None


def describe(denied: Denied) -> str:
    status = f"HTTP {denied.status}" if denied.status else (denied.code or "error")
    return f"{denied.scope}: {status} {denied.message}".strip()


def guarded(run: Callable[[], Outcome], failed: Callable[..., Evidence]) -> Outcome:
    """Run a probe body; a missing credential becomes skip, an unreadable scope becomes error naming it. `failed` is
    the probe's evidence type: it records the error (`error=`) or the scope that could not be read (`denied=`)."""
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.azure.credential import NoCredential

    try:
        return run()
    except NoCredential as exc:
        return Outcome(Status.SKIP, str(exc), failed(error=str(exc)), str(exc))
    except ArmFailure as exc:
        text = describe(exc.denied)
        return Outcome(Status.ERROR, f"could not read {text}", failed(denied=(exc.denied,)), text)
