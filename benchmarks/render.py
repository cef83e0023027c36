"""Render overhead: promptctl's sandboxed, validated render vs raw jinja2 on the same templates.

Uses the `support/reply` prompt of the example project (`promptctl init`). Raw
jinja2 is a plain `jinja2.Environment` rendering the same message templates
(partials from a DictLoader) with the same, already-defaulted inputs. The
budget in DESIGN.md: promptctl at most 1.5x raw jinja2.

    python benchmarks/render.py [--n 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jinja2

from promptctl.model import Message
from promptctl.project import open_project
from promptctl.scaffold import init_project


def per_call_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        init_project(root)
        project = open_project(root)
        prompt = project.get_prompt("support/reply")
        inputs = {"ticket": "I want a refund for order 123", "tone": "formal"}

        def promptctl_render():
            return project.renderer.render(prompt, inputs)

        raw_env = jinja2.Environment(loader=jinja2.DictLoader(dict(prompt.partials)))
        templates = [(m.role, raw_env.from_string(m.content)) for m in prompt.messages if isinstance(m, Message)]
        context = {"ticket": inputs["ticket"], "tone": "formal", "history": []}

        def raw_render():
            return [{"role": role, "content": t.render(context)} for role, t in templates]

        assert list(promptctl_render()) == raw_render(), "the two renders must agree"
        ours = per_call_us(promptctl_render, args.n)
        raw = per_call_us(raw_render, args.n)
        print(f"prompt: {prompt.ref} ({len(templates)} templates, {len(prompt.partials)} partial)")
        print(f"raw jinja2 render:         {raw:8.1f} us/call")
        print(f"promptctl render:          {ours:8.1f} us/call (validate inputs + sandbox)")
        print(f"overhead:                  {ours / raw:8.2f}x (budget 1.5x)")


if __name__ == "__main__":
    main()
