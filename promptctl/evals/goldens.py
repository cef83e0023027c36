"""Writing goldens into datasets: ``--update-golden``, and ``promptctl review`` accepting a case.

:func:`write_goldens` writes a set of (case, new golden) pairs, optionally with who reviewed them
and when (``reviewed: {by, at}``). Dataset YAML files are edited with ruamel.yaml's round-trip mode
(imported here only), so comments, key order, quoting and indentation stay as they were; only the
changed ``golden`` (and ``reviewed``) values move. Cases from JSONL files get their line rewritten
(key order kept); CSV files get a ``golden`` column (and ``reviewed_by``/``reviewed_at``).
Every file is replaced atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FileFormatError, UsageError

if TYPE_CHECKING:
    from ..model import Case
    from .results import RunResult


@dataclass(frozen=True, slots=True)
class GoldenChange:
    """One case whose golden was rewritten."""

    path: str
    line: int
    case: str
    old: Any
    new: Any


def new_golden(old: Any, output: str, data: Any) -> Any:
    """The golden for an output: JSON data when the old golden was JSON data, else the text."""
    if isinstance(old, (dict, list)) and data is not None:
        return data
    return output


def update_goldens(result: RunResult) -> list[GoldenChange]:
    """Write each case's output into its golden; return what changed (unchanged goldens are left)."""
    if len(result.models) > 1:
        raise UsageError("--update-golden takes one model", hint="drop the extra --model flags")
    if result.version != "working tree":
        raise UsageError("--update-golden writes to the working tree", hint="drop --ref")
    return write_goldens(golden_updates(result))


def golden_updates(result: RunResult) -> list[tuple[Case, Any]]:
    """The (case, new golden) of every case of ``result`` whose output differs from its golden
    (passed or failed cases only: an error or a skipped case has no output to keep)."""
    updates: list[tuple[Case, Any]] = []
    for d in result.datasets:
        cases = {c.id: c for c in d.dataset.cases}
        for r in d.cases:
            if r.output is None or r.status not in ("passed", "failed"):
                continue
            case = cases[r.id]
            value = new_golden(case.golden, r.output, r.data)
            if value != case.golden:
                updates.append((case, value))
    return updates


def write_goldens(
    updates: Sequence[tuple[Case, Any]], *, reviewed: Mapping[str, str] | None = None
) -> list[GoldenChange]:
    """Write each (case, new golden) into the case's file (``case.source``, ``case.line``), one atomic
    rewrite per file; with ``reviewed`` ({by, at}), record it on each case too. Returns what was written."""
    by_file: dict[str, list[tuple[Case, Any]]] = defaultdict(list)
    changes: list[GoldenChange] = []
    for case, value in updates:
        by_file[case.source].append((case, value))
        changes.append(GoldenChange(case.source, case.line, case.id, case.golden, value))
    for path, group in by_file.items():
        if path.endswith(".jsonl"):
            _update_jsonl(Path(path), group, reviewed)
        elif path.endswith(".csv"):
            _update_csv(Path(path), group, reviewed)
        else:
            _update_yaml(Path(path), group, reviewed)
    return changes


def _write(path: Path, text: str) -> None:
    from ..fileio import write_atomic

    write_atomic(path, text.encode("utf-8"), fsync=False, mode=os.stat(path).st_mode & 0o777)


def _round_trip(path: Path) -> tuple[Any, Any]:
    """ruamel.yaml set up to keep ``path``'s layout, and its document."""
    from ..yamlio import round_trip_yaml

    yaml = round_trip_yaml("writing goldens")
    from ruamel.yaml.util import load_yaml_guess_indent

    text = path.read_text(encoding="utf-8")
    _, indent, offset = load_yaml_guess_indent(text)
    yaml.indent(mapping=max(2, (indent or 2) - (offset or 0)), sequence=indent or 2, offset=offset or 0)
    return yaml, yaml.load(text)


def _dump(yaml: Any, data: Any, path: Path) -> None:
    out = io.StringIO()
    yaml.dump(data, out)
    new_text = out.getvalue()
    from ..yamlio import loads

    loads(new_text, path=str(path))  # what we write must still pass the safe loader
    _write(path, new_text)


def _reviewed_mark(reviewed: Mapping[str, str]) -> Any:
    """``reviewed: {by: Rita <rita@example.com>, at: "2026-12-06T20:15:00Z"}``: as `promptctl fmt` writes
    it (quotes only where plain text would read back as something else, as a timestamp), so that the
    fmt hook has nothing to change after a review."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    from ..fmt import plain_where_safe

    mark = CommentedMap((k, plain_where_safe(DoubleQuotedScalarString(v), flow=True)) for k, v in reviewed.items())
    mark.fa.set_flow_style()
    return mark


def add_cases(path: Path, cases: Sequence[tuple[str, Mapping[str, Any], Any]], *, reviewed: Mapping[str, str] | None = None) -> None:
    """Append new cases ``(id, inputs, golden)`` to the inline ``cases`` of the dataset YAML at
    ``path`` (comments and layout kept), each with ``reviewed`` when given; one atomic rewrite."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    yaml, data = _round_trip(path)
    if data.get("cases") is None:
        data["cases"] = []
    for case_id, inputs, golden in cases:
        item = CommentedMap()
        item["id"] = case_id
        item["inputs"] = dict(inputs)
        item["golden"] = LiteralScalarString(golden) if isinstance(golden, str) and "\n" in golden else golden
        if reviewed is not None:
            item["reviewed"] = _reviewed_mark(reviewed)
        data["cases"].append(item)
    _dump(yaml, data, path)


def _update_yaml(path: Path, updates: Sequence[tuple[Case, Any]], reviewed: Mapping[str, str] | None = None) -> None:
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString,
        LiteralScalarString,
        SingleQuotedScalarString,
    )

    yaml, data = _round_trip(path)
    text_lines = path.read_text(encoding="utf-8").splitlines()
    wanted = {case.id: value for case, value in updates}
    for item in data.get("cases") or []:
        if not hasattr(item, "get") or "id" not in item or str(item["id"]) not in wanted:
            continue
        value = wanted[str(item["id"])]
        old = item.get("golden")
        if isinstance(value, str):
            if "\n" in value:
                value = LiteralScalarString(value)
            elif isinstance(old, DoubleQuotedScalarString):
                value = DoubleQuotedScalarString(value)
            elif isinstance(old, SingleQuotedScalarString):
                value = SingleQuotedScalarString(value)
        elif isinstance(value, (dict, list)) and getattr(getattr(old, "fa", None), "flow_style", lambda: False)():
            value = _flow(value)  # JSON data written as the old golden was: on one line, in braces
        if "golden" in item:
            gap = _comment_gap(item, "golden", text_lines)
            item["golden"] = value
            if gap is not None:
                _keep_comment_gap(yaml, item, "golden", value, gap)
        else:
            keys = list(item)
            at = keys.index("inputs") + 1 if "inputs" in keys else len(keys)
            item.insert(at, "golden", value)
        if reviewed is not None:
            mark = _reviewed_mark(reviewed)
            if "reviewed" in item:
                item["reviewed"] = mark
            else:
                item.insert(list(item).index("golden") + 1, "reviewed", mark)
    _dump(yaml, data, path)


def _flow(value: Any) -> Any:
    """``value`` (JSON data) as ruamel data that is written in flow style: ``{a: 1, b: [2]}``."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    made = CommentedMap(value) if isinstance(value, dict) else CommentedSeq(value)
    made.fa.set_flow_style()
    return made


def _comment_gap(item: Any, key: str, lines: list[str]) -> tuple[int, int] | None:
    """Where ``item[key]``'s value starts and how many spaces were between it and the comment after it
    on its line (``golden: old  # kept`` -> (col, 2)); None without such a comment."""
    token = (item.ca.items.get(key) or [None, None, None])[2]
    if token is None or not str(token.value).startswith("#"):
        return None
    line, col = item.lc.value(key)
    if line >= len(lines) or token.column <= col:
        return None
    written = lines[line][col:token.column].rstrip()
    return col, token.column - col - len(written)


def _keep_comment_gap(yaml: Any, item: Any, key: str, value: Any, where: tuple[int, int]) -> None:
    """Put the comment after ``item[key]``'s new value as far from it as it was from the old one:
    ruamel keeps a comment's column, which after a shorter value is a wide gap, and after a longer one
    a single space."""
    if isinstance(value, str) and "\n" in value:
        return  # a block scalar: the comment stays after its indicator
    out = io.StringIO()
    yaml.dump({key: value}, out)
    first = out.getvalue().split("\n", 1)[0]
    shown = first[len(key) + 2:] if first.startswith(f"{key}: ") else None
    if shown is None:
        return
    col, gap = where
    item.ca.items[key][2].column = col + len(shown) + max(1, gap)


def _update_jsonl(path: Path, updates: Sequence[tuple[Case, Any]], reviewed: Mapping[str, str] | None = None) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    for case, value in updates:
        index = case.line - 1
        try:
            row = json.loads(lines[index])
        except (IndexError, ValueError):
            raise FileFormatError("the case moved while the run was going on", path=str(path), line=case.line) from None
        if not isinstance(row, dict) or str(row.get("id", case.id)) != case.id:
            raise FileFormatError(f"case {case.id!r} moved while the run was going on", path=str(path), line=case.line,
                                  hint="run the test again")
        row["golden"] = value
        if reviewed is not None:
            if "reviewed" not in row:  # right after the golden
                items = list(row.items())
                at = list(row).index("golden") + 1
                row = dict(items[:at] + [("reviewed", None)] + items[at:])
            row["reviewed"] = dict(reviewed)
        lines[index] = json.dumps(row, ensure_ascii=False)
    _write(path, "\n".join(lines))


def _update_csv(path: Path, updates: Sequence[tuple[Case, Any]], reviewed: Mapping[str, str] | None = None) -> None:
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
    rows: list[list[str]] = []
    starts: list[int] = []  # the file line each row starts on, as the dataset loader counts them
    while True:
        n = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        rows.append(row)
        starts.append(n)
    if not rows:
        return
    header = rows[0]
    names = ["golden"] + ([] if reviewed is None else ["reviewed_by", "reviewed_at"])
    for name in names:
        if name not in header:
            header.append(name)
    cols = [header.index(name) for name in names]
    wanted = {case.line: value for case, value in updates}
    for row, line in zip(rows[1:], starts[1:], strict=True):
        if line in wanted:
            value = wanted[line]
            cells = [value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)]
            if reviewed is not None:
                cells += [reviewed["by"], reviewed["at"]]
            while len(row) < len(header):
                row.append("")
            for col, cell in zip(cols, cells, strict=True):
                row[col] = cell
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    _write(path, out.getvalue())
