"""Which client makes each model call: the native one for OpenAI-compatible endpoints, litellm for the rest.

:class:`Providers` is what a run calls (one attempt per call; retries are the policy's). Each
client is made on its first call, inside the run's event loop: a run whose answers are all
recorded makes neither, and a run whose models all speak the OpenAI protocol never imports
litellm. litellm's import (seconds) runs in a worker thread, so the calls already in flight on
the native client go on meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from .native import NativeProvider, speaks_openai
from .prices import estimate_cost
from .provider import ChatRequest, Completion, EmbeddingRequest, Embeddings, Endpoint, LitellmProvider, load_litellm

#: ``test.client`` in promptctl.yaml: ``auto`` (native where it can, litellm elsewhere) or ``litellm`` (always).
CLIENTS = ("auto", "litellm")


def uses_litellm(endpoint: Endpoint, client: str = "auto") -> bool:
    """True when a call to ``endpoint`` goes through litellm."""
    return client == "litellm" or not speaks_openai(endpoint)


class Providers:
    """Routes each call to the native client or to litellm (see the module's docstring)."""

    def __init__(self, concurrency: int = 8, client: str = "auto") -> None:
        self.concurrency = concurrency
        self.client = client
        self._native: NativeProvider | None = None
        self._litellm: LitellmProvider | None = None
        self._litellm_lock: asyncio.Lock | None = None
        self.made: set[str] = set()  # the clients this run made: "native", "litellm"

    def native_for(self, endpoint: Endpoint) -> bool:
        return not uses_litellm(endpoint, self.client)

    def native(self) -> NativeProvider:
        if self._native is None:
            self._native = NativeProvider(self.concurrency)
            self.made.add("native")
        return self._native

    async def litellm(self) -> LitellmProvider:
        if self._litellm is None:
            if self._litellm_lock is None:
                self._litellm_lock = asyncio.Lock()
            async with self._litellm_lock:
                if self._litellm is None:
                    await asyncio.to_thread(load_litellm)  # the import must not stall calls in flight
                    self._litellm = LitellmProvider()
                    self.made.add("litellm")
        return self._litellm

    async def ready(self, endpoints: Iterable[Endpoint]) -> None:
        """Import litellm now if one of ``endpoints`` needs it: outside any call's timeout, so a slow
        import is never a timed-out (and retried) attempt, nor part of a latency."""
        if any(not self.native_for(ep) for ep in endpoints):
            await self.litellm()

    async def complete(self, request: ChatRequest, timeout: float) -> Completion:
        if self.native_for(request.endpoint):
            return await self.native().complete(request, timeout)
        return await (await self.litellm()).complete(request, timeout)

    async def stream(self, request: ChatRequest, timeout: float, on_text: Callable[[str], Any]) -> Completion:
        """A chat call whose text is given to ``on_text`` as it arrives (``promptctl run``)."""
        if self.native_for(request.endpoint):
            return await self.native().stream(request, timeout, on_text)
        return await (await self.litellm()).stream(request, timeout, on_text)

    async def embed(self, request: EmbeddingRequest, timeout: float) -> Embeddings:
        if self.native_for(request.endpoint):
            return await self.native().embed(request, timeout)
        return await (await self.litellm()).embed(request, timeout)

    def estimate_cost(self, request: ChatRequest, output_tokens: int) -> float | None:
        """From the price table as data, for either client (no import)."""
        return estimate_cost(request, output_tokens)

    async def aclose(self) -> None:
        if self._native is not None:
            await self._native.aclose()
            self._native = None
