"""Diff two git revisions of a generated project: 1,000 prompts, about 10% changed.

Builds the project in a temporary git repository (two commits), then times
`diff_projects` between them (in-process, both versions read from git's object
store) and `promptctl diff HEAD~1 HEAD --stat` as a subprocess. Target: under 2 s.

    python benchmarks/diff.py [--prompts 1000] [--changed 0.1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}

PROMPT = """\
description: Generated prompt {i}.
params: {{temperature: 0.{t}}}
inputs:
  ticket: {{type: string, maxLength: 4000}}
  tone: {{type: string, enum: [formal, friendly], default: friendly}}
messages:
  - role: system
    content: |
      You are agent {i}. Answer in a {{{{ tone }}}} tone.
      {{% include "partials/p{p}.j2" %}}
  - role: user
    content: "{{{{ ticket }}}}"
samples:
  - {{name: s, inputs: {{ticket: hello}}}}
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=ENV, capture_output=True)


def write(root: Path, prompts: int, changed: set[int], version: int) -> None:
    for p in range(20):
        path = root / "prompts" / "partials" / f"p{p}.j2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Policy {p}.\n")
    for i in range(prompts):
        t = 2 + (version if i in changed else 0)
        path = root / "prompts" / f"team{i % 10}" / f"prompt{i}.prompt.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PROMPT.format(i=i, t=t, p=i % 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.1)
    args = parser.parse_args()
    from promptctl.diff import diff_projects, resolve_diff_args

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "promptctl.yaml").write_text("promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n")
        git(root, "init", "-q")
        changed = set(range(0, args.prompts, max(1, round(1 / args.changed))))
        write(root, args.prompts, changed, 0)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "one")
        write(root, args.prompts, changed, 1)
        git(root, "commit", "-qam", "two")

        start = time.perf_counter()
        old, new, names = resolve_diff_args(root, ["HEAD~1", "HEAD"])
        result = diff_projects(old, new, names=names)
        inproc = time.perf_counter() - start
        assert len(result.prompts) == len(changed), (len(result.prompts), len(changed))

        start = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "promptctl", "diff", "HEAD~1", "HEAD", "--stat"],
            cwd=root, capture_output=True, text=True, check=True,
        )
        sub = time.perf_counter() - start
        print(f"prompts: {args.prompts}, changed: {len(changed)} ({len(p.stdout.splitlines()) - 1} lines of --stat)")
        print(f"diff_projects in-process:             {inproc:6.2f} s")
        print(f"promptctl diff HEAD~1 HEAD --stat:    {sub:6.2f} s (target under 2 s)")


if __name__ == "__main__":
    main()
