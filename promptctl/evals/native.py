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
from collections.abc import Mapping
from typing import Any

from ..errors import ProviderError
from .prices import call_cost
from .provider import (
    ChatRequest,
    Completion,
    EmbeddingRequest,
    Embeddings,
    Endpoint,
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

    async def _post(self, endpoint: Endpoint, path: str, body: Mapping[str, Any], timeout: float) -> tuple[Any, float]:
        """POST ``body`` to ``endpoint``'s ``path``; the decoded JSON answer and the ms it took."""
        url = base_url(endpoint) + path
        key = api_key(endpoint)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        secrets = secret_values([endpoint.api_key_env] if endpoint.api_key_env else [])
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        from .http11 import HTTPFailure

        start = time.perf_counter()
        try:
            response = await self.pool.post(url, content, headers, timeout)
        except HTTPFailure as e:
            if e.kind == "timeout":
                raise ProviderError(f"timeout: no answer from {url} within {timeout:g} s", kind="timeout",
                                    retryable=True) from None
            if e.kind in ("refused", "connect"):
                raise ProviderError(f"connection {'refused' if e.kind == 'refused' else 'failed'}: cannot connect to "
                                    f"{url} ({e})", kind="connection", retryable=True,
                                    hint="is the server running, and is api_base right in promptctl.yaml?") from None
            if e.kind == "closed":
                raise ProviderError(f"connection: {url} closed the connection mid-answer ({e})",
                                    kind="connection", retryable=True) from None
            if e.too_large:
                raise ProviderError(f"the answer from {url} is larger than {MAX_BODY // 2**20} MiB",
                                    kind="invalid_response") from None
            raise ProviderError(redact(f"invalid response: {url}: {e}", secrets), kind="invalid_response",
                                retryable=True) from None
        latency = (time.perf_counter() - start) * 1000
        raw = response.content
        if response.status >= 400:
            raise _http_error(response.status, raw, response.headers, secrets)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProviderError(f"invalid response: {url} answered HTTP {response.status} with a body that is "
                                "not JSON", kind="invalid_response", retryable=True) from None
        return data, latency

    async def complete(self, request: ChatRequest, timeout: float) -> Completion:
        """One chat call; raises ProviderError (classified, redacted) on any failure."""
        endpoint = request.endpoint
        body: dict[str, Any] = {"model": wire_model(endpoint), "messages": [dict(m) for m in request.messages]}
        body.update(request.params)
        if request.response_format:
            body["response_format"] = dict(request.response_format)
        if request.tools:
            body["tools"] = [dict(t) for t in request.tools]
        data, latency = await self._post(endpoint, "/chat/completions", body, timeout)
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
