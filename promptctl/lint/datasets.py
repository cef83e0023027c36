"""Dataset rules (PC501-PC508): prompt names, case inputs, assertion types, case ids, goldens, case files.

Cases from JSONL and CSV files are read with the project loader's own row
parsers; a bad line is reported and reading goes on with the next one, so every
problem in a case file is found in one run.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from ..errors import FileFormatError, IncludeError, InputError
from ..inputs import validate_inputs
from ..project import _csv_cases, _jsonl_cases
from ..schemas import load_schema, yaml_read_as

if TYPE_CHECKING:
    from ..yamlio import Document
    from .base import Linter

SIMILAR = ("similar", "not-similar")


@cache
def assertion_types() -> tuple[str, ...]:
    """The assertion types the dataset schema allows (the schema is the single source)."""
    return tuple(load_schema("dataset")["$defs"]["assertion"]["properties"]["type"]["enum"])


def guard_types() -> tuple[str, ...]:
    """The types a prompt's ``guards`` may use (the prompt schema is the single source)."""
    return tuple(load_schema("prompt")["$defs"]["guard"]["properties"]["type"]["enum"])


def check_guards(lin: Linter, rel: str, doc: Document) -> None:
    """PC503 and PC508 for a prompt's ``guards``, as for a dataset's assertions."""
    if isinstance(doc.data, dict):
        _check_types(lin, rel, doc.data.get("guards"), _doc_where(doc, ("guards",)), guards=True)


@dataclass(slots=True)
class _Case:
    id: str
    inputs: Mapping[str, Any]
    golden: Any
    asserts: list[Any]
    rel: str
    line: int
    col: int = 1
    csv: bool = False
    extra: list[Any] = field(default_factory=list)
    at: tuple[str | int, ...] | None = None  # where its inputs are in the dataset file (an inline case)


def _yaml_typed(doc: Document, inputs: Mapping[str, Any], case: _Case,
                defaults: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(input, as written)`` for each of the case's inputs (or the dataset's default inputs) that the
    prompt declares as a string and YAML read as a boolean or number because it is unquoted: ``NO``,
    ``on``, ``1.10``, ``0123``, ``12:30``. (Not in JSONL and CSV files: JSON says what it means, CSV
    is text.)"""
    found = []
    for name, spec in inputs.items():
        types = spec.get("type") if isinstance(spec, Mapping) else None
        types = types if isinstance(types, list) else [types]
        if "string" not in types:
            continue
        if name in case.inputs:  # the case's own value (a JSONL or CSV row's is what it says)
            if case.at is None:
                continue
            value, path = case.inputs[name], (*case.at, name)
        elif name in defaults:
            value, path = defaults[name], ("defaults", "inputs", name)
        else:
            continue
        if not isinstance(value, (bool, int, float)) or ("boolean" if isinstance(value, bool) else "number") in types:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and "integer" in types:
            continue
        written = yaml_read_as(doc, path, value)  # None when quoted already
        if written is not None:
            found.append((name, written))
    return found


def _kind_of(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "a number"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def case_file_rels(lin: Linter, rel: str) -> list[str]:
    """The project-relative paths of the case files dataset ``rel`` names."""
    doc = lin.doc(rel)
    if doc is None or not isinstance(doc.data, dict) or not isinstance(doc.data.get("cases"), list):
        return []
    base = posixpath.dirname(rel)
    return [
        posixpath.normpath(posixpath.join(base, c["file"]))
        for c in doc.data["cases"]
        if isinstance(c, dict) and isinstance(c.get("file"), str)
    ]


def _check_types(lin: Linter, rel: str, asserts: Any, where: Any, *, guards: bool = False) -> None:
    """PC503 for each assertion whose type is not a known one (for ``guards``, not a guard type);
    ``where(i)`` gives its line and column."""
    if not isinstance(asserts, list):
        return
    known = assertion_types()
    allowed = guard_types() if guards else known
    for i, a in enumerate(asserts):
        kind = a.get("type") if isinstance(a, dict) else None
        if kind == "assert-set" and not guards and isinstance(a.get("assert"), list):
            _check_types(lin, rel, a["assert"], lambda _j, i=i: where(i))  # an assert-set's own: at the set
        if isinstance(kind, str) and kind in known and kind not in allowed:
            line, col = where(i)
            lin.add("PC503", rel, line, col,
                    f"`{kind}` cannot be a guard: guards run in the application on every answer, so they take "
                    "only the deterministic types (" + ", ".join(t for t in allowed if not t.startswith("not-"))
                    + ", and their not- forms); check it in a dataset instead")
        elif isinstance(kind, str) and kind not in allowed:
            close = difflib.get_close_matches(kind, allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "see the assertion types in docs/assertions.md"
            line, col = where(i)
            lin.add("PC503", rel, line, col, f"unknown {'guard' if guards else 'assertion'} type {kind!r}; {hint}")
        elif isinstance(kind, str) and isinstance(a.get("value"), str) and a["value"].startswith("file://"):
            problem = _file_problem(lin, rel, kind, a["value"])
            if problem:
                line, col = where(i)
                lin.add("PC509", rel, line, col, problem)
        elif isinstance(kind, str) and "value" in a and _empty_value(kind.removeprefix("not-"), a["value"]):
            line, col = where(i)
            lin.add("PC508", rel, line, col,
                    f"`{kind}` with an empty value would pass on every output; give the text to look for, "
                    "or remove the assertion")


def _file_problem(lin: Linter, rel: str, kind: str, value: str) -> str | None:
    """Why a ``file://`` value cannot be read (None when it can), as ``promptctl test`` would read it."""
    from ..evals.assertions import AssertionSetupError
    from ..evals.values import file_value

    class _Project:  # what file_value reads: the linted version's files
        source = lin.source

    try:
        file_value({"type": kind, "value": value}, _Project(), posixpath.dirname(rel))  # type: ignore[arg-type]
    except AssertionSetupError as e:
        return f"{e}; paths are relative to the folder of the file the assertion is in"
    return None


TEXT_CHECKS = ("contains", "icontains", "starts-with", "regex")
LIST_CHECKS = ("contains-any", "contains-all", "icontains-any", "icontains-all")


def _empty_value(kind: str, value: Any) -> bool:
    """An assertion ``value`` that every output satisfies: ``contains: ""``, or an empty list item."""
    if kind in TEXT_CHECKS:
        return isinstance(value, str) and not value
    if kind in LIST_CHECKS:
        if isinstance(value, str):
            import csv

            items = [v.strip() for row in csv.reader([value], skipinitialspace=True) for v in row]
        else:
            items = value if isinstance(value, list) else [value]
        return not items or any(item == "" for item in items)
    return False


def _doc_where(doc: Document, path: tuple[Any, ...]) -> Any:
    def where(i: int) -> tuple[int, int]:
        mark = doc.mark(path + (i, "type"))
        return mark.line, mark.col

    return where


def _coerce(schemas: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """CSV cells are text: read a cell as a number or boolean where the input wants one."""
    out = dict(values)
    for name, value in values.items():
        schema = schemas.get(name)
        if not isinstance(value, str) or not isinstance(schema, Mapping):
            continue
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        text = value.strip()
        if "boolean" in types and text.lower() in ("true", "false"):
            out[name] = text.lower() == "true"
        elif "integer" in types or "number" in types:
            try:
                out[name] = int(text)
            except ValueError:
                try:
                    out[name] = float(text)
                except ValueError:
                    pass
    return out


def _row_assert_type(line: str, message: str) -> str | None:
    """The unknown assertion type a JSONL row was refused for, or None for any other problem."""
    m = re.match(r"assert\[(\d+)\]\.type: ", message)
    if m is None:
        return None
    try:
        kind = json.loads(line)["assert"][int(m.group(1))]["type"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return kind if isinstance(kind, str) and kind not in assertion_types() else None


def _file_cases(lin: Linter, ds_rel: str, doc: Document, index: int, file: Any) -> list[_Case]:
    """The cases of one ``{file: ...}`` reference; problems become findings."""
    from . import security

    if not isinstance(file, str):
        return []
    mark = doc.mark(("cases", index, "file"))
    rel = posixpath.normpath(posixpath.join(posixpath.dirname(ds_rel), file))
    if file.startswith("/") or rel == ".." or rel.startswith("../"):
        lin.add("PC507", ds_rel, mark.line, mark.col,
                f"case file {file!r} is outside the project; case files are paths relative to the dataset")
        return []
    try:
        lin.source.confine(rel, "")
    except IncludeError as e:
        lin.add("PC507", ds_rel, mark.line, mark.col, f"case file {file!r}: {e.message}")
        return []
    text = lin.text(rel, report=False)
    if text is None:
        error = lin.read_error(rel)
        if error is None or error.message == "file not found":
            lin.add("PC507", ds_rel, mark.line, mark.col,
                    f"case file {file!r} not found ({lin.source.display(rel)}); fix the path, relative to the dataset")
        else:
            lin.text(rel)  # PC101 on the case file
        return []
    security.scan_file(lin, rel)
    shown = lin.source.display(rel)
    if rel.endswith(".csv"):
        try:
            return [_Case(c.id, c.inputs, c.golden, list(c.asserts), rel, c.line, csv=True)
                    for c in _csv_cases(text, shown)]
        except FileFormatError as e:
            lin.add_error("PC102", rel, e)
            return []
    lines = text.split("\n")
    rows = []
    start = 0  # lines before this one are read
    while True:
        try:
            rows.extend(_jsonl_cases("\n" * start + "\n".join(lines[start:]), shown))
            break
        except FileFormatError as e:
            bad = e.line or start + 1
            kind = _row_assert_type(lines[bad - 1] if bad <= len(lines) else "", e.message)
            if kind is not None:
                _check_types(lin, rel, [{"type": kind}], lambda i, line=bad: (line, 1))
            else:
                lin.add_error("PC101" if e.message.startswith("invalid JSON") else "PC102", rel, e)
            if bad - 1 > start:
                rows.extend(_jsonl_cases("\n" * start + "\n".join(lines[start:bad - 1]), shown))
            start = bad
    cases = []
    for c in rows:
        cases.append(_Case(c.id, c.inputs, c.golden, list(c.asserts), rel, c.line))
        _check_types(lin, rel, list(c.asserts), lambda i, line=c.line: (line, 1))
    return cases


def check_dataset(lin: Linter, rel: str) -> None:
    """Every dataset rule for the dataset file ``rel``."""
    from . import security

    doc = lin.doc(rel)
    security.scan_file(lin, rel)
    if doc is None:
        return
    if not isinstance(doc.data, dict):
        lin.add("PC102", rel, 1, 1, "a dataset must be a mapping with `prompt` and `cases`")
        return
    lin.schema_check(rel, doc, "dataset")
    data = doc.data
    name = data.get("prompt")
    info = lin.prompt_info(name) if isinstance(name, str) else None
    if isinstance(name, str) and info is None:
        names = sorted(lin.prompt_files)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = ("did you mean " + ", ".join(repr(c) for c in close) + "?") if close else (
            "prompts are named by their path under the prompt root, without .prompt.yaml")
        mark = doc.mark(("prompt",))
        lin.add("PC501", rel, mark.line, mark.col, f"no prompt named {name!r}; {hint}")
    prompt = info.prompt if info is not None else None
    defaults = _mapping(data.get("defaults"))
    default_inputs = _mapping(defaults.get("inputs"))
    default_asserts = _items(defaults.get("assert"))
    _check_types(lin, rel, default_asserts, _doc_where(doc, ("defaults", "assert")))
    cases: list[_Case] = []
    for i, raw in enumerate(_items(data.get("cases"))):
        if not isinstance(raw, dict):
            continue
        own = _items(raw.get("assert"))
        _check_types(lin, rel, own, _doc_where(doc, ("cases", i, "assert")))
        if "file" in raw:
            for case in _file_cases(lin, rel, doc, i, raw["file"]):
                case.extra = own
                cases.append(case)
        elif "id" in raw:
            mark = doc.mark(("cases", i))
            inputs = _mapping(raw.get("inputs"))
            cases.append(_Case(str(raw["id"]), inputs, raw.get("golden"), own, rel, mark.line, mark.col,
                               at=("cases", i, "inputs")))
    seen: dict[str, _Case] = {}
    defaults_said: set[str] = set()  # default inputs already said to be read as a boolean or number
    for case in cases:
        first = seen.setdefault(case.id, case)
        if first is not case:
            lin.add("PC504", case.rel, case.line, case.col,
                    f"duplicate case id {case.id!r} (first at {lin.source.display(first.rel)}:{first.line}); "
                    "give every case a unique id")
        if prompt is not None and lin.on("PC502"):
            values = {**default_inputs, **case.inputs}
            if case.csv:
                values = _coerce(prompt.inputs, values)
            for name, written in _yaml_typed(doc, prompt.inputs, case, default_inputs):
                values[name] = written  # checked as the string it was meant to be: one finding, this one
                in_case = name in case.inputs
                if not in_case and name in defaults_said:  # a default is said once, where it is written
                    continue
                if not in_case:
                    defaults_said.add(name)
                value = (case.inputs if in_case else default_inputs)[name]
                mark = doc.mark((*case.at, name) if in_case and case.at else ("defaults", "inputs", name))
                whose = f"case {case.id!r}" if in_case else "defaults.inputs"
                lin.add("PC502", rel, mark.line, mark.col,
                        f"{whose}: input {name!r} must be a string, but YAML reads the unquoted {written} as "
                        f"{_kind_of(value)} {json.dumps(value)}; quote it: {json.dumps(written)}",
                        fix=(written, json.dumps(written)))
            try:
                validate_inputs(prompt.inputs, values, prompt=prompt.name)
            except InputError as e:
                lin.add("PC502", case.rel, case.line, case.col,
                        f"case {case.id!r}: " + "; ".join(e.problems or [e.message]))
        asserts = [*default_asserts, *case.extra, *case.asserts]
        if case.golden is None and any(
            isinstance(a, dict) and a.get("type") in SIMILAR and a.get("value") is None for a in asserts
        ):
            lin.add("PC505", case.rel, case.line, case.col,
                    f"case {case.id!r} has a `similar` assertion but no `golden` to compare with; "
                    "add a golden or give the assertion a `value`")
