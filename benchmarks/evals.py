"""Eval throughput against a local OpenAI-compatible server at 100 ms per call, then a recorded re-run.

The server (tests/llm_server.py) runs in its own process. Each run is `promptctl test` in a fresh
process over real HTTP, through the native client (or litellm with `--client litellm`):

- 200 cases at concurrency 8 (floor 200 x 0.1 s / 8 = 2.5 s) and 1,000 at concurrency 20 (floor 5 s);
  the issue's target is within 1.15x of the floor, end to end (process start, load, calls, report);
- peak memory of the process (ru_maxrss; target under 80 MB);
- CPU per call: the process's user + system CPU over its calls (start-up included), and beyond the
  server: the live run's CPU minus the recorded re-run's (same cases, no calls), per call (target
  under 1.5 ms);
- the recorded re-run: the 1,000 cases again in auto mode with every answer recorded, end to end
  (target under 250 ms).

    python benchmarks/evals.py [--latency 0.1] [--client auto|litellm] [--small 200:8] [--large 1000:20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

def write_project(root: Path, url: str, cases: int, client: str) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "evals" / "data").mkdir(parents=True)
    (root / "promptctl.yaml").write_text(
        "promptctl: 1\n"
        "defaults: {model: local, params: {temperature: 0}}\n"
        f'models:\n  local: {{model: openai/gpt-4o-mini, api_base: "{url}", api_key_env: BENCH_KEY}}\n'
        f"test: {{timeout_s: 10, retries: 2, client: {client}}}\n"
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


def bench_env(tmp: Path) -> dict[str, str]:
    """As on a user's machine: bytecode cached (promptctl's is compiled first), promptctl's own cache
    in a temp folder."""
    env = {**os.environ, "BENCH_KEY": "bench-key", "PYTHONPATH": str(REPO), "PROMPTCTL_CACHE_DIR": str(tmp / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


ENV: dict[str, str] = {}


def run(root: Path, *args: str) -> dict:
    """`promptctl test ARGS` in a fresh process: its wall time (from before the interpreter starts), and
    from the kernel (wait4) the CPU it used and its peak memory, with its JSON report."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "promptctl", "test", "--format", "json", *args],
                             cwd=root, stdout=out, stderr=err, env=ENV)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode:
            raise SystemExit(f"promptctl test {' '.join(args)} failed ({p.returncode}):\n{err.read().decode()[-3000:]}")
        report = json.loads(out.read())
    kb = usage.ru_maxrss
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": kb / 1024 if sys.platform != "darwin" else kb / 2**20,
            "summary": report["summary"], "ok": report["ok"]}


def live(url: str, tmp: Path, cases: int, concurrency: int, latency: float, client: str) -> tuple[Path, dict]:
    root = tmp / f"bench-{cases}"
    write_project(root, url, cases, client)
    r = run(root, "--mode", "auto", "-j", str(concurrency))
    assert r["ok"] and r["summary"]["live_calls"] == cases, r
    floor = cases * latency / concurrency
    print(f"{cases:>5} cases @ concurrency {concurrency:>2}: {r['wall']:5.2f} s end to end = {r['wall'] / floor:.2f}x "
          f"the floor of {floor:.2f} s · peak {r['peak_mb']:.0f} MB · "
          f"CPU {r['cpu'] * 1000 / cases:.2f} ms per call (start-up included)")
    return root, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request at the server")
    parser.add_argument("--client", choices=("auto", "litellm"), default="auto", help="test.client of the project")
    parser.add_argument("--small", default="200:8", help="CASES:CONCURRENCY of the first run")
    parser.add_argument("--large", default="1000:20", help="CASES:CONCURRENCY of the second run")
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "llm_server.py"), "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/v1"
        print(f"local server at {args.latency * 1000:.0f} ms per call, test.client: {args.client}")
        with tempfile.TemporaryDirectory() as tmp:
            ENV.update(bench_env(Path(tmp)))
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "promptctl")], env=ENV, check=True)
            for spec in (args.small, args.large):
                cases, concurrency = (int(x) for x in spec.split(":"))
                root, last = live(url, Path(tmp), cases, concurrency, args.latency, args.client)
            again = min((run(root, "--mode", "auto") for _ in range(3)), key=lambda r: r["wall"])
            assert again["ok"] and again["summary"]["live_calls"] == 0, again
            print(f"recorded re-run of {cases} cases (auto, all recorded): {again['wall'] * 1000:.0f} ms end to end "
                  f"(best of 3) · peak {again['peak_mb']:.0f} MB · CPU {again['cpu'] * 1000:.0f} ms")
            # the same run minus its calls: what a live call costs in CPU on top of rendering and checking
            print(f"CPU per live call beyond the server: {(last['cpu'] - again['cpu']) * 1000 / cases:.2f} ms "
                  f"(the {cases}-case live run's CPU minus the recorded re-run's, per call)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
