"""``promptctl review [NAMES...]``: accept or reject, one key at a time, the outputs `promptctl test`
found different from their goldens (as ``cargo insta review``); ``--list``, ``--accept-all`` and
``--reject-all`` for scripts."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .app import app, see
from .common import ProjectOption, TextOrJson, emit_json, note, project_dir

if TYPE_CHECKING:
    from pathlib import Path

    from ..evals.pending import PendingCase

KEYS_HELP = """\
  a  accept: write the new output as the case's golden (with reviewed: {by, at})
  r  reject: keep the golden, forget the new output
  s  skip: leave it pending, go to the next case
  e  edit the new output in $EDITOR (then $VISUAL, else vi), then accept it (an empty file cancels)
  q  quit: the rest stays pending
  ?  this help"""


@app.command("review", epilog=see("evals.md#promptctl-review"))
def review_command(
    targets: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Review only these datasets: a dataset file or folder, a dataset name (support-reply) or a prompt "
            "name (support/reply), as `promptctl test` takes them. Default: every pending case.",
            show_default=False,
        ),
    ] = None,
    filter_: Annotated[
        Optional[str], typer.Option("--filter", "-k", metavar="TEXT", help="Only cases whose id or description contains "
                                    "TEXT (any case), or that have TEXT as a tag.")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Print the pending cases, one a line (dataset/id, status, source:line, what "
                           "changed), and change nothing.")
    ] = False,
    accept_all: Annotated[
        bool, typer.Option("--accept-all", help="Accept every selected case without asking: write their goldens.")
    ] = False,
    reject_all: Annotated[
        bool, typer.Option("--reject-all", help="Reject every selected case without asking: forget their new outputs.")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Review in a browser instead: a page on 127.0.0.1 only, at a URL with a "
                           "random token, one case at a time with Accept, Reject, Skip and Edit (they write what the "
                           "terminal review writes). Stops when every case is decided, on Stop, or on Ctrl-C.")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="With --serve: the port on 127.0.0.1 (0: any free port).")
    ] = 0,
    fmt: Annotated[
        TextOrJson, typer.Option("--format", "-f", help="With --list: text (one line per case) or json (an array of "
                                 "the pending entries, for scripts).")
    ] = TextOrJson.text,
    project: ProjectOption = None,
) -> None:
    """Review the outputs that differ from their goldens, one case at a time.

    Every `promptctl test` on the working tree keeps the passed or failed cases whose output differs
    from their golden (or that have none) as pending, in .promptctl/pending/. `review` shows each: the
    case, its inputs, a diff of the golden and the new output, its assertions; then one key (no Enter):
    a accept (the golden is written, comments and order kept, with `reviewed: {by, at}`), r reject,
    s skip, e edit the new output in $EDITOR before accepting it, q quit, ? help. A case whose golden
    was changed in the file since the run is refused: run the test again. `--serve` does the same
    review in a browser (127.0.0.1 only, a random token in the URL).

    Exit codes: 0 done (or nothing pending); 1 a case was refused (its golden changed since the run);
    2 bad usage, or no terminal to read keys from (use --list, --accept-all, --reject-all or --serve);
    130 interrupted (what was not decided stays pending).

    Examples: promptctl review · promptctl review support-reply -k refund · promptctl review --list ·
    promptctl review --list --format json · promptctl review --accept-all qa · promptctl review --reject-all -k smoke ·
    promptctl review --serve
    """
    from ..errors import UsageError
    from ..evals.pending import load_pending
    from ..project import open_project

    chosen = [name for name, on in (("--list", list_), ("--accept-all", accept_all), ("--reject-all", reject_all),
                                    ("--serve", serve)) if on]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} cannot be combined", hint="give one of them")
    if fmt is not TextOrJson.text and not list_:
        raise UsageError("--format goes with --list", hint="promptctl review --list --format json")
    if port and not serve:
        raise UsageError("--port goes with --serve", hint="promptctl review --serve --port 8765")
    proj = open_project(project_dir(project))
    root = proj.config.root
    names = None
    if targets:
        from ..evals.runner import select_datasets

        names = [_project_rel(root, d.path) for d in select_datasets(proj, targets)]
    entries = load_pending(root, names=names, filter=filter_)
    if list_:
        _list(entries, fmt)
        raise typer.Exit(0)
    if not entries:
        note("nothing pending review" + (" here" if targets or filter_ else "")
             + ": `promptctl test` keeps the cases whose output differs from their golden")
        raise typer.Exit(0)
    if accept_all:
        raise typer.Exit(_accept_all(root, entries))
    if reject_all:
        from ..evals.pending import reject_all as drop

        drop(root, entries)
        for e in entries:
            note(f"rejected {e.name} ({e.where})")
        note(f"rejected {len(entries)} case{'s' if len(entries) != 1 else ''}; the dataset files are unchanged")
        raise typer.Exit(0)
    if serve:
        raise typer.Exit(_serve(root, entries, port))
    if not sys.stdin.isatty():
        raise UsageError(
            "promptctl review reads one key per case from a terminal, and stdin is not one",
            hint="list the pending cases with `promptctl review --list`, or take them all with "
            "`promptctl review --accept-all` or `promptctl review --reject-all`, or review in a browser with "
            "`promptctl review --serve`",
        )
    raise typer.Exit(_interactive(root, entries))


def _project_rel(root: Path, shown: str) -> str:
    from ..evals.pending import _project_rel as rel

    return rel(root, shown)


# -- scripts -----------------------------------------------------------------------------------


def _list(entries: list[PendingCase], fmt: TextOrJson) -> None:
    from ..evals.pending import change_summary

    if fmt is TextOrJson.json:
        emit_json([e.to_json() for e in entries])
        return
    if not entries:
        note("nothing pending review")
        return
    rows = [(e.name, e.status, e.where, change_summary(e)) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3] + "\n")
    note(f"{len(entries)} case{'s' if len(entries) != 1 else ''} pending review: "
         "`promptctl review` to go through them")


def _written(change: Any) -> str:
    if not change.line:  # a new case, from `promptctl golden add`
        return f"added as a new case to {change.path}"
    return f"golden written to {change.path}:{change.line}"


def _accept_all(root: Path, entries: list[PendingCase]) -> int:
    from ..evals.pending import accept_all, rerun_hint

    outcome = accept_all(root, entries)
    for e, change in outcome.accepted:
        note(f"accepted {e.name}: {_written(change)}")
    for e, why in outcome.refused:
        note(f"refused {e.name}: {why}; {rerun_hint(e)}")
    done = len(outcome.accepted)
    note(f"accepted {done} case{'s' if done != 1 else ''}"
         + (f", refused {len(outcome.refused)} (still pending)" if outcome.refused else ""))
    return 1 if outcome.refused else 0


# -- the browser page --------------------------------------------------------------------------


def _serve(root: Path, entries: list[PendingCase], port: int) -> int:
    from ..errors import UsageError
    from ..evals.review_page import Review, ReviewServer

    review = Review(str(root), entries, on_decision=note)
    try:
        server = ReviewServer(review, port)
    except OSError as e:
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({e.strerror or e})",
                         hint="pick another --port, or 0 for any free one") from None
    total = len(entries)
    note(f"review {total} case{'s' if total != 1 else ''} in a browser: {server.url} (Ctrl-C stops)")
    try:
        server.serve()
    except KeyboardInterrupt:
        note(_counts_line(review.counts()) + "; interrupted: what was not decided stays pending")
        raise typer.Exit(130) from None
    counts = review.counts()
    note(_counts_line(counts))
    return 1 if counts["refused"] else 0


def _counts_line(counts: dict[str, int]) -> str:
    line = (f"accepted {counts['accepted'] + counts['edited']}, rejected {counts['rejected']}, "
            f"skipped {counts['skipped']}")
    return line + (f", refused {counts['refused']} (still pending)" if counts["refused"] else "")


# -- the terminal loop -------------------------------------------------------------------------


class _Keys:
    """Reads one key at a time from the terminal on stdin: raw mode only while a key is read, and the
    terminal's settings put back after each key, on exit and on any exception (Ctrl-C included)."""

    def __init__(self) -> None:
        try:
            import termios
        except ImportError:  # Windows
            from ..errors import UsageError

            raise UsageError("promptctl review needs a POSIX terminal to read keys",
                             hint="use `promptctl review --list`, `--accept-all` or `--reject-all`") from None
        self.fd = sys.stdin.fileno()
        self.saved: Any = termios.tcgetattr(self.fd)

    def __enter__(self) -> _Keys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self) -> str:
        """One key: its character (lower case), ``""`` for anything else. Ctrl-C raises KeyboardInterrupt."""
        import os
        import tty

        sys.stdout.flush()
        try:
            tty.setraw(self.fd)
            data = os.read(self.fd, 32)  # an escape sequence (an arrow key) arrives whole: read it all
        finally:
            self.restore()
        if not data or data[:1] == b"\x04":  # end of input, Ctrl-D
            return "q"
        if data[:1] == b"\x03":
            raise KeyboardInterrupt
        if len(data) > 1 or data[0] > 0x7E:
            return ""
        return chr(data[0]).lower()


def _interactive(root: Path, entries: list[PendingCase]) -> int:
    from rich.console import Console

    from ..evals.pending import accept_all

    console = Console(highlight=False)
    counts = {"accepted": 0, "rejected": 0, "skipped": 0, "refused": 0}
    total = len(entries)

    def summary() -> None:
        console.print(", ".join(f"{k} {v}" for k, v in counts.items() if v or k != "refused"), markup=False)

    def take(entry: PendingCase, golden: Any = None, how: str = "accepted") -> None:
        from ..errors import PromptctlError

        try:
            outcome = accept_all(root, [entry], goldens=None if golden is None else {entry.key: golden})
        except PromptctlError as e:
            counts["refused"] += 1
            console.print(f"error: {e}", style="bold red", markup=False)
            return
        if outcome.refused:
            from ..evals.pending import rerun_hint

            counts["refused"] += 1
            console.print(f"refused: {outcome.refused[0][1]}; {rerun_hint(entry)}", style="bold red", markup=False)
        else:
            counts["accepted"] += 1
            change = outcome.accepted[0][1]
            console.print(f"{how}: {_written(change)}", style="green", markup=False)

    done = 0
    try:
        with _Keys() as keys:
            for n, entry in enumerate(entries, 1):
                _show(console, entry, n, total)
                while True:
                    console.print("[a]ccept  [r]eject  [s]kip  [e]dit  [q]uit  [?]help > ", style="bold",
                                  markup=False, end="")
                    key = keys.read()
                    console.print(key, markup=False)
                    if key == "a":
                        take(entry)
                    elif key == "r":
                        from ..evals.pending import reject

                        reject(root, entry)
                        counts["rejected"] += 1
                        console.print("rejected: the golden is unchanged", style="yellow", markup=False)
                    elif key == "s":
                        counts["skipped"] += 1
                    elif key == "e":
                        edited = _edit(console, entry)
                        if edited is _CANCEL:
                            continue
                        take(entry, edited, "accepted as edited")
                    elif key == "q":
                        counts["skipped"] += total - done
                        summary()
                        return 1 if counts["refused"] else 0
                    elif key == "?":
                        console.print(KEYS_HELP, markup=False)
                        continue
                    else:
                        console.print("press a, r, s, e, q, or ? for help", style="dim", markup=False)
                        continue
                    break
                done += 1
    except KeyboardInterrupt:
        counts["skipped"] += total - done
        console.print()
        summary()
        note("interrupted: the cases not accepted or rejected stay pending; `promptctl review` to go on")
        raise
    summary()
    return 1 if counts["refused"] else 0


_CANCEL = object()


def _edit(console: Any, entry: PendingCase) -> Any:
    """The new golden as edited in $EDITOR, or _CANCEL (an empty file, an editor that failed, bad JSON)."""
    import os
    import shlex
    import subprocess
    import tempfile

    from ..evals.pending import edited_golden
    from ..evals.reports import golden_text

    is_json = isinstance(entry.new, (dict, list))
    text = golden_text(entry.new)
    ends = text.endswith("\n")
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    fd, path = tempfile.mkstemp(prefix="promptctl-golden-", suffix=".json" if is_json else ".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if ends else text + "\n")
        try:
            code = subprocess.call([*shlex.split(editor), path])
        except (OSError, ValueError) as e:
            console.print(f"cannot run the editor {editor!r}: {e}; set $EDITOR", style="red", markup=False)
            return _CANCEL
        if code != 0:
            console.print(f"the editor exited with {code}: nothing accepted", style="yellow", markup=False)
            return _CANCEL
        with open(path, encoding="utf-8") as fh:
            edited = fh.read()
    finally:
        os.unlink(path)
    if not edited.strip():
        console.print("empty file: edit cancelled", style="yellow", markup=False)
        return _CANCEL
    if not is_json and not ends and edited.endswith("\n"):
        edited = edited[:-1]  # the newline editors add at the end of the file
    try:
        return edited_golden(entry, edited)  # as the browser review reads an edit (JSON for a JSON golden)
    except ValueError as e:
        console.print(f"{e}: edit cancelled", style="red", markup=False)
        return _CANCEL


def _show(console: Any, entry: PendingCase, n: int, total: int) -> None:
    from rich.rule import Rule
    from rich.text import Text

    from ..evals.pending import diff_lines
    from ..evals.reports import golden_text

    console.print()
    console.print(Rule(Text(f"{n}/{total}  {entry.name}", style="bold"), align="left"))
    facts = [entry.where, f"{entry.status} (score {entry.score:.2f})"]
    if entry.model:
        facts.append(entry.model)
    run = entry.run
    if run:
        facts.append(f"run {run.get('at', '?')} ({run.get('mode', '?')})")
    console.print(Text(" · ".join(facts), style="dim"))
    if entry.description:
        console.print(Text(entry.description))
    if entry.tags:
        console.print(Text("tags: " + ", ".join(entry.tags), style="dim"))
    if entry.inputs:
        console.print(Text("inputs", style="bold"))
        for name, value in entry.inputs.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines = shown.splitlines() or [""]
            console.print(Text(f"  {name}: {lines[0]}"))
            for line in lines[1:]:
                console.print(Text(f"    {line}"))
    if entry.old is None:
        console.print(Text("no golden yet; the new output:", style="bold"))
        body = [Text("+" + line, style="green") for line in golden_text(entry.new).splitlines() or [""]]
    else:
        console.print(Text("golden → new output", style="bold"))
        body = []
        for line in diff_lines(entry):
            style = ("bold" if line.startswith(("---", "+++")) else "cyan" if line.startswith("@@")
                     else "red" if line.startswith("-") else "green" if line.startswith("+") else "")
            body.append(Text(line, style=style))
    for styled in body:
        console.print(Text("  ") + styled)
    if entry.asserts:
        console.print(Text("assertions", style="bold"))
        for a in entry.asserts:
            ok = bool(a.get("pass"))
            mark = Text("  ✓ " if ok else "  ✗ ", style="green" if ok else "red")
            console.print(mark + Text(f"{a.get('type', '?')}  {float(a.get('score') or 0):.2f}  {a.get('reason') or ''}"))
    elif entry.reason:
        console.print(Text(entry.reason, style="dim"))
