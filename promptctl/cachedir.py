"""promptctl's own cache of derived data (compiled schema checks, the compacted model table): files
named by a hash of what they are made from, so that a stale one is never read, only left behind."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dirs(sub: str, beside: Path | None = None) -> list[Path]:
    """Where ``sub`` is kept, best first: ``$PROMPTCTL_CACHE_DIR/SUB``, the user's cache folder
    (``$XDG_CACHE_HOME/promptctl/SUB``, else ``~/.cache/promptctl/SUB``), then ``beside`` (like
    Python's own ``__pycache__``) when neither can be written."""
    dirs = []
    if os.environ.get("PROMPTCTL_CACHE_DIR"):
        dirs.append(Path(os.environ["PROMPTCTL_CACHE_DIR"]) / sub)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if os.path.isabs(base):
        dirs.append(Path(base) / "promptctl" / sub)
    if beside is not None:
        dirs.append(beside)
    return dirs


def read_cached(dirs: list[Path], key: str) -> bytes | None:
    """The bytes of ``key`` in the first folder that has it (None: in none)."""
    for folder in dirs:
        try:
            return (folder / key).read_bytes()
        except OSError:
            continue
    return None


def write_cached(dirs: list[Path], key: str, data: bytes) -> None:
    """Write ``key`` to the first folder that takes it; a cache that cannot be written is no error."""
    from .fileio import write_atomic

    for folder in dirs:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / key, data, fsync=False)
            return
        except OSError:
            continue
