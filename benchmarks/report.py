"""The HTML report of a 1,000-case run: time to write it, its size, and (with Chromium) time to open it.

Builds a run of N support-reply cases as `promptctl test` reports them (inputs, two rendered
messages, output, golden, one assertion; one case in seven fails; a baseline beside each case),
saves its JSON report, then times `promptctl report RUN.json --format html -o report.html` (a whole
process: read, render, write) and the HTML rendering alone in this process. When Debian's chromium
and Playwright are installed, it also opens the page headless and prints the time to the load event
and to the first filter applied.

    python benchmarks/report.py [--cases 1000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from promptctl.evals.html import format_html
from promptctl.evals.reports import format_json
from promptctl.evals.results import CaseResult, DatasetResult, RunResult
from promptctl.model import Dataset


def run(n: int) -> RunResult:
    dataset = Dataset(path="evals/support-reply.eval.yaml", prompt="support/reply", cases=(), threshold=0.8)
    cases = []
    for i in range(n):
        fails = i % 7 == 0
        output = (f"Hello, and thank you for writing about order {i}. We have issued a refund of ${i}.00 today; "
                  "it reaches your card in three to five working days.")
        case = CaseResult(
            id=f"ticket-{i}", status="failed" if fails else "passed", score=0.0 if fails else 1.0,
            reason='icontains: output does not contain "sorry"' if fails else "", output=output,
            golden=f"Hello, and thanks for writing about order {i}. A refund of ${i}.00 is on its way to your card.",
            inputs={"ticket": f"Where is the refund for order {i}? It has been two weeks.", "tone": "formal"},
            messages=[{"role": "system", "content": "You are a support agent for Acme. Be brief, kind and precise. "
                       "Never promise what policy does not allow."},
                      {"role": "user", "content": f"Where is the refund for order {i}? It has been two weeks."}],
            latency_ms=100.0 + i % 50, cost_usd=0.00002, tokens=90, recorded=True,
            source=f"evals/support-reply.eval.yaml:{i * 6 + 4}", position=i, tags=("refund",),
        )
        case.baseline = CaseResult(id=case.id, status="passed", score=1.0, output=output.replace("today", "soon"),
                                   latency_ms=110.0, cost_usd=0.00002, tokens=88)
        cases.append(case)
    return RunResult([DatasetResult(dataset, "fast", "support/reply@v3:3f9a2c1", cases)], mode="replay",
                     baseline_version="v2 (3f9a2c1)")


def best_of(fn, times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def open_in_chromium(path: Path) -> tuple[float, float] | None:
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if executable is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        page = browser.new_page()
        page.goto(path.as_uri())
        load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        filter_ms = page.evaluate("""() => { const t = performance.now();
            const box = document.querySelector('input[name=failed]'); box.click();
            document.body.offsetHeight; return performance.now() - t; }""")
        browser.close()
    return load_ms, filter_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    result = run(args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "run.json").write_text(format_json(result), encoding="utf-8")
        render_s = best_of(lambda: format_html(result))
        cmd = [sys.executable, "-m", "promptctl", "report", "run.json", "--format", "html", "-o", "report.html"]
        whole_s = best_of(lambda: subprocess.run(cmd, cwd=root, capture_output=True), 3)
        html = root / "report.html"
        size = html.stat().st_size
        print(f"{args.cases} cases: JSON report {(root / 'run.json').stat().st_size / 1e6:.2f} MB, "
              f"HTML report {size / 1e6:.2f} MB ({size / args.cases / 1e3:.1f} KB a case)")
        print(f"format_html: {render_s * 1e3:.0f} ms; `promptctl report run.json --format html -o report.html`: "
              f"{whole_s * 1e3:.0f} ms (whole process)")
        opened = open_in_chromium(html)
        if opened is None:
            print("chromium or playwright not installed: no open timing")
        else:
            print(f"headless chromium: load event at {opened[0]:.0f} ms, 'failed only' filter applied in {opened[1]:.0f} ms")


if __name__ == "__main__":
    main()
