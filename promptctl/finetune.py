"""Goldens as fine-tuning data: each case of a dataset as one line of OpenAI's chat fine-tuning JSONL.

A line is ``{"messages": [...]}``: the messages of the case's prompt rendered with the case's inputs
(exactly as ``promptctl render`` and ``promptctl test`` render them), then the case's golden as the
assistant's answer. The prompt's own assistant messages (few-shot examples, turns spliced from a
history input) get ``"weight": 0``, so that only the golden is trained on.

Every line is checked against OpenAI's per-line rules (:func:`line_problems`) before anything is
written. :func:`split` divides the lines into training and validation sets by a seeded hash, keeping
the cases whose rendered prompt is identical on the same side. :class:`TokenCounter` counts tokens
with tiktoken when it is installed (and its encoding loads), else estimates ~4 characters per token.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import PromptctlError, UsageError
from .model import Case, Dataset, canonical_json

if TYPE_CHECKING:
    from .model import Prompt
    from .project import Project

#: The roles a message of a chat fine-tuning line may have, and the keys each may carry (OpenAI's
#: FineTuneChatRequestInput: system, user, assistant and tool messages; ``weight`` on assistant ones).
MESSAGE_KEYS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "weight", "tool_calls", "function_call", "refusal"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
#: The keys a line may have besides ``messages``.
LINE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
#: OpenAI will not start a fine-tuning job on fewer training examples.
MIN_EXAMPLES = 10
#: The encoding of OpenAI's fine-tunable models (gpt-4o, gpt-4o-mini, gpt-4.1): tokens are counted in it.
ENCODING = "o200k_base"


class ExportError(PromptctlError):
    """A case that cannot become a fine-tuning line (it does not render, or its line breaks the format)."""


class ExportRefused(PromptctlError):
    """The export was refused: selected cases have no golden (``missing``); nothing was written."""

    exit_code = 1

    def __init__(self, message: str, *, missing: Sequence[LeftOut] = (), **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.missing = list(missing)


@dataclass(frozen=True, slots=True)
class Example:
    """One case as a fine-tuning line."""

    dataset: Dataset
    case: Case
    line: dict[str, Any]
    text: str  # the line as JSON, without the newline
    group: str  # the hash of the rendered prompt messages: equal prompts, equal groups
    tokens: int = 0

    @property
    def name(self) -> str:
        return f"{self.dataset.name}/{self.case.id}"


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A selected case that is not exported, and why (``no golden``, ``not reviewed``)."""

    dataset: Dataset
    case: Case
    reason: str

    @property
    def name(self) -> str:
        return f"{self.dataset.name}/{self.case.id}"

    @property
    def where(self) -> str:
        return f"{self.case.source}:{self.case.line}"

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset.name, "case": self.case.id, "source": self.case.source,
                "line": self.case.line, "reason": self.reason}


@dataclass
class Collected:
    """What :func:`collect` found: the lines, and the selected cases left out."""

    datasets: list[Dataset]
    examples: list[Example] = field(default_factory=list)
    missing: list[LeftOut] = field(default_factory=list)  # no golden (skipped with skip_missing)
    unreviewed: list[LeftOut] = field(default_factory=list)  # left out by reviewed_only
    selected: dict[str, int] = field(default_factory=dict)  # dataset path -> cases matching the filter


def case_name(dataset: Dataset, case: Case) -> str:
    return f"{dataset.name}/{case.id}"


def collect(
    project: Project,
    datasets: Sequence[Dataset],
    *,
    filter: str | None = None,
    reviewed_only: bool = False,
    skip_missing: bool = False,
    counter: TokenCounter | None = None,
) -> Collected:
    """Every selected case of ``datasets`` as a checked fine-tuning line.

    Cases are selected by ``filter`` (as ``promptctl test -k``), then, with ``reviewed_only``, those
    whose golden has no ``reviewed`` mark are left out. A selected case without a golden refuses the
    whole export (:class:`ExportRefused`, listing them all) unless ``skip_missing``. A case that does
    not render, or whose line breaks OpenAI's rules, is an :class:`ExportError` naming it.
    """
    from .evals.runner import case_matches

    out = Collected(datasets=list(datasets))
    chosen: list[tuple[Dataset, Case]] = []
    for dataset in datasets:
        picked = [c for c in dataset.cases if case_matches(c, filter)]
        out.selected[dataset.path] = len(picked)
        for case in picked:
            if reviewed_only and not case.reviewed:
                out.unreviewed.append(LeftOut(dataset, case, "not reviewed"))
            elif case.golden is None:
                out.missing.append(LeftOut(dataset, case, "no golden"))
            else:
                chosen.append((dataset, case))
    if out.missing and not skip_missing:
        n = len(out.missing)
        raise ExportRefused(
            f"{n} selected case{'s have' if n != 1 else ' has'} no golden (no answer to train on); nothing written",
            missing=out.missing,
            hint="give them goldens (`promptctl test`, then `promptctl review`), or export the others with --skip-missing",
        )
    prompts: dict[str, Prompt] = {}
    for dataset, case in chosen:
        prompt = prompts.get(dataset.prompt)
        if prompt is None:
            try:
                prompt = prompts[dataset.prompt] = project.get_prompt(dataset.prompt)
            except PromptctlError as e:
                raise ExportError(f"dataset {dataset.name}: its prompt {dataset.prompt!r} cannot be loaded: {e}",
                                  path=dataset.path) from None
        out.examples.append(build_example(project, prompt, dataset, case, counter))
    return out


def build_example(
    project: Project, prompt: Prompt, dataset: Dataset, case: Case, counter: TokenCounter | None = None
) -> Example:
    """The checked fine-tuning line of one case (which has a golden)."""
    name = case_name(dataset, case)
    try:
        rendered = project.renderer.render(prompt, case.inputs)
    except PromptctlError as e:
        raise ExportError(f"{name}: cannot render {prompt.name!r} with the case's inputs: {e}",
                          path=case.source, line=case.line,
                          hint=f"see what `promptctl test {dataset.name} -k {case.id}` says") from None
    try:
        answer = golden_content(case.golden, prompt.output.get("format", "text"))
    except ValueError as e:
        raise ExportError(f"{name}: {e}", path=case.source, line=case.line,
                          hint="write a JSON golden as data (a mapping or a list) or as JSON text") from None
    line = build_line(rendered, answer)
    problems = line_problems(line)
    if problems:
        raise ExportError(
            f"{name}: its line is not valid chat fine-tuning data: " + "; ".join(problems),
            path=case.source, line=case.line,
            hint="OpenAI's format: system, user, assistant and tool messages with non-empty string content "
                 "(a tool message also needs a tool_call_id), and at least one assistant message",
        )
    try:
        text = json.dumps(line, ensure_ascii=False, allow_nan=False)
    except ValueError as e:  # NaN or Infinity in a golden
        raise ExportError(f"{name}: the line cannot be written as JSON: {e}", path=case.source, line=case.line) from None
    group = hashlib.sha256(canonical_json(rendered).encode("utf-8")).hexdigest()
    return Example(dataset, case, line, text, group, counter.count(line) if counter is not None else 0)


def golden_content(golden: Any, output_format: str = "text") -> str:
    """The assistant message's content for ``golden``: text as it is, JSON data as compact JSON text.

    For a prompt whose ``output.format`` is ``json``, a text golden must be JSON text (ValueError if not).
    """
    if isinstance(golden, str):
        if output_format == "json":
            try:
                json.loads(golden)
            except ValueError:
                raise ValueError("the prompt's output.format is json, but the golden is not JSON text") from None
        return golden
    return json.dumps(golden, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def build_line(rendered: Sequence[Mapping[str, Any]], answer: str) -> dict[str, Any]:
    """``{"messages": [...]}``: the rendered messages (assistant ones with ``weight: 0``), then the answer."""
    messages: list[dict[str, Any]] = []
    for m in rendered:
        msg = dict(m)
        if msg.get("role") == "assistant":
            msg["weight"] = 0
        messages.append(msg)
    messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def line_problems(line: Any) -> list[str]:
    """What makes ``line`` break the rules of OpenAI's chat fine-tuning format (empty when it is fine).

    The rules: a JSON object with a non-empty ``messages`` list (and optionally ``tools``,
    ``parallel_tool_calls``, ``functions``); each message an object whose ``role`` is system, user,
    assistant or tool, with only the keys that role takes; ``content`` a non-empty string (an assistant
    message may have ``tool_calls`` or ``function_call`` instead); ``name`` a non-empty string; a tool
    message's ``tool_call_id`` a non-empty string; an assistant message's ``weight`` 0 or 1; and at
    least one assistant message, one of them trained on (a weight other than 0).
    """
    if not isinstance(line, Mapping):
        return ["a line must be a JSON object"]
    problems = [f"unknown key {k!r} in the line" for k in line if k not in LINE_KEYS]
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        return problems + ["`messages` must be a non-empty list"]
    trained = False
    assistant = False
    for i, m in enumerate(messages, 1):
        if not isinstance(m, Mapping):
            problems.append(f"message {i} is not an object")
            continue
        role = m.get("role")
        keys = MESSAGE_KEYS.get(role) if isinstance(role, str) else None
        if keys is None:
            problems.append(f"message {i} has role {role!r}; use system, user, assistant or tool")
            continue
        what = f"message {i} ({role})"
        problems.extend(f"{what} has the key {k!r}, which a {role} message cannot have" for k in m if k not in keys)
        content = m.get("content")
        calls = role == "assistant" and (m.get("tool_calls") or m.get("function_call"))
        if not calls and (not isinstance(content, str) or not content):
            problems.append(f"{what} has empty content" if content in ("", None) else f"{what}: content must be a string")
        if "name" in m and (not isinstance(m["name"], str) or not m["name"]):
            problems.append(f"{what}: name must be a non-empty string")
        if role == "tool" and (not isinstance(m.get("tool_call_id"), str) or not m.get("tool_call_id")):
            problems.append(f"{what} has no tool_call_id")
        if role == "assistant":
            assistant = True
            weight = m.get("weight", 1)
            if type(weight) is not int or weight not in (0, 1):
                problems.append(f"{what}: weight must be 0 or 1, not {weight!r}")
            elif weight == 1:
                trained = True
    if not assistant:
        problems.append("there is no assistant message")
    elif not trained:
        problems.append("every assistant message has weight 0: nothing to train on")
    return problems


# -- splitting -----------------------------------------------------------------------------------


def split(examples: Sequence[Example], ratio: float, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """``(train, validation)``: about ``ratio`` of the lines for training, the rest for validation.

    The lines are grouped by their rendered prompt (cases whose prompt renders identically, which
    differ at most in their golden, are one group and land on the same side, so no validation prompt
    was seen in training), and the groups ordered by ``sha256(seed, group)``: a shuffle that depends
    only on the seed and the prompts, never on the machine or the order of the files. Groups go to
    training until it holds ``round(ratio * lines)`` lines (at least one line, and at least one left
    for validation when there are two groups or more); the rest go to validation. Each side keeps the
    lines in their original order (dataset by dataset, case by case).
    """
    if not 0 < ratio < 1:
        raise UsageError(f"the split ratio must be between 0 and 1, not {ratio}", hint="e.g. --split 0.9")
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    order = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}\0{g}".encode()).hexdigest())
    total = len(examples)
    target = math.floor(ratio * total + 0.5)
    if total >= 2:
        target = min(max(target, 1), total - 1)
    train: set[int] = set()
    taken: list[str] = []
    for g in order:
        if len(train) >= target:
            break
        train.update(groups[g])
        taken.append(g)
    if len(train) == total and len(taken) > 1:  # the last group overshot: leave it for validation
        train.difference_update(groups[taken[-1]])
    return ([ex for i, ex in enumerate(examples) if i in train],
            [ex for i, ex in enumerate(examples) if i not in train])


# -- tokens --------------------------------------------------------------------------------------


class TokenCounter:
    """Counts the tokens of a line as OpenAI's cookbook does for a chat example (3 per message, the
    tokens of each role, content and name, 1 more per name, 3 for the reply's priming), with tiktoken's
    ``o200k_base`` when tiktoken is installed and the encoding loads (within ``timeout`` seconds: it is
    downloaded on first use), else with ~4 characters per token. The encoding is loaded on the first
    count; ``method`` says which way was used."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._loaded = False
        self._encode: Any = None
        self._method = ""

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        import os

        if os.environ.get("PROMPTCTL_TOKENIZER", "").lower() == "estimate":  # the tests: never download an encoding
            self._method = "estimated at ~4 characters per token (PROMPTCTL_TOKENIZER=estimate)"
            return
        try:
            import tiktoken
        except ImportError:
            self._method = "estimated at ~4 characters per token (tiktoken is not installed)"
            return
        encoding, error = _load_encoding(tiktoken, ENCODING, self.timeout)
        if encoding is None:
            self._method = f"estimated at ~4 characters per token (tiktoken could not load {ENCODING}: {error})"
            return
        self._encode = encoding.encode
        self._method = f"counted with tiktoken ({ENCODING})"

    @property
    def exact(self) -> bool:
        self._load()
        return self._encode is not None

    @property
    def method(self) -> str:
        self._load()
        return self._method

    def text(self, s: str) -> int:
        self._load()
        if self._encode is not None:
            return len(self._encode(s, disallowed_special=()))
        return math.ceil(len(s) / 4)

    def count(self, line: Mapping[str, Any]) -> int:
        total = 3
        for m in line.get("messages") or ():
            total += 3
            for key in ("role", "content", "name"):
                value = m.get(key)
                if isinstance(value, str):
                    total += self.text(value) + (1 if key == "name" else 0)
        return total

    def to_json(self) -> dict[str, Any]:
        return {"method": "tiktoken" if self.exact else "chars/4", "encoding": ENCODING if self.exact else None}


def _load_encoding(tiktoken: Any, name: str, timeout: float) -> tuple[Any, str]:
    """tiktoken's encoding ``name``, or None and why (no network to download it, too slow, ...)."""
    import threading

    box: dict[str, Any] = {}

    def load() -> None:
        try:
            box["encoding"] = tiktoken.get_encoding(name)
        except Exception as e:  # noqa: BLE001 - offline, a proxy, a broken cache: fall back to the estimate
            box["error"] = type(e).__name__ + (" (offline?)" if isinstance(e, OSError) else "")

    worker = threading.Thread(target=load, name="promptctl-tiktoken", daemon=True)
    worker.start()
    worker.join(timeout)
    if "encoding" in box:
        return box["encoding"], ""
    return None, box.get("error", f"no answer within {timeout:g}s")


# -- writing -------------------------------------------------------------------------------------


def jsonl(examples: Sequence[Example]) -> str:
    """The lines of ``examples`` as a JSONL text (one line each, a newline after each)."""
    return "".join(ex.text + "\n" for ex in examples)
