"""Model rules: unknown models (PC301) and parameters out of range (PC302).

The model list is litellm's, read as data (see :mod:`promptctl.lint.modeldata`),
loaded only when a model name has to be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config import CONFIG_NAME
from .modeldata import ModelInfo, load_table

if TYPE_CHECKING:
    from ..yamlio import Document
    from .base import Linter, PromptInfo

#: name -> (low, high, integer); None is unbounded.
RANGES: Mapping[str, tuple[float | None, float | None, bool]] = {
    "temperature": (0, 2, False),
    "top_p": (0, 1, False),
    "presence_penalty": (-2, 2, False),
    "frequency_penalty": (-2, 2, False),
    "max_tokens": (1, None, True),
    "max_completion_tokens": (1, None, True),
    "n": (1, None, True),
}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def model_info(lin: Linter, name: str | None) -> ModelInfo | None:
    """What the model list says about ``name`` (an alias is followed to its model)."""
    if not isinstance(name, str):
        return None
    alias = lin.config.models.get(name)
    target = alias.model if alias is not None else name
    return load_table().lookup(target)


def check_model(lin: Linter, rel: str, doc: Document, path: tuple[Any, ...], name: Any) -> None:
    """PC301 when ``name`` (at ``path`` in ``doc``) is neither an alias nor a model litellm knows."""
    if not isinstance(name, str) or not name or not lin.on("PC301"):
        return
    if name in lin.config.models:
        return  # an alias: its target is checked once, in promptctl.yaml
    table = load_table()
    if table.accepts(name):
        return
    close = table.suggest(name, extra=list(lin.config.models))
    hint = ("did you mean " + ", ".join(repr(c) for c in close) + "?") if close else (
        "use a litellm model name such as 'openai/gpt-4o-mini'")
    mark = doc.mark(path)
    lin.add("PC301", rel, mark.line, mark.col,
            f"unknown model {name!r}: not a model litellm knows nor an alias under `models:`; {hint} "
            "(a self-hosted or gateway model needs an alias with `api_base`)")


def check_params(
    lin: Linter, rel: str, doc: Document, path: tuple[Any, ...], params: Any, model: ModelInfo | None,
    *, effective_max_tokens: Any = None, model_path: tuple[Any, ...] | None = None,
) -> None:
    """PC302 for every parameter under ``path`` out of its range, and max_tokens over the model's output limit."""
    if not lin.on("PC302"):
        return
    if not isinstance(params, Mapping):
        params = {}
    for key, (low, high, integer) in RANGES.items():
        if key not in params:
            continue
        value = params[key]
        mark = doc.mark(path + (key,))
        if not _number(value):
            continue  # a type error: the schema reports it
        if integer and not float(value).is_integer():
            lin.add("PC302", rel, mark.line, mark.col, f"{key} must be a whole number, got {value}")
            continue
        if key == "temperature" and model is not None and model.provider == "anthropic" and value > 1:
            lin.add("PC302", rel, mark.line, mark.col,
                    f"temperature {value} is over 1, the maximum for Anthropic models ({model.name}); use 0-1")
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low}-{high}" if high is not None else f"at least {low}"
            lin.add("PC302", rel, mark.line, mark.col, f"{key} is {value}, out of its range ({bounds})")
    limit = model.max_output_tokens if model is not None else None
    for key in ("max_tokens", "max_completion_tokens"):
        value = params.get(key, effective_max_tokens if key == "max_tokens" else None)
        if model is not None and limit and _number(value) and value > limit:
            where = path + (key,) if key in params else model_path
            if where is None:
                continue
            mark = doc.mark(where)
            lin.add("PC302", rel, mark.line, mark.col,
                    f"{key} {value} is over the {limit} output tokens {model.name} can produce; lower it")


def check_prompt(lin: Linter, info: PromptInfo) -> None:
    """PC301/PC302 for a prompt's model, fallbacks and params."""
    doc = info.doc
    if doc is None or not isinstance(doc.data, dict):
        return
    data = doc.data
    check_model(lin, info.rel, doc, ("model",), data.get("model"))
    fallbacks = data.get("fallbacks")
    if isinstance(fallbacks, list):
        for i, name in enumerate(fallbacks):
            check_model(lin, info.rel, doc, ("fallbacks", i), name)
    prompt = info.prompt
    own = _mapping(data.get("params"))
    needs_model = lin.on("PC302") and ("model" in data or any(k in own for k in ("max_tokens", "temperature")))
    model = model_info(lin, prompt.model) if needs_model else None
    # max_tokens from the defaults, checked against this prompt's own model
    check_params(lin, info.rel, doc, ("params",), own, model,
                 effective_max_tokens=prompt.params.get("max_tokens") if "model" in data else None,
                 model_path=("model",))


def check_config(lin: Linter) -> None:
    """PC301/PC302 in promptctl.yaml: default model, fallbacks, alias targets and params, the grader."""
    doc = lin.docs.get(CONFIG_NAME)
    if doc is None or not isinstance(doc.data, dict):
        return
    data = doc.data
    defaults = _mapping(data.get("defaults"))
    check_model(lin, CONFIG_NAME, doc, ("defaults", "model"), defaults.get("model"))
    if isinstance(defaults.get("fallbacks"), list):
        for i, name in enumerate(defaults["fallbacks"]):
            check_model(lin, CONFIG_NAME, doc, ("defaults", "fallbacks", i), name)
    if lin.on("PC302"):
        model = model_info(lin, defaults.get("model"))
        check_params(lin, CONFIG_NAME, doc, ("defaults", "params"), defaults.get("params"), model)
    models = _mapping(data.get("models"))
    for alias, spec in models.items():
        if isinstance(spec, str):
            check_model(lin, CONFIG_NAME, doc, ("models", alias), spec)
        elif isinstance(spec, Mapping):
            if not spec.get("api_base"):
                check_model(lin, CONFIG_NAME, doc, ("models", alias, "model"), spec.get("model"))
            if lin.on("PC302"):
                target = spec.get("model")
                model = load_table().lookup(target) if isinstance(target, str) else None
                check_params(lin, CONFIG_NAME, doc, ("models", alias, "params"), spec.get("params"), model)
    test = _mapping(data.get("test"))
    check_model(lin, CONFIG_NAME, doc, ("test", "grader"), test.get("grader"))
