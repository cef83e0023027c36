"""Reports of a test run: plain text, a rich table, JSON, JUnit XML and Markdown; and progress.

Every function returns text (or writes to the stream it is given); the CLI decides where it goes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .goldens import GoldenChange
    from .results import CaseResult, DatasetResult, RunResult

FORMATS = ("text", "json", "junit", "markdown", "html")


# -- small formatting helpers ------------------------------------------------------------------


from ..text import plural as _n  # noqa: E402  ("1 error", "2 errors")


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _threshold(x: float) -> str:
    return f"{x * 100:g}%"


def _cost(x: float | None, priced: bool = True) -> str:
    if x is None or not priced:
        return "-"
    return f"${x:.4f}" if x >= 0.01 else f"${x:.6f}"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}ms"


def _model(m: str | None) -> str:
    return m or "-"


def _one_line(text: str | None, width: int = 120) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _priced(d: DatasetResult) -> bool:
    return any(c.cost_usd is not None for c in d.cases)


def dataset_row(d: DatasetResult) -> dict[str, str]:
    from .results import percentile

    lat = d.latencies
    return {
        "dataset": d.name,
        "prompt": d.dataset.prompt,
        "model": _model(d.model),
        "pass rate": _pct(d.pass_rate),
        "threshold": _threshold(d.dataset.threshold),
        "passed": f"{d.count('passed')}/{d.ran}" + (f" (+{d.count('skipped')} skipped)" if d.count("skipped") else ""),
        "tokens": f"{d.tokens:,}",
        "cost": _cost(d.cost_usd, _priced(d)),
        "p50": _ms(percentile(lat, 0.5)),
        "p95": _ms(percentile(lat, 0.95)),
        "status": "ok" if d.ok else "FAIL",
    }


def summary_line(r: RunResult) -> str:
    cases = r.cases
    counts = {s: sum(c.status == s for c in cases) for s in ("passed", "failed", "error", "skipped")}
    head = "ok" if r.ok else "FAIL"
    why = []
    under = [d for d in r.datasets if not d.ok]
    if r.shard is not None:
        head = f"shard {r.shard[0]}/{r.shard[1]} {head}"
        why.append("thresholds are judged on every shard together by `promptctl report merge`")
    elif len(r.models) > 1:
        if not any(m.meets_thresholds for m in r.comparison()):
            why.append("no model meets every threshold")
    elif under:
        why.append(f"{len(under)} dataset{'s' if len(under) != 1 else ''} under threshold")
    if r.regressions:
        why.append(f"{len(r.regressions)} regression{'s' if len(r.regressions) != 1 else ''}")
    if r.budget_stopped:
        why.append("budget reached")
    text = f"{head}{' (' + ', '.join(why) + ')' if why else ''}: {counts['passed']} passed, {counts['failed']} failed"
    text += f", {_n(counts['error'], 'error')}"
    if counts["skipped"]:
        text += f", {counts['skipped']} skipped"
    text += f"; {_n(r.live_calls, 'live call')}, {r.replayed} replayed, {r.recorded} recorded"
    if r.spent_usd:
        text += f", {_cost(r.spent_usd)} spent on live calls"
    text += f" in {r.duration_s:.1f}s"
    return text


def budget_line(r: RunResult) -> str | None:
    """With --max-cost: what the live calls cost against what they were estimated at, and where it stopped."""
    if r.budget_limit is None:
        return None
    estimate = f"estimated {_cost(r.estimated_usd)} before they were made"
    if not r.budget_stopped:
        return f"budget ${r.budget_limit:g}: live calls cost {_cost(r.spent_usd)} ({estimate})"
    ran = sum(1 for c in r.cases if c.status != "skipped")
    return (
        f"budget reached: stopped before spending more than ${r.budget_limit:g} "
        f"(spent {_cost(r.spent_usd)}, {estimate}); {ran} of {len(r.cases)} cases ran, the rest were skipped"
    )


def _problem_cases(r: RunResult) -> list[tuple[DatasetResult, CaseResult]]:
    return [(d, c) for d in r.datasets for c in d.cases if c.status in ("failed", "error")]


# -- text --------------------------------------------------------------------------------------


def _table(rows: Sequence[dict[str, str]]) -> list[str]:
    if not rows:
        return []
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    for row in rows:
        lines.append("  ".join(row[c].ljust(widths[c]) for c in cols).rstrip())
    return lines


#: How much the text report says: QUIET only the summary line, NORMAL the failing cases with their
#: output and golden, VERBOSE every case.
QUIET, NORMAL, VERBOSE = -1, 0, 1


def _shown_cases(r: RunResult, verbosity: int) -> list[tuple[DatasetResult, CaseResult]]:
    if verbosity >= VERBOSE:
        return [(d, c) for d in r.datasets for c in d.cases]
    return _problem_cases(r)


def case_line(d: DatasetResult, c: CaseResult, multi_model: bool) -> str:
    model = f" [{d.model}]" if multi_model else ""
    if c.status == "passed":  # ids and sources come from the dataset; reasons may quote the output
        facts = [f"score {c.score:.2f}"] + ([_ms(c.latency_ms)] if c.latency_ms is not None else [])
        return f"{d.name}/{c.id}{model} passed ({', '.join(facts)}) ({c.source})"
    return f"{d.name}/{c.id}{model} {c.status}: {_printable(_one_line(c.reason, 300))} ({c.source})"


#: Under a failing case, texts up to this long (on one line) are shown whole; longer ones as a diff.
SHORT_TEXT = 100
DIFF_LINES = 12


def _printable(text: str) -> str:
    """``text`` with control characters (ESC, BEL, …; not newlines or tabs) written as escapes, so a
    model's output cannot move the cursor, retitle the window or hide lines in a terminal."""
    import re

    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def call_name(call: Mapping[str, Any]) -> str:
    fn = call.get("function")
    return str(fn.get("name") if isinstance(fn, Mapping) else call.get("name") or "?")


def call_arguments(call: Mapping[str, Any], indent: int | None = 2) -> str:
    """A tool call's arguments: re-written (indented, or compact with ``indent=None``) when they are
    JSON, as the model wrote them otherwise."""
    fn = call.get("function")
    raw = fn.get("arguments") if isinstance(fn, Mapping) else None
    if not isinstance(raw, str):
        return ""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=indent)
    except ValueError:
        return raw


def case_detail(c: CaseResult) -> list[str]:
    """What a failing case said beside what was expected: the output and the golden, each on a line
    when both are short, else a short diff of golden → output (at most DIFF_LINES lines). Tool calls
    come first, one line each."""
    import difflib
    import textwrap

    if c.output is None or c.status not in ("failed", "error"):
        return []
    if c.tool_calls:
        calls = [f"tool call: {call_name(t)}({_one_line(_printable(call_arguments(t, None)), SHORT_TEXT)})"
                 for t in c.tool_calls]
        return calls + ([f"golden: {_one_line(_printable(golden_text(c.golden)), SHORT_TEXT)}"] if c.golden is not None else [])
    shown_golden, shown_output = comparable(c.golden, c.output)
    golden = None if c.golden is None else _printable(shown_golden)
    output = _printable(shown_output)

    def short(text: str) -> bool:
        return len(text) <= SHORT_TEXT and "\n" not in text.strip()

    if golden is None:
        return [f"output: {_one_line(output, SHORT_TEXT)}", "golden: (none)"]
    if short(output) and short(golden):
        return [f"output: {output.strip()}", f"golden: {golden.strip()}"]
    if golden == output:
        return ["output: (equals the golden)"]

    def lines(text: str) -> list[str]:
        out: list[str] = []
        for line in text.splitlines() or [""]:
            out += textwrap.wrap(line, 80) or [""]
        return out

    diff = list(difflib.unified_diff(lines(golden), lines(output), lineterm="", n=1))[3:]
    shown = [" …" if line.startswith("@@") else line for line in diff]  # "…" between the hunks
    out = ["golden → output:"] + ["  " + line for line in shown[:DIFF_LINES]]
    if len(shown) > DIFF_LINES:
        out.append(f"  … {len(shown) - DIFF_LINES} more lines (see --format html)")
    return out


def header_line(version: str, mode: str, baseline: str | None = None) -> str:
    """``promptctl test: working tree, mode replay``: the first line of a run's report."""
    return f"promptctl test: {version}, mode {mode}" + (f", baseline {baseline}" if baseline else "")


def format_text(r: RunResult, *, max_failures: int = 50, verbosity: int = NORMAL, header: bool = True) -> str:
    """The plain-text report (what a non-TTY stderr and ``-o FILE`` with ``--format text`` get);
    without its header line when ``header`` is false (the progress lines came after it)."""
    if verbosity <= QUIET:
        return summary_line(r) + "\n"
    lines = [header_line(r.version, r.mode, r.baseline_version)] if header else []
    lines += _table([dataset_row(d) for d in r.datasets])
    shown = _shown_cases(r, verbosity)
    limit = len(shown) if verbosity >= VERBOSE else max_failures
    if shown:
        lines.append("")
        lines.append(f"cases ({len(shown)}):" if verbosity >= VERBOSE else f"failed cases ({len(shown)}):")
        for d, c in shown[:limit]:
            lines.append("  " + case_line(d, c, len(r.models) > 1))
            lines += ["      " + line for line in case_detail(c)]
        if len(shown) > limit:
            lines.append(f"  … and {len(shown) - limit} more (see -v, or --format html)")
    lines += _regression_lines(r)
    lines += _comparison_lines(r)
    extra = budget_line(r)
    if extra:
        lines += ["", extra]
    lines += ["", summary_line(r)]
    return "\n".join(lines) + "\n"


def _regression_lines(r: RunResult) -> list[str]:
    if r.baseline_version is None:
        return []
    regs = r.regressions
    lines = ["", f"regressions against {r.baseline_version}: {len(regs) or 'none'}"]
    for g in regs:
        model = f" [{g.model}]" if len(r.models) > 1 else ""
        lines.append(f"  {g.dataset}/{g.case}{model}: passed there, fails now: {_one_line(g.reason, 300)}")
    note = baseline_note(r)
    if note:
        lines.append(f"  note: {note}")
    return lines


def baseline_note(r: RunResult) -> str | None:
    """A warning when baseline cases could not run (e.g. no recording in replay mode): such cases
    can never count as regressions, so a silent gap would hide them."""
    broken = [(d, c) for d in r.baseline for c in d.cases if c.status in ("error", "skipped")]
    if not broken:
        return None
    d, c = broken[0]
    return (f"{len(broken)} case{'s' if len(broken) != 1 else ''} could not run on {r.baseline_version}, so "
            f"{'they' if len(broken) != 1 else 'it'} cannot count as regressions (first: {d.name}/{c.id}: "
            f"{_one_line(c.reason, 200)})")


def _comparison_lines(r: RunResult) -> list[str]:
    if len(r.models) < 2:
        return []
    rows = [
        {
            "model": _model(m.model),
            "pass rate": _pct(m.pass_rate),
            "thresholds": "met" if m.meets_thresholds else "missed",
            "tokens": f"{m.tokens:,}",
            "cost": _cost(m.cost_usd, m.priced),
            "p50": _ms(m.p50),
            "p95": _ms(m.p95),
        }
        for m in r.comparison()
    ]
    return ["", "model comparison:", *("  " + line for line in _table(rows)), r.cheapest_line()]


# -- a rich table (TTY) ------------------------------------------------------------------------


NARROW = 112  # terminal columns below which the rich table gives way to the plain report


def print_rich(r: RunResult, stream: IO[str], *, verbosity: int = NORMAL) -> None:
    """The report as rich tables, for a terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False)
    if verbosity <= QUIET:
        console.print(f"[bold {'green' if r.ok else 'red'}]{_escape(summary_line(r))}[/]")
        return
    if console.width < NARROW:  # no room for a table whose names can be read: the plain report, lines wrapped
        console.print(_escape(format_text(r, verbosity=verbosity)), end="", soft_wrap=True)
        return
    from rich import box

    table = Table(title=f"promptctl test · {r.version} · mode {r.mode}", title_justify="left",
                  box=box.HEAVY_HEAD if console.width >= 120 else box.SIMPLE_HEAD)
    rows = [dataset_row(d) for d in r.datasets]
    figures = ("pass rate", "threshold", "passed", "tokens", "cost", "p50", "p95", "status")
    for col in rows[0] if rows else []:
        # on a narrow terminal a long name folds onto a second line, never cut to "support-re…"; figures stay whole
        table.add_column(col, justify="right" if col in figures[:-1] and col != "passed" else "left",
                         no_wrap=col in figures, overflow="fold", min_width=None if col in figures else 10)
    for row in rows:
        style = "green" if row["status"] == "ok" else "red"
        table.add_row(*[f"[{style}]{v}[/]" if k == "status" else _escape(v) for k, v in row.items()])
    console.print(table)
    shown = _shown_cases(r, verbosity)
    limit = len(shown) if verbosity >= VERBOSE else 50
    if shown:
        console.print(f"[bold]cases ({len(shown)}):[/]" if verbosity >= VERBOSE else f"[bold red]failed cases ({len(shown)}):[/]")
        for d, c in shown[:limit]:
            style = "green" if c.passed else "red"
            console.print(f"  [{style}]{_escape(case_line(d, c, len(r.models) > 1))}[/]")
            for line in case_detail(c):
                mark = line.lstrip()[:1]
                color = "red" if mark == "-" else "green" if mark == "+" else "dim"
                console.print(f"      [{color}]{_escape(line)}[/]")
        if len(shown) > limit:
            console.print(f"  … and {len(shown) - limit} more (see -v, or --format html)")
    for line in _regression_lines(r) + _comparison_lines(r):
        console.print(_escape(line))
    extra = budget_line(r)
    if extra:
        console.print(f"[yellow]{_escape(extra)}[/]")
    style = "green" if r.ok else "red"
    console.print(f"[bold {style}]{_escape(summary_line(r))}[/]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# -- JSON --------------------------------------------------------------------------------------


def format_json(r: RunResult) -> str:
    """The report as JSON: indented, with each case on one line of its own.

    json's indenting encoder runs in pure Python (five times slower than the compact one, which is
    in C); a case per line keeps a 1,000-case report fast to write, short, and diffable line by line.
    """
    data = r.to_json()
    lists: list[list[Any]] = []
    for dataset in data.get("datasets", []):
        if dataset.get("cases"):
            lists.append(dataset["cases"])
            dataset["cases"] = f"\0cases{len(lists) - 1}\0"
    text = json.dumps(data, indent=2, ensure_ascii=False)
    one = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(c, ensure_ascii=False), one encoder for all
    for i, cases in enumerate(lists):
        marker = json.dumps(f"\0cases{i}\0")
        at = text.index(marker)
        pad = " " * (at - text.rindex("\n", 0, at) - 1 - len('"cases": ') + 2)
        body = f",\n{pad}".join(one(c) for c in cases)
        text = text.replace(marker, f"[\n{pad}{body}\n{pad[:-2]}]", 1)
    return text + "\n"


# -- JUnit XML ---------------------------------------------------------------------------------


def format_junit(r: RunResult) -> str:
    """JUnit XML: one testsuite per dataset (and model), one testcase per case, plus one testcase per
    dataset for its threshold and one per baseline regression, so CI test reporters show every gate."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="promptctl test")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    regs = {(g.dataset, g.case, g.model): g for g in r.regressions}
    for d in r.datasets:
        suite_name = d.name if len(r.models) == 1 else f"{d.name} [{d.model}]"
        suite = ET.SubElement(root, "testsuite", name=suite_name)
        props = ET.SubElement(suite, "properties")
        for k, v in (("prompt", d.dataset.prompt), ("ref", d.prompt_ref or ""), ("model", _model(d.model)),
                     ("threshold", f"{d.dataset.threshold:g}"), ("pass_rate", f"{d.pass_rate:.4f}"),
                     ("path", d.dataset.path)):
            ET.SubElement(props, "property", name=k, value=v)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        elapsed = 0.0
        classname = f"promptctl.{d.name}"
        for c in d.cases:
            seconds = (c.latency_ms or 0.0) / 1000
            elapsed += seconds
            tc = ET.SubElement(suite, "testcase", classname=classname, name=c.id, time=f"{seconds:.3f}",
                               file=c.source.rsplit(":", 1)[0])
            counts["tests"] += 1
            if c.status == "failed":
                counts["failures"] += 1
                el = ET.SubElement(tc, "failure", message=_one_line(c.reason, 500), type="assertion")
                el.text = "\n".join(f"{'PASS' if a.passed else 'FAIL'} {a.type}: {a.reason}" for a in c.asserts)
                if c.output is not None:
                    el.text += "\n\noutput:\n" + c.output
            elif c.status == "error":
                counts["errors"] += 1
                ET.SubElement(tc, "error", message=_one_line(c.reason, 500), type="error").text = c.reason
            elif c.status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=_one_line(c.reason, 500))
            if c.output is not None:
                ET.SubElement(tc, "system-out").text = c.output
            reg = regs.get((d.name, c.id, d.model))
            if reg is not None:
                counts["tests"] += 1
                counts["failures"] += 1
                rt = ET.SubElement(suite, "testcase", classname=classname, name=f"[regression] {c.id}", time="0")
                ET.SubElement(rt, "failure", message=f"passed on {r.baseline_version}, fails now: {_one_line(c.reason, 400)}",
                              type="regression")
        gate = ET.SubElement(suite, "testcase", classname=classname,
                             name=f"[threshold] pass rate >= {_threshold(d.dataset.threshold)}", time="0")
        counts["tests"] += 1
        if not d.ok:
            counts["failures"] += 1
            ET.SubElement(gate, "failure", type="threshold",
                          message=f"pass rate {_pct(d.pass_rate)} is under the threshold {_threshold(d.dataset.threshold)}")
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", f"{elapsed:.3f}")
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", f"{r.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- Markdown ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def format_markdown(r: RunResult, *, max_failures: int = 50) -> str:
    """Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    icon = "✅" if r.ok else "❌"
    lines = [f"### {icon} promptctl test: `{r.version}`", ""]
    lines.append(f"_{_md(summary_line(r))}_")
    lines.append("")
    rows = [dataset_row(d) for d in r.datasets]
    if rows:
        cols = ["", *(c for c in rows[0] if c != "status")]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        for row in rows:
            mark = "✅" if row["status"] == "ok" else "❌"
            lines.append("| " + " | ".join([mark, *(_md(v) for k, v in row.items() if k != "status")]) + " |")
    extra = budget_line(r)
    if extra:
        lines += ["", f"> ⚠️ {_md(extra)}"]
    if r.baseline_version is not None:
        regs = r.regressions
        lines += ["", f"#### Regressions against `{r.baseline_version}`: {len(regs) or 'none'}"]
        if regs:
            lines += ["", "| dataset | case | model | now |", "|---|---|---|---|"]
            for g in regs:
                lines.append(f"| {_md(g.dataset)} | `{_md(g.case)}` | {_md(_model(g.model))} | {_md(_one_line(g.reason, 200))} |")
        note = baseline_note(r)
        if note:
            lines += ["", f"> ⚠️ {_md(note)}"]
    if len(r.models) > 1:
        lines += ["", "#### Model comparison", "", "| model | pass rate | thresholds | tokens | cost | p50 | p95 |",
                  "|---|---|---|---|---|---|---|"]
        cheapest = r.cheapest()
        for m in r.comparison():
            name = f"**{_md(_model(m.model))}**" if m.model == cheapest else _md(_model(m.model))
            lines.append(f"| {name} | {_pct(m.pass_rate)} | {'met' if m.meets_thresholds else 'missed'} | "
                         f"{m.tokens:,} | {_cost(m.cost_usd, m.priced)} | {_ms(m.p50)} | {_ms(m.p95)} |")
        verdict = r.cheapest_line()
        verdict = _md(verdict[:1].upper() + verdict[1:]) + "."
        if cheapest:
            verdict = verdict.replace(f": {_md(cheapest)}", f": **{_md(cheapest)}**", 1)
        lines += ["", verdict]
    problems = _problem_cases(r)
    if problems:
        lines += ["", f"<details><summary>{len(problems)} failed case{'s' if len(problems) != 1 else ''}</summary>", ""]
        lines += ["| dataset | case | status | reason |", "|---|---|---|---|"]
        for d, c in problems[:max_failures]:
            lines.append(f"| {_md(d.name)} | `{_md(c.id)}` | {c.status} | {_md(_one_line(c.reason, 300))} |")
        if len(problems) > max_failures:
            lines.append(f"\n… and {len(problems) - max_failures} more.")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render(fmt: str, r: RunResult) -> str:
    """The report in ``fmt`` (text, json, junit, markdown or html)."""
    if fmt == "html":
        from .html import format_html

        return format_html(r)
    return {"text": format_text, "json": format_json, "junit": format_junit, "markdown": format_markdown}[fmt](r)


def write_report(path: str | os.PathLike[str], text: str) -> None:
    """Write a report file: atomically over a regular file (or nothing), through a symlink, a device
    or a FIFO as a plain ``open()`` would (never replacing it), and never over a folder (UsageError)."""
    from ..fileio import write_output

    write_output(path, text, what="report")


# -- golden updates ----------------------------------------------------------------------------


def format_golden_changes(changes: Sequence[GoldenChange]) -> str:
    """What --update-golden changed: one unified diff per case, for review."""
    import difflib

    if not changes:
        return "goldens: nothing changed\n"
    out = [f"goldens: {len(changes)} case{'s' if len(changes) != 1 else ''} updated"]
    for ch in changes:
        out.append(f"--- {ch.path}:{ch.line} {ch.case} (golden)")
        old = golden_text(ch.old).splitlines()
        new = golden_text(ch.new).splitlines()
        out += ["  " + line for line in difflib.unified_diff(old, new, "old", "new", lineterm="", n=1)][2:]
    return "\n".join(out) + "\n"


def golden_text(value: Any) -> str:
    """A golden (or any JSON value) as text: itself, or its JSON indented; none is empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def comparable(golden: Any, output: str | None) -> tuple[str, str]:
    """The golden and the output as two texts to show side by side or diff: a JSON golden against the
    output's JSON, both indented (an output that is not JSON stays as it is)."""
    out = output or ""
    if isinstance(golden, (dict, list)):
        try:
            out = json.dumps(json.loads(out), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    return golden_text(golden), out


# -- progress ----------------------------------------------------------------------------------


class Progress:
    """Progress on stderr: a rich progress bar on a terminal; else plain lines for a log: the run's
    header (once the first case ends), a count at most every PLAIN_EVERY_S seconds, and a line per finished dataset. The
    failing cases are listed once, with their reasons, in the report that follows."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, total: int, *, stream: IO[str] | None = None, tty: bool | None = None, quiet: bool = False,
                 header: str | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = total
        self.done = 0
        self.failed = 0
        self.tty = self.stream.isatty() if tty is None else tty
        self.header = header
        self.header_shown = False
        self._bar: Any = None
        self._task: Any = None
        self._counts: dict[int, int] = {}
        self._started = time.monotonic()
        self._said = self._started
        self.failures: list[str] = []  # "support-reply/refund: why", as they happen (said if the run is interrupted)

    def __enter__(self) -> Progress:
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("[bold]testing[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(), console=Console(file=self.stream), transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("cases", total=self.total, status="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def case_done(self, dataset: DatasetResult, case: CaseResult) -> None:
        self.done += 1
        if case.status in ("failed", "error"):
            self.failed += 1
            self.failures.append(f"{dataset.name}/{case.id}: {_one_line(case.reason, 200)}")
        if self._bar is not None:
            self._bar.update(self._task, advance=1, status=f"{self.failed} failed" if self.failed else "")
            return
        if self.quiet:
            return
        if self.header and not self.header_shown:  # at the first case's end: a run stopped before any says nothing
            self.stream.write(self.header + "\n")
            self.header_shown = True
        now = time.monotonic()
        if now - self._said >= self.PLAIN_EVERY_S and self.done < self.total:
            self._said = now
            failed = f", {self.failed} failed" if self.failed else ""
            self.stream.write(f"testing: {self.done}/{self.total} cases{failed} ({now - self._started:.0f} s)\n")
        key = id(dataset)
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._counts[key] == len(dataset.cases):
            model = f" [{dataset.model}]" if dataset.model else ""
            where = "" if dataset.version == "working tree" else f" at {dataset.version}"
            self.stream.write(
                f"{'ok  ' if dataset.ok else 'FAIL'} {dataset.name}{model}{where}: {dataset.count('passed')}/{dataset.ran} "
                f"passed ({_pct(dataset.pass_rate)}, threshold {_threshold(dataset.dataset.threshold)})\n"
            )
        self.stream.flush()
