"""Model calls: the only module that imports litellm, and the policy around each call.

litellm is imported lazily (it costs seconds and hundreds of megabytes), offline and quiet:
``LITELLM_LOCAL_MODEL_COST_MAP=True`` (no price-list fetch at import), ``LITELLM_MODE=PRODUCTION``
(no ``.env`` loading), ``LITELLM_LOG=ERROR`` and ``suppress_debug_info``. Every call passes its own
``timeout`` (litellm's default is 6,000 s) and ``num_retries=0, max_retries=0``: the retry loop is
ours, in :func:`call_with_policy`:

- retries with exponential backoff and jitter on 408/409/429/5xx, timeouts and connection errors,
  honouring the server's ``Retry-After`` (or ``retry-after-ms``);
- never on 400/401/403/404, a context-window error or a missing key;
- then the prompt's fallbacks, in order, each with the same policy.

A failed call raises :class:`~promptctl.errors.ProviderError` whose message has every API key
(and anything shaped like a bearer token) redacted.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DependencyError, ProviderError

if TYPE_CHECKING:
    import random

INSTALL_HINT = "pip install 'promptctl[eval]'"
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION", "LITELLM_LOG": "ERROR"}
RETRYABLE_STATUS = {408, 409, 429}

T = TypeVar("T")


# -- what is called ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A model as litellm is asked for it: the litellm model string, and where and how to reach it.

    ``name`` is what the project wrote (an alias or a model string). ``api_key_env`` names the
    variable holding the key; the key itself is read at call time and never stored.
    """

    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def key_fields(self) -> dict[str, Any]:
        """What of the endpoint a recording key covers: its ``api_base`` when it has one (two servers
        behind one model string answer differently), never the key."""
        return {"api_base": self.api_base.rstrip("/")} if self.api_base else {}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion request: what the recording key covers (plus the endpoint's address)."""

    endpoint: Endpoint
    messages: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    response_format: Mapping[str, Any] | None = None
    tools: tuple[Mapping[str, Any], ...] = ()  # OpenAI function tools the model may call

    def payload(self) -> dict[str, Any]:
        """The request as data: model, messages, params, output schema and tools; never a key or a URL."""
        out = {
            "model": self.endpoint.model,
            "messages": [dict(m) for m in self.messages],
            "params": dict(self.params),
            "response_format": dict(self.response_format) if self.response_format else None,
        }
        if self.tools:  # only when there are some: the keys of requests without tools stay as they were
            out["tools"] = [dict(t) for t in self.tools]
        return out

    def options(self) -> dict[str, Any]:
        """What a call sends beside the model and the messages: the params, the output format and the tools."""
        out = dict(self.params)
        if self.response_format:
            out["response_format"] = dict(self.response_format)
        if self.tools:
            out["tools"] = [dict(t) for t in self.tools]
        return out

    def key_payload(self) -> dict[str, Any]:
        """What the recording key covers: the payload and the endpoint (see Endpoint.key_fields)."""
        return {**self.payload(), **self.endpoint.key_fields()}


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Embeddings of some texts by one model."""

    endpoint: Endpoint
    texts: tuple[str, ...]


@dataclass(slots=True)
class Completion:
    """A model's answer with what it cost: tokens, USD (None when the model has no known price), ms."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_ms: float = 0.0
    finish_reason: str | None = None
    recorded: bool = False  # served from a recording, not a live call
    #: the functions the model called, as OpenAI writes them: {id, type: function, function: {name, arguments}}
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    first_token_ms: float | None = None  # a streamed answer's first text (promptctl run); never recorded

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "model": self.model,
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "latency_ms": round(self.latency_ms, 1),
            "finish_reason": self.finish_reason,
        }
        if self.tool_calls:
            out["tool_calls"] = [dict(c) for c in self.tool_calls]
        return out

    @property
    def output(self) -> str:
        """What the assertions see: the text, or when the model answered only with tool calls, those
        calls as JSON (as promptfoo shows an answer that is only tool calls)."""
        if self.tool_calls and not self.text:
            return json.dumps([dict(c) for c in self.tool_calls], ensure_ascii=False)
        return self.text

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Completion:
        return cls(
            text=str(data.get("text") or ""),
            model=str(data.get("model") or ""),
            usage={k: int(v) for k, v in (data.get("usage") or {}).items() if isinstance(v, (int, float))},
            cost_usd=data.get("cost_usd"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            finish_reason=data.get("finish_reason"),
            recorded=True,
            tool_calls=tool_calls_of(data.get("tool_calls")),
        )


def tool_calls_of(raw: Any) -> tuple[dict[str, Any], ...]:
    """The tool calls of an answer (OpenAI's ``message.tool_calls``, as dicts or as litellm's objects),
    each as ``{id, type, function: {name, arguments}}``; ``arguments`` is kept as the model wrote it
    (a JSON text, not always valid: ``is-valid-openai-tools-call`` checks it). Nothing else is kept."""
    out: list[dict[str, Any]] = []
    for call in raw or ():
        if not isinstance(call, Mapping):
            call = call.model_dump() if hasattr(call, "model_dump") else getattr(call, "__dict__", {})
        if not isinstance(call, Mapping):
            continue
        fn = call.get("function")
        if fn is not None and not isinstance(fn, Mapping):
            fn = fn.model_dump() if hasattr(fn, "model_dump") else getattr(fn, "__dict__", {})
        if not isinstance(fn, Mapping):
            continue
        args = fn.get("arguments")
        out.append({
            "id": str(call.get("id") or ""),
            "type": str(call.get("type") or "function"),
            "function": {"name": str(fn.get("name") or ""),
                         "arguments": args if isinstance(args, str) else json.dumps(args if args is not None else {})},
        })
    return tuple(out)


class ToolCallPieces:
    """The tool calls of a streamed answer, put together from their pieces: each piece names its call's
    index, and adds to its id, function name or arguments (what both clients' streams send)."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, index: Any, call_id: Any, name: Any, arguments: Any) -> None:
        call = self._calls.setdefault(int(index or 0),
                                      {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        call["id"] = call_id or call["id"]
        call["function"]["name"] += name or ""
        call["function"]["arguments"] += arguments or ""

    def calls(self) -> tuple[dict[str, Any], ...]:
        return tool_calls_of([self._calls[i] for i in sorted(self._calls)])


@dataclass(slots=True)
class Embeddings:
    """Vectors for the texts of an :class:`EmbeddingRequest`, in order."""

    vectors: list[list[float]]
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_ms: float = 0.0


#: One attempt at a chat call (no retries): what the runner takes as a parameter, so unit tests can
#: pass a fake. Raises ProviderError on failure.
CompleteFn = Callable[[ChatRequest, float], Awaitable[Completion]]
EmbedFn = Callable[[EmbeddingRequest, float], Awaitable[Embeddings]]
EstimateFn = Callable[[ChatRequest, int], "float | None"]


def resolve_endpoint(name: str, models: Mapping[str, Any]) -> Endpoint:
    """``name`` through the project's aliases (``Config.models``); a plain model string otherwise."""
    alias = models.get(name)
    if alias is None:
        return Endpoint(name=name, model=name)
    return Endpoint(
        name=name,
        model=alias.model,
        api_base=alias.api_base,
        api_key_env=alias.api_key_env,
        params=MappingProxyType(dict(alias.params)),
    )


# -- secrets -----------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.I)
_SECRET_SHAPES = re.compile(r"(?i)(bearer\s+)\S+|\b(sk|pk|rk|xai|gsk|hf)-[A-Za-z0-9_\-]{6,}")


def secret_values(extra_names: Sequence[str] = ()) -> list[str]:
    """The values of every environment variable that looks like a credential (longest first)."""
    found = {
        v
        for k, v in os.environ.items()
        if (_SECRET_NAME.search(k) or k in extra_names) and len(v) >= 6
    }
    return sorted(found, key=len, reverse=True)


@functools.lru_cache(maxsize=64)
def _secret_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Each secret value, then its JSON-escaped spelling where that differs (computed once per set)."""
    forms: list[str] = []
    for s in secrets:
        forms.append(s)
        escaped = json.dumps(s)[1:-1]
        if escaped != s:
            forms.append(escaped)
    return tuple(forms)


def _mask(m: re.Match[str]) -> str:
    return (m.group(1) or "") + "***"


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value (also as JSON escapes it) and bearer-token-shaped string replaced by ``***``."""
    for s in _secret_forms(tuple(secrets)) if secrets else ():
        if s in text:
            text = text.replace(s, "***")
    if "-" not in text and "bearer" not in text.lower():  # neither shape can match (the common case)
        return text
    return _SECRET_SHAPES.sub(_mask, text)


def redact_data(value: Any, secrets: Sequence[str]) -> Any:
    """JSON data (inputs, goldens, messages) with :func:`redact` applied to every string in it."""
    kind = type(value)
    if kind is str:
        return redact(value, secrets)
    if kind is dict:  # the common shapes by exact type first (isinstance on Mapping is slow)
        return {k: redact_data(v, secrets) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [redact_data(v, secrets) for v in value]
    if kind in (int, float, bool) or value is None:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, secrets) for v in value]
    return value


# -- importing litellm -------------------------------------------------------------------------

_litellm: Any = None
_import_lock = threading.Lock()


def load_litellm() -> Any:
    """Import litellm once, offline and quiet; a clear DependencyError when it is not installed."""
    global _litellm
    with _import_lock:
        if _litellm is None:
            for k, v in LITELLM_ENV.items():
                os.environ.setdefault(k, v)
            # litellm's pydantic models warn about its own types, at import and at first use: not the
            # user's concern (a narrow filter; catch_warnings would not be thread-safe here)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"pydantic\._internal\..*")
            # a call cancelled (Ctrl-C) inside litellm before its own inner coroutine started: nothing lost
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message=r"coroutine '\w+\.a(completion|embedding)' was never awaited")
            try:
                module: Any = importlib.import_module("litellm")
            except ImportError:
                raise DependencyError(
                    "promptctl test calls models through litellm, which is not installed",
                    hint=f"install it with: {INSTALL_HINT} (or use --mode replay to run from recordings only)",
                ) from None
            module.suppress_debug_info = True
            module.telemetry = False
            _litellm = module
            import gc

            gc.freeze()  # litellm's hundreds of thousands of objects: out of every later collection
    return _litellm


def litellm_installed() -> None:
    """A DependencyError now when litellm is not installed (found without importing it)."""
    import importlib.util

    if importlib.util.find_spec("litellm") is None:
        raise DependencyError(
            "promptctl test calls this run's models through litellm, which is not installed",
            hint=f"install it with: {INSTALL_HINT} (OpenAI-compatible models need no litellm; "
            "or use --mode replay to run from recordings only)",
        )


def start_loading_litellm() -> None:
    """Begin importing litellm in a thread, so its seconds overlap with other work.

    Not a daemon thread: an interpreter that exits early (a usage error) waits for the import to
    finish instead of tearing it down halfway.
    """

    def work() -> None:
        try:
            load_litellm()
        except Exception:  # noqa: BLE001 - the real call reports it
            pass

    threading.Thread(target=work, name="import-litellm").start()


# -- the litellm provider ----------------------------------------------------------------------


def alias_key(endpoint: Endpoint) -> str:
    """The value of the alias's ``api_key_env``; an ``auth`` ProviderError saying what to export when unset."""
    assert endpoint.api_key_env
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        raise ProviderError(
            f"no API key: the environment variable {endpoint.api_key_env} is not set",
            kind="auth",
            hint=f"export {endpoint.api_key_env}=… (the key for {endpoint.api_base or endpoint.model})",
        )
    return key


class LitellmProvider:
    """Calls models through litellm: one attempt per call; :func:`call_with_policy` retries."""

    def __init__(self) -> None:
        self.litellm = load_litellm()

    def _secrets(self, endpoint: Endpoint) -> list[str]:
        return secret_values([endpoint.api_key_env] if endpoint.api_key_env else [])

    def _connection(self, endpoint: Endpoint) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if endpoint.api_base:
            kwargs["api_base"] = endpoint.api_base
        if endpoint.api_key_env:
            kwargs["api_key"] = alias_key(endpoint)
        return kwargs

    def _chat_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """litellm's keyword arguments for ``request``: connection, params, output format and tools."""
        return {**self._connection(request.endpoint), **request.options()}

    async def complete(self, request: ChatRequest, timeout: float) -> Completion:
        """One chat call; raises ProviderError (classified, redacted) on any failure."""
        litellm = self.litellm
        endpoint = request.endpoint
        kwargs = self._chat_kwargs(request)
        start = time.perf_counter()
        try:
            response = await litellm.acompletion(
                model=endpoint.model,
                messages=[dict(m) for m in request.messages],
                timeout=timeout,
                num_retries=0,
                max_retries=0,
                drop_params=True,
                **kwargs,
            )
        except Exception as e:  # noqa: BLE001 - every failure is classified
            raise _located(classify_error(e, self._secrets(endpoint)), endpoint, "/chat/completions") from None
        latency = (time.perf_counter() - start) * 1000
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = getattr(choice, "finish_reason", None)
            calls = tool_calls_of(getattr(choice.message, "tool_calls", None))
        except (AttributeError, IndexError, TypeError):
            raise ProviderError("the response has no message", kind="invalid_response", retryable=True) from None
        usage = _usage(getattr(response, "usage", None))
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        return Completion(
            text=text,
            model=str(getattr(response, "model", None) or endpoint.model),
            usage=usage,
            cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
            latency_ms=latency,
            finish_reason=finish,
            tool_calls=calls,
        )

    async def stream(self, request: ChatRequest, timeout: float, on_text: Callable[[str], Any]) -> Completion:
        """One chat call whose answer is streamed: ``on_text`` gets each piece of text as it arrives."""
        litellm = self.litellm
        endpoint = request.endpoint
        kwargs = self._chat_kwargs(request)
        start = time.perf_counter()
        first: float | None = None
        text: list[str] = []
        calls = ToolCallPieces()
        finish, usage_raw, model = None, None, ""
        try:
            response = await litellm.acompletion(
                model=endpoint.model, messages=[dict(m) for m in request.messages], timeout=timeout, num_retries=0,
                max_retries=0, drop_params=True, stream=True, stream_options={"include_usage": True}, **kwargs,
            )
            async for chunk in response:
                usage_raw = getattr(chunk, "usage", None) or usage_raw
                model = getattr(chunk, "model", None) or model
                choices = getattr(chunk, "choices", None) or []
                if not choices:
                    continue
                finish = getattr(choices[0], "finish_reason", None) or finish
                delta = getattr(choices[0], "delta", None)
                for piece in getattr(delta, "tool_calls", None) or ():
                    fn = getattr(piece, "function", None)
                    calls.add(getattr(piece, "index", 0), getattr(piece, "id", None), getattr(fn, "name", None),
                              getattr(fn, "arguments", None))
                piece_text = getattr(delta, "content", None)
                if isinstance(piece_text, str) and piece_text:
                    if first is None:
                        first = (time.perf_counter() - start) * 1000
                    text.append(piece_text)
                    on_text(piece_text)
        except Exception as e:  # noqa: BLE001 - every failure is classified
            raise _located(classify_error(e, self._secrets(endpoint)), endpoint, "/chat/completions") from None
        usage = _usage(usage_raw)
        from .prices import call_cost

        return Completion(
            text="".join(text),
            model=str(model or endpoint.model),
            usage=usage,
            cost_usd=call_cost(endpoint.model, usage),
            latency_ms=(time.perf_counter() - start) * 1000,
            finish_reason=finish,
            tool_calls=calls.calls(),
            first_token_ms=first,
        )

    async def embed(self, request: EmbeddingRequest, timeout: float) -> Embeddings:
        """Embeddings of ``request.texts``; raises ProviderError on failure."""
        endpoint = request.endpoint
        kwargs = self._connection(endpoint)
        kwargs.update(endpoint.params)
        start = time.perf_counter()
        try:
            response = await self.litellm.aembedding(
                model=endpoint.model,
                input=list(request.texts),
                timeout=timeout,
                num_retries=0,
                max_retries=0,
                **kwargs,
            )
        except Exception as e:  # noqa: BLE001 - every failure is classified
            raise classify_error(e, self._secrets(endpoint)) from None
        latency = (time.perf_counter() - start) * 1000
        try:
            rows = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
            vectors = [list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in rows]
        except (AttributeError, KeyError, TypeError):
            raise ProviderError("the embeddings response has no vectors", kind="invalid_response") from None
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        return Embeddings(
            vectors=vectors,
            model=endpoint.model,
            usage=_usage(getattr(response, "usage", None)),
            cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
            latency_ms=latency,
        )

    def estimate_cost(self, request: ChatRequest, output_tokens: int) -> float | None:
        """What the call would cost with ``output_tokens`` of answer, from litellm's price list."""
        litellm = self.litellm
        model = request.endpoint.model
        try:
            prompt_tokens = litellm.token_counter(model=model, messages=[dict(m) for m in request.messages])
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=output_tokens
            )
        except Exception:  # noqa: BLE001 - a model without a price: no estimate
            return None
        return float(prompt_cost) + float(completion_cost)


def _located(error: ProviderError, endpoint: Endpoint, path: str) -> ProviderError:
    """A connection failure that names the URL it could not reach (litellm says only "Connection error")."""
    if error.kind != "connection" or not endpoint.api_base:
        return error
    url = endpoint.api_base.rstrip("/") + path
    if url in error.message:
        return error
    inner = error.message.removeprefix("connection: ")
    return ProviderError(f"connection refused or dropped: no answer from {url} ({inner})", kind=error.kind,
                         status=None, retryable=error.retryable, retry_after=error.retry_after,
                         hint="is the server running, and is api_base right in promptctl.yaml?")


def _usage(usage: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = usage.get(key) if isinstance(usage, dict) else getattr(usage, key, None)
        if isinstance(value, (int, float)):
            out[key] = int(value)
    if "total_tokens" not in out and out:
        out["total_tokens"] = out.get("prompt_tokens", 0) + out.get("completion_tokens", 0)
    return out


# -- classifying failures ----------------------------------------------------------------------


def classify_error(exc: BaseException, secrets: Sequence[str] = ()) -> ProviderError:
    """A ProviderError for any exception litellm (or the HTTP stack under it) raised."""
    if isinstance(exc, ProviderError):
        return exc
    name = type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    message = _clean_message(redact(str(exc) or name, secrets))  # redact first: a cut must not keep part of a key
    lowered = message.lower()
    retry_after = retry_after_seconds(exc)
    if "ContextWindowExceededError" in names or "context_length_exceeded" in lowered or "maximum context length" in lowered:
        kind, retryable = "context_window", False
    elif "missing credentials" in lowered or ("api_key" in lowered and "must be set" in lowered):
        kind, retryable, status = "auth", False, None
        message = "no API key: " + message
    elif {"Timeout", "APITimeoutError", "TimeoutError"} & names:  # TimeoutError: asyncio's too (3.10)
        kind, retryable = "timeout", True
    elif status == 429 or "RateLimitError" in names:
        kind, retryable = "rate_limit", True
    elif status in (401, 403) or {"AuthenticationError", "PermissionDeniedError"} & names:
        kind, retryable = "auth", False
    elif status == 404 or "NotFoundError" in names:
        kind, retryable = "not_found", False
    elif "connection error" in lowered or "APIConnectionError" in names:
        kind, retryable, status = "connection", True, None  # litellm labels these HTTP 500: no answer came
    elif status is not None and (status >= 500 or status in RETRYABLE_STATUS):
        kind, retryable = "server", True
    elif status is not None and 400 <= status < 500:
        kind, retryable = "bad_request", False
    elif {"InternalServerError", "ServiceUnavailableError", "APIError"} & names:
        kind, retryable = "server", True
    else:
        kind, retryable = "error", False
    shown = f"HTTP {status} {kind.replace('_', ' ')}" if status else kind.replace("_", " ")
    return ProviderError(
        f"{shown}: {message}", kind=kind, status=status, retryable=retryable, retry_after=retry_after
    )


_PREFIXES = re.compile(r"^(?:litellm\.\w+:\s*|\w+Error:\s*|OpenAIException\s*-\s*)+")


def _clean_message(message: str) -> str:
    message = " ".join(message.split())
    message = _PREFIXES.sub("", message)
    return message[:500]


def retry_after_seconds(exc: BaseException) -> float | None:
    """The delay a server asked for (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except Exception:  # noqa: BLE001 - odd header containers
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils

        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# -- the policy: retries, backoff, fallbacks ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: retries per model, per-call timeout, and the backoff curve (seconds)."""

    retries: int = 3
    timeout_s: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None, rng: random.Random) -> float:
    """The wait before retry ``attempt`` (0-based): the server's Retry-After when it sent one,
    else exponential backoff with jitter (between half and all of ``base * 2**attempt``)."""
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    ceiling: float = min(policy.max_delay, policy.base_delay * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


async def bounded(coro: Awaitable[T], seconds: float) -> T:
    """``await coro`` for at most ``seconds`` (asyncio.timeout runs it in this task: no extra task)."""
    import asyncio  # here, in a running loop: a run served from recordings never imports asyncio

    if hasattr(asyncio, "timeout"):  # Python 3.11+
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


@dataclass(slots=True)
class Attempts:
    """What a policy-driven call went through: attempts made, and the model that answered."""

    calls: int = 0
    retries: int = 0
    served_by: str | None = None
    errors: list[str] = field(default_factory=list)


async def call_with_policy(
    attempt: Callable[[Endpoint], Awaitable[T]],
    endpoints: Sequence[Endpoint],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
    rng: random.Random | None = None,
    stats: Attempts | None = None,
    bounded_attempts: bool = True,
) -> T:
    """Call ``attempt`` on each endpoint in order until one succeeds, retrying retryable failures.

    Each attempt is also bounded here (the timeout plus a margin, ``asyncio.timeout``), so a provider
    that ignores its timeout cannot hang the run; not with ``bounded_attempts=False``, for a streamed
    answer, which may take longer in all (its client bounds each wait). Raises ProviderError naming
    every model's failure. ``sleep``: what waits between attempts (None: ``asyncio.sleep``).
    """
    import asyncio  # here, in a running loop: a run served from recordings never imports asyncio
    import random

    sleep = sleep or asyncio.sleep
    rng = rng or random.Random()
    stats = stats if stats is not None else Attempts()
    last: ProviderError | None = None
    guard = policy.timeout_s * 1.25 + 0.5
    for endpoint in endpoints:
        for n in range(policy.retries + 1):
            stats.calls += 1
            try:
                result = await (bounded(attempt(endpoint), guard) if bounded_attempts else attempt(endpoint))
            except ProviderError as e:
                last = e
            except asyncio.TimeoutError:
                last = ProviderError(f"timeout: no answer within {policy.timeout_s:g} s", kind="timeout", retryable=True)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a completion function's own bug fails the case, not the run
                last = classify_error(e, secret_values())
            else:
                stats.served_by = endpoint.name
                return result
            if last.retryable and n < policy.retries:
                stats.retries += 1
                await sleep(backoff_delay(n, policy, last.retry_after, rng))
                continue
            tries = f" (after {n + 1} attempts)" if n else ""
            stats.errors.append(f"{endpoint.name}: {last.message}{tries}")
            break
    assert last is not None, "call_with_policy needs at least one endpoint"
    message = "; ".join(stats.errors) if len(stats.errors) > 1 else stats.errors[0]
    if len(stats.errors) > 1:
        message = "every model failed: " + message
    raise ProviderError(message, kind=last.kind, status=last.status, retryable=False, hint=last.hint)
