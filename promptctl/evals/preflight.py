"""What a run checks before any case runs: every model it names exists, and, when it will call them,
every key it needs is set. One error (exit 2) listing every problem, instead of one per case."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import NotFoundError, UsageError
from .provider import Endpoint


def unknown_model(endpoint: Endpoint, aliases: Mapping[str, Any]) -> NotFoundError | None:
    """An error for a bare name that is neither an alias nor a model litellm knows (``-m fastt``).

    Names with a provider prefix (``openai/…``, ``anthropic/…``) are left to the provider: new models
    appear before any price list knows them.
    """
    name = endpoint.name
    if name in aliases or "/" in name:
        return None
    from ..lint.modeldata import load_table

    table = load_table()
    if table.lookup(name) is not None:
        return None
    suggestions = difflib.get_close_matches(name, list(aliases), n=3, cutoff=0.6) or table.suggest(name)
    known = ", ".join(sorted(aliases))
    return NotFoundError(
        f"unknown model {name!r}: not an alias in promptctl.yaml, and not a model litellm knows",
        suggestions=suggestions[:3],
        hint=(f"aliases: {known}; " if known else "") + "or name a provider's model, e.g. openai/gpt-4o-mini",
    )


def missing_key(endpoint: Endpoint, client: str = "auto") -> str | None:
    """The variable a live call to ``endpoint`` needs and that is not set, or None."""
    if endpoint.api_key_env:
        return None if os.environ.get(endpoint.api_key_env) else endpoint.api_key_env
    from .native import speaks_openai  # here: a run served from recordings never loads a client's module

    if client == "auto" and speaks_openai(endpoint) and not endpoint.api_base:
        return None if os.environ.get("OPENAI_API_KEY") else "OPENAI_API_KEY"
    return None  # litellm finds other providers' keys itself (and says which is missing)


def check_models(endpoints: Iterable[Endpoint], aliases: Mapping[str, Any], *, live: bool, client: str = "auto") -> None:
    """Raise one error for unknown model names, then (when the run will call models, ``live``) for
    every key variable that is not set."""
    ordered = sorted(set(endpoints), key=lambda e: e.name)
    for endpoint in ordered:
        error = unknown_model(endpoint, aliases)
        if error is not None:
            raise error
    if not live:
        return
    missing: dict[str, list[str]] = {}
    for endpoint in ordered:
        var = missing_key(endpoint, client)
        if var is not None:
            missing.setdefault(var, []).append(endpoint.name)
    if missing:
        parts = [f"{var} (for {', '.join(names)})" for var, names in missing.items()]
        raise UsageError(
            "no API key: " + "; ".join(f"the environment variable {p} is not set" for p in parts),
            hint="nothing was called; export " + " ".join(f"{var}=…" for var in missing)
            + ", or run from recordings with --mode replay",
        )
