"""Lint time on a generated project of 1,000 prompts and 200 partials (DESIGN.md: under 1.5 s on 2 cores).

Prints, best and median over repeated runs:
- the floor: a bare loop that only reads and parses the same files (promptctl.yamlio for YAML,
  the sandboxed environment's ``parse`` for every message and partial), in-process;
- ``promptctl lint`` in-process (imports already loaded);
- ``promptctl lint`` as a subprocess (what a user or pre-commit waits for);
- ``promptctl lint`` on the small example project (start-up dominated) and, for scale, ``promptctl --help``;
- ``promptctl lint PATHS`` with one changed partial (pre-commit's case).

    python benchmarks/lint.py [--runs 5] [--prompts 1000] [--partials 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(root: Path, prompts: int, partials: int, seed: int = 7) -> None:
    """A realistic project: nested prompt folders, partials including partials, samples and datasets."""
    rng = random.Random(seed)
    (root / "prompts" / "partials").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "promptctl.yaml").write_text(
        "promptctl: 1\n"
        "defaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}\n"
        "models:\n  fast: openai/gpt-4o-mini\n  smart: anthropic/claude-sonnet-4-5\n",
        encoding="utf-8",
    )
    for j in range(partials):
        text = f"Policy {j}: answer in a {{{{ tone }}}} tone and never promise dates.\n"
        text += "{% if strict %}Be strict.{% endif %}\n"
        if j % 4 == 0 and j + 1 < partials:
            text += f'{{% include "partials/p{j + 1:03d}.j2" %}}\n'
        (root / "prompts" / "partials" / f"p{j:03d}.j2").write_text(text, encoding="utf-8")
    for i in range(prompts):
        folder = root / "prompts" / f"team{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        a, b = rng.randrange(partials), rng.randrange(partials)
        model = ("fast", "smart", "openai/gpt-4o-mini")[i % 3]
        (folder / f"task{i:04d}.prompt.yaml").write_text(
            f"description: Generated task {i}.\n"
            f"model: {model}\n"
            "params: {temperature: 0.2, max_tokens: 400}\n"
            "inputs:\n"
            "  ticket: {type: string, maxLength: 8000}\n"
            "  tone: {type: string, enum: [formal, friendly], default: friendly}\n"
            "  strict: {type: boolean, default: false}\n"
            "  customer: {type: object, properties: {name: {type: string}, plan: {type: string}}}\n"
            "  history: {type: array, default: []}\n"
            "messages:\n"
            "  - role: system\n"
            "    content: |\n"
            f"      You are assistant number {i}. Greet {{{{ customer.name }}}} on the {{{{ customer.plan }}}} plan.\n"
            f'      {{% include "partials/p{a:03d}.j2" %}}\n'
            f'      {{% include "partials/p{b:03d}.j2" %}}\n'
            "      {% for word in ticket.split() %}{{ word }} {% endfor %}\n"
            "  - history: history\n"
            "  - role: user\n"
            '    content: "{{ ticket }}"\n'
            "samples:\n"
            "  - name: basic\n"
            f"    inputs: {{ticket: 'Where is order {i}?', customer: {{name: Ann, plan: pro}}}}\n"
            "tags: [generated]\n",
            encoding="utf-8",
        )
        if i % 5 == 0:
            (root / "evals" / f"task{i:04d}.eval.yaml").write_text(
                f"prompt: team{i % 20:02d}/task{i:04d}\n"
                "threshold: 0.9\n"
                "cases:\n"
                + "".join(
                    f"  - id: case{k}\n"
                    f"    inputs: {{ticket: 'Question {k}', customer: {{name: Bo, plan: free}}}}\n"
                    f"    golden: 'Answer {k}'\n"
                    "    assert: [{type: icontains, value: answer}, {type: similar, threshold: 0.8}]\n"
                    for k in range(3)
                ),
                encoding="utf-8",
            )


def floor(root: Path) -> None:
    """Only read and parse: the YAML of every file, the Jinja of every message and partial."""
    from promptctl.templates import make_environment
    from promptctl.yamlio import loads

    env = make_environment(lambda name: ("", name))
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            if name.endswith(".yaml"):
                doc = loads(text, path=path)
                for m in (doc.data.get("messages") or []) if name.endswith(".prompt.yaml") else []:
                    if "content" in m:
                        env.parse(m["content"])
            elif name.endswith(".j2"):
                env.parse(text)


def lint_in_process(root: Path) -> None:
    from promptctl.lint.engine import run_lint

    report = run_lint(None, project=root)
    assert report.errors == 0, [f for f in report.findings if f.severity == "error"][:3]


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--partials", type=int, default=200)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "promptctl"]
    env = {**os.environ, "PROMPTCTL_MODEL_DATA": os.environ.get("PROMPTCTL_MODEL_DATA", "")}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        generate(big, args.prompts, args.partials)
        small = Path(tmp) / "small"
        subprocess.run(exe + ["init", str(small)], check=True, capture_output=True)

        def sub(cmd: list[str], cwd: Path):
            return lambda: subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

        changed = "prompts/partials/p010.j2"
        rows = [
            (f"floor: parse YAML + Jinja only ({args.prompts} prompts)", lambda: floor(big)),
            (f"promptctl lint in-process ({args.prompts} prompts)", lambda: lint_in_process(big)),
            (f"promptctl lint subprocess ({args.prompts} prompts)", sub(exe + ["lint"], big)),
            (f"promptctl lint {changed} (subprocess)", sub(exe + ["lint", changed], big)),
            ("promptctl lint, example project (subprocess)", sub(exe + ["lint"], small)),
            ("promptctl --help (subprocess)", sub(exe + ["--help"], small)),
        ]
        print(f"{'what':<58} {'best ms':>8} {'median ms':>10}")
        for label, fn in rows:
            best, median = timed(fn, args.runs)
            print(f"{label:<58} {best:8.1f} {median:10.1f}")


if __name__ == "__main__":
    main()
