"""Command line. Only click is imported at start-up: `--help` and `causes` must not load the Azure SDK."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from aoai_diag import __version__


def _fail(message: str, status: str = "USAGE") -> NoReturn:
    """Give up with one line on stderr; run() prints it and exits with the status's code (exit_status.py)."""
    from aoai_diag.exit_status import ExitStatus, Failure

    raise Failure(message, ExitStatus[status])


def _shown(value: str) -> str:
    """An option value quoted in an error message, without any credential it holds."""
    from aoai_diag.redact import redact_text

    return repr(redact_text(value))


def _endpoints(values: tuple[str, ...], option: str) -> tuple[tuple[str, int], ...]:
    from aoai_diag.context import parse_endpoint

    out = []
    for value in values:
        try:
            out.append(parse_endpoint(value))
        except ValueError:
            raise click.BadParameter(f"{_shown(value)} is not IP[:PORT]", param_hint=option) from None
    return tuple(out)


class FiniteFloatRange(click.FloatRange):
    """FloatRange that also refuses nan (which compares false with both bounds) and infinities."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def _url_option(schemes: tuple[str, ...], bare_host: bool = False) -> Any:
    """A click callback validating an endpoint option at parse time (scheme, host, no credentials)."""

    def validate(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from aoai_diag.context import check_url_endpoint

        try:
            return check_url_endpoint(value, schemes, bare_host=bare_host)
        except ValueError as exc:
            raise click.BadParameter(f"{_shown(value)} {exc}") from None

    return validate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aoai-diag")
def main() -> None:
    """Does this machine reach an Azure OpenAI account over its private endpoint? If not, why.

    \b
    Exit codes: 0 healthy, 1 unhealthy, 2 usage error, 3 inconclusive, 4 internal error,
    5 output could not be written, 130 interrupted, 141 stdout closed by its reader.
    Secrets (proxy passwords, credentials, keys, tokens) are redacted from every output.
    """


def check_options(func: Any) -> Any:
    """Options shared by `check`, `collect` and `serve`."""
    options = [
        click.option(
            "--cloud",
            type=click.Choice(["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]),
            default="AzureCloud",
            show_default=True,
            help="Host suffixes, privatelink zones, ARM endpoint.",
        ),
        click.option(
            "--timeout",
            type=FiniteFloatRange(0.1, 120),
            default=5.0,
            show_default=True,
            help="Seconds allowed for one network operation.",
        ),
        click.option(
            "--deadline",
            type=FiniteFloatRange(0.2, 600),
            default=None,
            help="Seconds allowed for each target's run [default: 2 x --timeout].",
        ),
        click.option(
            "--port", type=click.IntRange(1, 65535), default=443, show_default=True, help="Port for TCP, TLS and HTTPS."
        ),
        click.option("--hosts-file", type=str, default=None, help="Hosts file to read [default: the OS hosts file]."),
        click.option(
            "--resolver",
            "resolvers",
            multiple=True,
            metavar="IP[:PORT]",
            help="Nameserver to query instead of the system list (repeatable).",
        ),
        click.option(
            "--public-resolver",
            "public_resolvers",
            multiple=True,
            metavar="IP[:PORT]",
            help="Public resolver to compare with [default: 1.1.1.1, then 8.8.8.8] (repeatable).",
        ),
        click.option("--no-public-dns", is_flag=True, help="Do not query public resolvers."),
        click.option(
            "--azure-dns",
            metavar="IP[:PORT]",
            default=None,
            envvar="AOAI_DIAG_AZURE_DNS",
            help="Azure-provided DNS to query on Azure VMs [default: 168.63.129.16].",
        ),
        click.option(
            "--imds-endpoint",
            metavar="URL",
            default=None,
            envvar="AOAI_DIAG_IMDS_ENDPOINT",
            callback=_url_option(("http",)),
            help="Instance metadata endpoint [default: http://169.254.169.254].",
        ),
        click.option("--api-version", default=None, help="Data-plane api-version for the key-less probe."),
        click.option("--no-azure", is_flag=True, help="Skip the Azure Resource Manager layer."),
        click.option(
            "--subscription",
            "subscriptions",
            multiple=True,
            metavar="ID",
            help="Limit the Azure search to these subscriptions (repeatable).",
        ),
        click.option(
            "--vnet",
            "vnet_id",
            metavar="RESOURCE_ID",
            default=None,
            help="Off Azure: the VNet whose DNS this machine uses (e.g. a VPN gateway VNet).",
        ),
        click.option(
            "--arm-endpoint",
            metavar="URL",
            default=None,
            envvar="AOAI_DIAG_ARM_ENDPOINT",
            callback=_url_option(("https", "http")),
            help="Resource Manager endpoint [default: the cloud's].",
        ),
        click.option(
            "--authority-host",
            metavar="HOST",
            default=None,
            envvar="AOAI_DIAG_AUTHORITY_HOST",
            callback=_url_option(("https", "http"), bare_host=True),
            help="Entra ID authority [default: the cloud's].",
        ),
        click.option(
            "--source-ip",
            "source_ip",
            metavar="IP",
            default=None,
            callback=_ip_option,
            help="Off Azure: the address the private endpoint sees (VPN pool / on-premises); its subnet's NSG is checked.",
        ),
        click.option(
            "--vpn-profile",
            "vpn_profile",
            metavar="PATH",
            default=None,
            help="The P2S VPN profile: azurevpnconfig.xml, VpnSettings.xml, or the downloaded zip or its folder.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_settings(**opts: Any) -> Any:
    """Settings from the shared check options (raises click.BadParameter on bad values)."""
    from aoai_diag.context import DEFAULT_DATA_PLANE_API_VERSION, DEFAULT_IMDS_ENDPOINT, Settings

    kwargs: dict[str, Any] = {
        "timeout": opts["timeout"],
        "deadline": opts["deadline"],
        "cloud": opts["cloud"],
        "port": opts["port"],
        "hosts_file": opts["hosts_file"],
        "resolvers": _endpoints(opts["resolvers"], "--resolver"),
        "public_dns": not opts["no_public_dns"],
        "imds_endpoint": (opts["imds_endpoint"] or DEFAULT_IMDS_ENDPOINT).rstrip("/"),
        "data_plane_api_version": opts["api_version"] or DEFAULT_DATA_PLANE_API_VERSION,
        "azure": not opts["no_azure"],
        "subscriptions": tuple(opts["subscriptions"]),
        "vnet_id": opts["vnet_id"],
        "arm_endpoint": opts["arm_endpoint"],
        "authority_host": opts["authority_host"],
        "vpn_profile": _vpn_profile(opts.get("vpn_profile"), opts["deadline"] or 2 * opts["timeout"]),
        "source_ip": opts.get("source_ip"),
    }
    if opts["public_resolvers"]:
        kwargs["public_resolvers"] = _endpoints(opts["public_resolvers"], "--public-resolver")
    if opts["azure_dns"]:
        kwargs["azure_dns"] = _endpoints((opts["azure_dns"],), "--azure-dns")[0]
    return Settings(**kwargs)


def _ip_option(ctx: Any, param: Any, value: str | None) -> str | None:
    """An IP address (v4 or v6), normalised; anything else is a usage error naming the option."""
    if value is None:
        return None
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address") from None


def _vpn_profile(path: str | None, seconds: float) -> str | None:
    """The profile path, once it has been read and parsed (a bad file is a usage error, not a failed check).

    Read within `seconds` (the run's deadline): a FIFO nobody writes to, or a stalled network share, must not hold
    the run before it starts. The read itself is capped (aoai_diag/osnet/vpnprofile.py).
    """
    if path is None:
        return None
    from aoai_diag.osnet.vpnprofile import VpnProfileError, load_profile

    try:
        within_deadline(load_profile, seconds, path)
    except VpnProfileError as exc:
        raise click.BadParameter(str(exc), param_hint="--vpn-profile") from None
    except TimeoutError:
        raise click.BadParameter(
            f"{_shown(path)} could not be read within {seconds:g} s", param_hint="--vpn-profile"
        ) from None
    return path


def within_deadline(fn: Any, seconds: float, *args: Any) -> Any:
    """`fn(*args)` in the process's worker pool, waited for on the process's one loop at most `seconds` (then
    TimeoutError; the call is left to finish on its own, the process leaves through os._exit)."""
    from aoai_diag.blocking import run_sync

    return run_sync(fn, seconds, *args)


def parse_targets(values: tuple[str, ...], cloud: str) -> list[Any]:
    from aoai_diag.targets import TargetError, parse_target

    targets = []
    for value in values:
        try:
            targets.append(parse_target(value, cloud))
        except TargetError as exc:
            raise click.UsageError(str(exc)) from None
    return targets


OUTPUTS = ["table", "json", "prometheus", "nagios"]


def render_report(report: Any, output: str, duration_s: float | None = None) -> str:
    """Text for `report` in one of OUTPUTS (shared by check and analyze), every secret redacted."""
    from aoai_diag.redact import redact_report

    report = redact_report(report)
    if output == "json":
        from aoai_diag.render.json_report import render_json

        return str(render_json(report))
    if output == "prometheus":
        from aoai_diag.render.prometheus import render_prometheus

        return render_prometheus(report, duration_s=duration_s)
    if output == "nagios":
        from aoai_diag.render.nagios import render_nagios

        return render_nagios(report)
    from aoai_diag.render.table import render_table, want_colour

    return str(render_table(report, colour=want_colour(sys.stdout, os.environ)))


def report_exit_code(report: Any, output: str) -> int:
    """verdict.exit_code, or the Nagios plugin state when the output is for Nagios/Icinga."""
    from aoai_diag.verdict import exit_code, nagios_code

    return int(nagios_code(report) if output == "nagios" else exit_code(report))


def account_targets(settings: Any, cloud: str) -> list[Any]:
    """Every account the credential can see (--all-accounts), from the Azure layer."""
    if not settings.azure:
        raise click.UsageError("--all-accounts needs the Azure layer; drop --no-azure")
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.azure.credential import NoCredential
    from aoai_diag.azure.discovery import list_accounts
    from aoai_diag.context import DeadlineExceeded
    from aoai_diag.errors import first_line
    from aoai_diag.targets import TargetError, parse_target

    try:
        # The session's transport ends every exchange by the deadline; the wait here is the backstop for what it
        # does not carry (the Azure CLI credential's subprocess), with a second for the session to report first.
        hosts = within_deadline(list_accounts, settings.run_deadline + 1.0, settings)
    except (NoCredential, ArmFailure) as exc:
        raise click.UsageError(
            f"--all-accounts: cannot list the accounts: {first_line(str(exc)) or type(exc).__name__}"
        ) from None
    except (DeadlineExceeded, TimeoutError):
        raise click.UsageError(
            f"--all-accounts: cannot list the accounts: not done within the deadline ({settings.run_deadline:g} s)"
        ) from None
    targets = []
    for host in hosts:
        try:
            targets.append(parse_target(host, cloud))
        except TargetError as exc:
            click.echo(f"aoai-diag: skipping account {host}: {exc}", err=True)
    if not targets:
        raise click.UsageError("--all-accounts: the credential sees no Azure OpenAI / AI Services account")
    return targets


def _targets_for_run(targets: tuple[str, ...], all_accounts: bool, settings: Any, cloud: str) -> list[Any]:
    if not targets and not all_accounts:
        raise click.UsageError("give at least one TARGET, or --all-accounts")
    parsed = parse_targets(targets, cloud)
    if all_accounts:
        seen = {t.host for t in parsed}
        parsed += [t for t in account_targets(settings, cloud) if t.host not in seen]
    return parsed


def fleet_options(func: Any) -> Any:
    """Options for runs over several targets (`check`, `collect`)."""
    func = click.option(
        "--max-parallel",
        type=click.IntRange(1, 256),
        default=50,  # runner.DEFAULT_MAX_PARALLEL_TARGETS (not imported: `--help` stays light)
        show_default=True,
        help="Targets checked at the same time (each with its own deadline; fewer if the open-file limit, raised "
        "first, has no room for about 24 sockets each).",
    )(func)
    return click.option(
        "--all-accounts", is_flag=True, help="Also check every Azure OpenAI / AI Services account the credential sees."
    )(func)


def host_options(func: Any) -> Any:
    """`--from` and `-g` (`check`, `collect`): diagnose an app host's path from Resource Manager."""
    func = click.option(
        "-g",
        "--resource-group",
        "from_group",
        metavar="RG",
        default=None,
        help="With --from: the resource group of the host (when its name is not unique).",
    )(func)
    return click.option(
        "--from",
        "from_host",
        metavar="KIND:NAME|ID",
        default=None,
        help="Diagnose the path of an app host instead of this machine's, read from Resource Manager: "
        "webapp:NAME, functionapp:NAME, containerapp:NAME, aks:NAME, or a resource id (docs/from-outside.md).",
    )(func)


def with_host(settings: Any, from_host: str | None, from_group: str | None) -> Any:
    """Settings for `--from`: the host found in Resource Manager before the run (one line on stderr and exit 2 when
    the name is ambiguous or names nothing)."""
    if from_host is None:
        if from_group is not None:
            raise click.UsageError("-g/--resource-group goes with --from")
        return settings
    if not settings.azure:
        raise click.UsageError("--from reads the host from Resource Manager; drop --no-azure")
    import dataclasses

    from aoai_diag.azure.app_hosts import HostRefError, parse_ref, resolve
    from aoai_diag.azure.arm_clients import ArmFailure
    from aoai_diag.azure.credential import NoCredential
    from aoai_diag.errors import first_line

    try:
        parse_ref(from_host, from_group)
        found = within_deadline(resolve, settings.run_deadline + 1.0, settings, from_host, from_group)
    except HostRefError as exc:
        raise click.UsageError(str(exc)) from None
    except (NoCredential, ArmFailure, TimeoutError) as exc:
        # The run reports what could not be read (the host's path is then unknown, never healthy).
        click.echo(f"aoai-diag: --from: cannot search Resource Manager: {first_line(str(exc))}", err=True)
        found = from_host
    return dataclasses.replace(settings, from_host=found, from_resource_group=from_group)


@main.command()
@click.argument("targets", nargs=-1)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@fleet_options
@host_options
@check_options
def check(
    targets: tuple[str, ...],
    output: str,
    all_accounts: bool,
    max_parallel: int,
    from_host: str | None,
    from_group: str | None,
    **opts: Any,
) -> None:
    """Check TARGETS: account names (contoso), host names or https:// URLs.

    \b
    -o nagios exits with plugin states: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    """
    import time

    settings = build_settings(**opts)
    parsed = _targets_for_run(targets, all_accounts, settings, opts["cloud"])
    settings = with_host(settings, from_host, from_group)
    from aoai_diag.runner import run_check

    if output in ("table", "json"):
        via = f" from {settings.from_host} (read from Resource Manager)" if settings.from_host else ""
        click.echo(f"aoai-diag: checking {', '.join(t.host for t in parsed)}{via} ...", err=True)
    started = time.monotonic()
    report = run_check(parsed, settings, max_parallel=max_parallel)
    click.echo(render_report(report, output, duration_s=time.monotonic() - started), nl=False)
    sys.exit(report_exit_code(report, output))


@main.command()
@click.argument("targets", nargs=-1)
@click.option("-o", "--output", "path", required=True, metavar="FILE", help="Bundle file to write ('-' for stdout).")
@fleet_options
@host_options
@check_options
def collect(
    targets: tuple[str, ...],
    path: str,
    all_accounts: bool,
    max_parallel: int,
    from_host: str | None,
    from_group: str | None,
    **opts: Any,
) -> None:
    """Check TARGETS and save all evidence to an evidence bundle (no secrets) for `analyze` elsewhere.

    \b
    FILE is a regular file (replaced atomically) or '-'; devices, FIFOs and folders are refused before the run.

    \b
    Exit codes: 0 bundle written (whatever the verdict), 2 usage error or a refused FILE,
    5 the bundle could not be written.
    """
    from aoai_diag.bundle import BundleDestinationError, check_destination

    try:
        # Say so before the run, not after it: the evidence would be lost.
        destination = check_destination(path)
    except BundleDestinationError as exc:
        _fail(str(exc))
    settings = build_settings(**opts)
    parsed = _targets_for_run(targets, all_accounts, settings, opts["cloud"])
    settings = with_host(settings, from_host, from_group)
    from aoai_diag.bundle import make_bundle, write_bundle
    from aoai_diag.runner import run_check

    click.echo(f"aoai-diag: collecting evidence for {', '.join(t.host for t in parsed)} ...", err=True)
    report = run_check(parsed, settings, max_parallel=max_parallel)
    try:
        write_bundle(make_bundle(report, settings), destination)
    except BundleDestinationError as exc:
        _fail(str(exc), "OUTPUT_FAILED")
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror or exc}", "OUTPUT_FAILED")
    for target in report.targets:
        causes = ", ".join(f.cause_id for f in target.findings) or "no cause named"
        click.echo(f"aoai-diag: {target.target.get('host')}: {target.verdict.value} ({causes})", err=True)
    if path != "-":
        click.echo(f"aoai-diag: wrote {path}; analyse it anywhere with: aoai-diag analyze {path}", err=True)


@main.command()
@click.argument("bundle_path", metavar="BUNDLE")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
def analyze(bundle_path: str, output: str) -> None:
    """Diagnose a saved evidence BUNDLE (from `collect`; '-' reads stdin) as if it had just been collected here.

    Same renderers and exit codes as `check`; a bundle from a newer major version is refused (exit 2).
    """
    from aoai_diag.bundle import BundleError, differences, load_bundle
    from aoai_diag.bundle import analyze as analyze_bundle

    try:
        bundle = load_bundle(bundle_path)
        report = analyze_bundle(bundle)
    except BundleError as exc:
        _fail(str(exc))
    if output in ("table", "json"):
        hosts = ", ".join(str(t.target.get("host")) for t in bundle.targets)
        click.echo(
            f"aoai-diag: analysing evidence for {hosts} collected {bundle.created_at} "
            f"by aoai-diag {bundle.tool_version}",
            err=True,
        )
    for line in differences(bundle, report):
        click.echo(f"aoai-diag: note: {line}", err=True)
    click.echo(render_report(report, output), nl=False)
    sys.exit(report_exit_code(report, output))


@main.command()
@click.option(
    "--listen",
    default="127.0.0.1:9877",
    show_default=True,
    metavar="IP:PORT",
    help="Address to listen on (loopback by default; port 0 picks a free one).",
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Checks running at once; more /probe requests are answered 503.",
)
@click.option(
    "--timeout-offset",
    type=click.FloatRange(0, 10),
    default=0.5,
    show_default=True,
    help="Seconds subtracted from X-Prometheus-Scrape-Timeout-Seconds for the check's deadline.",
)
@click.option(
    "--read-timeout",
    type=FiniteFloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    help="Seconds a client may take to send its request; a slower one is disconnected.",
)
@click.option("--log-requests", is_flag=True, help="Log one line per request to stderr (credentials redacted).")
@check_options
def serve(
    listen: str, max_concurrent: int, timeout_offset: float, read_timeout: float, log_requests: bool, **opts: Any
) -> None:
    """Run as a Prometheus exporter: GET /probe?target=NAME runs a check, GET /metrics the exporter's own."""
    from aoai_diag.exporter import parse_listen

    settings = build_settings(**opts)
    try:
        address = parse_listen(listen)
    except ValueError:
        raise click.BadParameter(f"{_shown(listen)} is not IP[:PORT]", param_hint="--listen") from None
    from aoai_diag.exporter import ExporterConfig
    from aoai_diag.exporter import serve as run_server

    config = ExporterConfig(
        settings=settings,
        max_concurrent=max_concurrent,
        timeout_offset=timeout_offset,
        log=log_requests,
        read_timeout=read_timeout,
    )
    try:
        run_server(address, config)
    except OSError as exc:
        _fail(f"cannot listen on {listen}: {exc.strerror or exc}")


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def causes(output: str) -> None:
    """List the cause catalogue."""
    from aoai_diag import catalogue

    entries = list(catalogue.load().values())
    if output == "json":
        import json

        data = [
            {
                "id": c.id,
                "family": c.family,
                "documented_cause": c.documented_cause,
                "severity": c.severity.value,
                "title": c.title,
                "explanation": c.explanation,
                "remediation": c.remediation,
                "remediation_variants": dict(c.remediation_variants),
                "docs": list(c.docs),
                "premises": list(c.premises),
                "generic": c.generic,
                "supersedes": list(c.supersedes),
                "excludes": list(c.excludes),
                "consequence_of": list(c.consequence_of),
            }
            for c in entries
        ]
        click.echo(json.dumps({"causes": data}, indent=2))
        return
    from aoai_diag.render.columns import columns

    rows = [[c.id, c.family, c.documented_cause or "-", c.severity.value, c.title] for c in entries]
    click.echo(columns(rows, headers=["id", "family", "documented cause", "severity", "title"]))


@main.command("checks")
def list_checks() -> None:
    """List the probes, in the order they are reported."""
    from aoai_diag.checks import REGISTRY  # metadata only: no probe module is imported
    from aoai_diag.render.columns import columns

    rows = [[p.id, p.layer, ", ".join(p.requires) or "-", p.title] for p in REGISTRY]
    click.echo(columns(rows, headers=["id", "layer", "requires", "what it observes"]))


def _nagios_requested(argv: list[str]) -> bool:
    """`-o nagios` on the command line (read before click parses it: a usage error must still be UNKNOWN)."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv) and argv[i + 1] == "nagios":
            return True
        if arg in ("-onagios", "--output=nagios"):
            return True
    return False


def run() -> None:
    """Entry point: every way a run can end is one line at most on stderr and a code from exit_status.py."""
    from aoai_diag import output, redact
    from aoai_diag.exit_status import ExitStatus, Failure, OutputWriteFailed, for_output, status_for

    argv = sys.argv[1:]
    redact.learn(os.environ, argv)
    out, err = output.install()
    nagios = _nagios_requested(argv)
    try:
        try:
            result = main(args=argv, prog_name="aoai-diag", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        # Flush here, not at interpreter exit: a failure must be reported with its own code.
        out.flush()
        err.flush()
    except OutputWriteFailed as exc:
        # The reader is gone or the disk is full: nothing more can reach stdout, and no verdict was delivered.
        out.abandon()
        if not exc.pipe_closed and exc.stream == "stdout":
            _say(err, f"aoai-diag: {exc}")
        _exit(for_output(status_for(exc), nagios), out, err)
    except (KeyboardInterrupt, click.Abort) as exc:
        status = status_for(exc)
        _say(err, "aoai-diag: interrupted" if status is ExitStatus.INTERRUPTED else "aoai-diag: aborted")
        _exit(for_output(status, nagios), out, err, now=True)
    except Failure as exc:
        _say(err, f"aoai-diag: {exc}")
        _exit(for_output(exc.status, nagios), out, err)
    except click.UsageError as exc:
        message = exc.format_message()
        if "\n" in message:  # no command given: click's message is the help text itself
            _say(err, message)
        else:
            # One line, not click's three (usage, hint, error): bad input gets a clear one-line error, exit 2.
            command = exc.ctx.command_path if exc.ctx is not None else "aoai-diag"
            _say(err, f"{command}: error: {message} (see {command} --help)")
        _exit(for_output(status_for(exc), nagios), out, err)
    except click.ClickException as exc:
        _say(err, f"aoai-diag: error: {exc.format_message()}")
        _exit(for_output(status_for(exc), nagios), out, err)
    except Exception as exc:  # last resort; AOAI_DIAG_DEBUG=1 shows the traceback
        if os.environ.get("AOAI_DIAG_DEBUG"):
            raise
        from aoai_diag.errors import one_line

        _say(err, f"aoai-diag: internal error: {one_line(exc)}")
        _exit(for_output(ExitStatus.INTERNAL, nagios), out, err)
    _exit(code, out, err)


def _say(err: Any, line: str) -> None:
    """One line on stderr; if stderr itself is gone there is nobody left to tell."""
    from aoai_diag.exit_status import OutputWriteFailed

    try:
        err.write(line.rstrip("\n") + "\n")
        err.flush()
    except OutputWriteFailed:
        err.abandon()


def _exit(code: int, out: Any, err: Any, now: bool = False) -> NoReturn:
    """Exit with `code` once both streams are flushed (or abandoned). `now` (after Ctrl-C) skips the interpreter's
    shutdown, which would wait for probe threads still blocked in a network call until their timeout."""
    from aoai_diag.exit_status import OutputWriteFailed

    for stream in (out, err):
        try:
            stream.flush()
        except OutputWriteFailed:
            stream.abandon()
    if now:
        os._exit(code)
    sys.exit(code)


def console() -> NoReturn:
    """The installed `aoai-diag` command (and `python -m aoai_diag`): `run`, then leave without the interpreter's
    shutdown once `run` has flushed the output.

    That shutdown does nothing this process needs (files are closed where they are written; nothing registers an
    exit handler), but after a run that loaded the Azure SDK it spent ~0.16 s of CPU tearing modules down
    (strace: no system call in between), enough to take a blackholed run past its timeout + 0.5 s. `run` itself
    ends with SystemExit, so that tests can call it in-process.
    """
    try:
        run()
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1))
    os._exit(0)
