"""Eval throughput: 1,000 cases against a local OpenAI-compatible server, then a fully recorded re-run.

The server (tests/llm_server.py) runs in its own process with 100 ms of latency per request; the
cases go through promptctl's runner and litellm over real HTTP with concurrency 20, so the floor is
1,000 x 0.1 s / 20 = 5 s (DESIGN.md: under 6 s). The re-run replays the recordings just written
(DESIGN.md: under 1 s). Each phase runs in a fresh process, which reports its wall time and its peak
memory (ru_maxrss); the replay phase is also timed end to end as `promptctl test --mode replay`.

    python benchmarks/evals.py [--cases 1000] [--latency 0.1] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def write_project(root: Path, url: str, cases: int) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "evals" / "data").mkdir(parents=True)
    (root / "promptctl.yaml").write_text(
        "promptctl: 1\n"
        "defaults: {model: local, params: {temperature: 0}}\n"
        f'models:\n  local: {{model: openai/gpt-4o-mini, api_base: "{url}", api_key_env: BENCH_KEY}}\n'
        "test: {timeout_s: 10, retries: 2}\n"
    )
    (root / "prompts" / "qa.prompt.yaml").write_text(
        "inputs: {q: string, n: integer}\n"
        "messages:\n"
        "  - role: system\n"
        "    content: Answer question {{ n }} in one short sentence.\n"
        "  - role: user\n"
        '    content: "{{ q }}"\n'
    )
    with open(root / "evals" / "data" / "cases.jsonl", "w", encoding="utf-8") as fh:
        for i in range(cases):
            row = {"id": f"case-{i}", "inputs": {"q": f"What is item number {i}?", "n": i},
                   "assert": [{"type": "contains", "value": f"{i}?"}]}
            fh.write(json.dumps(row) + "\n")
    (root / "evals" / "qa.eval.yaml").write_text(
        "prompt: qa\nthreshold: 1.0\ndefaults:\n  assert: [{type: icontains, value: echo}]\ncases:\n  - file: data/cases.jsonl\n"
    )


def phase(root: Path, mode: str, concurrency: int) -> None:
    """One run in this (fresh) process; prints a JSON line with the figures."""
    start = time.perf_counter()
    imported = 0.0
    if mode != "replay":
        from promptctl.evals.provider import load_litellm

        load_litellm()
        imported = time.perf_counter() - start
    from promptctl.evals.runner import RunOptions, run_tests, select_datasets
    from promptctl.project import open_project

    t0 = time.perf_counter()
    project = open_project(root)
    datasets = select_datasets(project, [])
    result = run_tests(project, datasets, RunOptions(mode=mode, concurrency=concurrency))
    elapsed = time.perf_counter() - t0
    cases = result.cases
    print(json.dumps({
        "mode": mode, "seconds": elapsed, "import_s": imported, "peak_mb": peak_mb(), "cases": len(cases),
        "passed": sum(c.passed for c in cases), "live_calls": result.live_calls, "replayed": result.replayed,
    }))


def run_phase(root: Path, mode: str, concurrency: int) -> dict:
    env = {**os.environ, "BENCH_KEY": "bench-key", "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, __file__, "--phase", mode, "--root", str(root), "--concurrency", str(concurrency)],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"phase {mode} failed:\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request at the server")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(Path(args.root), args.phase, args.concurrency)
        return

    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "llm_server.py"), "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "bench"
            write_project(root, url, args.cases)
            floor = args.cases * args.latency / args.concurrency
            live = run_phase(root, "refresh", args.concurrency)
            replay = run_phase(root, "replay", args.concurrency)
            start = time.perf_counter()
            cli = subprocess.run([sys.executable, "-m", "promptctl", "test", "--mode", "replay", "--format", "json"],
                                 cwd=root, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            cli_s = time.perf_counter() - start
            assert cli.returncode == 0, cli.stderr
    finally:
        server.terminate()
        server.wait()
    for r in (live, replay):
        assert r["passed"] == args.cases, r
    print(f"{args.cases} cases, server latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"live run (litellm over HTTP):  {live['seconds']:6.2f} s  (floor {floor:.1f} s, target < {floor + 1:.0f} s)"
          f"  {live['live_calls']} calls, peak RSS {live['peak_mb']:.0f} MB (litellm import {live['import_s']:.1f} s, not counted)")
    print(f"recorded re-run (replay):      {replay['seconds']:6.2f} s  (target < 1 s)"
          f"  {replay['replayed']} replayed, peak RSS {replay['peak_mb']:.0f} MB")
    print(f"`promptctl test --mode replay`: {cli_s:6.2f} s  end to end (process start, load, run, report)")


if __name__ == "__main__":
    main()
