"""``promptctl init``: scaffold a working example project."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError
from .schemas import NAMES, schema_dir

EXAMPLE = Path(__file__).resolve().parent / "example"
# Files stored under a plain name in the package (dot-files would be skipped or
# read as ignore rules by packaging tools), renamed when scaffolded.
# The recordings are the example's recorded model answers, so that
# `promptctl test --mode replay` passes with no API key; after changing the example's
# prompts or datasets, re-record them (`promptctl test --mode refresh`) and copy them here.
RENAMES = {
    "gitignore": ".gitignore",
    "vscode/settings.json": ".vscode/settings.json",
    "recordings/summarize.jsonl": ".promptctl/recordings/summarize.jsonl",
    "recordings/support/reply.jsonl": ".promptctl/recordings/support/reply.jsonl",
}


def scaffold_files() -> dict[str, bytes]:
    """Target path (POSIX, relative to the new project) -> content, for every file init writes."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(EXAMPLE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(EXAMPLE).as_posix()
            files[RENAMES.get(rel, rel)] = path.read_bytes()
    for name in NAMES:
        files[f".promptctl/schemas/{name}.schema.json"] = (schema_dir() / f"{name}.schema.json").read_bytes()
    return files


def init_project(target: str | os.PathLike[str]) -> list[str]:
    """Write the example project into ``target``; return the files written.

    Writes nothing at all when any of the files already exists.
    """
    root = Path(target)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    files = scaffold_files()
    clashes = sorted(rel for rel in files if os.path.lexists(root / rel))
    folders = {parent for rel in files for parent in Path(rel).parents if parent != Path(".")}
    clashes += sorted(f"{d.as_posix()} (a file where a folder is needed)" for d in folders
                      if os.path.lexists(root / d) and not (root / d).is_dir())
    if clashes:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise UsageError(
            f"refusing to overwrite existing files in {target}: {shown}",
            hint="run init in an empty folder, or move those files away",
        )
    written: list[str] = []
    try:
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as fh:
                fh.write(content)
            written.append(rel)
    except OSError as e:
        for rel in written:  # leave nothing half-written
            (root / rel).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {e.filename or target}: {e.strerror or e}", hint="nothing was written; check the folder"
        ) from None
    return written
