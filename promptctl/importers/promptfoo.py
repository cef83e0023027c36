"""``promptctl import promptfoo``: turn a promptfoo config into a promptctl project.

What maps to what (promptfoo's documented config format, src/types and src/csv.ts):

=====================================  ==========================================================
promptfoo                              promptctl
=====================================  ==========================================================
``prompts`` (text, ``file://*.txt``,    one ``prompts/<name>.prompt.yaml`` each; a text prompt is
``.md``, ``.j2``, ``---``-separated     one ``user`` message, a chat prompt its messages; inputs
files, JSON/YAML/JSONL chat arrays,     inferred from the template's variables (typed from the
CSV, globs, ``{id, label, raw}``)       tests' values)
``providers`` / ``targets``             model aliases in promptctl.yaml (``api_base``,
                                        ``api_key_env``, ``params``); the first is
                                        ``defaults.model``
``tests`` (inline, ``file://`` CSV,     one dataset per prompt, ``evals/<prompt>.eval.yaml``;
YAML, JSON, JSONL, globs)               case ids from descriptions, else ``case-N``
``defaultTest``                         the dataset's ``defaults`` (inputs, assert); its
                                        ``options.provider`` becomes ``test.grader``
``vars`` / ``assert`` / ``threshold``   ``inputs`` / ``assert`` / ``threshold``
``metadata``                            ``tags`` (``key:value``)
=====================================  ==========================================================

What promptctl cannot express (JavaScript, webhooks, custom providers, transforms, red-teaming,
scenarios, ...) is listed as :class:`~promptctl.importers.Skipped` with its file and line, and the
import goes on without it. Every file is read through promptctl's safe YAML loader, and every
``file://`` path must stay inside the config's folder.
"""

from __future__ import annotations

import csv
import glob
import io
import itertools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import FileFormatError, UsageError, YamlError
from ..yamlio import Document, loads, read_text
from . import ImportPlan, Skipped
from .yamlout import Entry, document

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

#: promptfoo's base assertion types, in the order its CSV ``__expected`` parser tries them.
PROMPTFOO_TYPES = (
    "answer-relevance", "bleu", "classifier", "contains", "contains-all", "contains-any", "contains-html",
    "contains-json", "contains-sql", "contains-xml", "context-faithfulness", "context-recall",
    "context-relevance", "conversation-relevance", "cost", "equals", "factuality", "finish-reason", "g-eval",
    "gleu", "guardrails", "icontains", "icontains-all", "icontains-any", "is-html", "is-json", "is-refusal",
    "is-sql", "is-valid-function-call", "is-valid-openai-function-call", "is-valid-openai-tools-call", "is-xml",
    "javascript", "latency", "levenshtein", "llm-rubric", "pi", "meteor", "model-graded-closedqa",
    "model-graded-factuality", "moderation", "perplexity", "perplexity-score", "python", "regex", "rouge-n",
    "ruby", "similar", "similar:cosine", "similar:dot", "similar:euclidean", "starts-with", "tool-call-f1",
    "skill-used", "trajectory:goal-success", "trajectory:tool-args-match", "trajectory:step-count",
    "trajectory:tool-sequence", "trajectory:tool-used", "trace-error-spans", "trace-span-count",
    "trace-span-duration", "search-rubric", "webhook", "word-count",
)
_CSV_ASSERTION = re.compile(
    r"^(not-)?(" + "|".join(re.escape(t) for t in PROMPTFOO_TYPES) + r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
)
_CSV_ARRAY = {"contains-all", "contains-any", "icontains-all", "icontains-any"}
_CSV_RAW = {"contains-json", "is-json"}
_CSV_THRESHOLD = {"answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance",
                  "cost", "latency", "levenshtein", "perplexity-score", "perplexity", "rouge-n", "similar",
                  "starts-with"}
#: promptfoo names promptctl runs under another name
_TYPE_ALIASES = {"similar:cosine": "similar", "model-graded-factuality": "factuality"}
_WHY_TYPE = {
    "javascript": "promptctl runs no JavaScript; rewrite it as a `python` assertion (it gets `output` and `context`)",
    "webhook": "promptctl does not call webhooks to grade; rewrite it as a `python` assertion",
    "select-best": "it compares the outputs of several prompts or models; compare models with "
                   "`promptctl test --model A --model B` instead",
    "max-score": "it picks among the outputs of several prompts or models; compare models with "
                 "`promptctl test --model A --model B` instead",
    "human": "manual grading is done with `promptctl review`",
    "ruby": "promptctl runs no Ruby; rewrite it as a `python` assertion",
}
_TOP_LEVEL_WHY = {
    "redteam": "red-teaming (generated attack tests and graders) has no promptctl equivalent",
    "scenarios": "scenarios (groups of vars crossed with tests) are not carried over; write their combinations "
                 "as cases",
    "env": "promptctl sets no environment variables; export them in your shell or CI (API keys never go in files)",
    "nunjucksFilters": "custom Nunjucks filters are JavaScript; promptctl templates have Jinja's built-in filters",
    "extensions": "extension hooks (beforeAll, afterEach, ...) run code around the eval; promptctl has none",
    "derivedMetrics": "derived metrics are not computed by promptctl",
    "outputPath": "write reports with `promptctl test --format json|html|junit|markdown -o FILE`",
    "sharing": "promptfoo's result sharing has no promptctl equivalent",
    "tracing": "tracing is not carried over",
    "writeLatestResults": "promptctl keeps model answers under .promptctl/recordings instead",
    "commandLineOptions": "pass `promptctl test`'s own options instead",
    "metadata": "suite metadata is not carried over",
    "providerPromptMap": "set `model:` in the prompts that need another model",
    "defaultTestFile": "not carried over",
}
_KNOWN_TOP = {"description", "prompts", "providers", "targets", "tests", "defaultTest", "evaluateOptions", "tags",
              "$schema"}
#: provider config keys that are model call parameters (litellm passes them on)
PARAM_KEYS = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "frequency_penalty",
              "presence_penalty", "seed", "stop", "reasoning_effort", "n")
_ASSERT_FIELDS = ("value", "threshold", "weight", "metric")
_SCRIPT_SUFFIXES = {".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".jsx", ".tsx", ".py", ".rb", ".go", ".sh"}
_BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".pdf", ".mp3", ".wav", ".ogg", ".mp4",
                    ".mov", ".webm", ".xlsx", ".xls", ".docx"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"^\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_ROLES = {"system", "user", "assistant", "tool"}
_MAX_CASES = 100_000


@dataclass(frozen=True, slots=True)
class Loc:
    """Where something is: the file as shown to the user, and its line and column when known."""

    file: str
    line: int | None = None
    col: int | None = None


@dataclass(slots=True)
class _Prompt:
    loc: Loc
    ref: str                              # how promptfoo named it: a file://, an id or the text's start
    label: str | None
    hint: str | None                      # a name to start from (label, id, file stem)
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    model: str | None = None
    keys: list[str] = field(default_factory=list)  # what promptfoo's prompt filters may call it


@dataclass(slots=True)
class _Alias:
    name: str
    pid: str
    label: str | None
    spec: Any
    loc: Loc
    prompts: list[str] | None = None


@dataclass(slots=True)
class _Assert:
    spec: dict[str, Any]
    loc: Loc


@dataclass(slots=True)
class _Test:
    n: int
    loc: Loc
    description: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    asserts: list[_Assert] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    threshold: float | None = None
    tags: list[str] = field(default_factory=list)
    prompts: list[str] | None = None
    no_default_asserts: bool = False


@dataclass(slots=True)
class _Defaults:
    vars: dict[str, Any] = field(default_factory=dict)
    asserts: list[_Assert] = field(default_factory=list)
    threshold: float | None = None
    tags: list[str] = field(default_factory=list)


def find_config(arg: str | os.PathLike[str] | None) -> Path:
    """The config file named by ``arg`` (a file, or a folder holding one), else the one in the current folder."""
    if arg is not None:
        path = Path(arg)
        if path.is_dir():
            for name in CONFIG_NAMES:
                if (path / name).is_file():
                    return path / name
            raise UsageError(
                f"no {' / '.join(CONFIG_NAMES)} in {path}",
                hint="pass the config file itself: `promptctl import promptfoo path/to/promptfooconfig.yaml`",
            )
        if not path.exists():
            raise UsageError(
                f"{path}: no such file",
                hint="pass the path of your promptfoo config: "
                     "`promptctl import promptfoo path/to/promptfooconfig.yaml`",
            )
        if not path.is_file():
            raise UsageError(f"{path} is not a regular file", hint="pass the promptfoo config file")
        return path
    for name in CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    raise UsageError(
        f"no promptfooconfig.yaml (or .yml, .json) in {Path.cwd()}",
        hint="run it in the folder holding your promptfoo config, or pass its path: "
             "`promptctl import promptfoo path/to/promptfooconfig.yaml`",
    )


def plan_import(config: str | os.PathLike[str], into: str | os.PathLike[str] | None = None) -> ImportPlan:
    """Read the promptfoo config at ``config`` (and every file it names) and return what to write
    (into the folder ``into``, which only shapes the notes)."""
    importer = _Importer(Path(config))
    plan = importer.run()
    if into is not None:
        root = Path(os.path.realpath(into)) / "prompts"
        strays = sorted({importer.show(p) for p in importer.read if root in p.parents
                         and not p.name.endswith(".prompt.yaml")})
        if strays:
            plan.notes.append(f"{', '.join(strays)} {'are' if len(strays) > 1 else 'is'} under the prompt root "
                              "(prompts/): promptctl lint warns about it (PC104) until it is moved or deleted")
    return plan


def _slug(text: str, limit: int = 60) -> str:
    """A lower-case name of letters, digits and dashes (empty when ``text`` has none)."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].rstrip("-")


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    taken.add(out)
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _first_line(text: str, width: int = 50) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _strip_newline(value: Any) -> Any:
    """promptfoo drops one trailing newline from every string var before rendering."""
    return value[:-1] if isinstance(value, str) and value.endswith("\n") else value


class _Importer:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.base = Path(os.path.realpath(config.parent))
        self.shown_base = PurePosixPath(config.parent.as_posix())
        self.name = config.name
        self.skipped: list[Skipped] = []
        self.notes: list[str] = []
        self.tests_seen = 0
        self.expandable_defaults: dict[str, Any] = {}
        self.grader_item: tuple[Any, Document, tuple[Any, ...]] | None = None
        self._env: Any = None
        self._templates: dict[tuple[str, Loc], list[str] | None] = {}
        self.read: set[Path] = set()  # every file read

    # -- locations, files ------------------------------------------------------------------------

    def show(self, path: Path) -> str:
        """``path`` as the user sees it: relative to the config's folder as it was given."""
        try:
            rel = Path(os.path.realpath(path)).relative_to(self.base)
        except ValueError:
            return path.as_posix()
        shown = self.shown_base / rel.as_posix()
        return str(shown)

    @staticmethod
    def at(doc: Document, path: tuple[Any, ...], *, key: bool = False) -> Loc:
        m = doc.mark(path, key=key)
        return Loc(doc.path, m.line, m.col)

    def skip(self, what: str, loc: Loc, why: str) -> None:
        self.skipped.append(Skipped(what=what, file=loc.file, line=loc.line, why=why))

    def inside(self, ref: str, loc: Loc, shown: str | None = None) -> Path:
        """The path ``ref`` (relative to the config's folder) names; refused when it leaves that folder."""
        raw = Path(ref)
        candidate = raw if raw.is_absolute() else self.base / raw
        real = Path(os.path.realpath(candidate))
        if real != self.base and self.base not in real.parents:
            raise FileFormatError(
                f"file://{shown or ref} is outside the folder of {self.name} ({self.shown_base})",
                path=loc.file, line=loc.line, col=loc.col,
                hint="an import reads only files under the config's folder; move the file there",
            )
        return real

    def files(self, ref: str, loc: Loc, *, what: str) -> list[Path]:
        """The files ``ref`` names: one path, every match of a glob, or every file of a folder."""
        if any(c in ref for c in "*?["):
            pattern = ref if Path(ref).is_absolute() else str(self.base / ref)
            top = re.split(r"[*?\[]", ref, maxsplit=1)[0]
            self.inside(top or ".", loc, ref)  # a glob may not start outside the folder either
            found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            paths = [self.inside(str(p), loc, ref) for p in found]
            if not paths:
                raise FileFormatError(f"file://{ref} matches no file", path=loc.file, line=loc.line, col=loc.col,
                                      hint=f"check the {what} path (relative to {self.name})")
            return paths
        path = self.inside(ref, loc)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in
                           {".yaml", ".yml", ".json", ".jsonl", ".csv"})
            return [self.inside(str(p), loc) for p in found]
        if not path.is_file():
            raise FileFormatError(f"file://{ref}: no such file", path=loc.file, line=loc.line, col=loc.col,
                                  hint=f"check the {what} path (relative to {self.name})")
        return [path]

    def text(self, path: Path, loc: Loc) -> str:
        self.read.add(Path(os.path.realpath(path)))
        try:
            return read_text(path, display=self.show(path))
        except YamlError as e:
            if e.line is not None:
                raise
            raise FileFormatError(f"{self.show(path)}: {e.message}", path=loc.file, line=loc.line, col=loc.col,
                                  hint=e.hint) from None

    def structured(self, path: Path, loc: Loc) -> Document:
        """A YAML or JSON file, loaded safely with the line of every value (JSON as JSON reads it)."""
        text = self.text(path, loc)
        shown = self.show(path)
        if path.suffix.lower() != ".json":
            return loads(text, path=shown)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"invalid JSON: {e.msg}", path=shown, line=e.lineno, col=e.colno,
                                  hint="fix the JSON syntax") from None
        except (ValueError, RecursionError) as e:
            raise FileFormatError(f"invalid JSON: {e}", path=shown, line=1, col=1) from None
        try:
            marks = loads(text, path=shown)
            return Document(shown, data, text, marks.values, marks.keys)
        except YamlError:
            return Document(shown, data, text)

    # -- the config --------------------------------------------------------------------------------

    def run(self) -> ImportPlan:
        doc = self.structured(self.config, Loc(self.show(self.config)))
        data = doc.data
        if not isinstance(data, dict):
            raise FileFormatError("a promptfoo config must be a mapping (prompts, providers, tests, ...)",
                                  path=doc.path, line=1, col=1, hint="see promptfoo's configuration reference")
        for key in data:
            if key in _KNOWN_TOP:
                continue
            why = _TOP_LEVEL_WHY.get(key, "not a promptfoo config key promptctl knows")
            self.skip(f"`{key}`", self.at(doc, (key,), key=True), why)
        prompts = self.read_prompts(doc)
        aliases = self.read_providers(doc)
        defaults = self.read_default_test(doc)
        tests = self.read_tests(doc)
        settings: dict[str, Any] = {}
        extra = self.read_grader(aliases, settings)
        options = data.get("evaluateOptions")
        if isinstance(options, dict):
            for key, value in options.items():
                loc = self.at(doc, ("evaluateOptions", key), key=True)
                if key == "maxConcurrency" and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                    settings["concurrency"] = value
                else:
                    reasons = {"repeat": "promptctl runs each case once per model",
                               "delay": "promptctl paces calls with --concurrency and retries rate limits itself",
                               "cache": "promptctl keeps recordings instead (`--mode refresh` to ignore them)"}
                    self.skip(f"`evaluateOptions.{key}`", loc, reasons.get(key, "not carried over"))
        return self.build(doc, prompts, aliases, extra, defaults, tests, settings)

    # -- prompts -----------------------------------------------------------------------------------

    def read_prompts(self, doc: Document) -> list[_Prompt]:
        raw = doc.data.get("prompts")
        out: list[_Prompt] = []
        if raw is None:
            out.append(_Prompt(Loc(doc.path, 1), "{{prompt}}", None, "prompt",
                               [{"role": "user", "content": "{{ prompt }}"}]))
            self.notes.append("the config names no prompts: promptfoo's default `{{prompt}}` was written as `prompt`")
        elif isinstance(raw, str):
            out += self.prompt_item(raw, doc, ("prompts",))
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                out += self.prompt_item(item, doc, ("prompts", i))
        elif isinstance(raw, dict):  # {file://path: label}
            for ref, label in raw.items():
                loc = self.at(doc, ("prompts", ref), key=True)
                out += self.prompt_ref(str(ref), loc, label if isinstance(label, str) else None)
        else:
            self.skip("`prompts`", self.at(doc, ("prompts",)), "expected a prompt, a list of prompts or a mapping")
        taken: set[str] = set()
        for i, p in enumerate(out, 1):
            base = _slug(p.hint or "") or ("prompt" if len(out) == 1 else f"prompt-{i}")
            p.name = _unique(base, taken)
        return out

    def prompt_item(self, item: Any, doc: Document, path: tuple[Any, ...]) -> list[_Prompt]:
        loc = self.at(doc, path)
        if isinstance(item, str):
            return self.prompt_ref(item, loc, None)
        if isinstance(item, dict):
            label = item.get("label") if isinstance(item.get("label"), str) else None
            config = found_config if isinstance(found_config := item.get("config"), dict) else {}
            for key in item:
                if key not in ("id", "label", "raw", "config"):
                    self.skip(f"prompt field `{key}`", self.at(doc, path + (key,), key=True), "not carried over")
            params, output = self.prompt_config(config, doc, path + ("config",))
            if isinstance(item.get("raw"), str):
                found = self.prompt_ref(item["raw"], self.at(doc, path + ("raw",)), label, hint=item.get("id"))
            elif isinstance(item.get("id"), str):
                found = self.prompt_ref(item["id"], self.at(doc, path + ("id",)), label)
            else:
                self.skip("prompt", loc, "a prompt object needs `raw` or `id`")
                return []
            for p in found:
                p.params.update(params)
                p.output.update(output)
            return found
        self.skip("prompt", loc, "expected a string or {id, label, raw}")
        return []

    def prompt_config(self, config: Mapping[str, Any], doc: Document,
                      path: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        params: dict[str, Any] = {}
        output: dict[str, Any] = {}
        for key, value in config.items():
            if key in PARAM_KEYS:
                params[key] = value
            elif key == "response_format" and isinstance(value, dict):
                output = self.response_format(value, self.at(doc, path + (key,)))
            else:
                self.skip(f"prompt config `{key}`", self.at(doc, path + (key,), key=True), "not carried over")
        return params, output

    def response_format(self, value: Mapping[str, Any], loc: Loc) -> dict[str, Any]:
        kind = value.get("type")
        if kind == "json_object":
            return {"format": "json"}
        if kind == "json_schema":
            inner = value.get("json_schema")
            schema = inner.get("schema") if isinstance(inner, dict) else None
            return {"format": "json", **({"schema": schema} if isinstance(schema, dict) else {})}
        self.skip("`response_format`", loc, f"type {kind!r} is not carried over")
        return {}

    def prompt_ref(self, text: str, loc: Loc, label: str | None, hint: Any = None) -> list[_Prompt]:
        """Prompts from one string: a ``file://`` reference (or a bare path to a prompt file), or the text itself."""
        ref = None
        if text.startswith("file://"):
            ref = text[len("file://"):]
        elif "\n" not in text and re.fullmatch(r"[\w./*\\-]+\.(txt|md|j2|jinja2?|njk|json|jsonl|ya?ml|csv)", text) \
                and (any(c in text for c in "*?") or (self.base / text).is_file()):
            ref = text  # promptfoo still reads bare paths of prompt files
        for prefix in ("exec:", "python:", "langfuse://", "portkey://", "helicone://", "http://", "https://"):
            if text.startswith(prefix):
                self.skip(f"prompt {text.split()[0]!r}", loc, "a prompt made by a script or fetched from a prompt "
                          "service is not carried over; paste its text into a prompt")
                return []
        if ref is None:
            name = label or (hint if isinstance(hint, str) and not hint.startswith("file://") else None)
            shown = label or (hint if isinstance(hint, str) else None) or f"{_first_line(text, 40)!r}"
            return self.prompts_from_text(text, loc, label, name, ref=shown)
        function = re.match(r"^(.*\.(?:py|js|cjs|mjs|ts))(:\w+)?$", ref)
        if function or Path(ref).suffix.lower() in _SCRIPT_SUFFIXES:
            self.skip(f"prompt file://{ref}", loc, "a prompt function (JavaScript/Python) is not carried over; "
                      "write the prompt it builds as a template")
            return []
        out: list[_Prompt] = []
        paths = self.files(ref, loc, what="prompt")
        for path in paths:
            stem = label if label and len(paths) == 1 else path.stem
            shown = f"file://{ref}" if len(paths) == 1 else f"file://{self.show(path)} (from file://{ref})"
            out += self.prompt_file(path, loc, label, stem, shown)
        return out

    def prompt_file(self, path: Path, loc: Loc, label: str | None, stem: str, ref: str) -> list[_Prompt]:
        suffix = path.suffix.lower()
        floc = Loc(self.show(path), 1)
        if suffix in (".yaml", ".yml"):
            doc = self.structured(path, loc)
            if isinstance(doc.data, str):
                return self.prompts_from_text(doc.data, floc, label, stem, ref=ref)
            if isinstance(doc.data, list):
                messages = self.chat_messages(doc.data, floc)
                return [] if messages is None else [_Prompt(floc, ref, label, stem, messages)]
            self.skip(f"prompt {ref}", floc, "a YAML prompt file must hold a list of {role, content} messages")
            return []
        text = self.text(path, loc)
        if suffix == ".jsonl":
            out = []
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            for n, line in lines:
                name = stem if len(lines) == 1 else f"{stem}-{n}"
                out += self.prompts_from_text(line, Loc(floc.file, n), label, name, ref=ref, split=False)
            return out
        if suffix == ".json":
            return self.prompts_from_text(text, floc, label, stem, ref=ref, split=False)
        if suffix == ".csv":
            out = []
            rows = list(csv.DictReader(io.StringIO(text)))
            for n, row in enumerate(rows, 2):
                body = row.get("prompt") or ""
                if not body.strip():
                    continue
                row_label = row.get("label") or label
                name = row_label or (stem if len(rows) == 1 else f"{stem}-{n - 1}")
                out += self.prompts_from_text(body, Loc(floc.file, n), row_label, name, ref=ref, split=False)
            return out
        return self.prompts_from_text(text, floc, label, stem, ref=ref, split=True)

    def prompts_from_text(self, text: str, loc: Loc, label: str | None, hint: Any, *, ref: str,
                          split: bool = False) -> list[_Prompt]:
        """One prompt per ``---``-separated part (text files), each chat JSON/YAML or plain text."""
        parts = [text]
        if split:  # promptfoo's text files: a line holding only `---` separates prompts; each is trimmed
            chunks: list[list[str]] = [[]]
            for line in text.splitlines():
                if line.strip() == "---":
                    chunks.append([])
                else:
                    chunks[-1].append(line)
            parts = [p for p in ("\n".join(c).strip() for c in chunks) if p]
        out = []
        for i, part in enumerate(parts, 1):
            name = hint if len(parts) == 1 else f"{hint or 'prompt'}-{i}"
            messages = self.text_messages(part, loc, ref)
            if messages is not None:
                keys = [k for k in (label, ref, part) if k]
                out.append(_Prompt(loc, ref, label, name if isinstance(name, str) else None, messages, keys=keys))
        return out

    def text_messages(self, text: str, loc: Loc, ref: str) -> list[dict[str, Any]] | None:
        """A chat (a JSON array, or YAML ``- role:`` list, of messages) or one ``user`` message."""
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                data = json.loads(stripped)
            except ValueError:
                data = None
            if isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m for m in data):
                return self.chat_messages(data, loc)
            if data is None and re.match(r"^\[\s*\{\s*\"role\"", stripped):
                self.skip(f"chat structure of prompt {ref}", loc,
                          "its JSON does not parse before rendering (template code outside the message strings); "
                          "it was carried over as one user message: split it into messages by hand")
        elif stripped.startswith("- role:"):
            try:
                data = loads(stripped, path=loc.file).data
            except YamlError:
                data = None
            if isinstance(data, list) and all(isinstance(m, dict) and "role" in m for m in data):
                return self.chat_messages(data, loc)
        return [{"role": "user", "content": text.removesuffix("\n")}]

    def chat_messages(self, data: list[Any], loc: Loc) -> list[dict[str, Any]] | None:
        messages = []
        for m in data:
            if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
                self.skip("chat prompt", loc, "every message needs a `role` and a text `content` (images, tool "
                          "calls and content parts are not carried over)")
                return None
            role = m["role"]
            if role == "developer":
                role = "system"
                self.notes.append(f"{loc.file}: the `developer` message was written as a `system` message")
            if role not in _ROLES:
                self.skip("chat prompt", loc, f"role {role!r} is not one of {', '.join(sorted(_ROLES))}")
                return None
            message: dict[str, Any] = {"role": role, "content": m["content"].removesuffix("\n")}
            if isinstance(m.get("name"), str) and m["name"]:
                message["name"] = m["name"]
            extra = sorted(set(m) - {"role", "content", "name"})
            if extra:
                self.skip(f"message field {extra[0]!r}", loc, "not carried over")
            messages.append(message)
        if not messages:
            self.skip("chat prompt", loc, "it has no messages")
            return None
        return messages

    # -- providers ---------------------------------------------------------------------------------

    def read_providers(self, doc: Document) -> list[_Alias]:
        key = "providers" if "providers" in doc.data else "targets"
        raw = doc.data.get(key)
        items: list[tuple[Any, Document, tuple[Any, ...]]] = []
        if raw is None:
            self.notes.append("the config names no providers: set `defaults.model` in promptctl.yaml")
            return []
        if isinstance(raw, str) and raw.startswith("file://"):
            items += self.provider_file(raw[7:], self.at(doc, (key,)))
        elif isinstance(raw, (str, dict)):
            items.append((raw, doc, (key,)))
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                if isinstance(item, str) and item.startswith("file://") and item.endswith((".yaml", ".yml", ".json")):
                    items += self.provider_file(item[7:], self.at(doc, (key, i)))
                else:
                    items.append((item, doc, (key, i)))
        out: list[_Alias] = []
        taken: set[str] = set()
        for item, idoc, path in items:
            alias = self.provider(item, idoc, path, taken)
            if alias is not None:
                out.append(alias)
        return out

    def provider_file(self, ref: str, loc: Loc) -> list[tuple[Any, Document, tuple[Any, ...]]]:
        out: list[tuple[Any, Document, tuple[Any, ...]]] = []
        for path in self.files(ref, loc, what="providers"):
            fdoc = self.structured(path, loc)
            if isinstance(fdoc.data, list):
                out += [(item, fdoc, (i,)) for i, item in enumerate(fdoc.data)]
            else:
                out.append((fdoc.data, fdoc, ()))
        return out

    def provider(self, item: Any, doc: Document, path: tuple[Any, ...], taken: set[str], *, name: str = "",
                 embedding: bool = False, grading: bool = False) -> _Alias | None:
        loc = self.at(doc, path)
        if isinstance(item, str):
            options: dict[str, Any] = {"id": item}
            base: tuple[Any, ...] = path
        elif (isinstance(item, dict) and "id" not in item and len(item) == 1
              and isinstance(next(iter(item.values())), dict)):  # {provider id: options}
            pid = next(iter(item))
            options = {"id": pid, **next(iter(item.values()))}
            base = path + (pid,)
        elif isinstance(item, dict):
            options, base = item, path
        else:
            self.skip("provider", loc, "expected a provider id or {id, config}")
            return None
        pid = options.get("id")
        if not isinstance(pid, str) or not pid:
            self.skip("provider", loc, "it has no `id`")
            return None
        model, why = litellm_model(pid, embedding=embedding)
        if model is None:
            self.skip(f"provider {pid!r}", loc, why)
            return None
        label = options.get("label") if isinstance(options.get("label"), str) else None
        name = _unique(_slug(label or "", 40) or name or _slug(model.rsplit("/", 1)[-1], 40) or "model", taken)
        spec: dict[str, Any] = {"model": model}
        params: dict[str, Any] = {}
        for key, value in options.items():
            if key in ("id", "label", "prompts"):
                continue
            kloc = self.at(doc, base + (key,), key=True)
            if key != "config":
                reasons = {"transform": "output transforms are not carried over: assertions see the raw output",
                           "env": "promptctl sets no environment variables; export them in your shell or CI",
                           "delay": "promptctl paces calls with --concurrency"}
                self.skip(f"provider {pid!r} `{key}`", kloc, reasons.get(key, "not carried over"))
                continue
            if not isinstance(value, dict):
                continue
            for ckey, cvalue in value.items():
                cloc = self.at(doc, base + ("config", ckey), key=True)
                self.provider_setting(pid, ckey, cvalue, cloc, spec, params)
        kind = pid.split(":", 1)[0]
        if not grading and kind in ("openai", "anthropic") and "temperature" not in params and not re.match(
                r"^(o\d|gpt-5)", model.rsplit("/", 1)[-1]):
            params["temperature"] = 0  # promptfoo's default for these providers
        if not embedding and kind == "anthropic" and "max_tokens" not in params:
            params["max_tokens"] = 1024  # promptfoo's default for Anthropic
        if params:
            spec["params"] = params
        prompts = options.get("prompts")
        filters = [p for p in prompts if isinstance(p, str)] if isinstance(prompts, list) else (
            [prompts] if isinstance(prompts, str) else None)
        final: Any = spec["model"] if list(spec) == ["model"] else spec
        return _Alias(name, pid, label, final, loc, filters)

    def provider_setting(self, pid: str, key: str, value: Any, loc: Loc, spec: dict[str, Any],
                         params: dict[str, Any]) -> None:
        if key == "apiBaseUrl" and isinstance(value, str) and value:
            if "{{" in value:
                self.skip(f"provider {pid!r} `apiBaseUrl`", loc, "a templated URL is not carried over; "
                          "set `api_base` in promptctl.yaml")
            else:
                spec["api_base"] = value.rstrip("/")
        elif key == "apiHost" and isinstance(value, str) and value:
            host = value.rstrip("/")
            url = host if host.startswith(("http://", "https://")) else f"https://{host}"
            spec["api_base"] = url + ("/v1" if pid.startswith("openai") and not url.endswith("/v1") else "")
        elif key == "apiKeyEnvar" and isinstance(value, str) and _IDENT.match(value):
            spec["api_key_env"] = value
        elif key == "apiKey":
            found = _ENV_REF.match(value) if isinstance(value, str) else None
            if found:
                spec["api_key_env"] = found.group(1)
            else:
                self.skip(f"provider {pid!r} `apiKey`", loc, "an API key is never copied into the project; "
                          "put it in an environment variable and name it with `api_key_env` in promptctl.yaml")
        elif key in PARAM_KEYS:
            params[key] = value
        elif key == "response_format":
            self.skip(f"provider {pid!r} `response_format`", loc,
                      "set `output: {format: json}` (and a `schema`) in the prompts instead")
        elif key == "tools":
            self.skip(f"provider {pid!r} `tools`", loc,
                      "tools belong to a prompt in promptctl: copy them into `tools:` of the prompts that call them")
        else:
            self.skip(f"provider {pid!r} setting `{key}`", loc, "not carried over")

    # -- tests -------------------------------------------------------------------------------------

    def read_default_test(self, doc: Document) -> _Defaults:
        raw = doc.data.get("defaultTest")
        out = _Defaults()
        if raw is None:
            return out
        ddoc = doc
        base: tuple[str, ...] = ("defaultTest",)
        if isinstance(raw, str) and raw.startswith("file://"):
            loc = self.at(doc, base)
            ddoc = self.structured(self.files(raw[7:], loc, what="defaultTest")[0], loc)
            raw, base = ddoc.data, ()
        if not isinstance(raw, dict):
            self.skip("`defaultTest`", self.at(doc, ("defaultTest",)), "expected a mapping")
            return out

        def locate(*path: Any, key: bool = False) -> Loc:
            return self.at(ddoc, base + path, key=key)

        for key, value in raw.items():
            if key == "vars":
                out.vars = self.test_vars(value, locate, ("vars",)) or {}
            elif key == "assert" and isinstance(value, list):
                for i, a in enumerate(value):
                    out.asserts += self.assertion(a, locate, ("assert", i))
            elif key == "threshold" and isinstance(value, (int, float)) and not isinstance(value, bool):
                out.threshold = self.threshold(value, locate("threshold"))
            elif key == "metadata" and isinstance(value, dict):
                out.tags = _tags(value)
            elif key == "options" and isinstance(value, dict):
                for okey, ovalue in value.items():
                    if okey == "provider":
                        self.grader_item = (ovalue, ddoc, base + ("options", "provider"))
                    else:
                        self.skip(f"`defaultTest.options.{okey}`", locate("options", okey, key=True), _option_why(okey))
            else:
                self.skip(f"`defaultTest.{key}`", locate(key, key=True), "not carried over")
        self.expandable_defaults = {k: v for k, v in out.vars.items() if _expandable(v)}
        out.vars = {k: v for k, v in out.vars.items() if k not in self.expandable_defaults}
        return out

    def read_grader(self, aliases: list[_Alias], settings: dict[str, Any]) -> list[_Alias]:
        """``defaultTest.options.provider``: the grader (``test.grader``) and, given as ``{text, embedding}``,
        the embedding model of ``similar`` (``test.embedding_model``); returns the aliases added for them."""
        if self.grader_item is None:
            return []
        item, doc, path = self.grader_item
        slots = [("grader", item, path)]
        if isinstance(item, dict) and "id" not in item and ({"text", "embedding"} & set(item)):
            pairs = (("grader", "text"), ("embedding_model", "embedding"))
            slots = [(slot, item[key], path + (key,)) for slot, key in pairs if key in item]
        taken = {a.name for a in aliases}
        added: list[_Alias] = []
        for slot, value, vpath in slots:
            pid = value.get("id") if isinstance(value, dict) else value
            plain = isinstance(value, str) or (isinstance(value, dict) and set(value) <= {"id"})
            # promptfoo loads the grader afresh from its id: an alias with its own endpoint is another model
            own = [a for a in aliases if a.pid == pid and not (
                isinstance(a.spec, dict) and (a.spec.get("api_base") or a.spec.get("api_key_env")))]
            same = own[0] if plain and own else None
            if same is not None:
                settings[slot] = same.name
                continue
            alias = self.provider(value, doc, vpath, taken, name=slot.split("_")[0], embedding=slot != "grader",
                                  grading=True)
            if alias is not None:
                settings[slot] = alias.name
                added.append(alias)
        return added

    def threshold(self, value: Any, loc: Loc) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
            return value
        self.skip("`threshold`", loc, f"{value!r} is not a score between 0 and 1")
        return None

    def read_tests(self, doc: Document) -> list[_Test]:
        raw = doc.data.get("tests")
        out: list[_Test] = []
        if raw is None:
            return out
        if isinstance(raw, str):
            out += self.tests_ref(raw, self.at(doc, ("tests",)))
        elif isinstance(raw, dict):
            self.skip("`tests`", self.at(doc, ("tests",)), "a test generator (`path:` a script) is not carried over")
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                if isinstance(item, str):
                    out += self.tests_ref(item, self.at(doc, ("tests", i)))
                elif isinstance(item, dict) and "path" in item and "vars" not in item and "assert" not in item:
                    self.skip("test generator", self.at(doc, ("tests", i)), "a generator script is not carried over")
                else:
                    out += self.yaml_test(item, doc, ("tests", i))
        else:
            self.skip("`tests`", self.at(doc, ("tests",)), "expected a list of tests or a file://")
        return out

    def tests_ref(self, ref: str, loc: Loc) -> list[_Test]:
        if not ref.startswith("file://"):
            if re.match(r"^[a-z]+://", ref) or ref.startswith("https://docs.google.com"):
                self.skip(f"tests {ref!r}", loc, "datasets fetched from a service (Hugging Face, Google Sheets) are "
                          "not carried over; export them as CSV next to the config and import again")
                return []
        path_ref = ref.removeprefix("file://")
        if re.match(r"^.*\.(py|js|cjs|mjs|ts)(:\w+)?$", path_ref):
            self.skip(f"tests file://{path_ref}", loc, "a test generator script is not carried over")
            return []
        out: list[_Test] = []
        for path in self.files(path_ref, loc, what="tests"):
            suffix = path.suffix.lower()
            if suffix == ".csv":
                out += self.csv_tests(path, loc)
            elif suffix in (".yaml", ".yml", ".json"):
                fdoc = self.structured(path, loc)
                if isinstance(fdoc.data, list):
                    for i, item in enumerate(fdoc.data):
                        out += self.yaml_test(item, fdoc, (i,))
                elif isinstance(fdoc.data, dict):
                    out += self.yaml_test(fdoc.data, fdoc, ())
                else:
                    self.skip(f"tests {self.show(path)}", Loc(self.show(path), 1), "expected a list of tests")
            elif suffix == ".jsonl":
                out += self.jsonl_tests(path, loc)
            else:
                self.skip(f"tests {self.show(path)}", loc, f"{suffix or 'this'} test files are not carried over "
                          "(CSV, YAML, JSON and JSONL are)")
        return out

    def jsonl_tests(self, path: Path, loc: Loc) -> list[_Test]:
        shown = self.show(path)
        out: list[_Test] = []
        for n, line in enumerate(self.text(path, loc).splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise FileFormatError(f"invalid JSON: {e}", path=shown, line=n, col=1) from None
            row_loc = Loc(shown, n)
            out += self.test_case(row, lambda *p, key=False, _l=row_loc: _l)
        return out

    def yaml_test(self, item: Any, doc: Document, path: tuple[Any, ...]) -> list[_Test]:
        def locate(*sub: Any, key: bool = False) -> Loc:
            return self.at(doc, path + sub, key=key)

        return self.test_case(item, locate)

    def csv_tests(self, path: Path, loc: Loc) -> list[_Test]:
        shown = self.show(path)
        text = self.text(path, loc)
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return []
        except csv.Error as e:
            raise FileFormatError(f"invalid CSV: {e}", path=shown, line=1, col=1) from None
        out: list[_Test] = []
        while True:
            n = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise FileFormatError(f"invalid CSV: {e}", path=shown, line=n, col=1) from None
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise FileFormatError("row has more cells than the header", path=shown, line=n, col=1)
            row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
            out += self.csv_test(row, Loc(shown, n))
        return out

    def csv_test(self, row: Mapping[str, str], loc: Loc) -> list[_Test]:
        """A test from one CSV row, as promptfoo's ``testCaseFromCsvRow`` reads it."""
        test: dict[str, Any] = {"vars": {}, "assert": []}
        configs: dict[int, dict[str, Any]] = {}
        metric = None
        for key, value in row.items():
            if key.startswith("__expected"):
                if value.strip():
                    test["assert"].append(assertion_from_string(value.strip()))
            elif key == "__description":
                test["description"] = value
            elif key == "__metric":
                metric = value
            elif key == "__threshold":
                try:
                    test["threshold"] = float(value)
                except ValueError:
                    pass
            elif key.startswith("__metadata:"):
                name = key[len("__metadata:"):]
                if value.strip():
                    if name.endswith("[]"):
                        test.setdefault("metadata", {})[name[:-2]] = [
                            v.strip().replace("\\,", ",") for v in re.split(r"(?<!\\),", value)]
                    else:
                        test.setdefault("metadata", {})[name] = value
            elif key.startswith("__config:"):
                parts = key[len("__config:"):].split(":")
                target = re.fullmatch(r"__expected(\d*)", parts[0]) if len(parts) == 2 else None
                if target and parts[1] == "threshold" and value.strip():
                    try:
                        configs[int(target.group(1) or 1) - 1] = {"threshold": float(value)}
                    except ValueError:
                        pass
                else:
                    self.skip(f"CSV column {key!r}", loc, "not carried over")
            elif key in ("__prefix", "__suffix", "__providerOutput"):
                if value:
                    self.skip(f"CSV column {key!r}", loc, _option_why(key[2:]))
            elif key == "__metadata":
                continue
            else:
                test["vars"][key] = value
        for i, a in enumerate(test["assert"]):
            if metric:
                a["metric"] = metric
            a.update(configs.get(i, {}))
        return self.test_case(test, lambda *p, key=False: loc)

    def test_case(self, raw: Any, locate: Callable[..., Loc]) -> list[_Test]:
        """One promptfoo test (with its string-list vars expanded into one test per combination)."""
        self.tests_seen += 1
        n = self.tests_seen
        loc = locate()
        if not isinstance(raw, dict):
            self.skip(f"test case {n}", loc, "a test case must be a mapping (vars, assert, ...)")
            return []
        test = _Test(n=n, loc=loc)
        expand = True
        for key, value in raw.items():
            if key == "description" and isinstance(value, str):
                test.description = value
            elif key == "vars":
                continue
            elif key == "assert" and isinstance(value, list):
                for i, a in enumerate(value):
                    kept = self.assertion(a, locate, ("assert", i))
                    test.asserts += kept
                    if not kept:
                        kind = a.get("type") if isinstance(a, dict) else None
                        aloc = locate("assert", i)
                        test.dropped.append(f"{kind or 'an'} assertion ({aloc.file}:{aloc.line})")
            elif key == "threshold":
                test.threshold = self.threshold(value, locate("threshold"))
            elif key == "metadata" and isinstance(value, dict):
                test.tags = _tags(value)
            elif key == "prompts" and isinstance(value, list):
                test.prompts = [str(p) for p in value]
            elif key == "options" and isinstance(value, dict):
                for okey, ovalue in value.items():
                    if okey == "disableVarExpansion":
                        expand = not ovalue
                    elif okey == "disableDefaultAsserts":
                        test.no_default_asserts = bool(ovalue)
                    else:
                        self.skip(f"test option `{okey}`", locate("options", okey, key=True), _option_why(okey))
            elif key in ("provider", "providers"):
                self.skip(f"test `{key}`", locate(key, key=True), "a per-test provider is not carried over: every "
                          "case runs on the prompt's model (`promptctl test --model ALIAS` picks another)")
            elif key == "providerOutput":
                self.skip("test `providerOutput`", locate(key, key=True), "a canned output is not carried over; "
                          "promptctl records real answers (`promptctl test` then `--mode replay`)")
            elif key == "assertScoringFunction":
                self.skip("test `assertScoringFunction`", locate(key, key=True), "custom scoring functions are not "
                          "carried over; the case score is the weighted mean of its assertions")
            else:
                self.skip(f"test field `{key}`", locate(key, key=True), "not carried over")
        vars_ = self.test_vars(raw.get("vars"), locate, ("vars",), expand=expand)
        if vars_ is None:
            return []
        for k, v in self.expandable_defaults.items():
            vars_.setdefault(k, v)
        combos = _combinations(vars_, expand)
        if combos is None:
            raise FileFormatError(f"test {n}: its list vars make more than {_MAX_CASES:,} combinations",
                                  path=loc.file, line=loc.line, hint="split the lists over several tests")
        test.vars = combos[0]
        return [test] + [replace(test, vars=combo) for combo in combos[1:]]

    def test_vars(self, value: Any, locate: Callable[..., Loc], path: tuple[Any, ...],
                  expand: bool = True) -> dict[str, Any] | None:
        """A test's vars: a mapping, or file(s) holding one; ``file://`` values loaded as promptfoo loads them.
        A list value (of several files, or strings to expand) stays a list; None when the test must be left out."""
        if value is None:
            return {}
        if isinstance(value, (str, list)) and not isinstance(value, dict):
            refs = [value] if isinstance(value, str) else value
            merged: dict[str, Any] = {}
            for ref in refs:
                if not isinstance(ref, str):
                    continue
                loc = locate(*path)
                for p in self.files(ref.removeprefix("file://"), loc, what="vars"):
                    data = self.structured(p, loc).data
                    if isinstance(data, dict):
                        merged.update(data)
            value = merged
        if not isinstance(value, dict):
            self.skip("`vars`", locate(*path), "expected a mapping of names to values")
            return {}
        out: dict[str, Any] = {}
        for key, v in value.items():
            if isinstance(v, str) and v.startswith("file://"):
                loaded = self.var_file(key, v[7:], locate(*path, key))
                if loaded is None:
                    return None
                out[key] = _Expand(loaded) if len(loaded) > 1 else loaded[0]
            else:
                out[key] = v
        return out

    def var_file(self, name: str, ref: str, loc: Loc) -> list[str] | None:
        values = []
        for path in self.files(ref, loc, what=f"var {name!r}"):
            suffix = path.suffix.lower()
            if suffix in _SCRIPT_SUFFIXES or suffix in _BINARY_SUFFIXES:
                kind = "a script's output" if suffix in _SCRIPT_SUFFIXES else "a binary file (image, audio, PDF, ...)"
                self.skip(f"test case {self.tests_seen}", loc,
                          f"var {name!r} is {kind} (file://{ref}), which promptctl inputs cannot hold; the case was "
                          "left out")
                return None
            if suffix in (".yaml", ".yml"):
                data = self.structured(path, loc).data
                values.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            else:
                values.append(self.text(path, loc).strip())
        return values

    def assertion(self, raw: Any, locate: Callable[..., Loc], path: tuple[Any, ...]) -> list[_Assert]:
        """promptfoo assertion -> promptctl assertions (empty when it cannot be carried over)."""
        loc = locate(*path)
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            self.skip("assertion", loc, "an assertion needs a `type`")
            return []
        kind = raw["type"]
        if kind == "assert-set":
            if "threshold" in raw or "weight" in raw or not isinstance(raw.get("assert"), list):
                self.skip("`assert-set`", loc, "a set with its own threshold or weight is not carried over; "
                          "promptctl has one threshold per case")
                return []
            out = []
            for i, a in enumerate(raw["assert"]):
                out += self.assertion(a, locate, path + ("assert", i))
            return out
        negate = kind.startswith("not-")
        base = _TYPE_ALIASES.get(kind[4:] if negate else kind, kind[4:] if negate else kind)
        new_kind = ("not-" if negate else "") + base
        supported = supported_types()
        if new_kind not in supported:
            why = _WHY_TYPE.get(base) or (f"promptctl has no {base!r} assertion (it has: "
                                          + ", ".join(t for t in supported if not t.startswith("not-")) + ")")
            self.skip(f"`{kind}` assertion", loc, why)
            return []
        spec: dict[str, Any] = {"type": new_kind}
        for key, value in raw.items():
            if key == "type":
                continue
            kloc = locate(*path, key, key=True)
            if key in ("transform", "contextTransform"):
                self.skip(f"`{kind}` assertion", loc, f"its `{key}` changes what is checked, and promptctl has no "
                          "transforms")
                return []
            if key in _ASSERT_FIELDS:
                spec[key] = value
            elif key in ("provider", "rubricPrompt"):
                self.skip(f"`{kind}` assertion `{key}`", kloc, "graders are set once, as `test.grader` in "
                          "promptctl.yaml, with promptctl's own rubric prompt")
            else:
                self.skip(f"`{kind}` assertion `{key}`", kloc, "not carried over")
        value = spec.get("value")
        if isinstance(value, str) and value.startswith("file://"):
            loaded = self.assertion_file(base, value[7:], locate(*path, "value"))
            if loaded is _DROP:
                self.skip(f"`{kind}` assertion", loc, f"its value file://{value[7:]} is a script promptctl cannot run")
                return []
            spec["value"] = loaded
        if base in ("contains", "icontains", "starts-with", "regex") and spec.get("value") == "":
            self.skip(f"`{kind}` assertion", loc, "an empty value matches every output; promptctl refuses it")
            return []
        if base in _CSV_ARRAY and isinstance(spec.get("value"), list) and any(v == "" for v in spec["value"]):
            self.skip(f"`{kind}` assertion", loc, "an empty item matches every output; promptctl refuses it")
            return []
        if "weight" in spec and not (isinstance(spec["weight"], (int, float)) and spec["weight"] >= 0):
            self.skip(f"`{kind}` assertion `weight`", loc, f"{spec.pop('weight')!r} is not a number of at least 0")
        if "threshold" in spec and not isinstance(spec["threshold"], (int, float)):
            self.skip(f"`{kind}` assertion `threshold`", loc, f"{spec.pop('threshold')!r} is not a number")
        if "metric" in spec and not (isinstance(spec["metric"], str) and spec["metric"]):
            spec.pop("metric")
        if isinstance(spec.get("value"), str):
            spec["value"] = _nunjucks_to_jinja(spec["value"])
        return [_Assert(spec, loc)]

    def assertion_file(self, base: str, ref: str, loc: Loc) -> Any:
        """An assertion's ``file://`` value: a Python file becomes ``module:function``; a text, JSON or
        YAML file its content; a JavaScript file cannot be carried over (``_DROP``)."""
        path_part, _, function = ref.partition(":") if re.search(r"\.py:\w+$", ref) else (ref, "", "")
        suffix = Path(path_part).suffix.lower()
        if base == "python" and suffix == ".py":
            path = self.inside(path_part, loc)
            rel = path.relative_to(self.base).with_suffix("")
            module = ".".join(rel.parts)
            if not all(_IDENT.match(p) for p in rel.parts):
                return _DROP
            self.notes.append(f"{loc.file}:{loc.line}: the python assertion file://{ref} became `{module}:"
                              f"{function or 'get_assert'}`, imported from the project root: import into the "
                              "config's folder (or copy the file along)")
            return f"{module}:{function or 'get_assert'}"
        if suffix in _SCRIPT_SUFFIXES:
            return _DROP
        path = self.files(path_part, loc, what="assertion value")[0]
        if suffix in (".json", ".yaml", ".yml"):
            return self.structured(path, loc).data
        return self.text(path, loc).strip()

    # -- templates ---------------------------------------------------------------------------------

    @property
    def env(self) -> Any:
        if self._env is None:
            from ..sandbox import make_environment

            def no_partials(name: str) -> tuple[str, str]:
                raise FileNotFoundError(name)

            self._env = make_environment(no_partials)
        return self._env

    def variables(self, source: str, loc: Loc, what: str) -> list[str] | None:
        """The variables a template reads, in order of first use; None when it does not compile as Jinja.
        A problem is reported once per template, however many datasets share it."""
        if (source, loc) not in self._templates:
            self._templates[(source, loc)] = self._variables(source, loc, what)
        return self._templates[(source, loc)]

    def _variables(self, source: str, loc: Loc, what: str) -> list[str] | None:
        import jinja2
        from jinja2 import meta, nodes

        try:
            ast = self.env.parse(source)
        except jinja2.TemplateSyntaxError as e:
            line = loc.line + (e.lineno or 1) - 1 if loc.line else None
            self.skip(what, Loc(loc.file, line), f"it does not parse as a Jinja template ({e.message}); it was "
                      "written as is: fix it (promptctl lint reports it as PC201)")
            return None
        problems = []
        for node in ast.find_all((nodes.Filter, nodes.Test)):
            table = self.env.filters if isinstance(node, nodes.Filter) else self.env.tests
            if node.name not in table:
                problems.append(f"{'filter' if isinstance(node, nodes.Filter) else 'test'} {node.name!r}")
        if any(True for _ in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
            problems.append("an include or import")
        if problems:
            self.skip(what, loc, f"it uses {', '.join(sorted(set(problems)))}, which promptctl's Jinja does not "
                      "have; it was written as is: rewrite that part (promptctl lint reports it)")
        env = self.env
        if problems:  # stand-ins for what is missing, so that the variables can still be found
            env = self.env.overlay()
            env.filters = {**self.env.filters, **{n.name: _same for n in ast.find_all(nodes.Filter)
                                                  if n.name not in self.env.filters}}
            env.tests = {**self.env.tests, **{n.name: _same for n in ast.find_all(nodes.Test)
                                              if n.name not in self.env.tests}}
            ast = env.parse(source)
        names = meta.find_undeclared_variables(ast) - set(self.env.globals)
        return sorted(names, key=lambda n: (_first_use(source, n), n))

    # -- the project -------------------------------------------------------------------------------

    def build(self, doc: Document, prompts: list[_Prompt], aliases: list[_Alias], extra: list[_Alias],
              defaults: _Defaults, tests: list[_Test], settings: dict[str, Any]) -> ImportPlan:
        plan = ImportPlan()
        header = [f"imported from {self.name} by promptctl import promptfoo"]
        description = doc.data.get("description") if isinstance(doc.data.get("description"), str) else None
        suite_tags = _tags(doc.data.get("tags")) if isinstance(doc.data.get("tags"), dict) else []
        default_model = aliases[0].name if aliases else None

        # promptctl.yaml
        entries = [Entry("promptctl", 1, comments=[f"promptfoo: {description}"] if description else [])]
        if default_model:
            entries.append(Entry("defaults", {"model": default_model}))
        models = {a.name: a.spec for a in [*aliases, *extra]}
        if models:
            comments = []
            if len(aliases) > 1:
                comments = ["promptfoo ran every test on each provider: compare them with "
                            + "`promptctl test " + " ".join(f"--model {a.name}" for a in aliases) + "`"]
            entries.append(Entry("models", models, comments=comments))
        if settings:
            entries.append(Entry("test", dict(sorted(settings.items(), key=lambda kv: kv[0] != "concurrency"))))
        plan.files["promptctl.yaml"] = self.render(document(header, entries))
        if len(aliases) > 1:
            plan.notes.append(f"{len(aliases)} providers became model aliases ({', '.join(a.name for a in aliases)}); "
                              f"`{aliases[0].name}` is defaults.model: compare them with `promptctl test "
                              + " ".join(f"--model {a.name}" for a in aliases) + "`")
        table = None
        for a in [*aliases, *extra]:
            model = a.spec if isinstance(a.spec, str) else a.spec["model"]
            if isinstance(a.spec, dict) and a.spec.get("api_base"):
                continue
            if table is None:
                from ..lint.modeldata import load_table

                table = load_table()
            if not table.accepts(model):
                plan.notes.append(f"{a.loc.file}:{a.loc.line}: model {model!r} is not in litellm's model list: "
                                  "promptctl lint will report it (PC301); give the alias an `api_base` if it is "
                                  "served by a gateway")

        # prompts and their datasets
        for prompt in prompts:
            for a in aliases:
                if a.prompts is not None and _matches(a.prompts, prompt) and prompt.model is None:
                    prompt.model = a.name if a.name != default_model else None
                    break
            cases = [t for t in tests if t.prompts is None or _matches(t.prompts, prompt)]
            self.write_prompt(plan, header, prompt, defaults, cases, suite_tags, description)
        carried = [*defaults.asserts, *(a for t in tests for a in t.asserts)]
        kinds = {a.spec["type"].removeprefix("not-") for a in carried}
        if "similar" in kinds and "embedding_model" not in settings:
            plan.notes.append("promptfoo's `similar` compares embeddings (OpenAI's by default); without "
                              "`test.embedding_model` promptctl compares word counts: set it to compare embeddings")
        if kinds & {"llm-rubric", "factuality"} and "grader" not in settings:
            plan.notes.append("`llm-rubric`/`factuality` are graded by `test.grader`, else defaults.model "
                              "(promptfoo's default grader is an OpenAI model): set `test.grader` to choose")
        if tests and not prompts:
            plan.notes.append("the tests were not written: the config has no prompt promptctl can carry over")
        order = {f: i for i, f in enumerate(dict.fromkeys(s.file for s in self.skipped))}
        order[self.show(self.config)] = -1
        plan.skipped = sorted(self.skipped, key=lambda s: (order[s.file], s.line or 0))
        plan.notes = self.notes + plan.notes
        return plan

    def render(self, text: str) -> str:
        """Check that ``text`` reads back as YAML (always true: it guards the emitter)."""
        loads(text, path="<import>")
        return text

    def write_prompt(self, plan: ImportPlan, header: list[str], prompt: _Prompt, defaults: _Defaults,
                     tests: list[_Test], suite_tags: list[str], description: str | None) -> None:
        # the template's variables, after turning Nunjucks-only syntax into Jinja
        used: list[str] = []
        for m in prompt.messages:
            converted = _nunjucks_to_jinja(m["content"])
            if converted != m["content"]:
                plan.notes.append(f"{prompt.loc.file}:{prompt.loc.line}: `| dump` became `| tojson` in prompt "
                                  f"{prompt.name!r}")
                m["content"] = converted
            names = self.variables(m["content"], prompt.loc, f"prompt {prompt.name!r}") or []
            used += [n for n in names if n not in used]
        inline_defaults = any(t.no_default_asserts for t in tests)  # then defaults go into the other cases
        default_asserts = [] if inline_defaults else defaults.asserts
        assertion_vars: list[str] = []
        keep_all = False
        for a in [*defaults.asserts, *(a for t in tests for a in t.asserts)]:
            value = a.spec.get("value")
            if isinstance(value, str) and ("{{" in value or "{%" in value):
                names = self.variables(value, a.loc, f"`{a.spec['type']}` assertion value") or []
                assertion_vars += [n for n in names if n not in used and n not in assertion_vars]
            if a.spec["type"].removeprefix("not-") == "python" and isinstance(value, str) and (
                    "vars" in value or "context" in value or ":" in value and "\n" not in value):
                keep_all = True
        every_key: list[str] = []
        for source in [defaults.vars, *(t.vars for t in tests)]:
            every_key += [k for k in source if k not in every_key]
        extra = [k for k in every_key if keep_all and k not in used and k not in assertion_vars]
        keys = [k for k in [*used, *assertion_vars, *extra] if _IDENT.match(k)]
        bad = [k for k in extra if not _IDENT.match(k)]
        if bad:
            plan.notes.append(f"prompt {prompt.name!r}: vars {', '.join(map(repr, bad))} are not valid input names "
                              "and were left out")
        if "env" in used and not any("env" in t.vars for t in tests) and "env" not in defaults.vars:
            self.skip("`env` in a template", prompt.loc, f"prompt {prompt.name!r} reads environment variables "
                      "(`{{ env.NAME }}`); promptctl templates see only their inputs: make it an input")
        if "_conversation" in keys:
            self.skip("the `_conversation` variable", prompt.loc, "promptfoo's multi-turn history is not carried "
                      "over; it is declared as an empty list: splice a history input instead")
        unused = sorted({k for t in tests for k in t.vars} - set(keys))
        if unused and tests:
            plan.notes.append(f"dataset {prompt.name!r}: vars the prompt does not use were left out: "
                              + ", ".join(unused))

        # inputs: typed from the values the tests give, required when every case gives one
        inputs: dict[str, Any] = {}
        comments: dict[str, str] = {}
        default_inputs = {k: v for k, v in defaults.vars.items() if k in keys and not isinstance(v, _Expand)}
        for key in keys:
            given = [t.vars[key] for t in tests if key in t.vars] + (
                [default_inputs[key]] if key in default_inputs else [])
            seen = {_json_type(v) for v in given}
            # an explicit null stays allowed (listed last)
            types = sorted(seen | ({"string"} if seen <= {"null"} else set()), key=lambda t: (t == "null", t))
            if key == "_conversation":
                inputs[key] = {"type": "array", "default": []}
                continue
            required = bool(tests) and all(key in t.vars or key in default_inputs for t in tests)
            required = required or not tests
            kind: Any = types[0] if len(types) == 1 else types
            if required:
                inputs[key] = kind if isinstance(kind, str) else {"type": kind}
            elif kind == "string":
                inputs[key] = {"type": "string", "default": ""}
            else:
                allowed = kind if isinstance(kind, list) else [kind]
                inputs[key] = {"type": allowed + ([] if "null" in allowed else ["null"]), "default": None}
            if key not in used:
                comments[key] = "promptctl: ignore[PC203]  (used by assertions)"

        # the prompt file
        entries: list[Entry] = []
        if prompt.ref.startswith("file://"):
            line = prompt.loc.line or 1
            what = f"promptfoo prompt {prompt.ref}" + (f", line {line}" if line > 1 else "")
        else:
            what = f"promptfoo prompt {prompt.ref} at {prompt.loc.file}:{prompt.loc.line}"
        if prompt.label and _slug(prompt.label) != prompt.name:
            entries.append(Entry("description", prompt.label))
        if prompt.model:
            entries.append(Entry("model", prompt.model))
        if prompt.params:
            entries.append(Entry("params", prompt.params))
        if inputs:
            entries.append(Entry("inputs", inputs, key_comments=comments))
        entries.append(Entry("messages", prompt.messages))
        if prompt.output:
            entries.append(Entry("output", prompt.output))
        case_ids: set[str] = set()
        cases: list[dict[str, Any]] = []
        case_comments: dict[int, list[str]] = {}
        expanded: set[tuple[int, str]] = set()
        for t in tests:
            values = {k: _strip_newline(v) for k, v in t.vars.items() if k in keys}
            origin = (t.n, json.dumps(values, sort_keys=True, default=str))
            if origin in expanded:
                continue  # one test's expansion over vars this prompt does not use: the same case again
            expanded.add(origin)
            base = _slug(t.description or "") or f"case-{t.n}"
            case: dict[str, Any] = {"id": _unique(base, case_ids)}
            if t.description:
                case["description"] = t.description
            if values:
                case["inputs"] = values
            own = [a.spec for a in t.asserts]
            if inline_defaults and not t.no_default_asserts:
                own = [a.spec for a in defaults.asserts] + own
            if own:
                case["assert"] = own
            threshold = t.threshold if t.threshold is not None else defaults.threshold
            if threshold is not None:
                case["threshold"] = threshold
            tags = list(dict.fromkeys([*defaults.tags, *t.tags]))
            if tags:
                case["tags"] = tags
            if t.dropped:
                case_comments[len(cases)] = ["not carried over: " + "; ".join(t.dropped)] + (
                    [] if own else ["(no assertion left: the case passes whenever the model answers)"])
            cases.append(case)
        if cases:
            sample_inputs = {**{k: _strip_newline(v) for k, v in default_inputs.items()}, **cases[0].get("inputs", {})}
            if all(k in sample_inputs for k, v in inputs.items() if not isinstance(v, dict)):
                entries.append(Entry("samples", [{"name": cases[0]["id"], "inputs": sample_inputs}]))
        if suite_tags:
            entries.append(Entry("tags", suite_tags))
        rel = f"prompts/{prompt.name}.prompt.yaml"
        plan.files[rel] = self.render(document([*header, what], entries))
        if not cases:
            return
        dentries = [Entry("prompt", prompt.name)]
        if description:
            dentries.append(Entry("description", description))
        dset: dict[str, Any] = {}
        if default_inputs:
            dset["inputs"] = {k: _strip_newline(v) for k, v in default_inputs.items()}
        if default_asserts:
            dset["assert"] = [a.spec for a in default_asserts]
        if dset:
            dentries.append(Entry("defaults", dset))
        dentries.append(Entry("cases", cases, item_comments=case_comments))
        plan.files[f"evals/{prompt.name}.eval.yaml"] = self.render(document(header, dentries))


class _Expand(list):  # type: ignore[type-arg]
    """A var whose values (several files of a glob) make one test each."""


_DROP = object()


def _same(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


def _expandable(value: Any) -> bool:
    return isinstance(value, _Expand) or (isinstance(value, list) and bool(value) and isinstance(value[0], str))


def _combinations(vars_: Mapping[str, Any], expand: bool) -> list[dict[str, Any]] | None:
    """promptfoo's ``generateVarCombinations``: a list of strings (or a glob's files) gives one test per
    item, several such vars their cartesian product; any other list is one value. With ``expand``
    false (``options.disableVarExpansion``) every list is one value. None: too many combinations."""
    keys = list(vars_)
    choices = [list(vars_[k]) if expand and _expandable(vars_[k]) else
               [list(vars_[k]) if isinstance(vars_[k], _Expand) else vars_[k]] for k in keys]
    total = 1
    for c in choices:
        total *= max(1, len(c))
    if total > _MAX_CASES:
        return None
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)] or [{}]


def _first_use(source: str, name: str) -> int:
    m = re.search(r"\b" + re.escape(name) + r"\b", source)
    return m.start() if m else len(source)


def _matches(filters: Sequence[str], prompt: _Prompt) -> bool:
    """promptfoo's prompt filters: an exact label, a group prefix (``group`` matches ``group:...``), ``group:*``."""
    names = {n for n in (*prompt.keys, prompt.ref, prompt.name) if n}
    for f in filters:
        for n in names:
            if f == n or n.startswith(f + ":") or (f.endswith("*") and n.startswith(f[:-1])):
                return True
    return False


def _tags(metadata: Mapping[str, Any]) -> list[str]:
    """Test metadata as tags: ``key:value`` for each value (each item of a list)."""
    out = []
    for key, value in metadata.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, (str, int, float, bool)) and str(v) != "":
                out.append(f"{key}:{v}".replace("\n", " "))
    return out


def _option_why(key: str) -> str:
    return {
        "transform": "output transforms are not carried over: assertions see the raw output",
        "postprocess": "output transforms are not carried over: assertions see the raw output",
        "prefix": "prompt prefixes are not carried over; put the text in the prompt",
        "suffix": "prompt suffixes are not carried over; put the text in the prompt",
        "provider": "graders are set once, as `test.grader` in promptctl.yaml",
        "rubricPrompt": "promptctl grades with its own rubric prompt",
        "storeOutputAs": "outputs are not passed between cases",
        "providerOutput": "a canned output is not carried over; promptctl records real answers",
        "runSerially": "promptctl runs cases concurrently (use --concurrency 1)",
    }.get(key, "not carried over")


def _nunjucks_to_jinja(text: str) -> str:
    """The one common Nunjucks filter Jinja names otherwise: ``| dump`` is ``| tojson``."""
    return re.sub(r"\|\s*dump\b", "| tojson", text) if "dump" in text else text


@cache
def supported_types() -> tuple[str, ...]:
    """The assertion types promptctl both validates (the dataset schema) and runs."""
    from ..evals.assertions import TYPES
    from ..schemas import load_schema

    allowed = set(load_schema("dataset")["$defs"]["assertion"]["properties"]["type"]["enum"])
    return tuple(t for t in TYPES if t in allowed)


def assertion_from_string(expected: str) -> dict[str, Any]:
    """A CSV ``__expected`` cell as promptfoo's ``assertionFromString`` reads it: ``contains: foo``,
    ``similar(0.9): text``, ``not-icontains: x``, ``javascript: ...``, ``python: ...``, ``grade: ...``,
    ``file://check.py``; anything else is ``equals`` that text."""
    for prefix in ("javascript:", "fn:", "eval:"):
        if expected.startswith(prefix):
            return {"type": "javascript", "value": expected[len(prefix):].strip()}
    if expected.startswith("file://") and re.search(r"\.(js|cjs|mjs|ts|cts|mts)(:\w+)?$", expected):
        return {"type": "javascript", "value": expected[7:].strip()}
    if expected.startswith("grade:"):
        return {"type": "llm-rubric", "value": expected[len("grade:"):]}
    if expected.startswith("llm-rubric:"):
        return {"type": "llm-rubric", "value": expected[len("llm-rubric:"):]}
    if expected.startswith("python:") or (
            expected.startswith("file://") and (expected.endswith(".py") or ".py:" in expected)):
        cut = len("python:") if expected.startswith("python:") else 0
        return {"type": "python", "value": expected[cut:].strip()}
    m = _CSV_ASSERTION.match(expected)
    if m:
        negate, kind, threshold, value = m.groups()
        full = ("not-" if negate else "") + kind
        if kind in _CSV_ARRAY:
            return {"type": full, "value": [v.strip() for v in value.split(",")] if value else value}
        if kind in _CSV_RAW:
            return {"type": full, **({"value": value} if value else {})}
        if kind in _CSV_THRESHOLD:
            parsed = float(threshold) if threshold else None
            return {"type": full, **({"value": value.strip()} if value is not None else {}),
                    "threshold": parsed if parsed is not None else (0.8 if kind == "similar" else 0.75)}
        return {"type": full, **({"value": value.strip()} if value is not None else {})}
    return {"type": "equals", "value": expected}


def litellm_model(pid: str, *, embedding: bool = False) -> tuple[str | None, str]:
    """The litellm model string for a promptfoo provider id (of a chat model, or with ``embedding`` of an
    embedding model), or None and why it cannot be carried over."""
    custom = ("exec:", "python:", "file://", "http:", "https:", "golang:", "ruby:", "webhook:", "browser",
              "websocket", "ws:", "wss:", "sequence", "simulated-user", "mcp", "agentic:", "promptfoo:")
    if pid.startswith(custom) or pid in ("http", "https", "echo"):
        return None, ("a custom provider (a script, an HTTP endpoint, or promptfoo's own) is not carried over: "
                      "promptctl calls models directly; name the model it wraps as an alias in promptctl.yaml")
    parts = pid.split(":")
    kind, rest = parts[0], parts[1:]
    not_chat = ("completion", "embedding", "embeddings", "assistant", "realtime", "image", "transcription",
                "moderation", "tts", "video", "classification")
    if embedding and rest and rest[0] in ("embedding", "embeddings"):
        rest = rest[1:]
    elif rest and rest[0] in not_chat:
        return None, f"`{kind}:{rest[0]}` is not a chat model; promptctl tests chat models"
    elif rest and rest[0] in ("chat", "messages", "responses", "converse"):
        if rest[0] == "converse" and kind == "bedrock":
            rest = ["converse", *rest[1:]]
        else:
            rest = rest[1:]
    model = ":".join(rest)
    if not model:
        return None, "it names no model"
    prefixes = {
        "openai": "openai", "anthropic": "anthropic", "azure": "azure", "azureopenai": "azure",
        "vertex": "vertex_ai", "google": "gemini", "gemini": "gemini", "bedrock": "bedrock",
        "mistral": "mistral", "groq": "groq", "openrouter": "openrouter", "deepseek": "deepseek", "xai": "xai",
        "perplexity": "perplexity", "cohere": "cohere", "cerebras": "cerebras", "fireworks": "fireworks_ai",
        "togetherai": "together_ai", "together": "together_ai", "huggingface": "huggingface",
        "replicate": "replicate", "vllm": "hosted_vllm", "localai": "openai", "lmstudio": "lm_studio",
    }
    if kind == "ollama":
        chat = len(parts) > 2 and parts[1] == "chat"
        return f"{'ollama_chat' if chat else 'ollama'}/{model}", ""
    if kind == "litellm":
        return model, ""
    if kind == "bedrock" and model.startswith("converse:"):
        model = model[len("converse:"):]
    prefix = prefixes.get(kind)
    if prefix is None:
        return None, f"promptctl does not know promptfoo's {kind!r} provider; name its model as a litellm model " \
                     "string (provider/model) in promptctl.yaml"
    return f"{prefix}/{model}", ""


