"""Start-up cost: `aoai-diag --help` and `aoai-diag causes` against `python -c 'import click'`.

Target (issue 2): within 1.5x of importing click; neither command may import the Azure SDK.
Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    baseline = median_ms([py, "-c", "import click"], args.runs)
    rows = [
        ("python -c 'import click'", baseline),
        ("aoai-diag --help", median_ms([py, "-m", "aoai_diag", "--help"], args.runs)),
        ("aoai-diag causes", median_ms([py, "-m", "aoai_diag", "causes"], args.runs)),
        ("aoai-diag checks", median_ms([py, "-m", "aoai_diag", "checks"], args.runs)),
    ]
    probe = (
        "import sys\nfrom aoai_diag.cli import main\n"
        "for argv in (['--help'], ['causes'], ['checks']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('azure')}))"
    )
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout.strip().splitlines()
    print(f"{'command':<28} {'median ms':>10} {'x click':>8}")
    for name, ms in rows:
        print(f"{name:<28} {ms:>10.1f} {ms / baseline:>8.2f}")
    print(f"azure modules imported by --help/causes/checks: {loaded[-1]}")


if __name__ == "__main__":
    main()
