"""Assertions on a model output, with promptfoo's names and meanings, and how they make a verdict.

Every type has a ``not-`` form that inverts it. Where a type compares with something and the
assertion has no ``value``, it compares with the case's ``golden``.

================  ============================================================================
type              passes when
================  ============================================================================
equals            the output is exactly ``value`` as text; an object or array ``value`` (or a
                  ``golden`` written as JSON text) compares with the output parsed as JSON (no code
                  fence; ``1`` is not ``true``)
contains          the output contains ``value``; ``icontains`` ignores case
contains-any      it contains at least one of ``value`` (a list, or a CSV line: ``'"a, b",c'``);
                  ``icontains-any`` ignores case
contains-all      it contains every one of ``value``; ``icontains-all`` ignores case
starts-with       it starts with ``value``
regex             ``value`` (a Python regular expression, accepting JavaScript's ``(?<name>…)`` and
                  reading ``$`` as the end of the text, as JavaScript does) matches somewhere in it
is-json           the whole output is JSON (and valid against ``value``, a JSON Schema, if given)
contains-json     some JSON object or array appears in it (valid against ``value`` if given)
json-schema       the output's JSON is valid against ``value`` (default: the prompt's output schema)
levenshtein       the edit distance to ``value`` is at most ``threshold`` (default 5)
similar           similarity to ``value`` is at least ``threshold`` (default 0.75): cosine of
                  embeddings when ``test.embedding_model`` is set, else cosine of word counts
word-count        the output has ``value`` words (a number), or between ``{min, max}`` of them
is-xml            the whole output is XML (with the elements ``value`` names, ``root.child`` paths);
                  ``contains-xml``: an XML element appears in it
is-refusal        the output declines to answer ("I'm sorry, I can't …"; empty output counts too)
finish-reason     the model stopped for the reason ``value`` (``stop``, ``length``, ``tool_calls``, …)
latency           the call took at most ``threshold`` milliseconds (recorded latency on replay)
cost              the call cost at most ``threshold`` US dollars
python            ``value``, a Python expression, a function body that ``return``s (several lines,
                  as promptfoo writes them) or ``module:function``, returns true, a score
                  (passing when ``>= threshold``, or ``> 0`` without one) or {pass, score, reason}
llm-rubric        the grader model (``test.grader``) judges the output meets the rubric ``value``
                  (and its score is ``>= threshold`` when one is given)
factuality        the grader finds the output factually consistent with ``value`` (OpenAI evals'
                  categories A-E: all but (D) "disagrees" pass)
model-graded-closedqa  the grader answers Y to "does the output meet the criterion ``value``?"
                  (OpenAI evals' closedqa: reasoning first, then Y or N on the last line)
g-eval            G-Eval: the grader writes evaluation steps for the criteria ``value``, then scores
                  the output 0-10 by them; passes when score/10 >= ``threshold`` (default 0.7)
bleu, rouge-n     promptfoo's BLEU / js-rouge's ROUGE-1 against ``value`` (textmetrics.py)
is-valid-openai-tools-call, tool-call-f1
                  the tool calls of the answer: valid against the prompt's ``tools``; F1 of their
                  names against ``value`` (toolcalls.py)
is-sql, contains-sql  the output is (holds) SQL that parses (sql.py, with sqlglot)
context-faithfulness, context-recall, context-relevance, answer-relevance
                  the RAG family, graded with promptfoo's RAGAS prompts (rag.py)
================  ============================================================================

Numbers in a ``value`` are written as JavaScript writes them (``1.0`` as ``1``, ``1e-7`` as ``1e-7``),
as promptfoo compares them. An empty ``value`` for a text check (``contains: ""``, which every output
contains) is refused, never a pass.

A case passes when every assertion with a weight above 0 passes; its score is the weighted mean
of the assertion scores (``weight`` 0: reported, not counted; every weight 0: score 0), as in promptfoo.

``python`` runs code from the repository under test, with the rights of the user running
``promptctl test``, exactly like a unit test would: only run the evals of repositories you trust.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PromptctlError

BASE_TYPES = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "is-json",
    "contains-json",
    "json-schema",
    "levenshtein",
    "similar",
    "word-count",
    "is-refusal",
    "finish-reason",
    "is-xml",
    "contains-xml",
    "latency",
    "cost",
    "python",
    "llm-rubric",
    "factuality",
    "model-graded-closedqa",
    "g-eval",
    "bleu",
    "rouge-n",
    "is-valid-openai-tools-call",
    "tool-call-f1",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "answer-relevance",
    "is-sql",
    "contains-sql",
)
TYPES = BASE_TYPES + tuple(f"not-{t}" for t in BASE_TYPES) + ("assert-set",)
GRADED = ("llm-rubric", "factuality", "model-graded-closedqa", "g-eval",
          "context-faithfulness", "context-recall", "context-relevance", "answer-relevance")
#: The types a prompt's ``guards:`` may use: deterministic, local, and cheap, so that the runtime can
#: check every answer of an application with them (their ``not-`` forms too).
GUARD_BASE_TYPES = ("equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
                    "icontains-all", "starts-with", "regex", "is-json", "contains-json", "json-schema",
                    "levenshtein", "word-count", "is-refusal", "finish-reason", "is-xml", "contains-xml")
GUARD_TYPES = GUARD_BASE_TYPES + tuple(f"not-{t}" for t in GUARD_BASE_TYPES)
DEFAULT_SIMILAR = 0.75
DEFAULT_LEVENSHTEIN = 5

_MISSING: Any = object()


@dataclass(slots=True)
class AssertionResult:
    """One assertion's outcome: pass, score (0-1) and why."""

    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "pass": self.passed,
            "score": round(self.score, 4),
            "reason": self.reason,
            "weight": self.weight,
        }
        if self.metric:
            out["metric"] = self.metric
        if self.description:
            out["description"] = self.description
        return out


@dataclass(slots=True)
class Subject:
    """What the assertions look at: the output and the case around it."""

    output: str
    data: Any = _MISSING  # the parsed JSON output, for prompts with output.format json
    golden: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    question: str = ""  # the last user message: what the output answers (for factuality)
    case_id: str = ""
    prompt: str = ""
    output_schema: Mapping[str, Any] | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    root: Path | None = None  # where `python` assertions import modules from
    finish_reason: str | None = None  # why the model stopped (stop, length, tool_calls, content_filter, …)
    tool_calls: tuple[Mapping[str, Any], ...] = ()  # the functions the model called ({id, type, function: {name, arguments}})
    tools: tuple[Mapping[str, Any], ...] = ()  # the prompt's tools: what it may call

    def context(self) -> dict[str, Any]:
        """The ``context`` a ``python`` assertion gets (promptfoo's ``vars`` included); ``data`` is
        the output's JSON value, or None when it is not JSON."""
        data = self.data
        if data is _MISSING:
            try:
                data = parse_json_output(self.output)
            except ValueError:
                data = None
        return {
            "vars": dict(self.inputs),
            "inputs": dict(self.inputs),
            "golden": self.golden,
            "data": data,
            "case": self.case_id,
            "prompt": self.prompt,
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True, slots=True)
class Judge:
    """The model-backed helpers of model-graded assertions (the runner supplies recorded ones).

    ``grade`` asks the grader model and returns its answer text (None: no grader). ``embed`` returns
    one vector per text (None: no embedding model, so ``similar`` compares word counts).
    """

    grade: Callable[[list[dict[str, str]]], Awaitable[str]] | None = None
    embed: Callable[[list[str]], Awaitable[list[list[float]]]] | None = None


class AssertionSetupError(Exception):
    """An assertion that cannot be evaluated as written (missing value, bad regex, …): it fails."""


async def evaluate(asserts: Sequence[Mapping[str, Any]], subject: Subject, judge: Judge | None = None) -> list[AssertionResult]:
    """Evaluate every assertion on ``subject``; model-graded ones run concurrently."""
    judge = judge or Judge()
    remote = [a for a in asserts if _base(a) in GRADED or (_base(a) == "similar" and judge.embed is not None)]
    if len(remote) < 2:  # nothing to overlap: skip the task machinery (cheap replays of many cases)
        return [await evaluate_one(a, subject, judge) for a in asserts]
    import asyncio  # here, not at the top: the runtime's guards use this module without an event loop

    return list(await asyncio.gather(*(evaluate_one(a, subject, judge) for a in asserts)))


def check(spec: Mapping[str, Any], subject: Subject) -> AssertionResult:
    """One deterministic assertion (a guard: see GUARD_TYPES), synchronously: the same code and the
    same verdict as :func:`evaluate_one`, without an event loop. A model-graded or other remote type
    fails, saying so."""
    base = _base(spec)
    if base not in GUARD_BASE_TYPES:
        return _result(spec, False, 0.0, f"{spec.get('type')!r} cannot be checked here: guards take "
                       + ", ".join(GUARD_BASE_TYPES) + " and their not- forms")
    return _finish(spec, lambda: _CHECKS[base](spec, subject, _NO_JUDGE, str(spec.get("type", "")).startswith("not-")))


def _result(spec: Mapping[str, Any], passed: bool, score: float, reason: str) -> AssertionResult:
    weight = spec.get("weight", 1.0)
    try:
        weight = float(weight)
    except (TypeError, ValueError):  # `weight: null` or `weight: "heavy"`: the schema refuses them in files
        passed, score = False, 0.0
        reason = f"weight must be a number, not {_show(weight)}" + (f"; {reason}" if reason else "")
        weight = 1.0
    return AssertionResult(str(spec.get("type", "")), passed, max(0.0, min(1.0, score)), reason, weight,
                           spec.get("metric"), spec.get("description"))


def _finish(spec: Mapping[str, Any], run: Callable[[], Outcome]) -> AssertionResult:
    """The result of a check, errors turned into failing results and ``not-`` applied."""
    kind = str(spec.get("type", ""))
    inverse = kind.startswith("not-")
    base = kind[4:] if inverse else kind
    try:
        passed, score, reason = run()
    except AssertionSetupError as e:
        return _result(spec, False, 0.0, str(e))
    except PromptctlError as e:  # a grader or embedding call that failed (or was not recorded)
        return _result(spec, False, 0.0, str(e))
    except Exception as e:  # noqa: BLE001 - a python assertion raising fails the assertion
        return _result(spec, False, 0.0, f"error: {type(e).__name__}: {e}")
    if inverse and base not in SELF_INVERTING:
        passed, score = not passed, 1.0 - score
    return _result(spec, passed, score, reason)


def _base(spec: Mapping[str, Any]) -> str:
    kind = str(spec.get("type", "")) if isinstance(spec, Mapping) else ""
    return kind[4:] if kind.startswith("not-") else kind


async def _assert_set(spec: Mapping[str, Any], subject: Subject, judge: Judge) -> AssertionResult:
    """promptfoo's ``assert-set``: a group of assertions scored together (their weighted mean), passing
    when every one passes, or with ``threshold`` when the group's score reaches it; the group then
    counts in the case with its own ``weight``."""
    children = spec.get("assert")
    if not isinstance(children, list) or not children:
        return _result(spec, False, 0.0, "assert-set needs `assert`: a list of one or more assertions")
    results = await evaluate(children, subject, judge)
    passed, score, reason = verdict(results, spec.get("threshold"))
    ok = sum(r.passed for r in results if r.weight > 0)
    counted = sum(1 for r in results if r.weight > 0)
    summary = f"{ok}/{counted} passed, score {score:.2f}"
    return _result(spec, passed, score, summary + (f": {reason}" if reason else ""))


#: The checks that apply a ``not-`` themselves (their score means something inverted).
SELF_INVERTING = ("similar", "levenshtein", "llm-rubric", "python", "tool-call-f1")


async def evaluate_one(spec: Mapping[str, Any], subject: Subject, judge: Judge) -> AssertionResult:
    """One assertion; a failure to evaluate it (a bad regex, a grader error) fails it with the reason."""
    if not isinstance(spec, Mapping):  # the schema refuses these in files; evaluate() still never raises
        return AssertionResult(str(spec)[:60], False, 0.0, f"an assertion is a mapping with a `type`, not {_show(spec)}")
    kind = str(spec.get("type", ""))
    inverse = kind.startswith("not-")
    base = kind[4:] if inverse else kind
    if isinstance(spec.get("transform"), str):  # promptfoo's assertion-level transform: this check only
        try:
            subject = transformed(subject, spec["transform"], f"transform of the {kind} assertion")
        except AssertionSetupError as e:
            return _result(spec, False, 0.0, str(e))
    if kind == "assert-set":
        return await _assert_set(spec, subject, judge)
    check_fn = _CHECKS.get(base)
    if check_fn is None:
        return _result(spec, False, 0.0, f"unknown assertion type {kind!r}")
    try:
        outcome = check_fn(spec, subject, judge, inverse)
        if hasattr(outcome, "__await__"):
            outcome = await outcome
    except Exception as e:  # noqa: BLE001 - turned into a failing result below, with the reason
        error = e

        def again() -> Outcome:
            raise error
        return _finish(spec, again)
    return _finish(spec, lambda: outcome)


def verdict(results: Sequence[AssertionResult], threshold: float | None = None) -> tuple[bool, float, str]:
    """Pass, score and reason of a case from its assertion results. With a case ``threshold``, as in
    promptfoo, the case passes when its weighted score reaches it, whatever single assertions say;
    without one, every counted assertion must pass.

    As promptfoo scores them: an assertion of weight 0 is a metric only (shown, never failing the
    case, counted in neither the sum nor the total weight); when every assertion has weight 0 the
    score is 0 (so a threshold above 0 fails the case); no assertions at all score 1."""
    counted = [r for r in results if r.weight > 0]
    total = sum(r.weight for r in counted)
    every = all(r.passed for r in counted)
    if total:
        score = sum(r.weight * r.score for r in counted) / total
    else:
        score = 0.0 if results else 1.0
    failing = [r for r in counted if not r.passed]
    reason = "; ".join(f"{r.type}: {r.reason}" for r in failing) if failing else ""
    if threshold is None:
        return every, score, reason
    passed = score + 1e-9 >= float(threshold)
    if not passed:
        reason = f"score {score:.2f} < threshold {float(threshold):g}" + (f"; {reason}" if reason else "")
    return passed, score, "" if passed else reason


# -- helpers -----------------------------------------------------------------------------------


def _expected(spec: Mapping[str, Any], subject: Subject, what: str) -> Any:
    if "value" in spec:
        return spec["value"]
    if subject.golden is not None:
        return subject.golden
    raise AssertionSetupError(f"{what} needs a `value`, or a `golden` on the case to compare with")


def _required(spec: Mapping[str, Any], what: str) -> Any:
    if "value" not in spec or spec["value"] is None:
        raise AssertionSetupError(f"{what} needs a `value`")
    return spec["value"]


def _text(value: Any) -> str:
    """``value`` as promptfoo turns it into text: strings as they are, numbers as JavaScript writes them,
    booleans and null as JSON, objects and arrays as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        return js_number(value)
    return json.dumps(value, ensure_ascii=False)


def js_number(x: float) -> str:
    """``String(x)`` in JavaScript: ``1.0`` → ``1``, ``1e-07`` → ``1e-7``, ``1e16`` → ``10000000000000000``,
    ``1e21`` → ``1e+21``, ``nan`` → ``NaN`` (ECMA-262 Number::toString)."""
    if isinstance(x, int):
        x_int = x
        if abs(x_int) < 10**21:
            return str(x_int)
        x = float(x_int)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # Python's repr: the shortest digits that round-trip
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    lead = len(digits) - len(digits.lstrip("0"))
    n = len(whole) + int(exp or 0) - lead  # x = 0.DIGITS × 10**n
    digits = digits.strip("0")
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


_quoted: Callable[[str], str] = json.encoder.encode_basestring


def _show(value: Any, width: int = 60) -> str:
    text = _text(value)
    text = text if len(text) <= width else text[: width - 1] + "…"
    return _quoted(text)  # json.dumps(text, ensure_ascii=False), without making an encoder each time


def _list(value: Any) -> list[str]:
    """The items of a list ``value``: a list, or a string read as one CSV line, as promptfoo reads it
    (``'"hello, world",universe'`` is two items). An empty item would match every output: refused."""
    if isinstance(value, str):
        import csv

        items = [v.strip() for row in csv.reader([value], skipinitialspace=True) for v in row]
    elif isinstance(value, (list, tuple)):
        items = [_text(v) for v in value]
    else:
        items = [_text(value)]
    if not items or any(item == "" for item in items):
        raise AssertionSetupError("an empty item matches every output; list the texts to look for")
    return items


def _needle(spec: Mapping[str, Any], what: str) -> str:
    """The text a text check looks for; an empty one (which every output contains) is refused."""
    text = _text(_required(spec, what))
    if text == "":
        raise AssertionSetupError("an empty `value` matches every output; give the text to look for")
    return text


def parse_json_output(text: str) -> Any:
    """The JSON value of a model output, allowing a surrounding Markdown code fence."""
    stripped = text.strip()
    fence = re.fullmatch(r"```[A-Za-z0-9_-]*\s*\n(.*?)\n?```", stripped, flags=re.S)
    if fence:
        stripped = fence.group(1).strip()
    return json.loads(stripped)


def find_json(text: str) -> list[Any]:
    """Every JSON object or array embedded in ``text``, in order (the largest at each position); NaN and
    Infinity are not JSON. Top-level arrays count too (promptfoo finds only objects): a list answer
    is JSON, and a schema with ``type: object`` still refuses it."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    found = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(value)
            i = end
            continue
        i += 1
    return found


def _json_of(subject: Subject) -> Any:
    if subject.data is not _MISSING:
        return subject.data
    try:
        return parse_json_output(subject.output)
    except ValueError as e:
        raise AssertionSetupError(f"output is not JSON ({e})") from None


#: The keywords whose meaning is the same in draft-07 (fastjsonschema) and 2020-12 (jsonschema): a
#: schema made only of these gets a compiled fast check for valid values (about 15x faster); every
#: invalid verdict, and every other schema, goes through jsonschema.
_PORTABLE = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems",
    "maxItems", "uniqueItems", "minProperties", "maxProperties", "anyOf", "allOf", "oneOf", "not",
    "title", "description", "default", "examples", "$comment",
})
_CHECKERS: dict[str, Any] = {}  # canonical schema text -> (validator, fast check or None), or the schema's error
_BY_ID: dict[int, tuple[Any, tuple[Any, Any]]] = {}  # id(schema) -> (schema, checkers): the schema kept alive, so ids stay unique


def _checkers(schema: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(validator, fast check or None)`` of ``schema``, made once and cached: checking a schema
    against the metaschema costs about 1 ms, which every answer of a guarded prompt would otherwise pay."""
    same = _BY_ID.get(id(schema))
    if same is not None and same[0] is schema:  # the same schema object as last time (a prompt's output.schema)
        return same[1]
    key = json.dumps(schema, sort_keys=True, default=str)
    found = _CHECKERS.get(key)
    if found is None:
        from ..jsonschemas import load

        jsonschema = load()
        Draft202012Validator = jsonschema.Draft202012Validator
        BadSchema = jsonschema.exceptions.SchemaError
        try:
            # `format` is checked (email, date, date-time, uri, uuid, ipv4, …), as promptfoo's ajv-formats does
            Draft202012Validator.check_schema(dict(schema))
            found = (Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER),
                     _fast_check(schema))
        except BadSchema as e:
            found = AssertionSetupError(f"invalid JSON Schema: {e.message}")
        if len(_CHECKERS) > 512:
            _CHECKERS.clear()
        _CHECKERS[key] = found
    if isinstance(found, AssertionSetupError):
        raise AssertionSetupError(str(found))  # a fresh one: re-raising the cached one would grow its traceback
    if len(_BY_ID) > 512:
        _BY_ID.clear()
    _BY_ID[id(schema)] = (schema, found)
    return found


def _portable(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or not set(schema) <= _PORTABLE:
        return False
    if isinstance(schema.get("items"), list):
        return False  # an array of schemas means different things in the two drafts
    subs = [*(schema.get("properties") or {}).values(), *(schema.get(k) for k in ("items", "not") if k in schema),
            *(x for k in ("anyOf", "allOf", "oneOf") for x in schema.get(k) or ())]
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        subs.append(extra)
    return all(_portable(x) for x in subs)


def _fast_check(schema: Mapping[str, Any]) -> Any:
    """fastjsonschema's compiled check of a portable schema (None for any other, or when it cannot compile)."""
    if not _portable(schema):
        return None
    try:
        import fastjsonschema

        return fastjsonschema.compile(dict(schema), use_default=False)  # check only: never fill in defaults
    except Exception:  # noqa: BLE001 - no fast path: jsonschema decides, as for any other schema
        return None


def schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """The first JSON Schema violation of ``value`` as ``path: message``, or None when valid."""
    validator, fast = _checkers(schema)
    if fast is not None:
        try:
            fast(value)
            return None
        except Exception:  # noqa: BLE001 - jsonschema gives the verdict and the message
            pass
    errors = sorted(validator.iter_errors(value), key=lambda err: list(err.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path).lstrip(".") or "$"
    return f"{where}: {first.message}"


def levenshtein(a: str, b: str) -> int:
    """The edit distance between two strings (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


_WORD = re.compile(r"\w+", re.UNICODE)


def text_similarity(a: str, b: str) -> float:
    """promptctl's string similarity (no embedding model): the cosine of the two texts' word-count
    vectors, words being lower-cased runs of letters and digits. 1.0 = the same words as often."""
    ca, cb = Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))
    if not ca or not cb:
        return 1.0 if not ca and not cb else 0.0
    dot = sum(n * cb[w] for w, n in ca.items())
    return dot / (math.sqrt(sum(n * n for n in ca.values())) * math.sqrt(sum(n * n for n in cb.values())))


def cosine(u: Sequence[float], v: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(u, v, strict=False))
    nu, nv = math.sqrt(sum(x * x for x in u)), math.sqrt(sum(y * y for y in v))
    return dot / (nu * nv) if nu and nv else 0.0


def _threshold(spec: Mapping[str, Any], default: float | None, what: str) -> float:
    value = spec.get("threshold", default)
    if value is None:
        raise AssertionSetupError(f"{what} needs a `threshold`")
    return float(value)


# -- the checks: each returns (passed, score, reason) before a `not-` inverts it -------------------

Outcome = tuple[bool, float, str]


def _equals(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    expected = _expected(spec, s, "equals")
    if "value" not in spec and isinstance(expected, str):  # a golden written as JSON text is JSON data
        try:
            parsed = json.loads(expected, parse_constant=_no_constant)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            expected = parsed
    if isinstance(expected, (dict, list)):  # as promptfoo: the output parsed as JSON, deeply equal
        try:
            actual = json.loads(s.output, parse_constant=_no_constant)
        except ValueError as e:
            return False, 0.0, f"output is not JSON ({e}), so it does not equal {_show(expected)}"
        same = _typed(actual) == _typed(expected)
    else:  # as promptfoo: text against text ("42.0" is not 42)
        same = s.output == _text(expected)
    if same:
        return True, 1.0, f"output equals {_show(expected)}"
    return False, 0.0, f"output {_show(s.output)} does not equal {_show(expected)}"


def _typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its JSON type, so that ``1``, ``1.0`` and ``true`` compare as
    JSON does (``1 == 1.0``, ``1 != true``) and not as Python does (``1 == True``)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, bool) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", value)
    return ("string", value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _contains(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool, *, fold: bool = False) -> Outcome:
    needle = _needle(spec, "icontains" if fold else "contains")
    hay = s.output
    found = needle.lower() in hay.lower() if fold else needle in hay
    word = "contains" if found else "does not contain"
    return found, float(found), f"output {word} {_show(needle)}" + (" (ignoring case)" if fold else "")


def _icontains(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    return _contains(spec, s, judge, inverse, fold=True)


def _contains_any(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool, *, fold: bool = False) -> Outcome:
    what = "icontains-any" if fold else "contains-any"
    options = _list(_required(spec, what))
    hay = s.output.lower() if fold else s.output
    hits = [o for o in options if (o.lower() if fold else o) in hay]
    case = " (ignoring case)" if fold else ""
    if hits:
        return True, 1.0, f"output contains {_show(hits[0])}{case}"
    return False, 0.0, "output contains none of " + ", ".join(_show(o, 30) for o in options) + case


def _contains_all(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool, *, fold: bool = False) -> Outcome:
    what = "icontains-all" if fold else "contains-all"
    options = _list(_required(spec, what))
    hay = s.output.lower() if fold else s.output
    missing = [o for o in options if (o.lower() if fold else o) not in hay]
    case = " (ignoring case)" if fold else ""
    if not missing:
        return True, 1.0, "output contains all of " + ", ".join(_show(o, 30) for o in options) + case
    return False, 0.0, "output lacks " + ", ".join(_show(o, 30) for o in missing) + case


def _icontains_any(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    return _contains_any(spec, s, judge, inverse, fold=True)


def _icontains_all(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    return _contains_all(spec, s, judge, inverse, fold=True)


def _starts_with(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    prefix = _needle(spec, "starts-with")
    ok = s.output.startswith(prefix)
    return ok, float(ok), f"output {'starts' if ok else 'does not start'} with {_show(prefix)}"


def _regex(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    pattern = _needle(spec, "regex")
    try:
        match = re.search(js_regex(pattern), s.output)
    except re.error as e:
        raise AssertionSetupError(f"invalid regular expression {pattern!r}: {e}") from None
    if match:
        return True, 1.0, f"/{pattern}/ matches {_show(match.group(0))}"
    return False, 0.0, f"/{pattern}/ does not match the output"


def js_regex(pattern: str) -> str:
    r"""A pattern written for JavaScript's RegExp, as Python's ``re`` reads it: ``(?<name>…)`` named groups
    become ``(?P<name>…)`` (and ``\k<name>`` ``(?P=name)``), and ``$`` means the end of the text, not
    also before a final newline (``\Z``). Lookbehinds ``(?<=``/``(?<!`` and escaped ``\$`` are kept."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    multiline = re.match(r"\(\?[a-zA-Z]*m", pattern) is not None  # (?m): `$` ends each line, keep it
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            m = re.match(r"\\k<([A-Za-z_]\w*)>", pattern[i:])
            if m and not in_class:
                out.append(f"(?P={m.group(1)})")
                i += m.end()
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == "(" and pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        elif c == "$" and not multiline:
            out.append("\\Z")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _schema_value(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """An is-json/contains-json ``value``: a JSON Schema, given as a mapping or as YAML/JSON text."""
    schema = spec.get("value")
    if schema is None:
        return None
    if isinstance(schema, str):
        import yaml

        try:
            schema = yaml.safe_load(schema)
        except yaml.YAMLError as e:
            raise AssertionSetupError(f"the schema in `value` is not valid YAML or JSON ({e})") from None
    if not isinstance(schema, Mapping):
        raise AssertionSetupError("`value` must be a JSON Schema (an object), or leave it out to check only for JSON")
    return schema


def _is_json(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    try:
        value = json.loads(s.output, parse_constant=_no_constant)  # NaN and Infinity are not JSON
    except ValueError as e:
        return False, 0.0, f"output is not JSON ({e})"
    schema = _schema_value(spec)
    if schema is not None:
        problem = schema_problem(value, schema)
        if problem:
            return False, 0.0, f"output is JSON but not valid against the schema: {problem}"
        return True, 1.0, "output is JSON valid against the schema"
    return True, 1.0, "output is JSON"


def _contains_json(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    found = find_json(s.output)
    if not found:
        return False, 0.0, "output contains no JSON object or array"
    schema = _schema_value(spec)
    if schema is not None:
        problems = [schema_problem(v, schema) for v in found]
        if all(problems):
            return False, 0.0, f"output contains JSON, none valid against the schema: {problems[0]}"
        return True, 1.0, "output contains JSON valid against the schema"
    return True, 1.0, "output contains JSON"


def _json_schema(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    schema = spec.get("value") or s.output_schema
    if not isinstance(schema, Mapping):
        raise AssertionSetupError("json-schema needs a `value` (a JSON Schema) or a prompt with output.schema")
    try:
        value = _json_of(s)
    except AssertionSetupError as e:
        return False, 0.0, str(e)
    problem = schema_problem(value, schema)
    if problem:
        return False, 0.0, f"output is not valid against the schema: {problem}"
    return True, 1.0, "output is valid against the schema"


def _levenshtein(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    expected = _text(_expected(spec, s, "levenshtein"))
    limit = _threshold(spec, DEFAULT_LEVENSHTEIN, "levenshtein")
    distance = levenshtein(s.output, expected)
    ok = distance <= limit
    if inverse:
        return not ok, float(not ok), f"edit distance {distance} {'>' if not ok else '<='} {limit:g}"
    return ok, float(ok), f"edit distance {distance} {'<=' if ok else '>'} {limit:g}"


async def _similar(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    expected = _expected(spec, s, "similar")
    references = [_text(v) for v in expected] if isinstance(expected, list) else [_text(expected)]
    if not references:
        raise AssertionSetupError("similar needs a text, or a list of at least one text, to compare with")
    limit = _threshold(spec, DEFAULT_SIMILAR, "similar")
    if judge.embed is not None:
        vectors = await judge.embed([s.output, *references])
        best = max(cosine(vectors[0], v) for v in vectors[1:])
        how = "embedding similarity"
    else:
        best = max(text_similarity(s.output, r) for r in references)
        how = "similarity (word counts)"
    if inverse:  # promptfoo's matchesSimilarity: not-similar passes at the threshold itself (<=)
        ok = best <= limit
        return ok, 1.0 - best, f"{how} {best:.2f} {'<=' if ok else '>'} {limit:g}"
    ok = best >= limit
    return ok, best, f"{how} {best:.2f} {'>=' if ok else '<'} {limit:g}"


def _word_count(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    value = _required(spec, "word-count")
    count = len(s.output.split())
    if isinstance(value, Mapping):
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise AssertionSetupError("word-count needs a number, or {min, max} with at least one of them")
        try:
            low_n = None if low is None else float(low)
            high_n = None if high is None else float(high)
        except (TypeError, ValueError):
            raise AssertionSetupError(f"word-count's min and max must be numbers, not {_show(value)}") from None
        if low_n is not None and high_n is not None and low_n > high_n:
            raise AssertionSetupError(f"word-count's min ({low_n:g}) is above its max ({high_n:g})")
        ok = (low_n is None or count >= low_n) and (high_n is None or count <= high_n)
        span = (f"between {low_n:g} and {high_n:g}" if low_n is not None and high_n is not None
                else f"at least {low_n:g}" if low_n is not None else f"at most {high_n:g}")
        return ok, float(ok), f"{count} words, {'' if ok else 'not '}{span}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise AssertionSetupError(f"word-count needs a number, or {{min, max}}, not {_show(value)}")
    try:
        wanted = float(value)
    except ValueError:
        raise AssertionSetupError(f"word-count needs a number, not {_show(value)}") from None
    ok = count == wanted
    return ok, float(ok), f"{count} words{'' if ok else f', expected {js_number(wanted)}'}"


#: A refusal starts with one of these, or contains one of the phrases below (lower case, straight
#: apostrophes): the basic refusal detection of promptfoo's `is-refusal`.
REFUSAL_PREFIXES = (
    "sorry", "i'm sorry", "i am sorry", "i'm really sorry", "i am really sorry", "i apologize",
    "i'm not able to", "i am not able to", "i'm unable to", "i am unable to", "i cannot", "i can't",
    "i won't", "i will not", "i must decline", "i'm afraid i can't", "unfortunately, i can't",
)
REFUSAL_PHRASES = (
    "as an ai", "as a language model", "as an assistant", "i cannot help", "i can't help", "i cannot assist",
    "i can't assist", "i cannot provide", "i can't provide", "i cannot fulfill", "i can't fulfill",
    "i cannot comply", "i can't comply", "i'm not able to provide", "i am not able to provide",
    "is illegal and unethical", "if you have any other non-malicious requests", "not able to help with that",
    "i must decline", "against my guidelines",
)
_REFUSAL_PHRASE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in REFUSAL_PHRASES) + r")\b")


def is_refusal(text: str) -> bool:
    """Whether ``text`` declines to answer (empty text does: nothing was answered)."""
    lower = text.strip().lower().replace("\u2019", "'").replace("\u2018", "'")
    if not lower or lower in ("{}", "null", "undefined"):
        return True
    return lower.startswith(REFUSAL_PREFIXES) or _REFUSAL_PHRASE.search(lower) is not None


def _is_refusal(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    if not s.output.strip():  # promptfoo: is-refusal passes with score 0, not-is-refusal fails with score 0
        return True, 1.0 if inverse else 0.0, "empty output, counted as a refusal"
    ok = is_refusal(s.output)
    return ok, float(ok), "the output is a refusal" if ok else "the output is not a refusal"


def _finish_reason(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    wanted = str(_required(spec, "finish-reason")).strip().lower()
    if s.finish_reason is None:
        raise AssertionSetupError("the model's finish reason is unknown (not in the response or the recording)")
    got = s.finish_reason.strip().lower()
    ok = got == wanted
    return ok, float(ok), f"finish reason {got!r}" + ("" if ok else f", expected {wanted!r}")


def _xml_paths(value: Any) -> list[str]:
    """The element paths an ``is-xml`` value requires: ``"a.b, c"``, a list, or ``{requiredElements: [...]}``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = value.get("requiredElements", value.get("required_elements"))
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AssertionSetupError(f"is-xml's value names elements: \"root.child, root.other\", a list, or "
                                  f"{{requiredElements: [...]}}, not {_show(value)}")
    return [v.strip() for v in value if v.strip()]


def parse_xml(text: str) -> Any:
    """The root element of ``text``; ValueError when it is not XML. Documents that declare entities
    are refused, never expanded (the "billion laughs")."""
    import xml.etree.ElementTree as ET

    if "<!ENTITY" in text or "<!DOCTYPE" in text:
        raise ValueError("a document type or entity declaration (not expanded)")
    try:
        return ET.fromstring(text.strip())
    except ET.ParseError as e:
        raise ValueError(str(e)) from None


def _has_path(root: Any, path: str) -> bool:
    parts = path.split(".")
    if parts[0] != root.tag:
        return False
    nodes = [root]
    for part in parts[1:]:
        nodes = [child for node in nodes for child in node if child.tag == part]
        if not nodes:
            return False
    return True


def _xml_verdict(root: Any, value: Any) -> Outcome:
    missing = [p for p in _xml_paths(value) if not _has_path(root, p)]
    if missing:
        return False, 0.0, "XML without " + ", ".join(missing)
    return True, 1.0, "output is XML" + (" with every required element" if value is not None else "")


def _is_xml(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    try:
        root = parse_xml(s.output)
    except ValueError as e:
        return False, 0.0, f"output is not XML ({e})"
    return _xml_verdict(root, spec.get("value"))


_XML_START = re.compile(r"<([A-Za-z_][\w.:-]*)[^<>]*>")


def _contains_xml(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    text = s.output
    for m in _XML_START.finditer(text):
        end = text.rfind(f"</{m.group(1)}>", m.end())
        if end < 0:
            continue
        try:
            root = parse_xml(text[m.start():end + len(m.group(1)) + 3])
        except ValueError:
            continue
        return _xml_verdict(root, spec.get("value"))
    return False, 0.0, "no XML element in the output"


def _latency(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    limit = _threshold(spec, None, "latency (milliseconds)")
    if s.latency_ms is None:
        raise AssertionSetupError("latency unknown")
    ok = s.latency_ms <= limit
    return ok, float(ok), f"latency {s.latency_ms:.0f} ms {'<=' if ok else '>'} {limit:g} ms"


def _cost(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    limit = _threshold(spec, None, "cost (US dollars)")
    if s.cost_usd is None:
        raise AssertionSetupError("cost unknown (the model has no price in litellm's list)")
    ok = s.cost_usd <= limit
    return ok, float(ok), f"cost ${s.cost_usd:.6f} {'<=' if ok else '>'} ${limit:g}"


_FUNCTION_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def run_python(source: str, names: Mapping[str, Any], what: str) -> Any:
    """The value of ``source``, a Python expression or (promptfoo's multi-line form) a function body
    that ``return``s, with ``names`` (output, data, context, golden, inputs) in scope. Repository code,
    run as the repository's own tests would run it (see docs/assertions.md, ``python``)."""
    code = source.strip()
    body = "\n" in code or re.match(r"return\b", code) is not None
    if body:
        import textwrap

        code = f"def __promptctl__({', '.join(names)}):\n" + textwrap.indent(textwrap.dedent(source).strip("\n"), "    ")
    try:
        compiled = compile(code, f"<{what}>", "exec" if body else "eval")
    except SyntaxError as e:
        kind = "function body" if body else "expression"
        raise AssertionSetupError(f"invalid Python {kind}: {e.msg} (line {max(1, (e.lineno or 2) - int(body))})") from None
    scope: dict[str, Any] = {"json": json, "re": re, "math": math}
    if body:
        exec(compiled, scope)  # noqa: S102 - repository code, documented
        return scope["__promptctl__"](**names)
    return eval(compiled, scope, dict(names))  # noqa: S307 - repository code, documented


def run_over_output(source: str, subject: Subject, what: str, **names: Any) -> Any:
    """What ``source`` (a Python expression or function body over ``output``, ``data``, ``context``,
    ``golden`` and ``inputs``, and ``names`` over those) returns for ``subject``; invalid Python or
    an exception is an :class:`AssertionSetupError` saying so."""
    context = subject.context()
    scope = {"output": subject.output, "data": context["data"], "context": context, "golden": subject.golden,
             "inputs": context["inputs"], **names}
    try:
        return run_python(source, scope, what)
    except AssertionSetupError:
        raise  # invalid Python: said as such
    except Exception as e:  # noqa: BLE001 - code that raises fails what depends on it, saying why
        raise AssertionSetupError(f"{what} raised {type(e).__name__}: {e}") from None


def transformed(subject: Subject, source: str, what: str = "transform") -> Subject:
    """``subject`` with its output replaced by ``source`` (a Python expression over ``output``,
    promptfoo's ``transform``) evaluated on it: text stays text, anything else becomes JSON text."""
    from dataclasses import replace

    value = run_over_output(source, subject, what)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return replace(subject, output=text, data=_MISSING)


_FILE_MODULES: dict[tuple[str, str], Any] = {}  # (file, its source) -> the module made from it


def _file_function(value: Mapping[str, Any]) -> Any:
    """The function of a ``file://checks.py:fn`` value (read by the runner), from a module made of the
    file's source once per source text."""
    import types

    key = (str(value.get("python_file")), str(value.get("source")))
    module = _FILE_MODULES.get(key)
    if module is None:
        module = types.ModuleType(f"promptctl_checks_{len(_FILE_MODULES)}")
        module.__file__ = key[0]
        try:
            code = compile(key[1], key[0], "exec")
        except SyntaxError as e:
            raise AssertionSetupError(f"{key[0]}:{e.lineno}: invalid Python: {e.msg}") from None
        exec(code, module.__dict__)  # noqa: S102 - repository code, documented (as `python` assertions)
        _FILE_MODULES[key] = module
    func = getattr(module, str(value.get("function")), None)
    if not callable(func):
        raise AssertionSetupError(f"{key[0]} has no function {value.get('function')!r}")
    return func


def _python(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    raw = _required(spec, "python")
    context = s.context()
    code = "" if isinstance(raw, Mapping) else _text(raw).strip()
    if isinstance(raw, Mapping) and "source" in raw:  # file://checks.py:fn
        result = _file_function(raw)(s.output, context)
    elif _FUNCTION_REF.match(code):
        module_name, func_name = code.split(":")
        added = False
        if s.root is not None and str(s.root) not in sys.path:
            sys.path.insert(0, str(s.root))
            added = True
        try:
            module = importlib.import_module(module_name)
        finally:
            if added:
                sys.path.remove(str(s.root))
        func = getattr(module, func_name, None)
        if not callable(func):
            raise AssertionSetupError(f"{module_name} has no function {func_name!r}")
        result = func(s.output, context)
    else:
        names = {"output": s.output, "data": context["data"], "context": context, "golden": s.golden,
                 "inputs": context["inputs"]}
        result = run_python(_text(spec["value"]), names, "python assertion")
    threshold = spec.get("threshold")
    if isinstance(result, Mapping):
        passed, score, reason = _grading(result, threshold)
        reason = reason or f"returned {result!r}"
    elif isinstance(result, bool) or result is None:
        passed, score, reason = bool(result), float(bool(result)), f"returned {result!r}"
    elif isinstance(result, (int, float)):
        score = _score(result)
        passed = score >= float(threshold) if threshold is not None else score > 0
        reason = f"returned score {score:g}" + (f" (threshold {float(threshold):g})" if threshold is not None else "")
    else:
        raise AssertionSetupError(f"returned {type(result).__name__}; return a bool, a number or {{pass, score, reason}}")
    if inverse:
        # promptfoo inverts the verdict and keeps a score the check returned (not-python 0.3 scores 0.3);
        # a bare true/false scores what the inverted verdict is worth
        kept = isinstance(result, (int, float)) and not isinstance(result, bool) or isinstance(result, Mapping)
        return not passed, score if kept else 1.0 - score, reason
    return passed, score, reason


RUBRIC_SYSTEM = (
    "You are grading an output against a rubric. Decide whether the output satisfies the rubric.\n"
    'Answer with only a JSON object: {"reason": "<one sentence>", "pass": true or false, '
    '"score": <a number from 0.0 to 1.0>}.'
)


def _score(value: Any) -> float:
    """A score from a grader or a python assertion: a finite number (NaN is an error, never a pass)."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise AssertionSetupError(f"the score {value!r} is not a number") from None
    if not math.isfinite(score):
        raise AssertionSetupError(f"the score is {score!r}: return a number from 0 to 1")
    return score


def _truthy(value: Any) -> bool:
    """A ``pass`` as promptfoo reads it: the strings "false", "no", "0" are false, not truthy text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "y", "pass", "passed", "1")
    return bool(value)


def _grading(result: Mapping[str, Any], threshold: Any) -> tuple[bool, float, str]:
    """``{pass, score, reason}`` (from a grader or a python assertion) as a verdict. A missing ``pass``
    is read from ``score`` (at least ``threshold``, else 0.5), as promptfoo reads it; a missing score
    is 1 or 0 by ``pass``; with a ``threshold``, the score must reach it too."""
    has_pass = "pass" in result or "passed" in result
    score = _score(result["score"]) if result.get("score") is not None else None
    if has_pass:
        passed = _truthy(result.get("pass", result.get("passed")))
    elif score is not None:
        passed = score >= (float(threshold) if threshold is not None else 0.5)
    else:
        passed = True
    if score is None:
        score = 1.0 if passed else 0.0
    if threshold is not None:
        passed = passed and score >= float(threshold)
    return passed, score, str(result.get("reason") or "")


def _lenient_json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects in a grader's answer, also when it wrote ``{pass: true}`` with bare keys."""
    found = [v for v in find_json(text) if isinstance(v, dict)]
    if not found:
        quoted = re.sub(r'([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:', r'\1"\2":', text)
        found = [v for v in find_json(quoted) if isinstance(v, dict)]
    return found


def rubric_messages(output: str, rubric: str) -> list[dict[str, str]]:
    """The grader request of an llm-rubric assertion."""
    return [
        {"role": "system", "content": RUBRIC_SYSTEM},
        {"role": "user", "content": f"<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n</Rubric>"},
    ]


async def _llm_rubric(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    rubric = _text(_required(spec, "llm-rubric"))
    if judge.grade is None:
        raise AssertionSetupError("no grader model available")
    answer = await judge.grade(rubric_messages(s.output, rubric))
    found = _lenient_json_objects(answer)
    if not found:
        raise AssertionSetupError(f"the grader's answer is not a JSON object: {_show(answer)}")
    graded = found[0]
    if "pass" not in graded and "score" not in graded:
        raise AssertionSetupError(f"the grader's answer has neither `pass` nor `score`: {_show(answer)}")
    threshold = spec.get("threshold")
    passed, score, reason = _grading(graded, threshold)
    if threshold is not None:
        reason += f" (score {score:.2f}, threshold {float(threshold):g})"
    if inverse:
        return not passed, 1.0 - score, f"grader: {reason}"
    return passed, score, f"grader: {reason}"


FACTUALITY_SYSTEM = (
    "You are comparing a submitted answer to an expert answer on a given question.\n"
    "Ignore differences in style, grammar or punctuation. Determine which case applies:\n"
    "(A) The submitted answer is a subset of the expert answer and is fully consistent with it.\n"
    "(B) The submitted answer is a superset of the expert answer and is fully consistent with it.\n"
    "(C) The submitted answer contains all the same details as the expert answer.\n"
    "(D) There is a disagreement between the submitted answer and the expert answer.\n"
    "(E) The answers differ, but these differences don't matter from the perspective of factuality.\n"
    "Answer with the letter of the case in parentheses, e.g. (A), then one sentence of reasoning."
)
FACTUALITY_PASS = {"A", "B", "C", "E"}


def factuality_messages(question: str, reference: str, output: str) -> list[dict[str, str]]:
    """The grader request of a factuality assertion."""
    return [
        {"role": "system", "content": FACTUALITY_SYSTEM},
        {
            "role": "user",
            "content": f"[Question]: {question}\n[Expert]: {reference}\n[Submission]: {output}",
        },
    ]


async def _factuality(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    reference = _text(_expected(spec, s, "factuality"))
    if judge.grade is None:
        raise AssertionSetupError("no grader model available")
    answer = await judge.grade(factuality_messages(s.question, reference, s.output))
    graded = next((v for v in _lenient_json_objects(answer) if isinstance(v.get("category"), str)), None)
    letter = graded["category"].strip().upper()[:1] if graded is not None else ""
    if graded is not None and letter and letter in "ABCDE":  # {"category": "A", "reason": …}: the shape promptfoo's grader asks for
        ok = letter in FACTUALITY_PASS
        return ok, float(ok), f"grader: ({letter}) {str(graded.get('reason') or '')[:200]}".rstrip()
    match = re.search(r"\(([A-E])\)", answer) or re.match(r"\s*([A-E])\b", answer)
    if not match:
        raise AssertionSetupError(f"the grader's answer names no category (A-E): {_show(answer)}")
    letter = match.group(1)
    rest = answer[match.end():].strip(" .:-\n") or answer.strip()
    ok = letter in FACTUALITY_PASS
    return ok, float(ok), f"grader: ({letter}) {rest[:200]}"


CLOSEDQA_PROMPT = (
    "You are assessing a submitted answer on a given task based on a criterion. Here is the data:\n"
    "[BEGIN DATA]\n***\n[Task]: {question}\n***\n[Submission]: {output}\n***\n[Criterion]: {criterion}\n***\n"
    "[END DATA]\n"
    "Does the submission meet the criterion? First, write out in a step by step manner your reasoning about "
    "the criterion to be sure that your conclusion is correct. Avoid simply stating the correct answers at the "
    "outset. Then print only the single character \"Y\" or \"N\" (without quotes or punctuation) on its own "
    "line corresponding to the correct answer. At the end, repeat just the letter again by itself on a new line."
)


def closedqa_messages(question: str, output: str, criterion: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": CLOSEDQA_PROMPT.format(question=question, output=output, criterion=criterion)}]


async def _closedqa(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    criterion = _text(_required(spec, "model-graded-closedqa"))
    if judge.grade is None:
        raise AssertionSetupError("no grader model available")
    answer = await judge.grade(closedqa_messages(s.question, s.output, criterion))
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    letters = [line.strip("*.").upper() for line in lines]
    verdict_letter = next((x for x in reversed(letters) if x in ("Y", "N")), None)
    if verdict_letter is None:
        raise AssertionSetupError(f"the grader's answer ends with neither Y nor N: {_show(answer)}")
    ok = verdict_letter == "Y"
    reasoning = " ".join(line for line, x in zip(lines, letters, strict=True) if x not in ("Y", "N"))[:200]
    return ok, float(ok), f"grader: {verdict_letter}" + (f" ({reasoning})" if reasoning else "")


GEVAL_STEPS = (
    "You write the evaluation steps for judging an answer against criteria. Given the criteria, list three to "
    "five concise steps an evaluator should follow. Answer with only a JSON object: {{\"steps\": [\"...\", ...]}}.\n\n"
    "Criteria: {criteria}"
)
GEVAL_SCORE = (
    "You evaluate an answer against criteria by following the evaluation steps.\n\n"
    "Criteria: {criteria}\n\nEvaluation steps:\n{steps}\n\nInput: {question}\n\nAnswer: {output}\n\n"
    "Give an integer score from 0 (the criteria are not met at all) to 10 (fully met). Answer with only a JSON "
    "object: {{\"score\": <0-10>, \"reason\": \"<one sentence>\"}}."
)
DEFAULT_GEVAL = 0.7


async def _g_eval(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    raw = _required(spec, "g-eval")
    criteria = [_text(c) for c in raw] if isinstance(raw, list) else [_text(raw)]
    if judge.grade is None:
        raise AssertionSetupError("no grader model available")
    threshold = _threshold(spec, DEFAULT_GEVAL, "g-eval")
    scores, reasons = [], []
    for c in criteria:
        answer = await judge.grade([{"role": "user", "content": GEVAL_STEPS.format(criteria=c)}])
        steps = next((o["steps"] for o in _lenient_json_objects(answer) if isinstance(o.get("steps"), list)), None)
        if not steps:
            raise AssertionSetupError(f"the grader gave no evaluation steps: {_show(answer)}")
        listed = "\n".join(f"{n}. {_text(step)}" for n, step in enumerate(steps, 1))
        answer = await judge.grade([{"role": "user", "content": GEVAL_SCORE.format(
            criteria=c, steps=listed, question=s.question, output=s.output)}])
        graded = next((o for o in _lenient_json_objects(answer) if "score" in o), None)
        if graded is None:
            raise AssertionSetupError(f"the grader's answer has no score: {_show(answer)}")
        raw_score = _score(graded["score"])  # a finite number (NaN is an error), from 0 to 10
        if not 0 <= raw_score <= 10:
            raise AssertionSetupError(f"the grader's score {raw_score:g} is not between 0 and 10")
        scores.append(raw_score / 10)
        reasons.append(str(graded.get("reason") or "")[:200])
    score = sum(scores) / len(scores)
    ok = score + 1e-9 >= threshold
    return ok, score, f"g-eval score {score:.2f} {'>=' if ok else '<'} {threshold:g}" + (
        f": {'; '.join(r for r in reasons if r)}" if any(reasons) else "")


_CHECKS: dict[str, Callable[..., Any]] = {
    "equals": _equals,
    "contains": _contains,
    "icontains": _icontains,
    "contains-any": _contains_any,
    "contains-all": _contains_all,
    "icontains-any": _icontains_any,
    "icontains-all": _icontains_all,
    "starts-with": _starts_with,
    "regex": _regex,
    "is-json": _is_json,
    "contains-json": _contains_json,
    "json-schema": _json_schema,
    "levenshtein": _levenshtein,
    "similar": _similar,
    "word-count": _word_count,
    "is-refusal": _is_refusal,
    "finish-reason": _finish_reason,
    "is-xml": _is_xml,
    "contains-xml": _contains_xml,
    "latency": _latency,
    "cost": _cost,
    "python": _python,
    "llm-rubric": _llm_rubric,
    "factuality": _factuality,
    "model-graded-closedqa": _closedqa,
    "g-eval": _g_eval,
}


def _elsewhere(module: str, names: Sequence[str]) -> None:
    """Register the checks that live in ``module`` (imported at their first use, not with this one)."""
    def lazy(name: str) -> Callable[..., Any]:
        def run(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Any:
            return importlib.import_module(module, __package__).CHECKS[name](spec, s, judge, inverse)
        return run

    for name in names:
        _CHECKS[name] = lazy(name)


_elsewhere(".textmetrics", ("bleu", "rouge-n"))
_elsewhere(".toolcalls", ("is-valid-openai-tools-call", "tool-call-f1"))
_elsewhere(".sql", ("is-sql", "contains-sql"))
_elsewhere(".rag", ("context-faithfulness", "context-recall", "context-relevance", "answer-relevance"))
assert set(_CHECKS) == set(BASE_TYPES)
_NO_JUDGE = Judge()
