"""What every `arm_*` probe shares: the --no-azure switch, the IMDS facts, and error translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aoai_diag.azure.resources import ArmDenied
from aoai_diag.context import Settings
from aoai_diag.model import CheckResult, Outcome, Status


def disabled(settings: Settings) -> str | None:
    return None if settings.azure else "--no-azure"


def imds(deps: Mapping[str, CheckResult]) -> Mapping[str, Any]:
    """The azure_platform evidence, or {} when it did not run: every arm_* probe runs after it (`after=`)."""
    result = deps.get("azure_platform")
    return result.evidence if result else {}


def on_azure(deps: Mapping[str, CheckResult]) -> bool:
    return imds(deps).get("on_azure") is True


def on_app_host(deps: Mapping[str, CheckResult]) -> bool:
    """The run happens inside an app host (App Service, Container Apps, a pod, Azure ML): app_host named one."""
    host = deps.get("app_host")
    return host is not None and bool(host.evidence.get("kind"))


def vm(deps: Mapping[str, CheckResult]) -> Mapping[str, Any] | None:
    value = imds(deps).get("vm")
    return value if isinstance(value, Mapping) else None


def describe(denied: ArmDenied) -> str:
    status = f"HTTP {denied.status}" if denied.status else (denied.code or "error")
    return f"{denied.scope}: {status} {denied.message}".strip()


def guarded(run: Callable[[], Outcome]) -> Outcome:
    """Run a probe body; a missing credential becomes skip, an unreadable scope becomes error naming it."""
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.azure.credential import NoCredential

    try:
        return run()
    except NoCredential as exc:
        return Outcome(Status.SKIP, str(exc), {"error": str(exc)}, str(exc))
    except ArmFailure as exc:
        text = describe(exc.denied)
        return Outcome(Status.ERROR, f"could not read {text}", {"denied": [exc.denied.to_dict()]}, text)
