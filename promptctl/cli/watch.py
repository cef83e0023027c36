"""``--watch`` on lint, render and test: run once, then again on what each saved file affects.

Files are watched with watchfiles (inotify, FSEvents, ReadDirectoryChangesW; imported only here).
Only the files a project reads count: promptctl.yaml, prompts, datasets, partials, case files and
inputs files. The folders promptctl writes to (``.promptctl/``, the recordings) and ``.git`` are
never watched, so a run that records answers does not start itself again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer

from ..errors import PromptctlError

#: What a project reads (as the pre-commit hooks match them), plus inputs files (.json, .yaml, .yml).
WATCHED_SUFFIXES = (".prompt.yaml", ".eval.yaml", ".j2", ".jinja", ".jinja2", ".jsonl", ".csv", ".json", ".yaml", ".yml")
SKIPPED_DIRS = frozenset({".git", ".promptctl", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache",
                          ".ruff_cache", ".pytest_cache"})
DEBOUNCE_MS = 150  # an editor's save is often several writes (temporary file, rename): one run for them all

#: ``once(changed)``: run the command; ``changed`` is None on the first run, else the real paths of
#: the files saved since (deleted ones included). Returns False when the change affects nothing it shows.
Once = Callable[["set[str] | None"], bool]


def real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(path)


def watch(root: Path, once: Once, *, skip: Iterable[Path] = ()) -> None:
    """Run ``once(None)``, then ``once(changed)`` after each batch of saved files under ``root``, until
    Ctrl-C (exit 0). An error or a failed check is reported and the watch goes on."""
    import watchfiles

    skipped = [real(p) for p in skip]

    def wanted(change: Any, path: str) -> bool:
        parts = Path(path).parts
        if any(part in SKIPPED_DIRS for part in parts):
            return False
        if any(path == s or path.startswith(s + os.sep) for s in skipped):
            return False
        return path.endswith(WATCHED_SUFFIXES)

    root_real = real(root)
    # The watcher starts before the first run (its first, empty, yield says it is ready), so that a file
    # saved during a run is seen when it ends; changes saved together make one run.
    batches = watchfiles.watch(root_real, watch_filter=wanted, debounce=DEBOUNCE_MS, step=50, rust_timeout=200,
                               yield_on_timeout=True, raise_interrupt=True)
    try:
        next(batches)
        _attempt(once, None)
        _waiting(root_real)
        for changes in batches:
            if not changes:
                continue
            changed = {real(path) for _, path in changes}
            names = sorted(os.path.relpath(p, root_real) for p in changed)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            sys.stderr.write(f"\n-- {time.strftime('%H:%M:%S')} {shown} changed --\n")
            if not _attempt(once, changed):
                sys.stderr.write("(nothing this command shows depends on it)\n")
            _waiting(root_real)
    except KeyboardInterrupt:
        pass
    finally:
        batches.close()
    sys.stderr.write("stopped watching\n")


def _waiting(root: str) -> None:
    sys.stderr.write(f"watching {os.path.relpath(root) if not os.path.relpath(root).startswith('..') else root} "
                     "for changes (Ctrl-C to stop)\n")
    sys.stderr.flush()


def _attempt(once: Once, changed: set[str] | None) -> bool:
    """``once(changed)``, with its errors and exit codes said, not raised: the watch goes on."""
    try:
        return once(changed)
    except PromptctlError as e:
        sys.stderr.write(f"error: {e}\n")
    except typer.Exit as e:
        if e.exit_code:
            sys.stderr.write(f"(exit {e.exit_code})\n")
    except SystemExit as e:
        if e.code:
            sys.stderr.write(f"(exit {e.code})\n")
    finally:
        sys.stdout.flush()
    return True


def touches(changed: set[str] | None, paths: Iterable[str]) -> bool:
    """True when ``changed`` is the first run (None) or holds one of ``paths`` (shown paths: resolved here)."""
    return changed is None or any(real(p) in changed for p in paths if p)


def prompt_sources(project: Any, prompt: Any) -> list[str]:
    """The files a prompt is made of: promptctl.yaml, its own file and its partials (shown paths)."""
    source = project.source
    root = project.config.prompts
    partials = [source.display(name if root == "." else f"{root}/{name}") for name in prompt.partials]
    return [source.display("promptctl.yaml"), prompt.source, *partials]


def dataset_sources(project: Any, dataset: Any) -> list[str]:
    """The files a dataset's run reads: its prompt's, its own and its case files (shown paths)."""
    files = [dataset.path, *{case.source for case in dataset.cases if case.source}]
    try:
        files += prompt_sources(project, project.get_prompt(dataset.prompt))
    except PromptctlError:
        files.append(project.source.display("promptctl.yaml"))
    return files

