"""Sources: "the project's files at a version", behind one small interface.

A source reads files by their POSIX path relative to the project root (the
folder holding promptctl.yaml). :class:`WorkTree` reads the working tree;
other versions (git revisions, bundles) implement the same methods.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from .errors import IncludeError, YamlError
from .yamlio import MAX_BYTES, Document, decode, loads


class Source(Protocol):
    """The files of a project at one version."""

    label: str

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of file ``rel``; FileNotFoundError when there is none."""
        ...

    def walk(self, rel_dir: str) -> list[str]:
        """Every file below ``rel_dir``, as sorted project-relative POSIX paths."""
        ...

    def display(self, rel: str) -> str:
        """How to show file ``rel`` in messages (a path the user can open)."""
        ...

    def confine(self, rel: str, root_rel: str) -> None:
        """Raise IncludeError when ``rel`` resolves (through symlinks) outside ``root_rel``."""
        ...


def read_text(source: Source, rel: str) -> str:
    """Read ``rel`` from ``source`` as UTF-8 text with the size limit applied."""
    try:
        raw = source.read_bytes(rel)
    except FileNotFoundError:
        raise YamlError("file not found", path=source.display(rel)) from None
    except OSError as e:
        raise YamlError(f"cannot read file: {e.strerror or e}", path=source.display(rel)) from None
    return decode(raw, display=source.display(rel), max_bytes=MAX_BYTES)


def load_yaml(source: Source, rel: str) -> Document:
    """Load a YAML file of ``source`` with the safe loader."""
    return loads(read_text(source, rel), path=source.display(rel))


class WorkTree:
    """The project's files as they are on disk now."""

    label = "working tree"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._real_root = os.path.realpath(self.root)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def read_bytes(self, rel: str) -> bytes:
        path = self._abs(rel)
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise YamlError(
                f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit",
                path=self.display(rel),
                hint="split it into smaller files",
            )
        with open(path, "rb") as fh:
            return fh.read()

    def walk(self, rel_dir: str) -> list[str]:
        base = self._abs(rel_dir)
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_base = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for f in filenames:
                out.append(f if rel_base == "." else f"{rel_base}/{f}")
        return sorted(out)

    def display(self, rel: str) -> str:
        path = self._abs(rel)
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            return path
        return path if shown.startswith("..") else shown

    def confine(self, rel: str, root_rel: str) -> None:
        real = os.path.realpath(self._abs(rel))
        root = os.path.realpath(self._abs(root_rel)) if root_rel not in ("", ".") else self._real_root
        if real != root and not real.startswith(root + os.sep):
            raise IncludeError(
                f"{rel!r} resolves outside {root_rel or 'the project'!s} (through a symlink)",
                path=self.display(rel),
                hint="partials must be real files under the prompt root",
            )
