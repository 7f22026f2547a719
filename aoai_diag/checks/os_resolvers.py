"""The DNS server(s) the OS itself sends each of the account's names to, the rule that chose them, and their answer.

dns_nameservers asks the servers a resolv.conf / registry list shows; VPN clients steer names elsewhere: the
Windows NRPT (the Azure VPN Client's DNS servers do not appear in `ipconfig /all`:
https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations), macOS scoped resolvers,
systemd-resolved link domains behind the 127.0.0.53 stub (aoai_diag/osnet/resolvers.py). This probe asks the
server the OS would pick, and compares with getaddrinfo (system_resolution), the application's view.

Evidence: `OsResolvers` (aoai_diag/evidence/osnet.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from aoai_diag.blocking import in_thread
from aoai_diag.checks.base import Probe, error
from aoai_diag.checks.dns_nameservers import answer_verdict
from aoai_diag.context import Endpoint, ProbeContext, Settings, parse_endpoint
from aoai_diag.evidence.answers import classify_system
from aoai_diag.evidence.dns import ResolverConfig, SystemResolution
from aoai_diag.evidence.osnet import NameChoice, OsResolvers
from aoai_diag.model import CheckResult, Outcome, Status
from aoai_diag.net.dnsquery import format_endpoint, query_many
from aoai_diag.osnet import commands, resolvers
from aoai_diag.osnet.dnsconfig import OsDnsConfig
from aoai_diag.targets import Target

# Reading the OS configuration gets its own small budget: PowerShell's start-up alone takes about a second.
READ_TIMEOUT_CAP = 3.0


def _endpoints(servers: Sequence[str]) -> list[Endpoint]:
    found = []
    for text in servers:
        try:
            found.append(parse_endpoint(text))
        except ValueError:
            continue  # a scoped resolver may list a link-local address with a zone; it cannot be asked from here
    return found


def _app_view(resolution: CheckResult | None, name: str) -> str:
    if resolution is None:
        return "unknown"
    result = resolution.typed(SystemResolution).results.get(name)
    if result is None:
        return "unknown"
    if result.error or not result.addresses:
        return "error"
    return classify_system(result).value


def _combine(verdicts: list[str]) -> str:
    if not verdicts:
        return "none"
    return verdicts[0] if len(set(verdicts)) == 1 else "disagree"


async def run(target: Target, ctx: ProbeContext, deps: Mapping[str, CheckResult]) -> Outcome:
    config_check = deps.get("resolver_config")
    nameservers = list(config_check.typed(ResolverConfig).nameservers) if config_check is not None else []
    platform = commands.platform()
    timeout = ctx.op_timeout(READ_TIMEOUT_CAP)
    config: OsDnsConfig = await ctx.once_async(
        "os_resolvers", lambda: in_thread(resolvers.read, platform, timeout, nameservers)
    )  # commands (resolvectl, scutil, PowerShell): in the executor
    splits = tuple(resolvers.split_rules(config))
    choices: dict[str, NameChoice] = {}
    wanted: set[tuple[Endpoint, str]] = set()
    for name in target.names:
        choice = resolvers.choose(config, name, nameservers)
        usable = _endpoints(choice.servers)
        choices[name] = dataclasses.replace(choice, servers=tuple(format_endpoint(e) for e in usable))
        wanted |= {(e, name) for e in usable}
    split_servers = list(dict.fromkeys(e for rule in splits for e in _endpoints(rule.servers)))
    uncovered_names = [n for n, c in choices.items() if c.kind == "default" and split_servers]
    wanted |= {(server, name) for server in split_servers for name in uncovered_names}
    errors = config.errors
    if not wanted:
        reason = "; ".join(errors) or "the OS lists no DNS server for these names"
        found = OsResolvers(platform=platform, source=config.source, errors=errors, split_rules=splits)
        return error(f"no DNS server to ask: {reason}", reason, found)
    answers = await query_many(sorted(wanted), ctx.op_timeout())
    resolution = deps.get("system_resolution")
    names: dict[str, NameChoice] = {}
    for name, choice in choices.items():
        got = {s: answers[(parse_endpoint(s), name)] for s in choice.servers}
        verdict = _combine([answer_verdict(a) for a in got.values()])
        app = _app_view(resolution, name)
        private_os, private_app = verdict == "private", app == "private"
        disagree = app not in ("unknown",) and verdict not in ("none", "disagree") and private_os != private_app
        names[name] = dataclasses.replace(choice, answers=got, verdict=verdict, app=app, disagree=disagree)
    uncovered = {name: {format_endpoint(s): answers[(s, name)] for s in split_servers} for name in uncovered_names}
    evidence = OsResolvers(
        platform=platform,
        source=config.source,
        errors=errors,
        split_rules=splits,
        names=names,
        uncovered=uncovered,
    )
    primary = names[target.host]
    line = f"{target.host}: {primary.why} -> {', '.join(primary.servers) or 'none'} ({primary.verdict})"
    if errors:
        # The per-name rules could not be read: which server the OS really asks is not known.
        reason = "; ".join(errors)
        return Outcome(Status.ERROR, f"OS DNS rules unreadable ({reason}); {line}", evidence, reason)
    if not primary.servers:
        reason = f"the OS lists no DNS server it would ask for {target.host}"
        return Outcome(Status.ERROR, f"{line}: {reason}", evidence, reason)
    if any(n.disagree for n in names.values()):
        which = ", ".join(f"{n}: OS DNS {v.verdict}, application {v.app}" for n, v in names.items() if v.disagree)
        return Outcome(Status.WARN, f"{line}; getaddrinfo disagrees ({which})", evidence, "resolver views disagree")
    if primary.verdict == "private":
        return Outcome(Status.PASS, line, evidence)
    return Outcome(Status.FAIL, line, evidence, f"the OS's DNS server answers {primary.verdict}")


def _disabled(settings: Settings) -> str | None:
    return "--resolver replaces the system's DNS servers" if settings.resolvers else None


PROBE = Probe(
    id="os_resolvers",
    title="DNS servers the OS picks per name (NRPT, scoped resolvers, resolved links)",
    evidence=OsResolvers,
    stage=0,
    run=run,
    after=("resolver_config", "system_resolution"),
    disabled=_disabled,
)
