"""File rules: duplicate prompt names (PC103), unknown files in the prompt root (PC104), and the include graph.

The include graph is found by scanning the raw text of every file under the
prompt root for ``{% include/import/from/extends %}`` tags, without parsing
YAML or Jinja: it is cheap, it still works for files that do not parse, and
it errs on the side of "included" (a tag in a Jinja comment counts). It
answers two questions: which prompts a changed partial affects (PATHS mode)
and which files no prompt can reach (PC104).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import TYPE_CHECKING

from ..config import PROMPT_SUFFIX
from .base import literal_glob

if TYPE_CHECKING:
    from .base import Linter

_TAG = re.compile(r"\{%[-+]?\s*(include|import|from|extends)\s+(.*?)\s*[-+]?%\}", re.S)
_STR = re.compile(r"""(\\?)(["'])(.*?)\1\2""", re.S)
_CUT = {
    "include": re.compile(r"\s+(?:ignore\s+missing|with\s+context|without\s+context)\b.*$", re.S),
    "import": re.compile(r"\s+as\s+.*$", re.S),
    "from": re.compile(r"\s+import\s+.*$", re.S),
}


def scan_includes(text: str) -> tuple[set[str], set[str]]:
    """The constant partial names and the globs of computed targets of every include tag in ``text``."""
    names: set[str] = set()
    globs: set[str] = set()
    for m in _TAG.finditer(text):
        kind, expr = m.group(1), m.group(2)
        cut = _CUT.get(kind)
        if cut is not None:
            expr = cut.sub("", expr)
        literals = list(_STR.finditer(expr))
        rest = _STR.sub("", expr)
        if not re.sub(r"[\s\[\](),]", "", rest):
            names.update(s.group(3) for s in literals)
        elif literals and re.search(r"[~+%]|\bformat\b", rest):
            parts: list[str | None] = []
            pos = 0
            for s in literals:
                if re.search(r"\w", expr[pos:s.start()]):
                    parts.append(None)
                parts.append(s.group(3))
                pos = s.end()
            if re.search(r"\w", expr[pos:]):
                parts.append(None)
            globs.add(literal_glob(parts))
        else:
            names.update(s.group(3) for s in literals)
            globs.add("*")
    return names, globs


class IncludeGraph:
    """Which files under the prompt root each file may include (see the module docstring)."""

    def __init__(self, lin: Linter) -> None:
        self.lin = lin
        self.others = {lin.name_under_prompts(r): r for r in lin.other_files}
        self._edges: dict[str, tuple[set[str], set[str]]] = {}
        self._closure: dict[str, set[str]] = {}
        self._reachable: set[str] | None = None

    def edges(self, rel: str) -> tuple[set[str], set[str]]:
        if rel not in self._edges:
            text = self.lin.text(rel, report=False)
            self._edges[rel] = scan_includes(text) if text and "{%" in text else (set(), set())
        return self._edges[rel]

    def closure(self, rel: str) -> set[str]:
        """Names (under the prompt root) of every non-prompt file ``rel`` may include, directly or not."""
        if rel in self._closure:
            return self._closure[rel]
        seen: set[str] = set()
        todo = [rel]
        while todo:
            names, globs = self.edges(todo.pop())
            found = {posixpath.normpath(n) for n in names if n and not n.startswith("/")}
            for g in globs:
                found.update(n for n in self.others if fnmatch.fnmatchcase(n, g))
            for name in found:
                if name in self.others and name not in seen:
                    seen.add(name)
                    todo.append(self.others[name])
        self._closure[rel] = seen
        return seen

    def reaches(self, rel: str, names: set[str]) -> bool:
        return bool(names) and not names.isdisjoint(self.closure(rel))

    def reachable(self) -> set[str]:
        """Every non-prompt file some prompt may include."""
        if self._reachable is None:
            out: set[str] = set()
            for rel in self.lin.prompt_files.values():
                out |= self.closure(rel)
            self._reachable = out
        return self._reachable


def check_names(lin: Linter) -> None:
    """PC103 for prompt names that clash (letter case, suffix case, symlinks); PC104 for mis-cased suffixes."""
    groups: dict[str, list[str]] = {}
    for rel in list(lin.prompt_files.values()) + lin.other_files:
        under = lin.name_under_prompts(rel)
        if under.lower().endswith(PROMPT_SUFFIX):
            groups.setdefault(under.lower()[: -len(PROMPT_SUFFIX)], []).append(rel)
    for rels in groups.values():
        rels.sort(key=lambda r: (not r.endswith(PROMPT_SUFFIX), r))
        first = rels[0]
        if len(rels) == 1 and not first.endswith(PROMPT_SUFFIX):
            suffix = first[-len(PROMPT_SUFFIX):]
            lin.add("PC104", first, 1, 1,
                    f"ends in {suffix!r}, so it is not a prompt; rename it to end in '{PROMPT_SUFFIX}' (lower case)")
        for rel in rels[1:]:
            lin.add("PC103", rel, 1, 1,
                    f"prompt name clashes with {lin.source.display(first)}: the names differ only in letter case "
                    "(one file on macOS and Windows); rename or delete one")
    by_real: dict[str, list[str]] = {}
    for rel in lin.prompt_files.values():
        by_real.setdefault(lin.real(rel), []).append(rel)
    for real, rels in by_real.items():
        if len(rels) < 2:
            continue
        for rel in sorted(rels):
            if rel != real:
                lin.add("PC103", rel, 1, 1,
                        f"is a symlink to {real}: one prompt under two names; delete the link or make it a copy")


def check_other_file(lin: Linter, rel: str, graph: IncludeGraph) -> None:
    """A non-prompt file under the prompt root: secrets, and PC104 when no prompt can include it."""
    from . import security, template

    name = lin.name_under_prompts(rel)
    if lin.text(rel, report=False) is not None:
        security.scan_file(lin, rel)
    if name.lower().endswith(PROMPT_SUFFIX):
        return  # check_names reported it
    if name in graph.reachable():
        template.partial(lin, name)  # analysed once, even when no linted prompt reached it
        return
    if name.endswith((".prompt.yml", ".prompt.json")):
        hint = f"prompt files end in '{PROMPT_SUFFIX}'; rename it"
    else:
        hint = "delete it, include it from a prompt, or move it out of the prompt root"
    lin.add("PC104", rel, 1, 1, f"{name!r} is neither a prompt nor a partial any prompt includes; {hint}")
