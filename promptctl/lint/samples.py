"""Sample rules: every sample renders (PC601) and fits the model's context window (PC303).

Samples render with the project's own Renderer, so lint sees exactly what
``promptctl render --sample`` would. The token estimate is deliberately simple
and documented: ceil(characters / 4) over all message contents, plus 4 tokens
per message; no tokenizer is loaded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import InputError, PromptctlError
from .models import model_info

if TYPE_CHECKING:
    from .base import Linter, PromptInfo

TOKENS_PER_MESSAGE = 4


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """ceil(characters / 4) over every message's content, plus 4 tokens per message."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return math.ceil(chars / 4) + TOKENS_PER_MESSAGE * len(messages)


def check_samples(lin: Linter, info: PromptInfo) -> None:
    """Render every sample of a prompt whose templates compile."""
    prompt = info.prompt
    if not prompt.samples or not (lin.on("PC601") or lin.on("PC303")) or info.doc is None:
        return
    model = model_info(lin, prompt.model) if lin.on("PC303") else None
    renderer = lin.project.renderer  # type: ignore[union-attr]
    for i, sample in enumerate(prompt.samples):
        mark = info.doc.mark(("samples", i))
        try:
            messages = renderer.render(prompt, sample.inputs)
        except InputError as e:
            lin.add("PC601", info.rel, mark.line, mark.col,
                    f"sample {sample.name!r} does not render: " + "; ".join(e.problems or [e.message]))
            continue
        except PromptctlError as e:
            where = f" (at {e.location})" if e.location else ""
            lin.add("PC601", info.rel, mark.line, mark.col, f"sample {sample.name!r} does not render: {e.message}{where}")
            continue
        except Exception as e:  # noqa: BLE001 - a sample that crashes the renderer is a finding, not a crash
            lin.add("PC601", info.rel, mark.line, mark.col,
                    f"sample {sample.name!r} does not render: {type(e).__name__}: {e}")
            continue
        if model is not None and model.max_input_tokens:
            estimate = estimate_tokens(messages)
            if estimate > model.max_input_tokens:
                lin.add("PC303", info.rel, mark.line, mark.col,
                        f"sample {sample.name!r} renders to about {estimate:,} tokens, over the "
                        f"{model.max_input_tokens:,}-token context window of {model.name}; "
                        "shorten it or use a model with a larger window")
