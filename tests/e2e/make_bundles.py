"""Regenerate fixtures/bundles/ from real runs: `python -m tests.e2e.make_bundles [BUNDLE_NAME ...]` (root).

Each example bundle is what the installed CLI writes with `aoai-diag collect contoso -o bundle.json` inside the
network namespace of one end-to-end scenario (fixtures/scenarios/), built by the same harness as the e2e tier. No
test-only flag is passed: the machine looks like a jumpbox or a VPN laptop to the tool. A bundle is written only
when the run concluded what its scenario expects, holds nothing secret (the managed-identity token the IMDS
emulator issued inside the namespace is looked for explicitly) and names no path of the temporary directory the
run happened in. fixtures/bundles/expected.json is rewritten from the scenario files' expectations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.e2e import namespace, scenario
from tests.e2e.harness import Pki, ScenarioRun, server_env
from tests.e2e.scenario import REPO, Scenario

BUNDLES = REPO / "fixtures" / "bundles"

# bundle file -> the scenario whose run produces it (README's "try it without Azure" uses the first two).
BUNDLE_SCENARIOS: dict[str, str] = {
    "resolves-public.json": "dns_resolves_public_vpn",
    "healthy.json": "jumpbox_azure_dns_healthy",
    "hosts-workaround-vpn.json": "vpn_hosts_entry_healthy",
    "nxdomain-private-zone.json": "dns_record_missing_nxdomain",
    "zone-not-linked.json": "dns_zone_not_linked",
    "proxy-without-no-proxy.json": "edge_proxy_without_no_proxy",
    "tls-inspection.json": "edge_tls_inspection",
    "firewall-blocks-443.json": "edge_firewall_drop",
    "pe-pending.json": "svc_pe_pending",
}
VERDICT_EXIT = {"healthy": 0, "unhealthy": 1, "inconclusive": 3}
# Shapes a credential would have in text; the bundle must hold none of them.
SECRET_MARKERS = ("eyJ", "access_token", "Bearer ", "Authorization")

_FETCH_TOKEN = """
import urllib.request, json
req = urllib.request.Request(
    "http://{imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
    headers={{"Metadata": "true"}},
)
print(json.load(urllib.request.urlopen(req, timeout=5))["access_token"])
"""


class BundleRejected(Exception):
    """The run's bundle cannot serve as an example; the message says why."""


def expectation(sc: Scenario) -> dict[str, Any]:
    exp = sc.expect
    return {
        "scenario": sc.id,
        "verdict": exp.verdict,
        "exit_code": exp.exit_code if exp.exit_code is not None else VERDICT_EXIT[exp.verdict],
        "causes": [[cause] for cause in exp.causes],
        "also_allowed": list(exp.also_allowed),
    }


def mismatch(sc: Scenario, collected: dict[str, Any]) -> str | None:
    """None when the diagnosis recorded in the bundle is what the scenario expects."""
    verdict, causes = collected.get("verdict"), set(collected.get("causes") or ())
    problems = []
    if verdict != sc.expect.verdict:
        problems.append(f"verdict {verdict} != {sc.expect.verdict}")
    if missing := sorted(set(sc.expect.causes) - causes):
        problems.append(f"missing causes {missing}")
    if extra := sorted(causes - set(sc.expect.causes) - set(sc.expect.also_allowed)):
        problems.append(f"unexpected causes {extra}")
    return "; ".join(problems) or None


def issued_token(run: ScenarioRun) -> str | None:
    """A managed-identity token from the namespace's IMDS emulator, to prove the bundle holds none of its parts."""
    if not (run.scenario.azure or {}).get("vm"):
        return None
    code = _FETCH_TOKEN.format(imds=run.scenario.ip("imds"))
    proc = run.ns.run([sys.executable, "-c", code], env=server_env(), timeout=15)
    if proc.returncode != 0:
        raise BundleRejected(f"could not fetch a token from the IMDS emulator: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def secrets_in(text: str, token: str | None) -> list[str]:
    found = [marker for marker in SECRET_MARKERS if marker in text]
    if token:
        # The CLI's token differs from this one only in its expiry claim: header and signature are the same.
        header, signature = token.split(".")[0], token.split(".")[-1]
        found += [f"token part {part[:12]}..." for part in (token, header, "." + signature) if part in text]
    return found


def machine_paths_in(text: str, workdir: Path) -> list[str]:
    """Paths that exist only on the machine that made the bundle (the run's temporary directory, the checkout)."""
    return [str(p) for p in (workdir, REPO) if str(p) in text]


def make_one(sc: Scenario, pki: Pki, workdir: Path) -> dict[str, Any]:
    if sc.needs_nft and (reason := namespace.nft_reason()):
        raise BundleRejected(reason)
    run = ScenarioRun(sc, workdir, pki)
    bundle_path = workdir / "bundle.json"
    try:
        run.setup()
        proc = run.collect(bundle_path)
        token = issued_token(run)
    finally:
        run.close()
    if proc.returncode != 0 or not bundle_path.exists():
        raise BundleRejected(f"collect exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    text = bundle_path.read_text()
    if found := secrets_in(text, token):
        raise BundleRejected(f"the bundle holds secret material: {found}")
    if found := machine_paths_in(text, workdir):
        raise BundleRejected(f"the bundle names machine-specific paths: {found}")
    bundle: dict[str, Any] = json.loads(text)
    if problem := mismatch(sc, bundle["targets"][0]["collected"]):
        raise BundleRejected(f"the run did not conclude what the scenario expects: {problem}")
    return bundle


EXPECTED_DESCRIPTION = (
    "What each example bundle must analyse to. Bundles are real runs: `python -m tests.e2e.make_bundles` "
    "(root) runs `aoai-diag collect contoso` inside the named e2e scenario's namespace; verdict, causes and "
    "also_allowed are that scenario's expectation. causes: every inner list is satisfied when the diagnosis "
    "names one of its ids, or a cause that supersedes one of them in the catalogue (a more specific "
    "explanation), as a finding or as a candidate it cannot tell apart locally; any other cause named "
    "must be in also_allowed."
)


def write_expected(scenarios: dict[str, Scenario]) -> None:
    bundles = {name: expectation(scenarios[sid]) for name, sid in sorted(BUNDLE_SCENARIOS.items())}
    # One line per bundle, so a regenerated file diffs line by line.
    entries = ",\n".join(f"    {json.dumps(n)}: {json.dumps(e)}" for n, e in bundles.items())
    text = f'{{\n  "description": {json.dumps(EXPECTED_DESCRIPTION)},\n  "bundles": {{\n{entries}\n  }}\n}}\n'
    assert json.loads(text) == {"description": EXPECTED_DESCRIPTION, "bundles": bundles}
    (BUNDLES / "expected.json").write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help=f"bundles to regenerate (default: all of {sorted(BUNDLE_SCENARIOS)})")
    args = parser.parse_args(argv)
    if reason := namespace.unsupported_reason():
        print(f"make_bundles: {reason}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.names) - set(BUNDLE_SCENARIOS))
    if unknown:
        print(f"make_bundles: unknown bundle(s) {unknown}", file=sys.stderr)
        return 2
    scenarios = {s.id: s for s in scenario.load_all()}
    namespace.sweep_stale()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="aoai-bundles-") as tmp:
        pki = Pki(Path(tmp) / "pki")
        for name in args.names or sorted(BUNDLE_SCENARIOS):
            sc = scenarios[BUNDLE_SCENARIOS[name]]
            workdir = Path(tmp) / sc.id
            try:
                bundle = make_one(sc, pki, workdir)
            except (BundleRejected, namespace.NamespaceError, subprocess.SubprocessError, OSError) as exc:
                failures += 1
                print(f"{name}: NOT written ({sc.id}): {exc}", file=sys.stderr)
                continue
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            (BUNDLES / name).write_text(json.dumps(bundle, indent=2) + "\n")
            collected = bundle["targets"][0]["collected"]
            print(f"{name} <- {sc.id}: {collected['verdict']} {collected['causes']}")
    write_expected(scenarios)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
