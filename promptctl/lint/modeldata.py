"""Which models exist, how large their context is, and how much they may output: litellm's list, read as data.

litellm ships its model list as a JSON file inside its package
(``model_prices_and_context_window_backup.json``). Lint reads that file
without importing litellm (which takes seconds and may reach the network):
from the installed litellm when there is one (found with
``importlib.util.find_spec``, which does not run the package), else from the
compact snapshot in ``promptctl/data/litellm_models.json``, made from the same
file by this module::

    pip download litellm --no-deps -d /tmp/litellm
    python -m promptctl.lint.modeldata /tmp/litellm/litellm-*.whl

(``python -m promptctl.lint.modeldata FILE.json`` reads an unpacked file.)
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LITELLM_FILE = "model_prices_and_context_window_backup.json"
SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "litellm_models.json"

#: Modes a prompt (or a grader) can be called in; image, audio, video, rerank, ... models are left out.
MODES = {"chat", "completion", "responses", "embedding", None}

#: Providers whose model names are the user's own (local servers, deployments, endpoints):
#: any name after ``provider/`` is accepted.
OPEN_PROVIDERS = frozenset(
    {
        "azure",
        "azure_ai",
        "custom_openai",
        "hosted_vllm",
        "huggingface",
        "litellm_proxy",
        "llamafile",
        "lm_studio",
        "ollama",
        "ollama_chat",
        "openai_like",
        "oobabooga",
        "sagemaker",
        "sagemaker_chat",
        "triton",
        "vllm",
        "xinference",
    }
)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What lint needs about one model."""

    name: str
    provider: str
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None


@dataclass(slots=True)
class ModelTable:
    """litellm's model list: name -> :class:`ModelInfo`, and the provider prefixes it knows."""

    source: str
    models: dict[str, tuple[int | None, int | None, str]]
    providers: frozenset[str] = field(default_factory=frozenset)
    #: USD per input token and per output token, for the models that have a price
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def price(self, name: str) -> tuple[float, float] | None:
        """(USD per input token, USD per output token) of ``name`` (``openai/gpt-4o-mini`` too), or None."""
        found = self.prices.get(name)
        if found is not None:
            return found
        provider, sep, rest = name.partition("/")
        if sep and provider in self.providers:
            return self.prices.get(rest)
        return None

    def lookup(self, name: str) -> ModelInfo | None:
        """The model litellm would call for ``name`` (``gpt-4o-mini``, ``openai/gpt-4o-mini``), or None."""
        row = self.models.get(name)
        if row is not None:
            return ModelInfo(name, row[2], row[0], row[1])
        provider, sep, rest = name.partition("/")
        if sep and provider in self.providers:
            row = self.models.get(rest)
            if row is not None:
                return ModelInfo(name, provider, row[0], row[1])
        return None

    def accepts(self, name: str) -> bool:
        """True when ``name`` is a known model or one under an open provider (``ollama/llama3``)."""
        if self.lookup(name) is not None:
            return True
        provider, sep, rest = name.partition("/")
        if sep and rest and provider in OPEN_PROVIDERS:
            return True
        return bool(sep and provider.startswith("bedrock") and rest.startswith("arn:"))

    def suggest(self, name: str, extra: list[str] | None = None, n: int = 3) -> list[str]:
        """The known names closest to ``name`` (same provider first when it has a known prefix)."""
        provider, sep, rest = name.partition("/")
        if sep and rest and provider not in self.providers:
            fixed = [f"{p}/{rest}" for p in difflib.get_close_matches(provider, sorted(self.providers), n=3, cutoff=0.6)]
            fixed = [f for f in fixed if self.accepts(f)]
            if fixed:
                return fixed[:n]
        if sep and provider in self.providers:
            pool = [k if "/" in k else f"{provider}/{k}" for k, v in self.models.items() if v[2] == provider]
            pool += [k for k in self.models if k.startswith(provider + "/")]
            close = difflib.get_close_matches(name, sorted(set(pool)), n=n, cutoff=0.6)
            if close:
                return close
            if provider in self.providers and not any(v[2] == provider for v in self.models.values()):
                return []
        pool = list(self.models) + list(extra or [])
        return difflib.get_close_matches(name, pool, n=n, cutoff=0.6)

    def provider_of(self, name: str) -> str | None:
        info = self.lookup(name)
        if info is not None:
            return info.provider
        provider, sep, _ = name.partition("/")
        return provider if sep else None


def compact(data: dict[str, Any]) -> tuple[dict[str, list[Any]], list[str], dict[str, list[float]]]:
    """litellm's full model file -> ``{name: [max_input, max_output, provider]}``, the provider prefixes,
    and ``{name: [USD per input token, USD per output token]}``."""
    models: dict[str, list[Any]] = {}
    providers: set[str] = set()
    prices: dict[str, list[float]] = {}
    for name, spec in data.items():
        if name == "sample_spec" or not isinstance(spec, dict):
            continue
        provider = spec.get("litellm_provider")
        if isinstance(provider, str):
            providers.add(provider)
        if spec.get("mode") not in MODES:
            continue
        if "/" in name:
            providers.add(name.split("/", 1)[0])
        max_in = spec.get("max_input_tokens")
        max_out = spec.get("max_output_tokens")
        models[name] = [
            max_in if isinstance(max_in, int) else None,
            max_out if isinstance(max_out, int) else None,
            provider if isinstance(provider, str) else "",
        ]
        cost_in, cost_out = spec.get("input_cost_per_token"), spec.get("output_cost_per_token", 0.0)
        if isinstance(cost_in, (int, float)) and isinstance(cost_out, (int, float)):
            prices[name] = [float(cost_in), float(cost_out)]
    return dict(sorted(models.items())), sorted(providers), dict(sorted(prices.items()))


def installed_litellm_file() -> Path | None:
    """litellm's bundled model file when litellm is installed (found without importing it)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / LITELLM_FILE
        if path.is_file():
            return path
    return None


_TABLES: dict[str, ModelTable] = {}


def load_table() -> ModelTable:
    """The model table: the installed litellm's file when present, else the shipped snapshot.

    ``PROMPTCTL_MODEL_DATA=snapshot`` forces the snapshot; a path forces that
    litellm-format file. Loaded once per process (and setting).
    """
    forced = os.environ.get("PROMPTCTL_MODEL_DATA", "")
    table = _TABLES.get(forced)
    if table is None:
        table = _TABLES[forced] = _load(forced)
    return table


def _compacted(path: Path) -> tuple[dict[str, list[Any]], list[str], dict[str, list[float]]]:
    """:func:`compact` of litellm's model file at ``path``: from promptctl's cache when the file is the
    one it was made from (same path, size and time), else read (its JSON is megabytes: tens of
    milliseconds of every run that prices a call) and cached."""
    import hashlib
    import marshal

    from ..cachedir import cache_dirs, read_cached, write_cached

    st = path.stat()
    key = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0compact-1".encode()).hexdigest()[:24] + ".models"
    dirs = cache_dirs("models")
    data = read_cached(dirs, key)
    if data is not None:
        try:
            models, providers, prices = marshal.loads(data)
            if isinstance(models, dict) and isinstance(providers, list) and isinstance(prices, dict):
                return models, providers, prices
        except (ValueError, EOFError, TypeError):
            pass
    with open(path, encoding="utf-8") as fh:
        table = compact(json.load(fh))
    write_cached(dirs, key, marshal.dumps(table))
    return table


def _load(forced: str) -> ModelTable:
    path = None
    if forced and forced != "snapshot":
        path = Path(forced)
    elif not forced:
        path = installed_litellm_file()
    if path is not None:
        try:
            models, providers, prices = _compacted(path)
            return ModelTable(
                f"litellm ({path})", {k: (v[0], v[1], v[2]) for k, v in models.items()}, frozenset(providers),
                {k: (v[0], v[1]) for k, v in prices.items()},
            )
        except (OSError, ValueError) as e:
            if forced:
                from ..errors import UsageError

                raise UsageError(f"PROMPTCTL_MODEL_DATA={forced}: cannot read it as litellm's model file: {e}") from None
            # a broken installation: fall back to the snapshot
    with open(SNAPSHOT, encoding="utf-8") as fh:
        snap = json.load(fh)
    return ModelTable(
        f"promptctl snapshot of {snap['source']}",
        {k: (v[0], v[1], v[2]) for k, v in snap["models"].items()},
        frozenset(snap["providers"]),
        {k: (v[0], v[1]) for k, v in (snap.get("prices") or {}).items()},
    )


def write_snapshot(source: str, *, out: Path = SNAPSHOT) -> int:
    """Regenerate the shipped snapshot from a litellm wheel or model file; returns the number of models."""
    src = Path(source)
    label = src.name
    if src.suffix == ".whl":
        import zipfile

        with zipfile.ZipFile(src) as zf:
            data = json.loads(zf.read(f"litellm/{LITELLM_FILE}"))
        parts = src.name.split("-")
        label = f"litellm {parts[1]} {LITELLM_FILE}" if len(parts) > 1 else src.name
    else:
        with open(src, encoding="utf-8") as fh:
            data = json.load(fh)
    models, providers, prices = compact(data)
    snap = {"source": label, "providers": providers, "models": models, "prices": prices}
    text = json.dumps(snap, separators=(",", ":"), ensure_ascii=False)
    # one model per line keeps diffs of a refresh readable
    text = text.replace('],"', '],\n"')
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return len(models)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        sys.stderr.write(__doc__ or "")
        return 2
    count = write_snapshot(args[0])
    sys.stderr.write(f"wrote {count} models to {SNAPSHOT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
