"""The native client: OpenAI-compatible chat completions and embeddings over promptctl's own HTTP/1.1 pool.

Used for every model that speaks the OpenAI protocol: ``openai/…`` models (at ``api.openai.com``,
or ``$OPENAI_BASE_URL``), and any alias with an ``api_base`` whose model has no provider prefix or
an OpenAI-compatible one (``hosted_vllm/``, ``lm_studio/``, ``litellm_proxy/``, ``openai_like/``,
``custom_openai/``): self-hosted servers, vLLM, LM Studio, a LiteLLM proxy or any other gateway.
Every other provider goes through litellm (:mod:`promptctl.evals.provider`), which this module
never imports.

One attempt per call, like :class:`~promptctl.evals.provider.LitellmProvider`: the retry policy,
backoff and fallbacks stay in :func:`~promptctl.evals.provider.call_with_policy`. Failures become
:class:`~promptctl.errors.ProviderError` classified the same way (status, retryable, the server's
``Retry-After``), with keys redacted. The connection pool is sized to the run's concurrency, and
latency is measured from the request leaving to the answer arriving.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ProviderError
from .prices import call_cost
from .provider import (
    ChatRequest,
    Completion,
    EmbeddingRequest,
    Embeddings,
    Endpoint,
    ToolCallPieces,
    _usage,
    alias_key,
    classify_error,
    redact,
    secret_values,
    tool_calls_of,
)

OPENAI_BASE = "https://api.openai.com/v1"
#: Model prefixes that mean "an OpenAI-compatible server": with an api_base, the native client serves them.
COMPATIBLE = frozenset({"openai", "hosted_vllm", "lm_studio", "litellm_proxy", "openai_like", "custom_openai"})
MAX_BODY = 64 * 1024 * 1024  # an answer larger than this is not an answer


def speaks_openai(endpoint: Endpoint) -> bool:
    """True when the native client serves ``endpoint`` (see the module's docstring)."""
    provider, sep, rest = endpoint.model.partition("/")
    if not sep:
        return bool(endpoint.api_base)
    if provider == "openai":
        return bool(rest)
    return provider in COMPATIBLE and bool(rest) and bool(endpoint.api_base)


def wire_model(endpoint: Endpoint) -> str:
    """The model name the server is sent: the model string without its provider prefix."""
    provider, sep, rest = endpoint.model.partition("/")
    return rest if sep and provider in COMPATIBLE else endpoint.model


def base_url(endpoint: Endpoint) -> str:
    if endpoint.api_base:
        return endpoint.api_base.rstrip("/")
    return (os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or OPENAI_BASE).rstrip("/")


def api_key(endpoint: Endpoint) -> str | None:
    """The key to send: from the alias's ``api_key_env``; ``$OPENAI_API_KEY`` for OpenAI itself; none for
    an ``api_base`` without ``api_key_env`` (a keyless local server)."""
    if endpoint.api_key_env:
        return alias_key(endpoint)
    if endpoint.api_base:
        return None
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise ProviderError(
            "no API key: the environment variable OPENAI_API_KEY is not set",
            kind="auth",
            hint="export OPENAI_API_KEY=…, or give the alias an api_key_env in promptctl.yaml",
        )
    return key


class NativeProvider:
    """Chat completions and embeddings over one pool of kept-alive HTTP/1.1 connections per origin
    (:mod:`promptctl.evals.http11`), sized to the run's concurrency.

    Create it inside the event loop that uses it; :meth:`aclose` closes the pool.
    """

    def __init__(self, concurrency: int = 8) -> None:
        from .. import __version__
        from .http11 import Pool

        self.pool = Pool(concurrency, max_body=MAX_BODY, user_agent=f"promptctl/{__version__}")

    async def aclose(self) -> None:
        await self.pool.aclose()

    def _head(self, endpoint: Endpoint, path: str) -> tuple[str, dict[str, str], list[str]]:
        """The URL of ``path`` at ``endpoint``, the request's headers (with its key), and the secrets to redact."""
        key = api_key(endpoint)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return base_url(endpoint) + path, headers, secret_values([endpoint.api_key_env] if endpoint.api_key_env else [])

    async def _post(self, endpoint: Endpoint, path: str, body: Mapping[str, Any], timeout: float) -> tuple[Any, float]:
        """POST ``body`` to ``endpoint``'s ``path``; the decoded JSON answer and the ms it took."""
        url, headers, secrets = self._head(endpoint, path)
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        from .http11 import HTTPFailure

        start = time.perf_counter()
        try:
            response = await self.pool.post(url, content, headers, timeout)
        except HTTPFailure as e:
            raise _failure(e, url, timeout, secrets) from None
        latency = (time.perf_counter() - start) * 1000
        raw = response.content
        if response.status >= 400:
            raise _http_error(response.status, raw, response.headers, secrets)
        return _json_of(raw, url, response.status), latency

    async def complete(self, request: ChatRequest, timeout: float) -> Completion:
        """One chat call; raises ProviderError (classified, redacted) on any failure."""
        endpoint = request.endpoint
        body = _chat_body(request)
        data, latency = await self._post(endpoint, "/chat/completions", body, timeout)
        return _completion_of(data, endpoint, latency)

    async def stream(self, request: ChatRequest, timeout: float, on_text: Callable[[str], Any]) -> Completion:
        """One chat call whose answer is streamed (server-sent events): ``on_text`` gets each piece of
        text as it arrives; the whole answer is returned. ``timeout`` bounds the wait for the answer to
        begin and each wait between pieces. A server that ignores ``stream`` and answers at once is
        fine: its text is one piece. ProviderError (classified, redacted) on any failure."""
        from .http11 import HTTPFailure

        endpoint = request.endpoint
        body = _chat_body(request)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        url, headers, secrets = self._head(endpoint, "/chat/completions")
        headers["Accept"] = "text/event-stream"
        start = time.perf_counter()
        first: float | None = None
        state = _Streamed()
        try:
            async with await self.pool.stream(url, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers,
                                              timeout) as answer:
                if answer.status >= 400:
                    raise _http_error(answer.status, await answer.read(), answer.headers, secrets)
                if "text/event-stream" not in answer.headers.get("content-type", ""):
                    data = _json_of(await answer.read(), url, answer.status)
                    completion = _completion_of(data, endpoint, (time.perf_counter() - start) * 1000)
                    completion.first_token_ms = completion.latency_ms
                    if completion.text:
                        on_text(completion.text)
                    return completion
                async for line in answer.lines():
                    if not line.startswith(b"data:"):
                        continue  # comments, event names, blank separators
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        break
                    event = _json_of(payload, url, answer.status)
                    text = state.add(event)
                    if text:
                        if first is None:
                            first = (time.perf_counter() - start) * 1000
                        on_text(text)
        except HTTPFailure as e:
            raise _failure(e, url, timeout, secrets) from None
        usage = _usage(state.usage)
        latency = (time.perf_counter() - start) * 1000
        return Completion(
            text="".join(state.text),
            model=state.model or wire_model(endpoint),
            usage=usage,
            cost_usd=call_cost(endpoint.model, usage),
            latency_ms=latency,
            finish_reason=state.finish_reason,
            tool_calls=state.tool_calls.calls(),
            first_token_ms=first,
        )

    async def embed(self, request: EmbeddingRequest, timeout: float) -> Embeddings:
        """Embeddings of ``request.texts``; raises ProviderError on failure."""
        endpoint = request.endpoint
        body: dict[str, Any] = {"model": wire_model(endpoint), "input": list(request.texts)}
        body.update(endpoint.params)
        data, latency = await self._post(endpoint, "/embeddings", body, timeout)
        try:
            rows = sorted(data["data"], key=lambda d: d["index"])
            vectors = [[float(x) for x in d["embedding"]] for d in rows]
        except (KeyError, TypeError, ValueError):
            raise ProviderError("invalid response: the embeddings answer has no vectors", kind="invalid_response") from None
        usage = _usage(data.get("usage"))
        return Embeddings(vectors=vectors, model=endpoint.model, usage=usage, cost_usd=call_cost(endpoint.model, usage),
                          latency_ms=latency)


def _chat_body(request: ChatRequest) -> dict[str, Any]:
    return {"model": wire_model(request.endpoint), "messages": [dict(m) for m in request.messages], **request.options()}


def _json_of(raw: bytes, url: str, status: int) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ProviderError(f"invalid response: {url} answered HTTP {status} with a body that is not JSON",
                            kind="invalid_response", retryable=True) from None


def _failure(e: Any, url: str, timeout: float, secrets: list[str]) -> ProviderError:
    """An :class:`~promptctl.evals.http11.HTTPFailure` as the ProviderError that says what happened."""
    if e.kind == "timeout":
        return ProviderError(f"timeout: no answer from {url} within {timeout:g} s", kind="timeout", retryable=True)
    if e.kind in ("refused", "connect"):
        return ProviderError(f"connection {'refused' if e.kind == 'refused' else 'failed'}: cannot connect to "
                             f"{url} ({e})", kind="connection", retryable=True,
                             hint="is the server running, and is api_base right in promptctl.yaml?")
    if e.kind == "closed":
        return ProviderError(f"connection: {url} closed the connection mid-answer ({e})", kind="connection",
                             retryable=True)
    if e.too_large:
        return ProviderError(f"the answer from {url} is larger than {MAX_BODY // 2**20} MiB", kind="invalid_response")
    return ProviderError(redact(f"invalid response: {url}: {e}", secrets), kind="invalid_response", retryable=True)


def _completion_of(data: Any, endpoint: Endpoint, latency: float) -> Completion:
    """A chat-completions answer (decoded JSON) as a Completion."""
    try:
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason")
        calls = tool_calls_of(choice["message"].get("tool_calls"))
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ProviderError("invalid response: the answer has no message", kind="invalid_response",
                            retryable=True) from None
    if not isinstance(text, str):
        raise ProviderError("invalid response: the message content is not text", kind="invalid_response")
    usage = _usage(data.get("usage") if isinstance(data, dict) else None)
    return Completion(
        text=text,
        model=str(data.get("model") or wire_model(endpoint)),
        usage=usage,
        cost_usd=call_cost(endpoint.model, usage),
        latency_ms=latency,
        finish_reason=finish if isinstance(finish, str) else None,
        tool_calls=calls,
    )


class _Streamed:
    """What the events of a streamed answer add up to: text pieces, tool calls (their pieces joined by
    index), the finish reason, usage (the last event's, with ``include_usage``) and the model."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.model = ""
        self.tool_calls = ToolCallPieces()

    def add(self, event: Any) -> str:
        """Take one event in; the text it adds."""
        if not isinstance(event, dict):
            raise ProviderError("invalid response: a streamed event is not a JSON object", kind="invalid_response")
        if isinstance(event.get("error"), (dict, str)):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(f"the server stopped the answer: {message}", kind="invalid_response")
        if event.get("usage"):
            self.usage = event["usage"]
        if isinstance(event.get("model"), str) and event["model"]:
            self.model = event["model"]
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        raw_delta = choice.get("delta")
        delta: dict[str, Any] = raw_delta if isinstance(raw_delta, dict) else {}
        for piece in delta.get("tool_calls") or ():
            if isinstance(piece, dict):
                fn = piece.get("function")
                fn = fn if isinstance(fn, dict) else {}
                self.tool_calls.add(piece.get("index"), piece.get("id"), fn.get("name"), fn.get("arguments"))
        text = delta.get("content")
        if isinstance(text, str) and text:
            self.text.append(text)
            return text
        return ""


class _HTTPStatus(Exception):
    """An HTTP error answer, shaped for :func:`classify_error` (status_code, response.headers)."""

    def __init__(self, status: int, message: str, headers: Any, code: str | None) -> None:
        super().__init__(message)
        self.status_code = status
        self.response = self
        self.headers = headers
        self.code = code


def _http_error(status: int, raw: bytes, headers: Any, secrets: list[str]) -> ProviderError:
    message, code = f"HTTP {status}", None
    try:
        data = json.loads(raw)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            code = error.get("code") if isinstance(error.get("code"), str) else None
        elif isinstance(error, str):
            message = error
        elif isinstance(data, dict) and isinstance(data.get("detail"), str):
            message = data["detail"]
    except (ValueError, RecursionError, AttributeError):
        text = raw[:300].decode("utf-8", "replace").strip()
        message = text or message
    if code == "context_length_exceeded" and "context_length_exceeded" not in message:
        message = f"{message} (context_length_exceeded)"
    return classify_error(_HTTPStatus(status, message, headers, code), secrets)
