"""Command line. Only click is imported at start-up: `--help` and `causes` must not load the Azure SDK."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from aoai_diag import __version__

EXIT_USAGE = 2
EXIT_INTERNAL = 4


def _endpoints(values: tuple[str, ...], option: str) -> tuple[tuple[str, int], ...]:
    from aoai_diag.context import parse_endpoint

    out = []
    for value in values:
        try:
            out.append(parse_endpoint(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not IP[:PORT]", param_hint=option) from None
    return tuple(out)


def _want_colour(stream: Any) -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aoai-diag")
def main() -> None:
    """Does this machine reach an Azure OpenAI account over its private endpoint? If not, why.

    \b
    Exit codes: 0 healthy, 1 unhealthy, 2 usage error, 3 inconclusive, 4 internal error.
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
            type=click.FloatRange(0.1, 120),
            default=5.0,
            show_default=True,
            help="Seconds allowed for one network operation.",
        ),
        click.option(
            "--deadline",
            type=click.FloatRange(0.2, 600),
            default=None,
            help="Seconds allowed for the whole run [default: 2 x --timeout].",
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
            help="Resource Manager endpoint [default: the cloud's].",
        ),
        click.option(
            "--authority-host",
            metavar="HOST",
            default=None,
            envvar="AOAI_DIAG_AUTHORITY_HOST",
            help="Entra ID authority [default: the cloud's].",
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
    }
    if opts["public_resolvers"]:
        kwargs["public_resolvers"] = _endpoints(opts["public_resolvers"], "--public-resolver")
    if opts["azure_dns"]:
        kwargs["azure_dns"] = _endpoints((opts["azure_dns"],), "--azure-dns")[0]
    return Settings(**kwargs)


def parse_targets(values: tuple[str, ...], cloud: str) -> list[Any]:
    from aoai_diag.targets import TargetError, parse_target

    targets = []
    for value in values:
        try:
            targets.append(parse_target(value, cloud))
        except TargetError as exc:
            raise click.UsageError(str(exc)) from None
    return targets


@main.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@check_options
def check(targets: tuple[str, ...], output: str, **opts: Any) -> None:
    """Check TARGETS: account names (contoso), host names or https:// URLs."""
    settings = build_settings(**opts)
    parsed = parse_targets(targets, opts["cloud"])
    from aoai_diag.runner import run_check
    from aoai_diag.verdict import exit_code

    click.echo(f"aoai-diag: checking {', '.join(t.host for t in parsed)} ...", err=True)
    report = run_check(parsed, settings)
    if output == "json":
        from aoai_diag.render.json_report import render_json

        click.echo(render_json(report), nl=False)
    else:
        from aoai_diag.render.table import render_table

        click.echo(render_table(report, colour=_want_colour(sys.stdout)), nl=False)
    sys.exit(exit_code(report))


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
                "docs": list(c.docs),
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
    from aoai_diag.checks import PROBES
    from aoai_diag.render.columns import columns

    rows = [[p.id, p.layer, ", ".join(p.requires) or "-", p.title] for p in PROBES]
    click.echo(columns(rows, headers=["id", "layer", "requires", "what it observes"]))


def run() -> None:
    """Entry point wrapper: an unexpected exception is exit 4 with one line, never a traceback."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("aoai-diag: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # last resort; AOAI_DIAG_DEBUG=1 shows the traceback
        if os.environ.get("AOAI_DIAG_DEBUG"):
            raise
        click.echo(f"aoai-diag: internal error: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
        sys.exit(EXIT_INTERNAL)
