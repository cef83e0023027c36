"""Running datasets: render each case, get the model's answer (recorded or live), check it.

:func:`run_tests` is the one entry point. It runs every selected case of every dataset (for each
``--model`` when several are compared, and again on a baseline version when asked), and always
returns a :class:`RunResult`: a provider failure, a render error or a missing recording fails that
case with its reason. The cases served from recordings with local checks run at once, without an
event loop; the rest run in one asyncio loop with at most ``concurrency`` model calls in flight.

The completion function is a parameter (:class:`Services`), so tests can pass a fake; by default
calls go through :class:`~promptctl.evals.providers.Providers`: the native client for OpenAI-compatible
endpoints, litellm for the rest, each made on the first live call that needs it.
"""

from __future__ import annotations

import difflib
import gc
import os
import shlex
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, PromptctlError, ProviderError, UsageError
from ..model import Case, Dataset, Prompt
from .assertions import (
    GUARD_BASE_TYPES,
    AssertionResult,
    AssertionSetupError,
    Judge,
    Subject,
    check,
    evaluate,
    transformed,
    verdict,
)
from .caller import Budget, Caller, NeedsTask, Services, StopRun, golden_tokens
from .provider import (
    ChatRequest,
    Completion,
    Endpoint,
    RetryPolicy,
    resolve_endpoint,
)
from .recordings import GRADERS_FILE, MODES, RecordingStore, prompt_file
from .results import CaseResult, DatasetResult, ModelSummary, Regression, RunResult, percentile

__all__ = [  # what callers import from here (the run, and the pieces it is made of)
    "Budget", "Caller", "CaseResult", "DatasetResult", "ModelSummary", "Regression", "RunOptions", "RunResult",
    "Services", "StopRun", "count_cases", "golden_tokens", "percentile", "run_tests", "select_datasets",
]

if TYPE_CHECKING:
    from ..project import Project

DEFAULT_GRADER = "openai/gpt-4o-mini"


# -- options ------------------------------------------------------------------------------


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


# -- running -----------------------------------------------------------------------------------


def response_format(output: Mapping[str, Any]) -> dict[str, Any] | None:
    """What litellm is asked for a prompt's ``output``: a JSON schema, JSON, or nothing (text)."""
    if output.get("format") != "json":
        return None
    schema = output.get("schema")
    if isinstance(schema, Mapping):
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": dict(schema)}}
    return {"type": "json_object"}


def chat_requests(
    prompt: Prompt, messages: Sequence[Mapping[str, Any]], model_name: str, models: Mapping[str, Any], *,
    fallbacks: bool = True,
) -> tuple[ChatRequest, list[ChatRequest]]:
    """The request for ``prompt``'s rendered ``messages`` to ``model_name`` (an alias of ``models`` or a
    model string), and one per fallback of the prompt (none when ``fallbacks`` is false: a model named
    on the command line is the only one asked). The same for ``promptctl test`` and ``promptctl run``,
    so an answer recorded by one is found by the other."""
    fmt = response_format(prompt.output)

    def to(endpoint: Endpoint) -> ChatRequest:
        return ChatRequest(endpoint, tuple(messages), {**endpoint.params, **prompt.params}, fmt, prompt.tools)

    primary = to(resolve_endpoint(model_name, models))
    return primary, [to(resolve_endpoint(name, models)) for name in prompt.fallbacks] if fallbacks else []


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

    def at_once(self, jobs: Sequence[_Job]) -> list[_Job]:
        """Run at once, here and without an event loop, every case whose answer is recorded and whose
        checks are all local; return the others, to run in tasks. A case that turns out to need a live
        call stops there (NeedsTask: before anything is sent or counted) and is returned with them, as
        is every case with a model-graded, embedding or python check. A run served from recordings so
        never starts an event loop, nor imports asyncio."""
        # refresh and off call for every case, and so does a run with nothing recorded yet
        if self.options.mode not in ("auto", "replay") or len(self.store) == 0:
            return list(jobs)
        rest: list[_Job] = []
        local: dict[int, bool] = {}  # per dataset: its default assertions are all local
        stop: StopRun | None = None
        collecting = gc.isenabled()
        if collecting:  # what the cases make stays to the end (their results): the cyclic
            gc.disable()  # collector would only walk it, over and over; on again below
        self.caller.at_once = True
        try:
            for job in jobs:
                ok = local.get(id(job.dataset))
                if ok is None:
                    ok = local[id(job.dataset)] = _local_checks(job.dataset.default_asserts)
                if not (ok and _local_checks(job.case.asserts)):
                    rest.append(job)
                    continue
                try:
                    _to_the_end(self._run_job(job))
                except NeedsTask:
                    rest.append(job)
                except StopRun as e:
                    stop = stop or e
        finally:
            self.caller.at_once = False
            if collecting:
                gc.enable()
        if stop is not None:
            raise stop
        return rest

    async def run(self, jobs: Sequence[_Job]) -> None:
        """Run ``jobs``, each in a task of its own, at most ``concurrency`` model calls in flight."""
        import asyncio

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
        except StopRun:  # (a task's cancellation is no Exception: it passes too)
            raise
        except PromptctlError as e:
            result = CaseResult(job.case.id, "error", reason=str(e))
        except Exception as e:  # noqa: BLE001 - one broken case never stops the run
            result = CaseResult(job.case.id, "error", reason=f"unexpected {type(e).__name__}: {e}")
        result.source = result.source or f"{job.case.source}:{job.case.line}"
        result.golden = job.case.golden
        result.position = job.position
        result.inputs = job.case.inputs
        result.description = job.case.description
        result.tags = job.case.tags
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
        request, fallbacks = chat_requests(prompt, messages, model_name, models, fallbacks=job.model_override is None)
        def hint() -> str:  # only for a missing recording in replay mode
            return f"record it with `promptctl test --mode auto {shlex.quote(job.dataset.name)} --filter {shlex.quote(case.id)}`"

        completion = await self.caller.chat(
            request, fallbacks, file=prompt_file(prompt.name), meta={"prompt": prompt.name, "case": case.id},
            miss_hint=hint, golden=case.golden,
        )
        return await self._check(job, prompt, messages, completion)

    async def _check(
        self, job: _Job, prompt: Prompt, messages: list[dict[str, Any]], completion: Completion
    ) -> CaseResult:
        case = job.case
        output = completion.output
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
            finish_reason=completion.finish_reason,
            tool_calls=completion.tool_calls,
            tools=prompt.tools,
        )
        from ..guards import output_checks

        results = output_checks(prompt, subject)
        data = subject.data if results and results[0].passed else None
        # the prompt's guards, on every case: a guard is tested before it ships (same code as the runtime's)
        if prompt.guards:
            results.extend(check({**g, "description": g.get("description") or "guard"}, subject) for g in prompt.guards)
        try:
            asserts = _file_values_of(job.project, job.dataset, case)
        except AssertionSetupError as e:
            asserts = []
            results.append(AssertionResult("file", False, 0.0, str(e)))
        asserts = templated_values(asserts, job.project, case.inputs)
        transform = case.transform or job.dataset.default_transform
        if transform:  # promptfoo's transform: the assertions see the output it makes (guards saw the answer)
            try:
                subject = transformed(subject, transform)
            except AssertionSetupError as e:
                results.append(AssertionResult("transform", False, 0.0, str(e)))
                asserts = []
        results.extend(await evaluate(asserts, subject, self.judge))
        passed, score, reason = verdict(results, case.threshold)
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
            messages=messages,
            tool_calls=[dict(c) for c in completion.tool_calls] or None,
        )


def _local_checks(asserts: Sequence[Any]) -> bool:
    """Whether every one of ``asserts`` (and of an ``assert-set``'s) is a local, synchronous check (a
    guard type): evaluating them never waits, calls a model or runs a python assertion."""
    for spec in asserts:
        if not isinstance(spec, Mapping):
            return False
        kind = str(spec.get("type", ""))
        if kind == "assert-set":
            children = spec.get("assert")
            if not isinstance(children, list) or not _local_checks(children):
                return False
        elif (kind[4:] if kind.startswith("not-") else kind) not in GUARD_BASE_TYPES:
            return False
    return True


def _to_the_end(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` to its end here, without an event loop. It must never wait (a case run at once
    stops with NeedsTask before its first wait); a bare yield, as ``asyncio.sleep(0)`` makes, only
    passes its turn, and there is no other to pass it to."""
    try:
        while True:
            if coro.send(None) is not None:
                coro.close()
                raise RuntimeError("a case run at once waited for something (it needs a task)")
    except StopIteration:
        return


def _file_values_of(project: Project, dataset: Dataset, case: Case) -> list[Mapping[str, Any]]:
    """The dataset's default assertions and the case's, with every ``file://`` value read (relative to
    the folder of the file each is written in)."""
    if not any(_names_a_file(a) for a in dataset.default_asserts) and not any(_names_a_file(a) for a in case.asserts):
        return [*dataset.default_asserts, *case.asserts]  # the common case: nothing to read, no path work
    import posixpath

    from .values import file_value, source_rel

    def read(asserts: Sequence[Mapping[str, Any]], shown: str) -> list[Mapping[str, Any]]:
        if not any(_names_a_file(a) for a in asserts):  # the common case: nothing to read, no path work
            return list(asserts)
        base = posixpath.dirname(source_rel(project, shown))
        return [nested(a, lambda one: file_value(one, project, base)) for a in asserts]

    return [*read(dataset.default_asserts, dataset.path), *read(case.asserts, case.source or dataset.path)]


def templated_values(asserts: Sequence[Mapping[str, Any]], project: Project, inputs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Each assertion whose ``value`` is a template (``contains: "{{ name }}"``), rendered with the
    case's inputs in the prompts' sandbox, as promptfoo renders assertion values with a test's vars."""
    if not any(_templated(spec) for spec in asserts):  # the common case: every value is plain
        return list(asserts)

    def render(spec: Mapping[str, Any]) -> Mapping[str, Any]:
        value = spec.get("value")
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            what = f"the value of {spec.get('type', 'an')} assertion"
            return {**spec, "value": project.renderer.render_text(value, inputs, what=what)}
        return spec

    return [nested(spec, render) for spec in asserts]


def _templated(spec: Any) -> bool:
    """Whether an assertion (or one of an ``assert-set``'s) has a ``value`` that is a template."""
    if not isinstance(spec, Mapping):
        return False
    value = spec.get("value")
    return (isinstance(value, str) and ("{{" in value or "{%" in value)) or (
        spec.get("type") == "assert-set" and isinstance(spec.get("assert"), list)
        and any(_templated(c) for c in spec["assert"]))


def _names_a_file(spec: Any) -> bool:
    """Whether an assertion (or one of an ``assert-set``'s) has a ``file://`` value."""
    if not isinstance(spec, Mapping):
        return False
    value = spec.get("value")
    return (isinstance(value, str) and value.startswith("file://")) or (
        spec.get("type") == "assert-set" and any(_names_a_file(c) for c in spec.get("assert") or ()))


def nested(spec: Mapping[str, Any], fn: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Mapping[str, Any]:
    """``fn`` applied to an assertion, and to each assertion of an ``assert-set`` in it."""
    if not isinstance(spec, Mapping):
        return spec
    if spec.get("type") == "assert-set" and isinstance(spec.get("assert"), list):
        return {**spec, "assert": [nested(child, fn) for child in spec["assert"]]}
    return fn(spec)


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
                prompt_ref=project.ref_of(prompt) if prompt else None,
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
    from .provider import redact, redact_data

    case.reason = redact(case.reason, secrets) if case.reason else case.reason
    if isinstance(case.output, str):
        case.output = redact(case.output, secrets)
    for a in case.asserts:
        a.reason = redact(a.reason, secrets) if a.reason else a.reason
    case.messages = redact_data(case.messages, secrets)
    case.inputs = redact_data(case.inputs, secrets)
    case.golden = redact_data(case.golden, secrets)
    if case.tool_calls:
        case.tool_calls = redact_data(case.tool_calls, secrets)


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
        rest = run.at_once(jobs)
        if rest:
            import asyncio  # only now: a run served from recordings never imports it

            asyncio.run(run.run(rest))
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
    before = {(d.dataset.path, d.model, c.id): c for d in base_results for c in d.cases}
    for d in results:
        for c in d.cases:
            c.baseline = before.get((d.dataset.path, d.model, c.id))
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

