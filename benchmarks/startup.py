"""Start-up time of the CLI: `promptctl --help`, `--version` and `render` on the example project.

Prints best and median wall time over repeated runs (the budget in DESIGN.md:
`promptctl --help` under 250 ms on a 2-core machine).

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(cmd: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "promptctl"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        subprocess.run(exe + ["init", str(root)], check=True, capture_output=True)
        rows = [
            ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"]),
            ("promptctl --help", exe + ["--help"]),
            ("promptctl --version", exe + ["--version"]),
            ("promptctl render support/reply --sample refund", exe + ["render", "support/reply", "--sample", "refund"]),
        ]
        print(f"{'command':<50} {'best ms':>8} {'median ms':>10}")
        for label, cmd in rows:
            best, median = measure(cmd, root, args.runs)
            print(f"{label:<50} {best:8.1f} {median:10.1f}")


if __name__ == "__main__":
    main()
