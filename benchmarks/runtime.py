"""The application runtime: import time, loading a 1,000-prompt bundle, and get + render.

Publishes a generated 1,000-prompt project to a local registry (in a temporary folder), then
measures, in fresh processes and in-process:
- `import promptctl.runtime` (wall time of a fresh interpreter, minus the bare interpreter);
- `Registry(path, channel="production")`: read HEAD.json, read and digest-verify the bundle
  (target: under 50 ms);
- `reg.get(name).render(**inputs)` of a typical prompt against raw jinja2 rendering the same
  templates (target: at most 1.5x).

    python benchmarks/runtime.py [--prompts 1000]
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


def best_of(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, args.prompts)
        subprocess.run(
            [sys.executable, "-m", "promptctl", "publish", "--allow-dirty", "--channel", "production"],
            cwd=root, check=True, capture_output=True,
        )
        registry = root / ".promptctl" / "registry"
        size = sum(f.stat().st_size for f in (registry / "bundles").iterdir())

        floor = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 7)
        imp = best_of(lambda: subprocess.run([sys.executable, "-c", "import promptctl.runtime"], check=True), 7)

        from promptctl.runtime import Registry

        load = best_of(lambda: Registry(registry, channel="production", refresh_s=0), 10)
        reg = Registry(registry, channel="production", refresh_s=0)
        name = "team3/prompt3"
        inputs = {"ticket": "Where is my order?", "tone": "formal"}
        first = best_of(lambda: Registry(registry, channel="production", refresh_s=0).get(name).render(**inputs), 5)
        reg.get(name).render(**inputs)  # compile once, as a long-running application does

        import jinja2

        prompt = reg.get(name)
        data = prompt._data  # the same templates, rendered by plain jinja2
        env = jinja2.Environment(loader=jinja2.DictLoader(dict(data.partials)))
        templates = [(m.role, env.from_string(m.content)) for m in data.messages]
        context = {"tone": "formal", "ticket": inputs["ticket"]}
        assert [{"role": r, "content": t.render(context)} for r, t in templates] == prompt.render(**inputs)
        n = 20000
        ours = best_of(lambda: [reg.get(name).render(**inputs) for _ in range(n)], 3) / n
        raw = best_of(lambda: [[{"role": r, "content": t.render(context)} for r, t in templates] for _ in range(n)], 3) / n

        print(f"bundle: {args.prompts} prompts, {size / 1e6:.2f} MB")
        print(f"import promptctl.runtime:           {(imp - floor) * 1000:7.1f} ms (fresh interpreter, minus {floor * 1000:.1f} ms bare)")
        print(f"Registry(...) load + verify:        {load * 1000:7.1f} ms (target under 50 ms)")
        print(f"first get + render (cold compile):  {first * 1000:7.1f} ms (includes the load)")
        print(f"get + render (warm):                {ours * 1e6:7.1f} us")
        print(f"raw jinja2, same templates:         {raw * 1e6:7.1f} us")
        print(f"overhead:                           {ours / raw:7.2f}x (target at most 1.5x)")
        print(f"peak RSS of this process:           {_rss_mb():7.1f} MB")


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
