"""The JSON Schemas in ``schemas/``: finding them, and validating loaded files against them.

The schemas are the single source of validation for project files. jsonschema is
imported only when a file is validated, and each validator is built once.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, SchemaError

if TYPE_CHECKING:
    from .yamlio import Document

NAMES = ("project", "prompt", "dataset", "bundle", "channel-record")


def schema_dir() -> Path:
    """The folder holding the schemas: inside the installed package, or the repository's ``schemas/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / "prompt.schema.json").is_file():
            return candidate
    raise FileNotFoundError("promptctl's schemas/ folder is missing from the installation")


def schema_path(name: str) -> Path:
    """The file of schema ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise NotFoundError(
            f"no schema named {name!r}",
            suggestions=difflib.get_close_matches(name, NAMES, n=3, cutoff=0.4),
            hint="run `promptctl schema` to list them",
        )
    return schema_dir() / f"{name}.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name``."""
    with open(schema_path(name), encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


class Invalid(ValueError):
    """Raised by a compiled check: the data does not satisfy the schema (what fastjsonschema raises)."""

    def __init__(self, message: str, value: Any = None, name: Any = None, definition: Any = None, rule: Any = None):
        super().__init__(message)
        self.value, self.name, self.definition, self.rule = value, name, definition, rule


#: the version of what _generate makes of fastjsonschema's code (part of the cache key)
GENERATED = "2"


def _generate(name: str) -> Any:
    """The check of schema ``name`` as a code object: fastjsonschema's generated source (draft-07),
    raising :class:`Invalid`, so that running it needs neither fastjsonschema nor its imports."""
    import copy
    import re

    import fastjsonschema

    # fastjsonschema annotates the schema it compiles: give it a copy.
    schema = {**copy.deepcopy(load_schema(name)), "$schema": "http://json-schema.org/draft-07/schema#"}
    source = fastjsonschema.compile_to_code(schema)
    # its exceptions are given by _fast_check's namespace: the check runs without importing fastjsonschema
    source = re.sub(r"^from fastjsonschema import .*$", "", source, flags=re.M)
    # and Decimal too (the namespace's stands in): promptctl's loaders make no Decimal, so a decimal
    # import in every process that checks a file would be for nothing
    source = re.sub(r"^from decimal import Decimal$", "", source, flags=re.M)
    entry = re.search(r"^def (\w+)\(", source, re.M)
    assert entry is not None, "fastjsonschema generated no function"
    source += f"\n__check__ = {entry.group(1)}\n"
    return compile(source, f"<promptctl schema {name}>", "exec")


def _cache_dirs() -> list[Path]:
    """Where compiled checks are kept (see :func:`~promptctl.cachedir.cache_dirs`): last, beside the schemas."""
    from .cachedir import cache_dirs

    return cache_dirs("schemas", schema_dir() / "__pycache__")


def _cache_name(name: str) -> str:
    """Keyed by the schema's bytes, the Python version (marshal's format) and fastjsonschema's version
    (its version.py, read without importing the package)."""
    import hashlib
    import importlib.util
    import sys

    digest = hashlib.sha256(schema_path(name).read_bytes())
    digest.update(sys.implementation.cache_tag.encode())
    digest.update(GENERATED.encode())
    spec = importlib.util.find_spec("fastjsonschema")
    if spec is not None and spec.origin:
        try:
            digest.update(Path(spec.origin).with_name("version.py").read_bytes())
        except OSError:
            pass
    return f"{name}.{digest.hexdigest()[:16]}.check"


def _compiled(name: str) -> Any:
    """The code object of schema ``name``'s check: from the cache when it is there and sound, else
    generated (about 40 ms for the five schemas) and written to the first cache folder that takes it."""
    import marshal

    from .cachedir import read_cached, write_cached

    key = _cache_name(name)
    dirs = _cache_dirs()
    data = read_cached(dirs, key)
    if data is not None:
        try:
            code = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            code = None
        if getattr(code, "co_filename", None) == f"<promptctl schema {name}>":
            return code
    code = _generate(name)
    write_cached(dirs, key, marshal.dumps(code))
    return code


@cache
def _fast_check(name: str) -> Any:
    """A compiled validity check (fastjsonschema's generated code): about ten times faster than jsonschema.

    It speaks draft-07, which covers every keyword these schemas use (a test
    guards that); jsonschema still explains the errors of a file that fails.
    The generated code is compiled once and cached (see :func:`_compiled`), not in every process.
    """
    return _namespace(name)["__check__"]


class _NoDecimal:
    """What the compiled checks take for ``decimal.Decimal`` (a number type to them): no value is one."""


@cache
def _namespace(name: str) -> dict[str, Any]:
    """The compiled check of schema ``name``, run: its functions, one per definition."""
    namespace: dict[str, Any] = {"JsonSchemaValueException": Invalid, "JsonSchemaValuesException": Invalid,
                                 "Decimal": _NoDecimal}
    exec(_compiled(name), namespace)
    return namespace


def definition_check(name: str, definition: str) -> Any:
    """The compiled check of one definition of schema ``name`` (``$defs/<definition>``): it returns,
    or raises :class:`Invalid`. None when the compiled code has no function of its own for it."""
    suffix = "___defs_" + definition
    found = [f for key, f in _namespace(name).items() if key.startswith("validate_") and key.endswith(suffix)]
    return found[0] if len(found) == 1 else None


def is_valid(data: Any, name: str) -> bool:
    """Whether ``data`` satisfies schema ``name`` (the fast path; no error details)."""
    try:
        _fast_check(name)(data)
    except Invalid:
        return False
    return True


@cache
def _validator(name: str) -> Any:
    from .jsonschemas import load

    return load().Draft202012Validator(load_schema(name))


def json_path(parts: Any) -> str:
    """``messages[1].role`` for the path ``("messages", 1, "role")``; ``$`` for the root."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "$"


def schema_errors(doc: Document, name: str) -> list[SchemaError]:
    """Every violation of schema ``name`` in ``doc``, each located at its line and column."""
    if is_valid(doc.data, name):
        return []
    validator = _validator(name)
    found = []
    for error in validator.iter_errors(doc.data):
        for picked in _pick_branch(error, load_schema(name)):
            found.extend(_to_schema_errors(doc, picked, name))
    found.sort(key=lambda e: (e.line or 0, e.col or 0))
    return found


def validate(doc: Document, name: str) -> None:
    """Raise the first :class:`SchemaError` of ``doc`` against schema ``name``, if any."""
    errors = schema_errors(doc, name)
    if errors:
        raise errors[0]


def _pick_branch(error: Any, root: dict[str, Any]) -> list[Any]:
    """For a oneOf/anyOf failure, every error of the branch the author meant (a message with both
    ``role: sytem`` and ``contnet:`` gets both said), in document order.

    The branch is the one whose properties share the most keys with the
    instance (``history`` picks the history splice, ``file`` the file
    reference); jsonschema's own pick often stops at "not valid under any".
    """
    if not (error.context and error.validator in ("oneOf", "anyOf")):
        return [error]
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    keys = set(error.instance) if isinstance(error.instance, dict) else set()

    def score(index: int) -> tuple[int, int]:
        branch = _resolve(error.validator_value[index], root)
        return len(keys & set(branch.get("properties", {}))), -len(branches[index])

    out: list[Any] = []
    for sub in branches[max(branches, key=score)]:
        out.extend(_pick_branch(sub, root))
    return out


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {})
        return node if isinstance(node, dict) else {}
    return schema


def _to_schema_errors(doc: Document, error: Any, name: str) -> list[SchemaError]:
    path = tuple(error.absolute_path)
    where = json_path(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        found = []
        for key in extras:
            mark = doc.mark(path + (key,), key=True)
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
            field = json_path(path + (key,))
            # a name already written beside it is no fix (the check may have filled in defaults: ask the document)
            key_fix = _typo_fix(key, [a for a in allowed if path + (a,) not in doc.keys])
            found.append(
                SchemaError(
                    f"unknown field {field!r}",
                    json_path=field,
                    path=doc.path,
                    line=mark.line,
                    col=mark.col,
                    hint=hint,
                    fix=key_fix,
                )
            )
        if found:
            return found
    mark = doc.mark(path)
    message = error.message
    hint = f"see `promptctl schema {name}` for the format"
    fix: tuple[str, str] | None = None
    written = yaml_read_as(doc, path, error.instance)
    if error.validator == "type":
        message = f"{_short(error.instance)} is not of type {_types(error.validator_value)}"
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if written is not None and "string" in expected:
            hint = f"YAML reads the unquoted {written} as {json.dumps(error.instance)}: quote it, {json.dumps(written)}"
            fix = (written, json.dumps(written))
    elif error.validator == "enum":
        message = f"{_short(error.instance)} is not one of " + ", ".join(
            json.dumps(v) for v in error.validator_value
        )
        if written is not None and written in error.validator_value:
            hint = f"YAML reads the unquoted {written} as {json.dumps(error.instance)}: quote it, {json.dumps(written)}"
            fix = (written, json.dumps(written))
        elif written is not None and any(isinstance(v, str) for v in error.validator_value):
            hint = (f"YAML reads the unquoted {written} as {json.dumps(error.instance)}, and {json.dumps(written)} "
                    "is not one of them either")
        if isinstance(error.instance, str):
            fix = _typo_fix(error.instance, [v for v in error.validator_value if isinstance(v, str)])
            close = difflib.get_close_matches(error.instance, [str(v) for v in error.validator_value], n=1)
            if close:
                hint = f"did you mean {close[0]!r}?"
    elif error.validator == "required":
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        message = "missing required field " + ", ".join(repr(k) for k in missing)
    return [
        SchemaError(
            f"{where}: {message}",
            json_path=where,
            path=doc.path,
            line=mark.line,
            col=mark.col,
            hint=hint,
            fix=fix,
        )
    ]


#: How alike a typo and the one allowed word must be for ``lint --fix`` to put the word in (difflib's ratio).
FIX_SIMILARITY = 0.8


def _typo_fix(written: str, allowed: list[str]) -> tuple[str, str] | None:
    """``(written, word)`` when exactly one allowed word is close to ``written`` (``contnet`` ->
    ``content``, ``sytem`` -> ``system``): a fix with one meaning. None when none is, or several are."""
    close = difflib.get_close_matches(written, allowed, n=2, cutoff=FIX_SIMILARITY)
    return (written, close[0]) if len(close) == 1 else None


#: a plain scalar as written: what YAML 1.1 may read as a boolean or a number
_PLAIN_WORD = re.compile(r"[^\s,\[\]{}#]+")


def yaml_read_as(doc: Document, path: tuple[Any, ...], value: Any) -> str | None:
    """The word written at ``path`` when ``value`` is a boolean or number that YAML made of an
    unquoted word (``on``, ``NO``, ``1.10``, ``12:30``), else None."""
    if not isinstance(value, (bool, int, float)):
        return None
    mark = doc.values.get(path)
    if mark is None or mark.style is not None:
        return None
    lines = doc.text.split("\n")
    found = _PLAIN_WORD.match(lines[mark.line - 1], mark.col - 1) if mark.line <= len(lines) else None
    return found.group() if found else None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _types(value: Any) -> str:
    if isinstance(value, list):
        return " or ".join(value)
    return str(value)
