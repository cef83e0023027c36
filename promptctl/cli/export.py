"""``promptctl export finetune [NAMES...] -o FILE``: the goldens of the datasets as training data."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .app import command_group, see
from .common import ProjectOption, RefOption, TextOrJson, emit_json, note, project_dir

if TYPE_CHECKING:
    from ..finetune import Collected, Example, TokenCounter

export_app = command_group(
    "export",
    "Export the golden datasets for other tools: `promptctl export finetune` writes them as OpenAI chat "
         "fine-tuning JSONL.",
)


@export_app.command("finetune", epilog=see("production.md#promptctl-export-finetune"), short_help="Write the cases and their goldens as OpenAI chat fine-tuning JSONL.")
def finetune_command(
    targets: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Datasets to export: a dataset file or folder, a dataset name (support-reply) or a prompt name "
            "(support/reply), as `promptctl test` takes them. Default: every dataset.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Optional[str],
        typer.Option("--output", "-o", metavar="FILE", show_default=False,
                     help="The training file to write (required; - for stdout). Replaced atomically."),
    ] = None,
    split: Annotated[
        Optional[float],
        typer.Option("--split", metavar="RATIO", show_default=False,
                     help="Put about RATIO (between 0 and 1, e.g. 0.9) of the lines in -o FILE and the rest in a "
                     "validation file (FILE.validation.jsonl beside it, or --validation-output). Cases whose prompt "
                     "renders identically stay on the same side."),
    ] = None,
    seed: Annotated[
        Optional[int],
        typer.Option("--seed", metavar="S", show_default=False,
                     help="With --split: the seed of the shuffle (default 0). The same seed and cases give the same "
                     "split on every machine."),
    ] = None,
    validation_output: Annotated[
        Optional[Path],
        typer.Option("--validation-output", metavar="FILE", show_default=False,
                     help="With --split: where to write the validation lines (default: beside -o FILE, "
                     "train.jsonl -> train.validation.jsonl)."),
    ] = None,
    reviewed_only: Annotated[
        bool, typer.Option("--reviewed-only", help="Only cases whose golden was accepted in `promptctl review` "
                           "(they carry `reviewed: {by, at}`); says how many were left out.")
    ] = False,
    skip_missing: Annotated[
        bool, typer.Option("--skip-missing", help="Export the cases that have a golden and list the others, instead "
                           "of refusing (exit 1, nothing written) when a selected case has no golden.")
    ] = False,
    filter_: Annotated[
        Optional[str], typer.Option("--filter", "-k", metavar="TEXT", help="Only cases whose id or description contains "
                                    "TEXT (any case), or that have TEXT as a tag.")
    ] = None,
    ref: RefOption = None,
    fmt: Annotated[
        TextOrJson, typer.Option("--format", "-f", help="text (the summary on stderr) or json (also the summary on "
                                 "stdout, for scripts: {train, validation, skipped, unreviewed, datasets, tokens, split}).")
    ] = TextOrJson.text,
    project: ProjectOption = None,
) -> None:
    """Write each case of the golden datasets as one line of OpenAI's chat fine-tuning JSONL:

    {"messages": [the prompt's messages rendered with the case's inputs, {"role": "assistant", "content":
    the golden}]}. The messages are exactly what `promptctl render` and `promptctl test` render; a
    golden that is JSON data (or the golden of a prompt with output.format json) is written as compact
    JSON text; the prompt's own assistant messages (few-shot examples, history turns) get "weight": 0,
    so that only the goldens are trained on. Every line is checked against OpenAI's format before
    anything is written: a case that does not render or breaks the format is an error naming it.

    A selected case without a golden refuses the export (exit 1, nothing written, every such case
    listed with its source:line) unless --skip-missing. --split RATIO divides the lines by a seeded
    shuffle (--seed, default 0). Stderr gets the cases per dataset, the lines and tokens of each file
    (tiktoken's o200k_base when tiktoken is installed, else ~4 characters per token; it says which).

    Exit codes: 0 written; 1 a selected case has no golden (nothing written); 2 bad usage, nothing to
    export, or a case that does not render or breaks the format (nothing written).

    Examples: promptctl export finetune -o train.jsonl ·
    promptctl export finetune support-reply --reviewed-only -o train.jsonl ·
    promptctl export finetune --split 0.9 --seed 7 -o train.jsonl (and train.validation.jsonl) ·
    promptctl export finetune -k refund --skip-missing -o - | head -1 ·
    promptctl export finetune --ref v3 -o train.jsonl --format json
    """
    from ..errors import UsageError
    from ..evals.runner import select_datasets
    from ..finetune import ExportRefused, TokenCounter, collect
    from ..finetune import split as split_examples
    from ..project import open_project

    if output is None:
        raise UsageError("promptctl export finetune needs -o FILE: where to write the training lines",
                         hint="e.g. -o train.jsonl, or -o - for stdout")
    if not output:
        raise UsageError("-o needs a file name", hint="e.g. -o train.jsonl, or -o - for stdout")
    if split is None:
        for name, value in (("--seed", seed), ("--validation-output", validation_output)):
            if value is not None:
                raise UsageError(f"{name} goes with --split", hint="e.g. --split 0.9 --seed 7")
    elif not math.isfinite(split) or not 0 < split < 1:
        raise UsageError(f"--split must be a number between 0 and 1 (the share of lines for training), not {split:g}",
                         hint="e.g. --split 0.9: 90% to -o FILE, 10% to the validation file")
    val_path: str | None = None
    if split is not None:
        if validation_output is not None:
            val_path = str(validation_output)
        elif output == "-":
            raise UsageError("with -o - and --split, the validation lines need a file of their own",
                             hint="add --validation-output FILE")
        else:
            val_path = str(validation_path(Path(output)))
        if val_path == "-" and output == "-":
            raise UsageError("-o - and --validation-output - would both write to stdout",
                             hint="write one of them to a file")
        if val_path != "-" and output != "-" and _same_file(Path(output), Path(val_path)):
            raise UsageError(f"the training and validation files are the same file ({output})",
                             hint="give --validation-output another name")
    for path, what in ((output, "training file"), (val_path, "validation file")):
        if path is not None and path != "-" and Path(path).is_dir():  # checked before writing either file
            raise UsageError(f"cannot write the {what} to {path}: it is a folder", hint="name a file, e.g. train.jsonl")
    stdout_used = output == "-" or val_path == "-"
    if fmt is TextOrJson.json and stdout_used:
        raise UsageError("--format json prints the summary on stdout, where the lines go with -o -",
                         hint="write the lines to a file, or drop --format json")

    proj = open_project(project_dir(project), ref=ref)
    datasets = select_datasets(proj, targets or [])
    counter = TokenCounter()
    try:
        found = collect(proj, datasets, filter=filter_, reviewed_only=reviewed_only, skip_missing=skip_missing,
                        counter=counter)
    except ExportRefused as e:
        width = max(len(m.name) for m in e.missing)
        for m in e.missing:
            note(f"  {m.name.ljust(width)}  {m.where}  no golden")
        raise
    if not found.examples:
        _report_datasets(found, None)
        raise UsageError("nothing to export: " + _why_nothing(found, filter_, reviewed_only),
                         hint=_nothing_hint(found, filter_, reviewed_only))
    if split is None:
        train, validation = list(found.examples), None
    else:
        train, validation = split_examples(found.examples, split, seed or 0)

    from ..finetune import jsonl

    _write(output, jsonl(train), "training file")
    if validation is not None and val_path is not None:
        _write(val_path, jsonl(validation), "validation file")

    _report_datasets(found, (train, validation))
    for m in found.missing:
        note(f"  skipped {m.name} ({m.where}): no golden")
    if found.unreviewed:
        note(f"left out {_plural(len(found.unreviewed), 'case')} whose golden is not reviewed (--reviewed-only)")
    _report_files(output, train, val_path, validation, counter, split, seed or 0)
    if fmt is TextOrJson.json:
        emit_json(summary(found, output, train, val_path, validation, counter, split, seed or 0))
    raise typer.Exit(0)


def validation_path(output: Path) -> Path:
    """``train.jsonl`` -> ``train.validation.jsonl`` (``train`` -> ``train.validation.jsonl``)."""
    if output.suffix:
        return output.with_name(f"{output.stem}.validation{output.suffix}")
    return output.with_name(f"{output.name}.validation.jsonl")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return str(a) == str(b)


def _write(path: str, text: str, what: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from ..fileio import write_output

    write_output(path, text, what=what)


from ..text import plural as _plural  # noqa: E402


def _shown(path: str | None) -> str:
    return "stdout" if path == "-" else str(path)


def _dataset_rows(found: Collected, sides: tuple[list[Example], list[Example] | None] | None) -> dict[str, dict[str, Any]]:
    """Per dataset: its path, prompt, selected cases, and what became of them. Keyed by dataset name
    (its path when two selected datasets share a name)."""
    from collections import Counter

    names = Counter(d.name for d in found.datasets)
    exported = Counter(ex.dataset.path for ex in found.examples)
    skipped = Counter(m.dataset.path for m in found.missing)
    unreviewed = Counter(m.dataset.path for m in found.unreviewed)
    split = sides is not None and sides[1] is not None
    train = Counter(ex.dataset.path for ex in sides[0]) if sides is not None else Counter()
    rows: dict[str, dict[str, Any]] = {}
    for d in found.datasets:
        row: dict[str, Any] = {
            "path": d.path,
            "prompt": d.prompt,
            "cases": found.selected.get(d.path, 0),
            "exported": exported[d.path],
            "skipped": skipped[d.path],
            "unreviewed": unreviewed[d.path],
        }
        if split:
            row["train"] = train[d.path]
            row["validation"] = exported[d.path] - train[d.path]
        rows[d.name if names[d.name] == 1 else d.path] = row
    return rows


def _report_datasets(found: Collected, sides: tuple[list[Example], list[Example] | None] | None) -> None:
    for key, row in _dataset_rows(found, sides).items():
        parts = [f"{row['exported']} exported"]
        if "train" in row:
            parts[0] += f" ({row['train']} train, {row['validation']} validation)"
        if row["skipped"]:
            parts.append(f"{row['skipped']} without a golden skipped")
        if row["unreviewed"]:
            parts.append(f"{row['unreviewed']} not reviewed left out")
        where = "" if key == row["path"] else f" ({row['path']})"
        note(f"{key}{where}: {_plural(row['cases'], 'case')}: " + ", ".join(parts))


def _report_files(output: str, train: list[Example], val_path: str | None, validation: list[Example] | None,
                  counter: TokenCounter, split: float | None, seed: int) -> None:
    from ..finetune import MIN_EXAMPLES

    approx = "" if counter.exact else "~"
    note(f"wrote {_plural(len(train), 'line')} to {_shown(output)} ({approx}{sum(e.tokens for e in train)} tokens)")
    if validation is not None:
        note(f"wrote {_plural(len(validation), 'line')} to {_shown(val_path)} "
             f"({approx}{sum(e.tokens for e in validation)} tokens)")
        note(f"split {split:g} with seed {seed}: cases whose prompt renders identically stay on the same side")
        if not validation:
            note("warning: the validation file is empty (too few cases, or all of them render the same prompt)")
    note(f"tokens {counter.method}")
    if len(train) < MIN_EXAMPLES:
        note(f"note: OpenAI needs at least {MIN_EXAMPLES} training examples to start a fine-tuning job, "
             f"and this export has {len(train)}")


def summary(found: Collected, output: str, train: list[Example], val_path: str | None,
            validation: list[Example] | None, counter: TokenCounter, split: float | None, seed: int) -> dict[str, Any]:
    """What ``--format json`` prints."""
    def side(path: str | None, lines: list[Example]) -> dict[str, Any]:
        return {"path": path, "lines": len(lines), "tokens": sum(e.tokens for e in lines)}

    return {
        "train": side(output, train),
        "validation": side(val_path, validation) if validation is not None else None,
        "skipped": [m.to_json() for m in found.missing],
        "unreviewed": len(found.unreviewed),
        "datasets": _dataset_rows(found, (train, validation)),
        "tokens": counter.to_json(),
        "split": {"ratio": split, "seed": seed} if split is not None else None,
    }


def _why_nothing(found: Collected, filter_: str | None, reviewed_only: bool) -> str:
    selected = sum(found.selected.values())
    if not selected:
        return f"no case matches -k {filter_!r}" if filter_ else "the selected datasets have no cases"
    parts = []
    if found.unreviewed:
        parts.append(f"{len(found.unreviewed)} not reviewed (--reviewed-only)")
    if found.missing:
        parts.append(f"{len(found.missing)} without a golden")
    return f"of the {_plural(selected, 'selected case')}, " + " and ".join(parts)


def _nothing_hint(found: Collected, filter_: str | None, reviewed_only: bool) -> str:
    if not sum(found.selected.values()):
        return "check the dataset names and -k" if filter_ else "add cases to the datasets"
    if reviewed_only and found.unreviewed:
        return "accept goldens with `promptctl review` (they get `reviewed: {by, at}`), or drop --reviewed-only"
    return "give the cases goldens: `promptctl test`, then `promptctl review`"
