"""``file://`` assertion values, as promptfoo writes them: a JSON Schema, a rubric, a list, a Python check.

``value: file://schemas/reply.json`` (or ``.yaml``/``.yml``) is the file's data; any other file is its
text (a rubric, an expected answer); for ``python``, ``file://checks.py:fn`` is the function ``fn`` of
that file (``file://checks.py`` alone: ``get_assert``, promptfoo's default), called as
``fn(output, context)``. Paths are relative to the folder of the file that holds the assertion
(the dataset file, or the JSONL file of a case written there) and must stay inside the project; files are read from the version under test (``--ref`` too), with the limits every project
file has (regular files, bounded size, no symlink out of the project).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .assertions import AssertionSetupError

if TYPE_CHECKING:
    from ..project import Project

PREFIX = "file://"
DATA_SUFFIXES = (".json", ".yaml", ".yml")


def source_rel(project: Project, shown: str) -> str:
    """A project file's path relative to the project root, from the path it is shown with."""
    import os
    from pathlib import Path

    src = project.source
    root = getattr(src, "root", None)
    if root is not None:  # the working tree: shown relative to the cwd, or absolute
        return Path(os.path.relpath(os.path.abspath(shown), root)).as_posix()
    base = src.display("")  # a git revision: "REV:" or "REV:prefix/"
    return shown[len(base):] if shown.startswith(base) else shown


def file_value(spec: Mapping[str, Any], project: Project, base_dir: str) -> Mapping[str, Any]:
    """``spec`` with a ``file://`` value replaced by what the file holds (see the module docstring)."""
    value = spec.get("value")
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return spec
    kind = str(spec.get("type", "")).removeprefix("not-")
    target, function = value[len(PREFIX):], None
    if kind == "python" and ":" in target and target.rsplit(":", 1)[0].endswith(".py"):
        target, function = target.rsplit(":", 1)
    if not target or target.startswith("/") or "\\" in target:
        raise AssertionSetupError(f"{value}: give a path relative to the dataset's folder, inside the project")
    rel = posixpath.normpath(posixpath.join(base_dir, target))
    if rel == ".." or rel.startswith("../"):
        raise AssertionSetupError(f"{value} leaves the project: assertion files must be inside it")
    try:
        data = project.source.read_bytes(rel)
    except FileNotFoundError:
        raise AssertionSetupError(f"{value}: no such file ({rel} in the project)") from None
    except Exception as e:  # noqa: BLE001 - a symlink out, a FIFO, a file too large: the assertion fails, saying why
        raise AssertionSetupError(f"{value}: {getattr(e, 'message', e)}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionSetupError(f"{value}: not UTF-8 text") from None
    if kind == "python" and rel.endswith(".py"):
        return {**spec, "value": {"python_file": project.source.display(rel), "source": text,
                                  "function": function or "get_assert"}}
    if rel.endswith(DATA_SUFFIXES):
        from ..errors import PromptctlError
        from ..yamlio import loads

        try:
            loaded = loads(text, path=project.source.display(rel)).data
        except PromptctlError as e:
            raise AssertionSetupError(f"{value}: {e}") from None
        return {**spec, "value": loaded}
    return {**spec, "value": text}
