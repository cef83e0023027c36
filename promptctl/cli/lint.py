"""``promptctl lint [PATHS...]``: check prompts, partials, datasets and promptctl.yaml."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .app import app, see
from .common import ProjectOption, RefOption, WatchOption, note, project_dir


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


if TYPE_CHECKING:
    from ..lint.engine import LintOptions

_CODES_HELP = "Comma-separated rule codes or prefixes (PC2 = every PC2xx rule, ALL = every rule)."


def statistics_text(findings: list) -> str:  # type: ignore[type-arg]
    """``--statistics``: per rule, most frequent first: ``  3  PC202  undeclared-variable  [error]``."""
    from collections import Counter

    from ..lint.rules import RULES

    counts = Counter((f.code, f.severity) for f in findings)
    if not counts:
        return ""
    width = len(str(max(counts.values())))
    names = {code: RULES[code].name if code in RULES else "?" for code, _ in counts}
    pad = max(len(n) for n in names.values())
    return "".join(f"{n:>{width}}  {code}  {names[code]:<{pad}}  [{severity}]\n"
                   for (code, severity), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@app.command("lint", epilog=see("lint.md"))
def lint_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Files or folders to lint, with what they affect (a partial re-checks the prompts that include it). "
            "Default: the whole project.",
            show_default=False,
        ),
    ] = None,
    ref: RefOption = None,
    fmt: Annotated[
        LintFormat, typer.Option("--format", help="text (path:line:col: CODE message), json, sarif or github.")
    ] = LintFormat.text,
    select: Annotated[
        Optional[list[str]], typer.Option("--select", help="Run only these rules. " + _CODES_HELP)
    ] = None,
    extend_select: Annotated[
        Optional[list[str]], typer.Option("--extend-select", help="Run these rules too (e.g. the opt-in PC402).")
    ] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules. " + _CODES_HELP)] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when errors are found.")] = False,
    explain: Annotated[
        Optional[str], typer.Option("--explain", metavar="CODE", help="Explain a rule (e.g. PC201) and exit.")
    ] = None,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="List every rule (code, name, severity) and exit.")] = False,
    statistics: Annotated[
        bool, typer.Option("--statistics", help="Print how many findings each rule has, instead of the findings.")
    ] = False,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the findings to FILE instead of stdout.")
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write the safe fixes (rules marked [*] in --list-rules), then report what is left.")
    ] = False,
    watch: WatchOption = False,
    project: ProjectOption = None,
) -> None:
    """Lint prompts, partials, datasets and promptctl.yaml; report every finding as path:line:col: CODE message.

    Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 bad usage.
    Suppress a finding with `# promptctl: ignore[PC201]` on its line ({# promptctl: ignore[PC201] #} in
    Jinja text), `lint: {ignore: [PC201]}` in a prompt, or lint.ignore / lint.severity in promptctl.yaml.

    Example: promptctl lint --format sarif > promptctl.sarif
    """
    from ..lint.rules import explain as explain_rule
    from ..lint.rules import find_rule, split_codes

    if list_rules:
        from ..lint.rules import list_rules as rule_lines

        sys.stdout.write(rule_lines())
        return
    if explain is not None:
        sys.stdout.write(explain_rule(find_rule(explain)))
        return
    from ..errors import UsageError
    from ..lint.engine import LintOptions
    from ..lint.rules import expand

    chosen = split_codes(select) if select is not None else None
    options = LintOptions(
        select=tuple(chosen) if chosen is not None else None,
        extend_select=tuple(split_codes(extend_select)),
        ignore=tuple(split_codes(ignore)),
    )
    for option, tokens in (("--select", options.select or ()), ("--extend-select", options.extend_select),
                           ("--ignore", options.ignore)):
        expand(tokens, option=option)  # a bad code is a usage error before anything is read
    if fix and ref is not None:
        raise UsageError("--fix writes to the working tree, so it cannot be combined with --ref")
    if watch:
        from ..config import project_root
        from .watch import real
        from .watch import watch as watch_files

        if ref is not None:
            raise UsageError("--watch lints the working tree, so it cannot be combined with --ref")
        named = [real(p) for p in paths or ()]

        def once(changed: set[str] | None) -> bool:
            if changed is None:
                targets = [str(p) for p in paths] if paths else None
            else:  # the saved files (within the paths named), and what they affect
                saved = [p for p in sorted(changed) if os.path.exists(p)
                         and (not named or any(p == n or p.startswith(n + os.sep) for n in named))]
                if not saved and named:
                    return False
                targets = saved or ([str(p) for p in paths] if paths else None)  # only deletions: everything again
            _lint_once(targets, project, options, statistics, fmt, output, fix=fix)
            return True

        root = project_root(project_dir(project))
        watch_files(root, once, skip=[root / ".promptctl", *([output] if output else [])])
        return
    errors = _lint_once([str(p) for p in paths] if paths else None, project, options, statistics, fmt, output, ref=ref,
                        fix=fix)
    if errors and not exit_zero:
        raise typer.Exit(1)


def _lint_once(targets: list[str] | None, project: Optional[Path], options: LintOptions, statistics: bool, fmt: LintFormat,
               output: Optional[Path], *, ref: Optional[str] = None, fix: bool = False) -> int:
    """Lint ``targets`` (None: the whole project), with ``fix`` write the safe fixes and lint again; print
    the findings and the summary; the errors found."""
    from ..lint.engine import run_lint
    from ..lint.formats import render, summary
    from ..text import plural

    report = run_lint(targets, project=project_dir(project), ref=ref, options=options)
    fixed_line = ""
    if fix:
        from ..lint.fixes import apply_fixes

        fixed = apply_fixes(report.findings)
        for why in fixed.skipped:
            note(f"not fixed: {why}")
        if fixed.count:
            fixed_line = (f"Fixed {plural(fixed.count, 'finding')} in {plural(len(fixed.files), 'file')} "
                          f"({', '.join(fixed.files)}).")
            report = run_lint(targets, project=project_dir(project), ref=ref, options=options)
    text = statistics_text(report.findings) if statistics else render(fmt.value, report.findings)
    if output is not None and str(output) != "-":
        from ..fileio import write_output

        write_output(output, text, what="lint findings")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if fixed_line:
        note(fixed_line)
    fixable = sum(1 for f in report.findings if f.fix is not None)
    line = summary(report.errors, report.warnings, report.files)
    if fixable and not fix:
        line = line.rstrip(".") + f"; {fixable} fixable with `promptctl lint --fix`."
    note(line)
    return report.errors
