"""``promptctl test [NAMES...]``: run the golden datasets and gate on their thresholds."""

from __future__ import annotations

import functools
import math
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .app import app, see, state
from .common import ProjectOption, RefOption, WatchOption, note, project_dir

if TYPE_CHECKING:
    from ..evals.results import RunResult


class TestFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"
    markdown = "markdown"
    html = "html"


#: ``-q`` and ``-v`` of the commands that print a test report (test, report).
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line (and no progress lines).")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="List every case, passing ones too, not only the failing ones.")
]


def verbosity(quiet: bool, verbose: bool) -> int:
    from ..errors import UsageError
    from ..evals.reports import NORMAL, QUIET, VERBOSE

    if quiet and verbose:
        raise UsageError("--quiet and --verbose cannot be combined", hint="pick one")
    return QUIET if quiet else VERBOSE if verbose else NORMAL


def print_summary(result: RunResult, level: int, tty: bool, *, header: bool = True) -> None:
    """The report for people, on stderr: rich tables on a terminal, plain text otherwise (without its
    header line when the progress lines came after it)."""
    from ..evals import reports

    if tty:
        reports.print_rich(result, sys.stderr, verbosity=level)
    else:
        sys.stderr.write(reports.format_text(result, verbosity=level, header=header))


#: ``-o FILE`` of the commands that write a test report (test, report).
OutputOption = Annotated[
    Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
]


class Mode(str, Enum):
    auto = "auto"
    replay = "replay"
    refresh = "refresh"
    off = "off"


@app.command("test", epilog=see("evals.md"))
def test_command(
    targets: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Datasets to run: a dataset file or folder, a dataset name (support-reply) or a prompt name "
            "(support/reply). Default: every dataset.",
            show_default=False,
        ),
    ] = None,
    ref: RefOption = None,
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="auto: use a recording, else call the model and record it; replay: never call a model (a missing "
            "recording fails the case; needs no API key and no litellm); refresh: call and re-record everything; "
            "off: call, record nothing.",
        ),
    ] = Mode.auto,
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", help="Run on this model (a litellm model string or an alias) instead of each "
                     "prompt's own. Repeat to compare models side by side."),
    ] = None,
    model_short: Annotated[
        Optional[list[str]],
        typer.Option("-m", hidden=True, help="The old short form of --model (-m is --message everywhere else)."),
    ] = None,
    baseline: Annotated[
        Optional[str],
        typer.Option("--baseline", metavar="REV", help="Also run the same datasets on the prompts at this version "
                     "(v3, production, main, HEAD~1, a sha) and fail on every case that passed there and fails now."),
    ] = None,
    concurrency: Annotated[
        Optional[int], typer.Option("--concurrency", "-j", min=1, help="Model calls in flight at once (default: test.concurrency, 8).")
    ] = None,
    max_cost: Annotated[
        Optional[float],
        typer.Option("--max-cost", min=0.0, metavar="USD", help="Stop before the estimated spend of new calls would "
                     "exceed this many US dollars (default: test.max_cost_usd)."),
    ] = None,
    update_golden: Annotated[
        bool, typer.Option("--update-golden", help="Write each case's output into its `golden`, keeping the dataset "
                           "file's comments and order, and print what changed.")
    ] = False,
    fmt: Annotated[
        TestFormat, typer.Option("--format", "-f", help="The report on stdout (or in -o FILE): text, json, junit, markdown or html (one "
                                 "self-contained page: `-f html -o report.html`). Progress and the summary table always go to stderr.")
    ] = TestFormat.text,
    output: OutputOption = None,
    filter_: Annotated[
        Optional[str], typer.Option("--filter", "-k", metavar="TEXT", help="Only cases whose id or description contains "
                                    "TEXT (any case), or that have TEXT as a tag.")
    ] = None,
    shard: Annotated[
        Optional[str],
        typer.Option("--shard", metavar="I/N", help="Run only the I-th of N shares of the cases (by case identity: a "
                     "case always lands in the same shard). Thresholds are then judged by `promptctl report merge` "
                     "on every shard's JSON report."),
    ] = None,
    timeout: Annotated[
        Optional[float], typer.Option("--timeout", min=0.001, metavar="SECONDS", help="Timeout of one model call (default: test.timeout_s, 60).")
    ] = None,
    retries: Annotated[
        Optional[int], typer.Option("--retries", min=0, help="Retries on 429/5xx/timeouts per model (default: test.retries, 3).")
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    watch: WatchOption = False,
    project: ProjectOption = None,
) -> None:
    """Run regression evals: render every case of the golden datasets, get the model's answer
    (recorded, or live: OpenAI-compatible endpoints through promptctl's own client, other
    providers through litellm), check its assertions, and compare each dataset's pass rate
    with its threshold.

    Exit codes: 0 every dataset meets its threshold; 1 one does not, a case regressed against
    --baseline, or --max-cost stopped the run; 2 bad usage or input; 130 interrupted (what was
    recorded is kept: run again to resume). With several --model flags: 0 when at least one model
    meets every threshold. When $GITHUB_STEP_SUMMARY is set, the Markdown report is appended to it.

    Examples: promptctl test --mode replay · promptctl test support-reply -k refund ·
    promptctl test --baseline main --format junit -o evals.xml · promptctl test --model fast --model openai/gpt-4o ·
    promptctl test --shard 2/4 --format json -o shard-2.json
    """
    from ..errors import UsageError
    from ..evals.runner import RunOptions

    for name, value in (("--timeout", timeout), ("--max-cost", max_cost)):
        if value is not None and not math.isfinite(value):
            raise UsageError(f"{name} must be a finite number, not {value}", hint=f"e.g. {name} 30")
    if model_short:
        note("warning: -m for --model is going away: -m is --message in every other command, as in git; "
             "write --model " + " --model ".join(model_short))
        model = [*(model or ()), *model_short]
    level = verbosity(quiet, verbose)
    if update_golden and ref is not None:
        raise UsageError("--update-golden writes to the working tree, so it cannot be combined with --ref")
    if update_golden and model and len(model) > 1:
        raise UsageError("--update-golden takes at most one --model")
    shard_spec = None
    if shard is not None:
        from ..evals.shards import parse_shard

        shard_spec = parse_shard(shard)
        if update_golden:
            raise UsageError("--update-golden cannot be combined with --shard", hint="update the goldens in one run")
    options = RunOptions(
        mode=mode.value,
        models=tuple(model or ()),
        concurrency=concurrency,
        timeout_s=timeout,
        retries=retries,
        max_cost_usd=max_cost,
        filter=filter_,
        shard=shard_spec,
    )
    run = functools.partial(_test_once, project_dir(project), ref, targets or [], baseline, options,
                            quiet=quiet, level=level, fmt=fmt, output=output, update_golden=update_golden)
    if watch:
        if update_golden or ref is not None:
            raise UsageError(f"--watch tests the working tree as it is saved, so it cannot be combined with "
                             f"{'--update-golden' if update_golden else '--ref'}")
        from ..project import open_project
        from .watch import watch as watch_files

        def once(changed: set[str] | None) -> bool:
            code = run(changed=changed)
            if code:
                note(f"(exit {code})")
            return code is not None

        config = open_project(project_dir(project)).config
        root = Path(config.root)
        watch_files(root, once, skip=[root / ".promptctl", root / config.test.recordings, *([output] if output else [])])
        return
    raise typer.Exit(run() or 0)


def _freeze_loaded() -> None:
    """In the ``promptctl`` program, once: what is loaded by now (modules, the app) stays to the end, so the
    cyclic garbage collector is told to leave it out of the collections a run's many objects set off."""
    if state.get("program") and not state.get("gc_frozen"):
        import gc

        gc.freeze()
        state["gc_frozen"] = True


def _test_once(project: Path | None, ref: str | None, targets: list[str], baseline: str | None, options: Any, *,
               quiet: bool, level: int, fmt: TestFormat, output: Path | None, update_golden: bool,
               changed: set[str] | None = None) -> int | None:
    """One run of ``promptctl test``: the report, the summary, the goldens and what is pending review; the
    exit code. ``changed`` (--watch): the saved files; only the datasets they affect run (None when none)."""
    from ..evals import reports
    from ..evals.runner import count_cases, run_tests, select_datasets
    from ..project import open_project

    _freeze_loaded()
    proj = open_project(project, ref=ref)
    datasets = select_datasets(proj, targets)
    if changed is not None:
        from .watch import dataset_sources, touches

        datasets = [d for d in datasets if touches(changed, dataset_sources(proj, d))]
        if not datasets:
            return None
    base = open_project(proj.config.root, ref=baseline) if baseline is not None else None
    total = count_cases(datasets, options, baseline=base is not None)
    header = reports.header_line(proj.source.label, options.mode, base.source.label if base is not None else None)
    progress = reports.Progress(total, quiet=quiet, header=header)
    recordings = Path(proj.config.root) / proj.config.test.recordings
    try:
        with progress:
            result = run_tests(proj, datasets, options, baseline=base, on_case=progress.case_done)
    except KeyboardInterrupt:
        if progress.failures and not quiet:  # the report that lists them will not come
            note(f"failed before the interruption ({len(progress.failures)}):")
            for line in progress.failures[:50]:
                note(f"  FAIL {line}")
        note(f"interrupted: every response received so far is recorded in {recordings}; run again to resume")
        raise
    print_summary(result, level, progress.tty, header=not progress.header_shown)
    emit_report(result, fmt, output)
    if update_golden:
        from ..evals.goldens import update_goldens

        note(reports.format_golden_changes(update_goldens(result)).rstrip("\n"))
    from ..evals.pending import save_pending  # the outputs that differ from their goldens, for `promptctl review`
    from ..evals.runner import run_secrets

    save_pending(proj.config.root, result, goldens_written=update_golden, notify=note, secrets=run_secrets(proj))
    return result.exit_code


def emit_report(result: RunResult, fmt: TestFormat, output: Path | None) -> None:
    """The report in ``fmt`` on stdout or in ``output``, and the Markdown one in $GITHUB_STEP_SUMMARY."""
    from ..evals import reports

    if fmt is not TestFormat.text or output is not None:
        text = reports.render(fmt.value, result)
        if output is not None:
            reports.write_report(output, text)
            note(f"wrote the {fmt.value} report to {output}")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(reports.format_markdown(result) + "\n")
