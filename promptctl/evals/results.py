"""What a run produced: per case, per dataset, per run; every report format is made from these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import Dataset
from .assertions import AssertionResult


@dataclass(slots=True)
class CaseResult:
    """One case's outcome. ``status``: passed, failed (an assertion), error (no usable output:
    provider failure, render error, missing recording) or skipped (the budget ran out)."""

    id: str
    status: str
    score: float = 0.0
    reason: str = ""
    output: str | None = None
    data: Any = None
    asserts: list[AssertionResult] = field(default_factory=list)
    model: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    tokens: int = 0
    recorded: bool = False
    source: str = ""
    golden: Any = None
    position: int = 0  # its place in the dataset, so that merged shard reports keep the dataset's order
    inputs: Mapping[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None  # the rendered messages sent to the model
    description: str | None = None
    tags: tuple[str, ...] = ()
    baseline: CaseResult | None = None  # the same case on the --baseline version
    tool_calls: list[dict[str, Any]] | None = None  # the functions the model called ({id, type, function})

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "pass": self.passed,
            "score": round(self.score, 4),
            "reason": self.reason,
            "output": self.output,
            "model": self.model,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "cost_usd": _usd(self.cost_usd),
            "tokens": self.tokens,
            "recorded": self.recorded,
            "source": self.source,
            "position": self.position,
            "description": self.description,
            "tags": list(self.tags),
            "inputs": None if self.inputs is None else dict(self.inputs),
            "golden": self.golden,
            "messages": self.messages,
            "tool_calls": self.tool_calls,
            "asserts": [a.to_json() for a in self.asserts],
            "baseline": None if self.baseline is None else {
                "status": self.baseline.status,
                "score": round(self.baseline.score, 4),
                "reason": self.baseline.reason,
                "output": self.baseline.output,
                "latency_ms": None if self.baseline.latency_ms is None else round(self.baseline.latency_ms, 1),
                "cost_usd": _usd(self.baseline.cost_usd),
                "tokens": self.baseline.tokens,
            },
        }

    @property
    def regressed(self) -> bool:
        """It passed on the baseline and does not pass now."""
        return self.baseline is not None and self.baseline.passed and self.status in ("failed", "error")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n*q), at least 1
    return ordered[int(rank) - 1]


@dataclass(slots=True)
class DatasetResult:
    """A dataset run on one model (and one version): its cases and how they add up."""

    dataset: Dataset
    model: str | None
    prompt_ref: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    version: str = "working tree"

    @property
    def name(self) -> str:
        return self.dataset.name

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)

    @property
    def ran(self) -> int:
        return sum(1 for c in self.cases if c.status != "skipped")

    @property
    def pass_rate(self) -> float:
        ran = self.ran
        return self.count("passed") / ran if ran else 0.0

    @property
    def ok(self) -> bool:
        return self.ran > 0 and self.pass_rate + 1e-9 >= self.dataset.threshold

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.cases)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd or 0.0 for c in self.cases)

    @property
    def latencies(self) -> list[float]:
        return [c.latency_ms for c in self.cases if c.latency_ms is not None]

    def to_json(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "name": self.name,
            "path": self.dataset.path,
            "prompt": self.dataset.prompt,
            "ref": self.prompt_ref,
            "model": self.model,
            "version": self.version,
            "threshold": self.dataset.threshold,
            "pass_rate": round(self.pass_rate, 4),
            "ok": self.ok,
            "cases_total": len(self.cases),
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "errors": self.count("error"),
            "skipped": self.count("skipped"),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 8),
            "latency_ms": {"p50": _r(percentile(lat, 0.5)), "p95": _r(percentile(lat, 0.95))},
            "cases": [c.to_json() for c in self.cases],
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _usd(v: float | None) -> float | None:
    """A cost as JSON writes it: ``3.03e-05``, not the float sum's ``3.0299999999999998e-05``."""
    return None if v is None else round(v, 12)


@dataclass(frozen=True, slots=True)
class Regression:
    """A case that passed on the baseline and does not pass now."""

    dataset: str
    case: str
    model: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "case": self.case, "model": self.model, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One model of a comparison, over every dataset."""

    model: str | None
    pass_rate: float
    meets_thresholds: bool
    cost_usd: float
    priced: bool
    tokens: int
    p50: float | None
    p95: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "pass_rate": round(self.pass_rate, 4),
            "meets_thresholds": self.meets_thresholds,
            "cost_usd": round(self.cost_usd, 8),
            "priced": self.priced,
            "tokens": self.tokens,
            "latency_ms": {"p50": _r(self.p50), "p95": _r(self.p95)},
        }


@dataclass(slots=True)
class RunResult:
    """Everything a run produced; reports are made from this."""

    datasets: list[DatasetResult]
    mode: str
    version: str = "working tree"
    models: list[str | None] = field(default_factory=lambda: [None])
    baseline: list[DatasetResult] = field(default_factory=list)
    baseline_version: str | None = None
    budget_limit: float | None = None
    spent_usd: float = 0.0
    estimated_usd: float = 0.0  # with a budget: the calls made, as estimated before each was made
    budget_stopped: bool = False
    live_calls: int = 0
    replayed: int = 0
    recorded: int = 0
    duration_s: float = 0.0
    shard: tuple[int, int] | None = None
    given_regressions: list[Regression] | None = None  # a merged report's (its baseline cases are not kept)
    unused: dict[str, int] | None = None  # with RunOptions.prune: {recordings file: records not used}
    kept: int = 0  # with RunOptions.prune: the records kept

    @property
    def cases(self) -> list[CaseResult]:
        return [c for d in self.datasets for c in d.cases]

    @property
    def regressions(self) -> list[Regression]:
        if self.given_regressions is not None:
            return self.given_regressions
        before = {(d.dataset.path, d.model, c.id): c for d in self.baseline for c in d.cases}
        out = []
        for d in self.datasets:
            for c in d.cases:
                old = before.get((d.dataset.path, d.model, c.id))
                if old is not None and old.passed and c.status in ("failed", "error"):
                    out.append(Regression(d.name, c.id, d.model, c.reason))
        return out

    def comparison(self) -> list[ModelSummary]:
        """One summary per model (meaningful when several were compared)."""
        out = []
        for model in self.models:
            ds = [d for d in self.datasets if d.model == model]
            cases = [c for d in ds for c in d.cases]
            ran = [c for c in cases if c.status != "skipped"]
            lat = [c.latency_ms for c in cases if c.latency_ms is not None]
            out.append(
                ModelSummary(
                    model=model,
                    pass_rate=sum(c.passed for c in ran) / len(ran) if ran else 0.0,
                    meets_thresholds=bool(ds) and all(d.ok for d in ds),
                    cost_usd=sum(d.cost_usd for d in ds),
                    priced=any(c.cost_usd is not None for c in cases),
                    tokens=sum(d.tokens for d in ds),
                    p50=percentile(lat, 0.5),
                    p95=percentile(lat, 0.95),
                )
            )
        return out

    def cheapest(self) -> str | None:
        """The cheapest model with a known price that meets every dataset's threshold (None when no
        priced model does: see :meth:`unpriced_passing`)."""
        good = [m for m in self.comparison() if m.meets_thresholds and m.priced]
        return min(good, key=lambda m: m.cost_usd).model if good else None

    def unpriced_passing(self) -> list[str]:
        """The models that meet every threshold but whose cost is unknown (no price in the table):
        they may be cheaper than :meth:`cheapest`, so they are named beside it, never left out."""
        return [m.model for m in self.comparison() if m.meets_thresholds and not m.priced and m.model is not None]

    def cheapest_line(self) -> str:
        """The comparison's verdict in words: ``cheapest model meeting every threshold: fast; local also
        met every threshold, its cost unknown (no price)``."""
        cheapest, unknown = self.cheapest(), self.unpriced_passing()
        names = ", ".join(unknown)
        if cheapest and unknown:
            return (f"cheapest model meeting every threshold: {cheapest}; {names} also met every threshold, "
                    f"{'its cost' if len(unknown) == 1 else 'their costs'} unknown (no price)")
        if cheapest:
            return f"cheapest model meeting every threshold: {cheapest}"
        if unknown:
            return (f"{names} met every threshold, {'its cost' if len(unknown) == 1 else 'their costs'} unknown "
                    "(no price): which is cheapest cannot be said")
        return "no model meets every threshold"

    @property
    def ok(self) -> bool:
        if self.budget_stopped or self.regressions:
            return False
        if self.shard is not None:
            return True  # a share cannot judge a threshold: `promptctl report merge` judges the whole
        if len(self.models) > 1:
            return any(m.meets_thresholds for m in self.comparison())
        return all(d.ok for d in self.datasets)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        from .. import __version__

        cases = self.cases
        out: dict[str, Any] = {
            "promptctl": __version__,
            "ok": self.ok,
            "mode": self.mode,
            "version": self.version,
            "models": self.models,
            "shard": None if self.shard is None else {"index": self.shard[0], "count": self.shard[1]},
            "summary": {
                "datasets": len(self.datasets),
                "cases": len(cases),
                "passed": sum(c.status == "passed" for c in cases),
                "failed": sum(c.status == "failed" for c in cases),
                "errors": sum(c.status == "error" for c in cases),
                "skipped": sum(c.status == "skipped" for c in cases),
                "tokens": sum(c.tokens for c in cases),
                "cost_usd": round(sum(c.cost_usd or 0.0 for c in cases), 8),
                "live_calls": self.live_calls,
                "replayed": self.replayed,
                "recorded": self.recorded,
                "duration_s": round(self.duration_s, 3),
            },
            "datasets": [d.to_json() for d in self.datasets],
            "budget": {
                "limit_usd": self.budget_limit,
                "spent_usd": round(self.spent_usd, 8),
                "estimated_usd": round(self.estimated_usd, 8),
                "stopped": self.budget_stopped,
            },
            "baseline": None,
            "comparison": None,
        }
        if self.baseline_version is not None:
            out["baseline"] = {
                "version": self.baseline_version,
                "datasets": [
                    {k: v for k, v in d.to_json().items() if k != "cases"} for d in self.baseline
                ],
                "regressions": [r.to_json() for r in self.regressions],
            }
        if len(self.models) > 1:
            out["comparison"] = {"models": [m.to_json() for m in self.comparison()], "cheapest": self.cheapest(),
                                 "cost_unknown": self.unpriced_passing()}
        return out
