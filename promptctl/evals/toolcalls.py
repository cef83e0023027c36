"""``is-valid-openai-tools-call`` and ``tool-call-f1``: the functions a model called, checked as promptfoo
checks them.

The calls come from the answer itself (``message.tool_calls``, recorded with it), or from the output
text when it is a JSON list of calls or an object with ``tool_calls`` (a golden written by hand, or a
``transform``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .assertions import AssertionSetupError, Judge, Outcome, Subject, _show, _threshold, schema_problem

DEFAULT_F1 = 1.0


def _calls_in(value: Any) -> list[Any] | None:
    """The list of tool calls in ``value``: a list, or an object's ``tool_calls``; None otherwise."""
    if isinstance(value, Mapping) and isinstance(value.get("tool_calls"), list):
        return list(value["tool_calls"])
    if isinstance(value, list):
        return value
    return None


def _calls(s: Subject) -> list[Any] | None:
    if s.tool_calls:
        return [dict(c) for c in s.tool_calls]
    try:
        return _calls_in(json.loads(s.output))
    except ValueError:
        return None


def _valid_tools_call(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    calls = _calls(s)
    looks = bool(calls) and all(
        isinstance(c, Mapping) and isinstance(c.get("function"), Mapping)
        and isinstance(c["function"].get("name"), str) and isinstance(c["function"].get("arguments"), str)
        for c in calls or ())
    if not looks:
        return False, 0.0, f"the answer is not a list of tool calls ({{function: {{name, arguments}}}}): {_show(s.output)}"
    functions = {t["function"]["name"]: t["function"] for t in s.tools
                 if isinstance(t, Mapping) and t.get("type", "function") == "function" and isinstance(t.get("function"), Mapping)}
    if not functions:
        return False, 0.0, "the prompt has no `tools:`, but the answer calls some"
    for call in calls or ():
        fn = call["function"]
        name = fn["name"]
        if name not in functions:
            return False, 0.0, f"called {name!r}, but the prompt has no tool of that name (it has {', '.join(sorted(functions))})"
        try:
            args = json.loads(fn["arguments"])
        except ValueError as e:
            return False, 0.0, f"the arguments of {name!r} are not JSON ({e}): {_show(fn['arguments'])}"
        schema = functions[name].get("parameters")
        if isinstance(schema, Mapping):
            problem = schema_problem(args, schema)
            if problem:
                return False, 0.0, f"the call to {name!r} does not match its parameters: {problem}"
    names = ", ".join(c["function"]["name"] for c in calls or ())
    return True, 1.0, f"valid tool calls: {names}"


def tool_names(value: Any) -> set[str]:
    """The names of the tools called in ``value``: OpenAI's ``tool_calls`` (or a list of them),
    Anthropic's ``tool_use`` blocks, Google's ``functionCall``; a JSON text is read first (each line
    that starts a JSON value, failing the whole)."""
    names: set[str] = set()
    if isinstance(value, str):
        try:
            return tool_names(json.loads(value))
        except ValueError:
            for line in value.splitlines():
                if line.strip().startswith(("{", "[")):
                    try:
                        names |= tool_names(json.loads(line.strip()))
                    except ValueError:
                        continue
            return names
    if isinstance(value, Mapping):
        if isinstance(value.get("tool_calls"), list):
            for c in value["tool_calls"]:
                if isinstance(c, Mapping):
                    fn = c.get("function")
                    if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                        names.add(fn["name"])
                    if isinstance(c.get("name"), str):
                        names.add(c["name"])
            return names
        if value.get("type") in ("tool_use", "function_call") and isinstance(value.get("name"), str):
            return {value["name"]}
        call = value.get("functionCall")
        if isinstance(call, Mapping) and isinstance(call.get("name"), str):
            return {call["name"]}
        return names
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, Mapping):
                continue
            fn, call = item.get("function"), item.get("functionCall")
            if item.get("type") == "tool_use" and isinstance(item.get("name"), str):
                names.add(item["name"])
            elif isinstance(call, Mapping) and isinstance(call.get("name"), str):
                names.add(call["name"])
            elif isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                names.add(fn["name"])
            elif isinstance(item.get("name"), str):
                names.add(item["name"])
    return names


def _expected_names(value: Any) -> list[str]:
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",")]
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, Mapping)):
        names = [str(v).strip() for v in value]
    else:
        raise AssertionSetupError("tool-call-f1 needs the expected tool names: a list, or a comma-separated text")
    names = [n for n in names if n]
    if not names:
        raise AssertionSetupError("tool-call-f1 needs at least one expected tool name")
    return names


def _tool_call_f1(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    if "value" not in spec or spec["value"] is None:
        raise AssertionSetupError("tool-call-f1 needs a `value`: the names of the tools the model should call")
    expected = set(_expected_names(spec["value"]))
    actual = tool_names([dict(c) for c in s.tool_calls]) if s.tool_calls else tool_names(s.output)
    shared = len(expected & actual)
    precision = shared / len(actual) if actual else 0.0
    recall = shared / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    limit = _threshold(spec, DEFAULT_F1, "tool-call-f1")
    ok = f1 >= limit - 1e-9
    if inverse:  # promptfoo keeps the F1 as the score of not-tool-call-f1, and inverts only the verdict
        ok = not ok
    called = ", ".join(sorted(actual)) or "(none)"
    return ok, f1, (f"tool-call F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f}); "
                    f"expected {', '.join(sorted(expected))}, called {called}")


CHECKS = {"is-valid-openai-tools-call": _valid_tools_call, "tool-call-f1": _tool_call_f1}
