"""Start-up cost: `aoai-diag --help` and `aoai-diag causes` against `python -c 'import click'`.

Target (issue 2): within 1.5x of importing click; neither command may import the Azure SDK.
Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def median_cpu_ms(cmd: list[str], runs: int) -> float:
    """CPU time (user + system) of the child: steadier than wall time on a machine shared with other work."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    commands = [
        ("python -c 'import click'", [py, "-c", "import click"]),
        ("aoai-diag --help", [py, "-m", "aoai_diag", "--help"]),
        ("aoai-diag causes", [py, "-m", "aoai_diag", "causes"]),
        ("aoai-diag checks", [py, "-m", "aoai_diag", "checks"]),
    ]
    rows = [(name, median_ms(cmd, args.runs), median_cpu_ms(cmd, args.runs)) for name, cmd in commands]
    baseline, baseline_cpu = rows[0][1], rows[0][2]
    probe = (
        "import sys\nfrom aoai_diag.cli import main\n"
        "for argv in (['--help'], ['causes'], ['checks']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('azure')}))"
    )
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout.strip().splitlines()
    print(f"{'command':<28} {'median ms':>10} {'x click':>8} {'CPU ms':>8} {'x click':>8}")
    for name, ms, cpu in rows:
        print(f"{name:<28} {ms:>10.1f} {ms / baseline:>8.2f} {cpu:>8.1f} {cpu / baseline_cpu:>8.2f}")
    print(f"azure modules imported by --help/causes/checks: {loaded[-1]}")


if __name__ == "__main__":
    main()
