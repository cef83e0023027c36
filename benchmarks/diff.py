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

from generated import write_project

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}

def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=ENV, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.1)
    args = parser.parse_args()
    from promptctl.diff import diff_projects, resolve_diff_args

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git(root, "init", "-q")
        changed = set(range(0, args.prompts, max(1, round(1 / args.changed))))
        write_project(root, args.prompts, changed=changed, version=0)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "one")
        write_project(root, args.prompts, changed=changed, version=1)
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
