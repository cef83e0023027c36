"""Guards: the checks every answer of a prompt must pass, in ``promptctl test`` and in the application.

A prompt's ``guards:`` are assertions of the deterministic types (``contains``, ``regex``,
``is-json``, ``json-schema``, ``word-count``, ``is-refusal``, ``finish-reason``, … and their
``not-`` forms), checked together with its ``output`` (``format: json`` must parse, and match
``output.schema`` when there is one). ``promptctl test`` applies them to every case of the prompt's
datasets, so a guard is tested before it ships; bundles carry them; the runtime's
``Prompt.check(output)`` and ``Prompt.parse(output)`` run this module, with the very assertion code
``promptctl test`` uses (:func:`promptctl.evals.assertions.check`).

Standard library only at import time; jsonschema is imported when a schema is first checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import PromptctlError

if TYPE_CHECKING:
    from .evals.assertions import AssertionResult, Subject
    from .model import Prompt


@dataclass(frozen=True, slots=True)
class GuardFailure:
    """One check an answer did not pass: its type (``contains``, ``output-json``, …) and why."""

    type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.type}: {self.reason}"


@dataclass(frozen=True, slots=True)
class GuardResult:
    """What :func:`check_output` found: ``ok`` (also the result's truth value), every failure, the
    parsed JSON for ``output.format: json`` (else None), and each check's full result."""

    ok: bool
    failures: tuple[GuardFailure, ...] = ()
    data: Any = None
    results: tuple[AssertionResult, ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": [{"type": f.type, "reason": f.reason} for f in self.failures]}


class GuardError(PromptctlError):
    """An answer that failed its prompt's guards (:meth:`promptctl.runtime.Prompt.parse`); ``result``
    holds every failure, ``output`` the answer."""

    def __init__(self, prompt: str, result: GuardResult, output: str) -> None:
        self.result = result
        self.failures = result.failures
        self.output = output
        listed = "; ".join(str(f) for f in result.failures)
        count = len(result.failures)
        super().__init__(f"the answer of {prompt} failed {count} guard{'s' if count != 1 else ''}: {listed}")


def output_text(answer: Any) -> tuple[str, str | None]:
    """The text and finish reason of an answer: a string, or a chat completion response (an OpenAI or
    litellm object, or its dict) whose first choice is read."""
    if isinstance(answer, str):
        return answer, None
    choices = answer.get("choices") if isinstance(answer, Mapping) else getattr(answer, "choices", None)
    if choices:
        first = choices[0]
        get = first.get if isinstance(first, Mapping) else lambda k, d=None: getattr(first, k, d)
        message = get("message")
        content = message.get("content") if isinstance(message, Mapping) else getattr(message, "content", None)
        finish = get("finish_reason")
        return ("" if content is None else str(content)), (finish if isinstance(finish, str) else None)
    raise TypeError(f"an answer is a string or a chat completion response, not {type(answer).__name__}")


def check_output(prompt: Prompt, answer: Any, *, finish_reason: str | None = None) -> GuardResult:
    """Check ``answer`` (text, or a chat completion response) against ``prompt``'s output format,
    output schema and guards. Never raises for a bad answer: every problem is a failure."""
    from .evals.assertions import Subject, check

    output, found_reason = output_text(answer)
    schema = prompt.output.get("schema") if isinstance(prompt.output.get("schema"), Mapping) else None
    subject = Subject(output=output, prompt=prompt.name, output_schema=schema,
                      finish_reason=finish_reason if finish_reason is not None else found_reason)
    results = output_checks(prompt, subject)
    data = subject.data if results and results[0].passed else None  # results[0]: output-json, if any
    results += [check(g, subject) for g in prompt.guards]
    failures = tuple(GuardFailure(r.type, r.reason) for r in results if not r.passed and r.weight > 0)
    return GuardResult(not failures, failures, data, tuple(results))


def output_checks(prompt: Prompt, subject: Subject) -> list[AssertionResult]:
    """``output-json`` and ``output-schema`` for a prompt with ``output.format: json`` (none otherwise);
    the parsed JSON goes into ``subject.data``, for the assertions after these."""
    from .evals.assertions import AssertionResult, parse_json_output, schema_problem

    if prompt.output.get("format") != "json":
        return []
    try:
        data = parse_json_output(subject.output)
    except ValueError as e:
        return [AssertionResult("output-json", False, 0.0, f"output is not valid JSON ({e})")]
    subject.data = data
    results = [AssertionResult("output-json", True, 1.0, "output is JSON")]
    if subject.output_schema is not None:
        try:
            problem = schema_problem(data, subject.output_schema)
        except Exception as e:  # noqa: BLE001 - an unusable schema fails the check, never the caller
            problem = str(e)
        results.append(AssertionResult(
            "output-schema", problem is None, float(problem is None),
            f"output does not match output.schema: {problem}" if problem else "output matches output.schema"))
    return results
