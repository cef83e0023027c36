"""Importers: turn another tool's configuration into a promptctl project.

Each importer reads the other tool's files (through promptctl's safe loaders, so every problem is
located at ``file:line``), maps what promptctl can express, and lists what it cannot with where it
was and why. Nothing is written until the whole import has been planned; :func:`write_files` then
writes it (refusing to overwrite unless told to).

- :mod:`promptctl.importers.promptfoo`: a ``promptfooconfig.yaml``
- :mod:`promptctl.importers.yamlout`: readable YAML for the files written
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError


@dataclass(frozen=True, slots=True)
class Skipped:
    """One thing that was not carried over: what, where (file and line, when known) and why."""

    what: str
    file: str
    line: int | None
    why: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.what}: {self.why}"


@dataclass(slots=True)
class ImportPlan:
    """What an import would write (project-relative POSIX path -> text), what it left out, and notes."""

    files: dict[str, str] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_files(target: str | os.PathLike[str], files: Mapping[str, str], *, force: bool = False) -> list[str]:
    """Write ``files`` under ``target`` (created if missing); return the paths written, in order.

    Refuses, writing nothing, when any of them exists (all are listed) unless ``force``; a file
    standing where a folder is needed is always refused. Each file is written to a temporary name
    and renamed into place, so none is ever left half-written; on a failure the new files written so
    far are removed again.
    """
    root = Path(target)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{target} exists and is not a folder", hint="pass a folder with --into")
    folders = {parent for rel in files for parent in Path(rel).parents if parent != Path(".")}
    blocked = sorted(f"{d.as_posix()} (a file where a folder is needed)" for d in folders
                     if os.path.lexists(root / d) and not (root / d).is_dir())
    if blocked:
        raise UsageError(f"cannot write into {target}: {', '.join(blocked)}", hint="move those files away")
    existing = sorted(rel for rel in files if os.path.lexists(root / rel))
    if existing and not force:
        shown = ", ".join(existing[:8]) + (f" and {len(existing) - 8} more" if len(existing) > 8 else "")
        raise UsageError(
            f"refusing to overwrite existing files in {target}: {shown}",
            hint="nothing was written; pass --force to overwrite them, or --into another folder",
        )
    directories = [d for d in existing if (root / d).is_dir() or (root / d).is_symlink()]
    if directories:
        raise UsageError(f"cannot overwrite {', '.join(directories)} in {target}: not a regular file",
                         hint="move it away")
    created: list[str] = []
    written: list[str] = []
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            is_new = not os.path.lexists(path)
            tmp = path.with_name(f".{path.name}.promptctl-import-tmp")
            try:
                with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(rel)
            if is_new:
                created.append(rel)
    except OSError as e:
        for rel in created:
            (root / rel).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {e.filename or target}: {e.strerror or e}",
            hint="no new file was left behind; check the folder and run the import again",
        ) from None
    return written
