"""The core types: frozen dataclasses that every other module passes around.

Standard library only, so that the runtime can use them too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message whose ``content`` is a Jinja template.

    ``line`` and ``col`` are where the template's first line sits in the
    source file (0 when unknown, as in a bundle); ``block`` tells whether
    each template line is a file line of its own (YAML block scalars).
    """

    role: str
    content: str
    name: str | None = None
    line: int = 0
    col: int = 0
    block: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class HistorySlot:
    """A place where a list of ``{role, content}`` messages from an input is spliced in."""

    input: str
    line: int = 0
    col: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"history": self.input}


Entry = Message | HistorySlot


@dataclass(frozen=True, slots=True)
class Sample:
    """A named set of inputs: a render smoke test and a diff preview."""

    name: str
    inputs: Mapping[str, Any]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt, resolved: defaults applied, inputs in full form, partials collected.

    ``partials`` maps every partial the prompt includes (directly or through
    other partials) to its text, so the prompt renders and hashes on its own.
    """

    name: str
    source: str
    messages: tuple[Entry, ...]
    inputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()
    output: Mapping[str, Any] = field(default_factory=lambda: {"format": "text"})
    guards: tuple[Mapping[str, Any], ...] = ()  # assertions every answer must pass (test and runtime)
    tools: tuple[Mapping[str, Any], ...] = ()  # OpenAI function tools the model may call ({type: function, function})
    observe: Mapping[str, Any] = field(default_factory=dict)  # what Prompt.observe keeps ({inputs: true})
    description: str | None = None
    samples: tuple[Sample, ...] = ()
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    lint_ignore: tuple[str, ...] = ()
    partials: Mapping[str, str] = field(default_factory=dict)
    hash: str = ""

    @property
    def short_hash(self) -> str:
        """The first seven hex digits of the content hash."""
        return self.hash.removeprefix("sha256:")[:7]

    @property
    def ref(self) -> str:
        """``name@3f9a2c1``: what produced a rendered result, for logs and traces (a published one:
        :meth:`~promptctl.project.Project.ref_of`)."""
        return f"{self.name}@{self.short_hash}"

    def sample(self, name: str) -> Sample | None:
        for s in self.samples:
            if s.name == name:
                return s
        return None

    def identity(self, alias: Mapping[str, Any] | str | None = None) -> dict[str, Any]:
        """The canonical content the hash covers: everything that changes what the model sees.

        ``alias`` is the model alias ``model`` names, if any (a string or
        ``{model, api_base, params}``): what it points at changes what is called.
        """
        out: dict[str, Any] = {
            "model": self.model,
            "params": dict(self.params),
            "fallbacks": list(self.fallbacks),
            "inputs": {k: dict(v) for k, v in self.inputs.items()},
            "messages": [m.to_json() for m in self.messages],
            "output": dict(self.output),
            "partials": dict(sorted(self.partials.items())),
        }
        if self.guards:  # only when there are some: prompts without guards keep the hashes they had
            out["guards"] = [dict(g) for g in self.guards]
        if self.tools:  # the same: a prompt without tools keeps its hash
            out["tools"] = [dict(t) for t in self.tools]
        if alias is not None:
            spec: Mapping[str, Any] = {"model": alias} if isinstance(alias, str) else alias
            out["model_alias"] = {
                "model": spec.get("model"),
                "api_base": spec.get("api_base"),
                "params": dict(spec.get("params") or {}),
            }
        return out


def canonical_json(data: Any) -> str:
    """The canonical JSON text: sorted keys, no whitespace, UTF-8 kept as is, and
    integral floats written as integers (``1.0`` as ``1``, as RFC 8785 does)."""
    return _CANONICAL.encode(_canonical(data))


#: what canonical_json encodes with (json.dumps with these options makes an encoder on every call)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_PLAIN = (str, int, bool, type(None))


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # the common cases first, by exact type (isinstance on Mapping is slow)
        return value
    if kind is dict:
        for v in value.values():
            if type(v) not in _PLAIN:
                return {k: _canonical(v) for k, v in value.items()}
        return value  # plain values only (a message, say): as it is
    if kind is list:
        for v in value:
            if type(v) not in _PLAIN:
                return [_canonical(v) for v in value]
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def content_hash(data: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``data``."""
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Case:
    """One golden case of a dataset."""

    id: str
    inputs: Mapping[str, Any]
    golden: Any = None
    asserts: tuple[Mapping[str, Any], ...] = ()
    description: str | None = None
    tags: tuple[str, ...] = ()
    source: str = ""
    line: int = 0
    threshold: float | None = None  # the case passes when its weighted score reaches it (promptfoo's)
    transform: str | None = None  # a Python expression over `output`: what the assertions see (promptfoo's)
    reviewed: Mapping[str, Any] | None = None  # {by, at}: who accepted its golden in `promptctl review`, and when


@dataclass(frozen=True, slots=True)
class Dataset:
    """A golden dataset for one prompt (``*.eval.yaml``)."""

    path: str
    prompt: str
    cases: tuple[Case, ...]
    threshold: float = 1.0
    description: str | None = None
    default_asserts: tuple[Mapping[str, Any], ...] = ()
    default_transform: str | None = None  # defaults.transform: for the cases without their own

    @property
    def name(self) -> str:
        base = self.path.rsplit("/", 1)[-1]
        return base.removesuffix(".eval.yaml")
