"""The eval summary a bundle records at publish: ``promptctl test --mode replay`` on the prompts
being published, per dataset and per prompt, so that ``promptctl monitor`` can show a version's
production figures beside its eval figures, and ``publish --require-tests`` can refuse a failing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..project import Project
    from .results import RunResult


def eval_summary(project: Project) -> dict[str, Any] | None:
    """The replayed run's figures (None when the project has no dataset). Never calls a model."""
    from .runner import RunOptions, run_tests

    datasets = project.datasets() if project.dataset_files() else []
    if not any(d.cases for d in datasets):
        return None
    return summarize(run_tests(project, datasets, RunOptions(mode="replay")))


def summarize(result: RunResult) -> dict[str, Any]:
    """``{mode, ok, cases, passed, failed, errors, datasets: [...], prompts: {name: {...}}}`` of a run."""
    from .results import percentile

    def figures(cases: list[Any]) -> dict[str, Any]:
        ran = [c for c in cases if c.status != "skipped"]
        lat = [c.latency_ms for c in cases if c.latency_ms is not None]
        priced = [c.cost_usd for c in cases if c.cost_usd is not None]
        return {
            "cases": len(cases),
            "passed": sum(c.passed for c in ran),
            "pass_rate": round(sum(c.passed for c in ran) / len(ran), 4) if ran else 0.0,
            "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95)},
            "tokens_per_call": round(sum(c.tokens for c in cases) / len(cases), 1) if cases else None,
            "cost_per_call_usd": round(sum(priced) / len(priced), 10) if priced else None,
        }

    prompts: dict[str, list[Any]] = {}
    for d in result.datasets:
        prompts.setdefault(d.dataset.prompt, []).extend(d.cases)
    cases = result.cases
    return {
        "mode": result.mode,
        "ok": result.ok,
        "cases": len(cases),
        "passed": sum(c.status == "passed" for c in cases),
        "failed": sum(c.status == "failed" for c in cases),
        "errors": sum(c.status == "error" for c in cases),
        "datasets": [
            {"name": d.name, "prompt": d.dataset.prompt, "threshold": d.dataset.threshold, "ok": d.ok, **figures(d.cases)}
            for d in result.datasets
        ],
        "prompts": {name: figures(cs) for name, cs in sorted(prompts.items())},
    }
