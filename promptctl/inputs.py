"""Prompt inputs: the short form, defaults, and validation of values.

Standard library only: the runtime validates inputs with exactly the same code
as the CLI, and the runtime may not import jsonschema. The checks cover the
JSON Schema keywords that input declarations use: ``type``, ``enum``, ``const``,
``minLength``, ``maxLength``, ``pattern``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``minItems``, ``maxItems``,
``items``, ``properties``, ``required`` and ``additionalProperties``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import InputError

SHORT_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


def normalize_inputs(raw: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Expand the short form ``name: string`` into ``{"type": "string"}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in (raw or {}).items():
        out[name] = {"type": spec} if isinstance(spec, str) else dict(spec)
    return out


def is_required(schema: Mapping[str, Any]) -> bool:
    """An input is required unless it declares a default."""
    return "default" not in schema


def validate_inputs(
    schemas: Mapping[str, Mapping[str, Any]],
    values: Mapping[str, Any],
    *,
    prompt: str,
) -> dict[str, Any]:
    """Check ``values`` against the declared inputs and return them with defaults applied.

    Raises one :class:`InputError` listing every missing, unexpected and
    mistyped input.
    """
    problems: list[str] = []
    result: dict[str, Any] = {}
    for name, schema in schemas.items():
        if name in values:
            problems.extend(check_value(schema, values[name], name))
            result[name] = values[name]
        elif "default" in schema:
            result[name] = copy.deepcopy(schema["default"])
        else:
            problems.append(f"missing required input {name!r}" + _describe(schema))
    for name in values:
        if name not in schemas:
            declared = ", ".join(schemas) or "none"
            problems.append(f"unexpected input {name!r} (declared inputs: {declared})")
    if problems:
        raise InputError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} with the inputs of {prompt!r}",
            problems=problems,
        )
    return result


def _describe(schema: Mapping[str, Any]) -> str:
    bits = []
    if "type" in schema:
        bits.append(_type_text(schema["type"]))
    if "description" in schema:
        bits.append(str(schema["description"]))
    return f" ({': '.join(bits)})" if bits else ""


def _type_text(t: Any) -> str:
    return " or ".join(t) if isinstance(t, list) else str(t)


def _is_type(value: Any, t: str) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "array":
        return isinstance(value, (list, tuple))
    if t == "object":
        return isinstance(value, Mapping)
    if t == "null":
        return value is None
    return True  # an unknown type name is lint's business, not the renderer's


def _kind(value: Any) -> str:
    for t in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, t):
            return t
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def same_value(a: Any, b: Any) -> bool:
    """JSON equality: like ``==``, except that a boolean never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


#: the keys of an input's schema that constrain nothing check_value looks at
_NO_CONSTRAINT = frozenset({"type", "description", "default", "title", "examples"})


def check_value(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
    """Every way ``value`` breaks ``schema``; ``where`` names it in the messages."""
    problems: list[str] = []
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_is_type(value, x) for x in types):
            return [f"input {where!r} must be {_type_text(t)}, got {_kind(value)} {_show(value)}"]
    if schema.keys() <= _NO_CONSTRAINT:  # `q: string`: nothing else to check
        return problems
    if "enum" in schema and not any(same_value(value, e) for e in schema["enum"]):
        allowed = ", ".join(repr(v) for v in schema["enum"])
        problems.append(f"input {where!r} must be one of {allowed}, got {_show(value)}")
    if "const" in schema and not same_value(value, schema["const"]):
        problems.append(f"input {where!r} must be {schema['const']!r}, got {_show(value)}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"input {where!r} is shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(
                f"input {where!r} is {len(value)} characters, over the maximum of {schema['maxLength']}"
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"input {where!r} does not match the pattern {schema['pattern']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ok: Callable[[Any, Any], bool]
        for key, ok, text in (
            ("minimum", lambda v, b: v >= b, "at least"),
            ("maximum", lambda v, b: v <= b, "at most"),
            ("exclusiveMinimum", lambda v, b: v > b, "more than"),
            ("exclusiveMaximum", lambda v, b: v < b, "less than"),
        ):
            if key in schema and not ok(value, schema[key]):
                problems.append(f"input {where!r} must be {text} {schema[key]}, got {value}")
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"input {where!r} needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"input {where!r} has more than {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                problems.extend(check_value(items, item, f"{where}[{i}]"))
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in value:
                problems.append(f"input {where!r} is missing the field {key!r}")
        for key, item in value.items():
            if key in props:
                problems.extend(check_value(props[key], item, f"{where}.{key}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"input {where!r} has an unexpected field {key!r}")
            elif isinstance(schema.get("additionalProperties"), Mapping):
                problems.extend(check_value(schema["additionalProperties"], item, f"{where}.{key}"))
    return problems
