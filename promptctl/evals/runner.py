"""Running datasets: render each case, get the model's answer (recorded or live), check it.

:func:`run_tests` is the one entry point. It runs every selected case of every dataset (for each
``--model`` when several are compared, and again on a baseline version when asked) in one asyncio
loop with at most ``concurrency`` model calls in flight, and always returns a :class:`RunResult`:
a provider failure, a render error or a missing recording fails that case with its reason.

The completion function is a parameter (:class:`Services`), so tests can pass a fake; by default
calls go through :class:`~promptctl.evals.providers.Providers`: the native client for OpenAI-compatible
endpoints, litellm for the rest, each made on the first live call that needs it.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import random
import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, PromptctlError, ProviderError, UsageError
from ..model import Case, Dataset, Prompt
from .assertions import AssertionResult, Judge, Subject, evaluate, parse_json_output, schema_problem, verdict
from .provider import (
    Attempts,
    ChatRequest,
    Completion,
    CompleteFn,
    EmbedFn,
    EmbeddingRequest,
    Endpoint,
    EstimateFn,
    RetryPolicy,
    bounded,
    call_with_policy,
    resolve_endpoint,
)
from .recordings import EMBEDDINGS_FILE, GRADERS_FILE, MODES, RecordingStore, prompt_file, request_key

if TYPE_CHECKING:
    from ..project import Project
    from .providers import Providers

DEFAULT_GRADER = "openai/gpt-4o-mini"
DEFAULT_OUTPUT_TOKENS = 256  # the answer length assumed for a budget estimate before any is seen
WARM_UP_S = 2.0  # how long other calls to an endpoint wait for its first call to finish


# -- options and services ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: recording mode, models to compare, limits. None = the project's ``test:`` setting."""

    mode: str = "auto"
    models: tuple[str, ...] = ()
    concurrency: int | None = None
    timeout_s: float | None = None
    retries: int | None = None
    max_cost_usd: float | None = None
    filter: str | None = None
    shard: tuple[int, int] | None = None  # (I, N): run only the I-th of N shares of the cases
    prune: str | None = None  # "check": report the recordings the run did not use; "drop": drop them


@dataclass(slots=True)
class Services:
    """The outside world of a run: model calls (one attempt each), embeddings, cost estimates, sleep.

    Left as None, ``complete``/``embed``/``estimate`` go through :class:`~promptctl.evals.providers.Providers`
    (made on the first live call: a run served from recordings makes no client).
    """

    complete: CompleteFn | None = None
    embed: EmbedFn | None = None
    estimate: EstimateFn | None = None
    sleep: Callable[[float], Any] = asyncio.sleep
    rng: random.Random | None = None


# -- results -----------------------------------------------------------------------------------


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
            "cost_usd": self.cost_usd,
            "tokens": self.tokens,
            "recorded": self.recorded,
            "source": self.source,
            "position": self.position,
            "asserts": [a.to_json() for a in self.asserts],
        }


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
        """The cheapest model that meets every dataset's threshold (priced models first)."""
        good = [m for m in self.comparison() if m.meets_thresholds]
        if not good:
            return None
        best = min(good, key=lambda m: (not m.priced, m.cost_usd))
        return best.model

    @property
    def ok(self) -> bool:
        if self.budget_stopped or self.regressions:
            return False
        if self.shard is not None:
            return True  # a share cannot judge a threshold: `promptctl report merge` judges the whole
        if len(self.models) > 1:
            return self.cheapest() is not None
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
            out["comparison"] = {"models": [m.to_json() for m in self.comparison()], "cheapest": self.cheapest()}
        return out


# -- selecting datasets ------------------------------------------------------------------------


def select_datasets(project: Project, targets: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> list[Dataset]:
    """The datasets named by ``targets`` (all when empty): a dataset file or folder path, a dataset
    name (``support-reply``), or a prompt name (every dataset of ``support/reply``)."""
    files = project.dataset_files()
    if not files:
        raise UsageError(
            f"no datasets (*.eval.yaml) under {project.source.display(project.config.evals)}",
            hint="add one, e.g. evals/NAME.eval.yaml with `prompt:` and `cases:` (see `promptctl schema dataset`)",
        )
    if not targets:
        return [project.load_dataset(rel) for rel in files]
    root = Path(project.config.root).resolve()
    here = Path(cwd or os.getcwd())
    chosen: list[str] = []
    loaded: dict[str, Dataset] | None = None
    for target in targets:
        matches: list[str] = []
        candidate = (here / target).resolve()
        try:
            rel_target = candidate.relative_to(root).as_posix()
        except ValueError:
            rel_target = target.replace("\\", "/").strip("/")
        if rel_target in ("", "."):
            matches = list(files)
        elif rel_target in files:
            matches = [rel_target]
        else:
            under = [f for f in files if f.startswith(rel_target.rstrip("/") + "/")]
            by_name = [f for f in files if f.rsplit("/", 1)[-1].removesuffix(".eval.yaml") == target]
            matches = under or by_name
        if not matches:
            if loaded is None:
                loaded = {rel: project.load_dataset(rel) for rel in files}
            matches = [rel for rel, d in loaded.items() if d.prompt == target]
        if not matches:
            names = sorted({f.rsplit("/", 1)[-1].removesuffix(".eval.yaml") for f in files})
            prompts = sorted({d.prompt for d in (loaded or {}).values()})
            raise NotFoundError(
                f"no dataset or prompt named {target!r}",
                suggestions=difflib.get_close_matches(target, names + prompts, n=3, cutoff=0.5),
                hint="datasets: " + ", ".join(names[:10]),
            )
        chosen.extend(m for m in matches if m not in chosen)
    return [loaded[rel] if loaded and rel in loaded else project.load_dataset(rel) for rel in chosen]


def case_matches(case: Case, text: str | None) -> bool:
    """``--filter``: the text in the case id or description (any case), or equal to one of its tags."""
    if not text:
        return True
    needle = text.lower()
    return needle in case.id.lower() or needle in (case.description or "").lower() or text in case.tags


def selected(dataset: Dataset, case: Case, options: RunOptions) -> bool:
    """Whether ``case`` runs: it matches ``--filter`` and falls in ``--shard``."""
    if not case_matches(case, options.filter):
        return False
    if options.shard is None:
        return True
    from .shards import shard_of

    return shard_of(dataset.path, case.id, options.shard[1]) == options.shard[0]


def count_cases(datasets: Sequence[Dataset], options: RunOptions, *, baseline: bool = False) -> int:
    """How many cases a run of ``datasets`` with ``options`` will report (for a progress bar)."""
    per_model = sum(1 for d in datasets for c in d.cases if selected(d, c, options))
    return per_model * max(1, len(set(options.models))) * (2 if baseline else 1)


# -- the caller: recordings, budget, concurrency, retries ----------------------------------------


class Budget:
    """Stops live calls before the estimated spend would exceed the limit (None: no limit)."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped = False
        self.estimated = 0.0  # the estimates of the calls made, summed (to compare with what they cost)
        self._raw_estimated = 0.0  # token estimates (uncalibrated) of the calls settled
        self._raw_actual = 0.0  # and what those calls cost
        self._costs: list[float] = []
        self._completion_tokens: list[int] = []

    def expected_output_tokens(self, params: Mapping[str, Any], golden_tokens: int | None = None) -> int:
        """The answer's likely length: its golden's, else the mean of this run's answers so far, else the
        output limit (at most DEFAULT_OUTPUT_TOKENS: a limit is a ceiling, rarely reached)."""
        cap = params.get("max_tokens") or params.get("max_completion_tokens")
        cap = int(cap) if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None
        if golden_tokens is not None:
            guess = golden_tokens
        elif self._completion_tokens:
            guess = int(sum(self._completion_tokens) / len(self._completion_tokens)) + 1
        else:
            guess = DEFAULT_OUTPUT_TOKENS
        return min(guess, cap) if cap is not None else guess

    def estimate(self, by_tokens: float | None) -> float:
        """A call's cost: from its tokens at the price table's prices, scaled by how this run's calls
        compared with their own estimates (so a model that answers longer than its goldens, or a
        tokenizer that counts differently, is learnt); else the mean of this run's calls."""
        if by_tokens is not None:
            if self._raw_estimated > 0 and self._raw_actual > 0:
                return by_tokens * (self._raw_actual / self._raw_estimated)
            return by_tokens
        return sum(self._costs) / len(self._costs) if self._costs else 0.0

    def reserve(self, estimate: float) -> bool:
        if self.limit is None:
            return True
        if self.stopped or self.spent + self.reserved + estimate > self.limit + 1e-12:
            self.stopped = True
            return False
        self.reserved += estimate
        self.estimated += estimate
        return True

    def settle(self, estimate: float, completion: Completion | None, by_tokens: float | None = None) -> None:
        if self.limit is not None:
            self.reserved -= estimate
        if completion is not None:
            cost = completion.cost_usd or 0.0
            if by_tokens:
                self._raw_estimated += by_tokens
                self._raw_actual += cost
            self.spent += cost
            self._costs.append(cost)
            if "completion_tokens" in completion.usage:
                self._completion_tokens.append(completion.usage["completion_tokens"])


class StopRun(UsageError):
    """An error that stops the whole run (not just one case): raised out of the run, exit 2."""


class Caller:
    """Gets completions: from recordings when the mode allows, else live (bounded, budgeted, retried)
    and recorded as they arrive. Identical requests in flight share one call."""

    def __init__(
        self,
        store: RecordingStore,
        mode: str,
        services: Services,
        policy: RetryPolicy,
        concurrency: int,
        budget: Budget,
        client: str = "auto",
    ) -> None:
        self.store = store
        self.concurrency = concurrency
        self.client = client
        self.providers: Providers | None = None
        self.mode = mode
        self.services = services
        self.policy = policy
        self.semaphore = asyncio.Semaphore(concurrency)
        self.budget = budget
        self.rng = services.rng or random.Random()
        self.live_calls = 0
        self.replayed = 0
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._warmed: dict[tuple[str, str | None], asyncio.Event] = {}
        self._expect: dict[str, int] = {}  # request key -> the answer's expected tokens (its golden's)

    def _complete_fn(self) -> CompleteFn:
        if self.services.complete is None:
            self._provider_init()
        assert self.services.complete is not None
        return self.services.complete

    def _provider_init(self) -> None:
        from .providers import Providers

        provider = self.providers = Providers(self.concurrency, self.client)
        self.services.complete = self.services.complete or provider.complete
        self.services.embed = self.services.embed or provider.embed
        self.services.estimate = self.services.estimate or provider.estimate_cost

    async def aclose(self) -> None:
        """Close the clients this run made (their connection pools)."""
        if self.providers is not None:
            await self.providers.aclose()

    async def chat(
        self, request: ChatRequest, fallbacks: Sequence[ChatRequest], *, file: str, meta: Mapping[str, Any], miss_hint: str,
        expect_tokens: int | None = None,
    ) -> Completion:
        """The completion of ``request`` (or, when its model fails, of the first fallback that answers).
        ``expect_tokens``: how long the answer is likely to be (from the case's golden), for the budget."""
        key = request_key("chat", request.key_payload())
        if expect_tokens is not None:
            self._expect[key] = expect_tokens
        if self.mode in ("auto", "replay"):
            record = self.store.get(key)
            if record is not None:
                self.replayed += 1
                return Completion.from_json(record["response"])
            if self.mode == "replay":
                raise ProviderError(
                    f"no recording of this request to {request.endpoint.model} (replay mode never calls a model)",
                    kind="replay_miss",
                    hint=miss_hint,
                )
        shared = self._inflight.get(key)
        if shared is not None:
            return await asyncio.shield(shared)  # type: ignore[no-any-return]
        # The first asker calls (in its own task: no extra hop through the event loop); an identical
        # request asked meanwhile waits for the same answer.
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            completion = await self._live_chat(key, request, fallbacks, file, meta)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else asked
            raise
        else:
            future.set_result(completion)
            return completion
        finally:
            self._inflight.pop(key, None)

    async def _live_chat(
        self, key: str, request: ChatRequest, fallbacks: Sequence[ChatRequest], file: str, meta: Mapping[str, Any]
    ) -> Completion:
        complete = self._complete_fn()
        by_endpoint = {r.endpoint: r for r in (request, *fallbacks)}
        if self.providers is not None:
            self._check_keys([request.endpoint], meta)  # a fallback's missing key is that fallback's failure
            await self.providers.ready(by_endpoint)  # litellm's import: before any call is timed
        if self.providers is not None and self.providers.native_for(request.endpoint):
            # one shared, pooled client: no first call to wait for
            return await self._call(key, request, by_endpoint, complete, file, meta)
        # Through litellm, the first call to an endpoint goes ahead alone (for up to WARM_UP_S): it builds
        # the HTTP client that litellm then reuses, where `concurrency` first calls at once would each build one.
        warm_key = (request.endpoint.model, request.endpoint.api_base)
        warmed = self._warmed.get(warm_key)
        first = warmed is None
        if warmed is None:
            warmed = self._warmed[warm_key] = asyncio.Event()
        elif not warmed.is_set():
            try:
                await bounded(warmed.wait(), WARM_UP_S)
            except asyncio.TimeoutError:
                warmed.set()
        try:
            return await self._call(key, request, by_endpoint, complete, file, meta)
        finally:
            if first:
                warmed.set()

    def _check_keys(self, endpoints: Iterable[Endpoint], meta: Mapping[str, Any]) -> None:
        """Stop the run (one error, exit 2) when a live call needs a key whose variable is not set:
        every case needing a call would fail the same way. (Refresh and off modes check before the run.)"""
        from .preflight import missing_key

        for endpoint in endpoints:
            var = missing_key(endpoint, self.client)
            if var is not None:
                what = f"case {meta['case']!r} of {meta['prompt']}" if "case" in meta else "a grader call"
                raise StopRun(
                    f"no API key: the environment variable {var} (for {endpoint.name}) is not set",
                    hint=f"{what} has no recording, so it needs a live call; export {var}=…, "
                    "or run from recordings with --mode replay",
                )

    async def _call(
        self,
        key: str,
        request: ChatRequest,
        by_endpoint: Mapping[Endpoint, ChatRequest],
        complete: CompleteFn,
        file: str,
        meta: Mapping[str, Any],
    ) -> Completion:
        async with self.semaphore:
            estimate = 0.0
            by_tokens = None
            if self.budget.limit is not None:
                if self.services.estimate is not None:
                    out = self.budget.expected_output_tokens(request.params, self._expect.get(key))
                    by_tokens = self.services.estimate(request, out)
                estimate = self.budget.estimate(by_tokens)
            if not self.budget.reserve(estimate):
                raise ProviderError(
                    f"not called: the budget of ${self.budget.limit:g} would be exceeded "
                    f"(spent ${self.budget.spent:.4f}, this call ~${estimate:.4f})",
                    kind="budget",
                )
            completion: Completion | None = None
            try:
                completion = await self._with_policy(
                    lambda ep: complete(by_endpoint[ep], self.policy.timeout_s), list(by_endpoint)
                )
            finally:
                self.budget.settle(estimate, completion, by_tokens)
        if self.mode != "off":
            self.store.put(
                key, {"kind": "chat", **meta, "request": request.payload(), "response": completion.to_json()}, file=file
            )
        return completion

    async def _with_policy(self, attempt: Callable[[Endpoint], Any], endpoints: Sequence[Endpoint]) -> Any:
        """``attempt`` on ``endpoints`` with the run's retry policy, counting every attempt made."""
        stats = Attempts()
        try:
            return await call_with_policy(
                attempt, endpoints, self.policy, sleep=self.services.sleep, rng=self.rng, stats=stats
            )
        finally:
            self.live_calls += stats.calls

    async def embed(self, endpoint: Endpoint, texts: list[str]) -> list[list[float]]:
        """One vector per text, each recorded on its own (a golden's vector is reused)."""
        keys = [request_key("embedding", {"model": endpoint.model, "text": t, **endpoint.key_fields()}) for t in texts]
        vectors: dict[int, list[float]] = {}
        if self.mode in ("auto", "replay"):
            for i, key in enumerate(keys):
                record = self.store.get(key)
                if record is not None:
                    vectors[i] = list(record["response"]["vector"])
        missing = [i for i in range(len(texts)) if i not in vectors]
        if missing and self.mode == "replay":
            raise ProviderError(
                f"no recording of the embeddings ({endpoint.model}) this assertion needs (replay mode)",
                kind="replay_miss",
            )
        if missing:
            if self.services.embed is None:
                self._provider_init()
            embed = self.services.embed
            assert embed is not None
            request = EmbeddingRequest(endpoint, tuple(texts[i] for i in missing))
            if self.providers is not None:
                await self.providers.ready([endpoint])
            async with self.semaphore:
                result = await self._with_policy(lambda ep: embed(request, self.policy.timeout_s), [endpoint])
            self.budget.spent += result.cost_usd or 0.0
            if len(result.vectors) != len(missing):
                raise ProviderError(
                    f"asked {endpoint.model} for {len(missing)} embeddings, got {len(result.vectors)}",
                    kind="invalid_response",
                )
            for i, vector in zip(missing, result.vectors):
                vectors[i] = vector
                if self.mode != "off":
                    self.store.put(
                        keys[i],
                        {"kind": "embedding", "request": {"model": endpoint.model, "text": texts[i]},
                         "response": {"vector": vector}},
                        file=EMBEDDINGS_FILE,
                    )
        return [vectors[i] for i in range(len(texts))]


# -- running -----------------------------------------------------------------------------------


def response_format(output: Mapping[str, Any]) -> dict[str, Any] | None:
    """What litellm is asked for a prompt's ``output``: a JSON schema, JSON, or nothing (text)."""
    if output.get("format") != "json":
        return None
    schema = output.get("schema")
    if isinstance(schema, Mapping):
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": dict(schema)}}
    return {"type": "json_object"}


@dataclass(slots=True)
class _Job:
    project: Project
    dataset: Dataset
    result: DatasetResult
    index: int
    case: Case
    prompt: Prompt | None
    model_override: str | None
    prompt_error: str | None
    position: int = 0  # the case's place in its dataset (a shard runs some of them)


class _Run:
    def __init__(
        self,
        project: Project,
        options: RunOptions,
        services: Services,
        on_case: Callable[[DatasetResult, CaseResult], None] | None,
    ) -> None:
        cfg = project.config.test
        self.project = project
        self.options = options
        self.root = Path(project.config.root)
        self.secrets = run_secrets(project)
        self.store = RecordingStore(self.root / cfg.recordings, secrets=self.secrets)
        policy = RetryPolicy(
            retries=options.retries if options.retries is not None else cfg.retries,
            timeout_s=options.timeout_s if options.timeout_s is not None else cfg.timeout_s,
        )
        limit = options.max_cost_usd if options.max_cost_usd is not None else cfg.max_cost_usd
        self.budget = Budget(limit)
        self.concurrency = options.concurrency or cfg.concurrency
        self.services = services
        self.policy = policy
        self.on_case = on_case
        self.grader = resolve_endpoint(cfg.grader or project.config.default_model or DEFAULT_GRADER, project.config.models)
        self.embedder = resolve_endpoint(cfg.embedding_model, project.config.models) if cfg.embedding_model else None
        self.client = cfg.client
        self.caller = Caller(self.store, options.mode, services, policy, self.concurrency, self.budget, self.client)
        self.judge = Judge(grade=self._grade, embed=self._embed if self.embedder else None)

    def prepare(self, jobs: Sequence[_Job]) -> None:
        """In a mode that always calls (refresh, off), start importing litellm now when some model of the
        run needs it (a missing litellm fails before any work). Auto and replay start nothing: a run
        served from recordings makes no client and imports no provider library."""
        if self.options.mode not in ("refresh", "off") or self.services.complete is not None:
            return
        from .providers import uses_litellm

        endpoints = run_endpoints(jobs, self.project)
        if any(uses_litellm(ep, self.client) for ep in endpoints):
            from .provider import litellm_installed, start_loading_litellm

            litellm_installed()
            start_loading_litellm()

    async def run(self, jobs: list[_Job]) -> None:
        tasks = [asyncio.ensure_future(self._run_job(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        except StopRun:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            await self.caller.aclose()

    async def _grade(self, messages: list[dict[str, str]]) -> str:
        request = ChatRequest(self.grader, tuple(messages), {**self.grader.params, "temperature": 0})
        completion = await self.caller.chat(
            request, (), file=GRADERS_FILE, meta={"grader": True},
            miss_hint="re-record the grader calls with `promptctl test --mode auto`",
        )
        return completion.text

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        assert self.embedder is not None
        return await self.caller.embed(self.embedder, texts)

    async def _run_job(self, job: _Job) -> None:
        try:
            result = await self._case(job)
        except ProviderError as e:
            result = CaseResult(job.case.id, "skipped" if e.kind == "budget" else "error", reason=str(e))
        except (asyncio.CancelledError, StopRun):
            raise
        except PromptctlError as e:
            result = CaseResult(job.case.id, "error", reason=str(e))
        except Exception as e:  # noqa: BLE001 - one broken case never stops the run
            result = CaseResult(job.case.id, "error", reason=f"unexpected {type(e).__name__}: {e}")
        result.source = result.source or f"{job.case.source}:{job.case.line}"
        result.golden = job.case.golden
        result.position = job.position
        job.result.cases[job.index] = result
        if self.on_case is not None:
            self.on_case(job.result, result)

    async def _case(self, job: _Job) -> CaseResult:
        case = job.case
        if job.prompt is None:
            return CaseResult(case.id, "error", reason=job.prompt_error or "prompt not found")
        prompt = job.prompt
        messages = job.project.renderer.render(prompt, case.inputs)
        model_name = job.model_override or prompt.model
        if not model_name:
            return CaseResult(
                case.id, "error",
                reason=f"prompt {prompt.name!r} names no model (set `model:` in {prompt.source}, "
                "`defaults.model` in promptctl.yaml, or pass --model)",
            )
        models = job.project.config.models if job.model_override is None else self.project.config.models
        primary = resolve_endpoint(model_name, models)
        fmt = response_format(prompt.output)
        request = ChatRequest(primary, tuple(messages), {**primary.params, **prompt.params}, fmt)
        fallbacks = []
        if job.model_override is None:
            for name in prompt.fallbacks:
                ep = resolve_endpoint(name, models)
                fallbacks.append(ChatRequest(ep, tuple(messages), {**ep.params, **prompt.params}, fmt))
        hint = f"record it with `promptctl test --mode auto {shlex.quote(job.dataset.name)} --filter {shlex.quote(case.id)}`"
        completion = await self.caller.chat(
            request, fallbacks, file=prompt_file(prompt.name), meta={"prompt": prompt.name, "case": case.id},
            miss_hint=hint, expect_tokens=golden_tokens(case.golden),
        )
        return await self._check(job, prompt, messages, completion)

    async def _check(
        self, job: _Job, prompt: Prompt, messages: list[dict[str, Any]], completion: Completion
    ) -> CaseResult:
        case = job.case
        output = completion.text
        subject = Subject(
            output=output,
            golden=case.golden,
            inputs=case.inputs,
            question=next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""),
            case_id=case.id,
            prompt=prompt.name,
            output_schema=prompt.output.get("schema") if isinstance(prompt.output.get("schema"), Mapping) else None,
            latency_ms=completion.latency_ms,
            cost_usd=completion.cost_usd,
            root=self.root,
        )
        results: list[AssertionResult] = []
        data: Any = None
        if prompt.output.get("format") == "json":
            try:
                data = parse_json_output(output)
            except ValueError as e:
                results.append(AssertionResult("output-json", False, 0.0, f"output is not valid JSON ({e})"))
            else:
                subject.data = data
                results.append(AssertionResult("output-json", True, 1.0, "output is JSON"))
                if subject.output_schema is not None:
                    problem = schema_problem(data, subject.output_schema)
                    results.append(
                        AssertionResult(
                            "output-schema",
                            problem is None,
                            float(problem is None),
                            f"output does not match output.schema: {problem}" if problem else "output matches output.schema",
                        )
                    )
        asserts = [*job.dataset.default_asserts, *case.asserts]
        results.extend(await evaluate(asserts, subject, self.judge))
        passed, score, reason = verdict(results)
        return CaseResult(
            id=case.id,
            status="passed" if passed else "failed",
            score=score,
            reason=reason,
            output=output,
            data=data,
            asserts=results,
            model=completion.model or None,
            latency_ms=completion.latency_ms,
            cost_usd=completion.cost_usd,
            tokens=int(completion.usage.get("total_tokens", 0)),
            recorded=completion.recorded,
        )


def golden_tokens(golden: Any) -> int | None:
    """The tokens of an answer like ``golden`` (characters / 4), or None without a golden."""
    if golden is None:
        return None
    from .prices import CHARS_PER_TOKEN

    text = golden if isinstance(golden, str) else json.dumps(golden, ensure_ascii=False)
    return int(len(text) / CHARS_PER_TOKEN) + 1


def _jobs(
    project: Project,
    datasets: Sequence[Dataset],
    models: Sequence[str | None],
    options: RunOptions,
    version: str,
) -> tuple[list[DatasetResult], list[_Job]]:
    results: list[DatasetResult] = []
    jobs: list[_Job] = []
    for model in models:
        for dataset in datasets:
            picked = [(n, c) for n, c in enumerate(dataset.cases) if selected(dataset, c, options)]
            cases = [c for _, c in picked]
            if not cases:
                continue
            prompt: Prompt | None = None
            error = None
            try:
                prompt = project.get_prompt(dataset.prompt)
            except PromptctlError as e:
                error = f"prompt {dataset.prompt!r} cannot be loaded at {version}: {e}"
            result = DatasetResult(
                dataset=dataset,
                model=model or (prompt.model if prompt else None),
                prompt_ref=prompt.ref if prompt else None,
                cases=[CaseResult(c.id, "skipped", position=n) for n, c in picked],
                version=version,
            )
            result.model = model if model is not None else result.model
            results.append(result)
            for i, (n, case) in enumerate(picked):
                jobs.append(_Job(project, dataset, result, i, case, prompt, model, error, n))
    return results, jobs


def run_endpoints(jobs: Sequence[_Job], project: Project) -> set[Endpoint]:
    """Every model endpoint the cases of ``jobs`` may call (primaries and fallbacks)."""
    found: set[Endpoint] = set()
    for job in jobs:
        if job.prompt is None:
            continue
        name = job.model_override or job.prompt.model
        models = job.project.config.models if job.model_override is None else project.config.models
        if name:
            found.add(resolve_endpoint(name, models))
        if job.model_override is None:
            found.update(resolve_endpoint(n, models) for n in job.prompt.fallbacks)
    return found


def run_secrets(project: Project) -> list[str]:
    """Every secret value a run could meet: each alias's ``api_key_env`` and every credential-named variable."""
    from .provider import secret_values

    return secret_values([a.api_key_env for a in project.config.models.values() if a.api_key_env])


def redact_case(case: CaseResult, secrets: Sequence[str]) -> None:
    """Scrub ``case`` of every secret value, in place, before any report is made from it (reasons,
    grader reasons and outputs alike), so that no report format, summary or golden can show one."""
    from .provider import redact

    case.reason = redact(case.reason, secrets) if case.reason else case.reason
    if isinstance(case.output, str):
        case.output = redact(case.output, secrets)
    for a in case.asserts:
        a.reason = redact(a.reason, secrets) if a.reason else a.reason


def run_tests(
    project: Project,
    datasets: Sequence[Dataset],
    options: RunOptions | None = None,
    *,
    baseline: Project | None = None,
    services: Services | None = None,
    on_case: Callable[[DatasetResult, CaseResult], None] | None = None,
) -> RunResult:
    """Run ``datasets`` (on each of ``options.models``, and on ``baseline`` too when given).

    Returns the results; raises only for what stops a run before it starts (a bad mode, litellm
    missing outside replay mode, no case matching the filter). Ctrl-C propagates as
    KeyboardInterrupt after the recordings made so far are safely on disk.
    """
    options = options or RunOptions()
    if options.mode not in MODES:
        raise UsageError(f"unknown mode {options.mode!r}", hint="use one of " + ", ".join(MODES))
    services = services or Services()
    start = time.perf_counter()
    models: list[str | None] = list(dict.fromkeys(options.models)) or [None]
    version = project.source.label
    results, jobs = _jobs(project, datasets, models, options, version)
    if not jobs and options.shard is not None:
        return RunResult(datasets=[], mode=options.mode, version=version, models=models, shard=options.shard)
    if not jobs:
        raise UsageError(
            f"no case matches --filter {options.filter!r}" if options.filter else "the selected datasets have no cases",
            hint="check the case ids with `promptctl test` and no filter" if options.filter else None,
        )
    base_results: list[DatasetResult] = []
    if baseline is not None:
        base_results, base_jobs = _jobs(baseline, datasets, models, options, baseline.source.label)
        jobs += base_jobs
    from .preflight import check_models

    live = options.mode in ("refresh", "off") and services.complete is None
    check_models(run_endpoints(jobs, project), project.config.models, live=live, client=project.config.test.client)
    run = _Run(project, options, services, on_case)
    run.prepare(jobs)
    try:
        asyncio.run(run.run(jobs))
    finally:
        run.store.close()
    unused = None
    if options.prune is not None:
        unused = run.store.prune() if options.prune == "drop" else run.store.unused()
    elif not run.budget.stopped and run.store.written:
        run.store.compact()
    for d in results + base_results:
        for c in d.cases:
            redact_case(c, run.secrets)
    return RunResult(
        datasets=results,
        mode=options.mode,
        version=version,
        models=models,
        baseline=base_results,
        baseline_version=baseline.source.label if baseline is not None else None,
        budget_limit=run.budget.limit,
        spent_usd=run.budget.spent,
        estimated_usd=run.budget.estimated,
        budget_stopped=run.budget.stopped,
        live_calls=run.caller.live_calls,
        replayed=run.caller.replayed,
        recorded=run.store.written,
        duration_s=time.perf_counter() - start,
        shard=options.shard,
        unused=unused,
        kept=len(run.store.used),
    )

