"""What a model call costs, from litellm's price table read as data (never by importing litellm).

The table is the one lint reads (:mod:`promptctl.lint.modeldata`): the installed litellm's model
file when there is one, else promptctl's snapshot of it. A model without a price costs None (unknown),
never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Characters per token for an estimate before any call (English prose and code average about 4).
CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4  # the role and the separators around each message


def price(model: str) -> tuple[float, float] | None:
    """(USD per input token, USD per output token) for ``model``, or None when it has no known price."""
    from ..lint.modeldata import load_table

    return load_table().price(model)


def call_cost(model: str, usage: Mapping[str, int]) -> float | None:
    """The USD cost of a call that used ``usage`` tokens (``prompt_tokens``, ``completion_tokens``)."""
    found = price(model)
    if found is None or not usage:
        return None
    return usage.get("prompt_tokens", 0) * found[0] + usage.get("completion_tokens", 0) * found[1]


def prompt_tokens(messages: Any) -> int:
    """An estimate of the input tokens of ``messages`` (characters / 4, plus a few per message)."""
    chars = 0
    count = 0
    for m in messages:
        count += 1
        content = m.get("content") if isinstance(m, Mapping) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):  # content parts
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, Mapping))
    return int(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * count + 3


def estimate_cost(request: Any, output_tokens: int) -> float | None:
    """What ``request`` (a ChatRequest) would cost with ``output_tokens`` of answer, or None (no price)."""
    found = price(request.endpoint.model)
    if found is None:
        return None
    return prompt_tokens(request.messages) * found[0] + output_tokens * found[1]
