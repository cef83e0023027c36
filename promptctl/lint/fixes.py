"""``promptctl lint --fix``: write the findings' safe fixes into their files.

A finding carries a fix when its rule has one with a single meaning (see ``Rule.fix``): the text
written at the finding's line and column, and what to write instead. A fix is applied only when that
text is still there, as a whole word; the file is then re-read as YAML before it replaces the old
one (atomically, keeping its mode), so a fix can never leave a file that does not load.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .rules import Finding

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(slots=True)
class Fixed:
    """What ``--fix`` did: findings fixed per file, and the fixes it could not apply (with why)."""

    files: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.files.values())


def apply_fixes(findings: Iterable[Finding]) -> Fixed:
    """Apply the fix of every finding that has one (findings on the working tree: ``path`` is a file)."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.fix is not None:
            by_file[f.path].append(f)
    done = Fixed()
    for path, group in sorted(by_file.items()):
        n = _fix_file(Path(path), group, done.skipped)
        if n:
            done.files[path] = n
    return done


def _fix_file(path: Path, findings: list[Finding], skipped: list[str]) -> int:
    from ..errors import PromptctlError
    from ..fileio import write_atomic
    from ..yamlio import loads

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        skipped.append(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e})")
        return 0
    lines = text.splitlines(keepends=True)
    applied = 0
    seen: set[tuple[int, int]] = set()
    # from the end of the file back, so that a fix never moves the place of the next one
    for f in sorted(findings, key=lambda f: (f.line, f.col), reverse=True):
        assert f.fix is not None
        old, new = f.fix
        where = (f.line, f.col)
        if where in seen:
            continue
        seen.add(where)
        if not 0 < f.line <= len(lines):
            skipped.append(f"{path}:{f.line}:{f.col}: the file changed since it was linted")
            continue
        line = lines[f.line - 1]
        start = f.col - 1
        quote = line[start:start + 1]
        quoted = quote in ("'", '"') and line[start + 1:start + 2 + len(old)] == old + quote
        if quoted:
            start += 1  # a quoted key or value: the word inside the quotes, bounded by them
        end = start + len(old)
        whole_word = quoted or ((start == 0 or line[start - 1] not in _WORD) and (end >= len(line) or line[end] not in _WORD))
        if line[start:end] != old or not whole_word:
            skipped.append(f"{path}:{f.line}:{f.col}: {old!r} is not written there as one word; "
                           f"change it to {new!r} by hand")
            continue
        lines[f.line - 1] = line[:start] + new + line[end:]
        applied += 1
    if not applied:
        return 0
    fixed = "".join(lines)
    try:
        loads(fixed, path=str(path))
    except PromptctlError as e:  # never write a file that does not load
        skipped.append(f"{path}: the fixed file would not load ({e}); nothing written")
        return 0
    write_atomic(path, fixed.encode("utf-8"), fsync=False, mode=os.stat(path).st_mode & 0o777)
    return applied
