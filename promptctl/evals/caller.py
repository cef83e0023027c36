"""Getting answers: from recordings when the mode allows, else live, within the budget, the concurrency
and the retry policy, recorded as they arrive (:class:`Caller`); and the budget itself (:class:`Budget`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError, UsageError
from .provider import (
    Attempts,
    ChatRequest,
    CompleteFn,
    Completion,
    EmbeddingRequest,
    EmbedFn,
    Endpoint,
    EstimateFn,
    RetryPolicy,
    bounded,
    call_with_policy,
)
from .recordings import EMBEDDINGS_FILE, RecordingStore, request_key

if TYPE_CHECKING:
    import asyncio
    import random

    from .providers import Providers

DEFAULT_OUTPUT_TOKENS = 256  # the answer length assumed for a budget estimate before any is seen
WARM_UP_S = 2.0  # how long other calls to an endpoint wait for its first call to finish


@dataclass(slots=True)
class Services:
    """The outside world of a run: model calls (one attempt each), embeddings, cost estimates, sleep.

    Left as None, ``complete``/``embed``/``estimate`` go through :class:`~promptctl.evals.providers.Providers`
    (made on the first live call: a run served from recordings makes no client), and ``sleep`` is
    ``asyncio.sleep``.
    """

    complete: CompleteFn | None = None
    embed: EmbedFn | None = None
    estimate: EstimateFn | None = None
    sleep: Callable[[float], Any] | None = None
    rng: random.Random | None = None


def golden_tokens(golden: Any) -> int | None:
    """The tokens of an answer like ``golden`` (characters / 4), or None without a golden."""
    if golden is None:
        return None
    from .prices import CHARS_PER_TOKEN

    text = golden if isinstance(golden, str) else json.dumps(golden, ensure_ascii=False)
    return int(len(text) / CHARS_PER_TOKEN) + 1


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


class NeedsTask(BaseException):  # noqa: N818 - not an error: a signal to the runner, past every `except Exception`
    """Raised by :meth:`Caller.chat` and :meth:`Caller.embed` instead of a live call in a case the runner
    runs at once, without an event loop (see ``_Run.at_once``): nothing is sent or counted yet, and
    the case runs again, in a task of its own."""


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
        self.budget = budget
        self._rng = services.rng
        self.live_calls = 0
        self.replayed = 0
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._warmed: dict[tuple[str, str | None], asyncio.Event] = {}
        self._expect: dict[str, int] = {}  # request key -> the answer's expected tokens (its golden's)
        self.at_once = False  # cases are being run at once, without an event loop (see _Run.at_once)
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def rng(self) -> random.Random:
        """The retries' jitter (made on the first live call)."""
        if self._rng is None:
            import random

            self._rng = random.Random()
        return self._rng

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """At most ``concurrency`` calls in flight (made in the run's event loop, on the first call)."""
        if self._semaphore is None:
            import asyncio

            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._semaphore

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
        self, request: ChatRequest, fallbacks: Sequence[ChatRequest], *, file: str, meta: Mapping[str, Any],
        miss_hint: str | Callable[[], str],
        golden: Any = None,
    ) -> Completion:
        """The completion of ``request`` (or, when its model fails, of the first fallback that answers).
        ``golden``: what the answer is expected to look like, so a budget can estimate its length.
        ``miss_hint``: what replay mode's error for a missing recording suggests (or what makes it)."""
        key = request_key("chat", request.key_payload())
        if self.budget.limit is not None and (tokens := golden_tokens(golden)) is not None:
            self._expect[key] = tokens
        if self.mode in ("auto", "replay"):
            record = self.store.get(key)
            if record is not None:
                self.replayed += 1
                return Completion.from_json(record["response"])
            if self.mode == "replay":
                raise ProviderError(
                    f"no recording of this request to {request.endpoint.model} (replay mode never calls a model)",
                    kind="replay_miss",
                    hint=miss_hint() if callable(miss_hint) else miss_hint,
                )
        if self.at_once:
            raise NeedsTask  # a case run at once (see _Run.at_once) that needs this call: it runs in a task
        import asyncio  # in the run's event loop, for a live call: a run served from recordings never imports it

        shared = self._inflight.get(key)
        if shared is not None:
            return await asyncio.shield(shared)
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
            self._check_key(request.endpoint, meta)  # a fallback's missing key is that fallback's failure
            await self.providers.ready(by_endpoint)  # litellm's import: before any call is timed
            if self.providers.native_for(request.endpoint):
                # one shared, pooled client: no first call to wait for
                return await self._call(key, request, by_endpoint, complete, file, meta)
        import asyncio

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

    def _check_key(self, endpoint: Endpoint, meta: Mapping[str, Any]) -> None:
        """Stop the run (one error, exit 2) when a live call needs a key whose variable is not set:
        every case needing a call would fail the same way. (Refresh and off modes check before the run.)"""
        from .preflight import missing_key

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
        if missing and self.at_once:
            raise NeedsTask  # as in chat()
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
            for i, vector in zip(missing, result.vectors, strict=True):
                vectors[i] = vector
                if self.mode != "off":
                    self.store.put(
                        keys[i],
                        {"kind": "embedding", "request": {"model": endpoint.model, "text": texts[i]},
                         "response": {"vector": vector}},
                        file=EMBEDDINGS_FILE,
                    )
        return [vectors[i] for i in range(len(texts))]
