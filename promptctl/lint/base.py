"""What the rule families (``files``, ``template``, ``models``, ``security``, ``datasets``, ``samples``)
need from the engine: the :class:`Linter` interface they add findings through, :class:`PromptInfo`, and
:func:`literal_glob`, which ``files`` and ``template`` share.

The engine imports the rule modules and they import this module, never the engine, so the
dependency runs one way: engine -> rule modules -> base. Standard library only at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import Config
    from ..errors import FileFormatError, PromptctlError
    from ..project import Project
    from ..sources import Source
    from ..yamlio import Document


@dataclass(slots=True)
class PromptInfo:
    """One prompt file as lint sees it: its document and, when it could be built, the Prompt."""

    name: str
    rel: str
    doc: Document | None = None
    prompt: Any = None  # model.Prompt
    broken: bool = False  # templates do not compile or includes fail: samples are not rendered


class Linter(Protocol):
    """The part of :class:`promptctl.lint.engine.Linter` that the rule modules use (mypy checks that
    the engine's class has it, wherever the engine hands itself to a rule)."""

    source: Source
    config: Config
    project: Project | None
    prompt_files: dict[str, str]  # name -> rel
    other_files: list[str]  # non-prompt files under the prompt root
    docs: dict[str, Document | None]
    partials: dict[str, Any]  # name -> template.PartialEntry
    globs: dict[str, set[str]]  # include glob -> variables of the partials it matches
    compile_cache: Any  # template.CompileCache, once the config is read

    def on(self, code: str) -> bool: ...
    def add(self, code: str, rel: str, line: int | None, col: int | None, message: str, *,
            fix: tuple[str, str] | None = None) -> None: ...
    def add_error(self, code: str, rel: str, error: PromptctlError) -> None: ...
    def rel_under_prompts(self, name: str) -> str: ...
    def name_under_prompts(self, rel: str) -> str: ...
    def text(self, rel: str, *, report: bool = True) -> str | None: ...
    def read_error(self, rel: str) -> FileFormatError | None: ...
    def doc(self, rel: str) -> Document | None: ...
    def schema_check(self, rel: str, doc: Document, schema: str) -> None: ...
    def real(self, rel: str) -> str: ...
    def prompt_info(self, name: str) -> PromptInfo | None: ...


def literal_glob(parts: list[str | None]) -> str:
    """A glob from the constant (str) and computed (None) parts of an include target."""
    out = "".join("*" if p is None else re.sub(r"%[sdr]|\{[^}]*\}", "*", p) for p in parts)
    return re.sub(r"\*+", "*", out) or "*"
