"""Sandboxed Jinja rendering of prompt messages.

Standard library and jinja2 only: the runtime renders with this same module,
so that an application sees exactly what ``promptctl render`` shows.

- Templates run in jinja2's ``ImmutableSandboxedEnvironment`` with
  ``StrictUndefined`` and no autoescaping; a sandbox violation is an error
  naming the file and line, never silent empty output.
- ``{% include %}`` resolves only inside the prompt root: no ``..``, no absolute
  paths (symlink confinement is the partial reader's job), and include cycles
  are found before anything renders.
- Each message's ``content`` is its own template: rendered text is never split
  into messages, so input data cannot forge a message.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import IncludeError, InputError, SandboxError, TemplateError
from .inputs import validate_inputs
from .model import HistorySlot, Message, Prompt

#: Reads a partial by its name under the prompt root; returns its text and the
#: file name to show in errors. Raises IncludeError when it cannot.
PartialReader = Callable[[str], tuple[str, str]]

ROLES = ("system", "user", "assistant", "tool")


class PartialNotFound(TemplateNotFound):
    """A partial that does not exist; ``display`` is the file the author should create."""

    def __init__(self, name: str, display: str) -> None:
        super().__init__(name)
        self.display = display


def _missing_hint(e: TemplateNotFound) -> str:
    where = getattr(e, "display", None)
    return f"create {where} or fix the include path" if where else "check the include path"


def check_partial_name(name: str) -> str:
    """Normalize a partial name, refusing anything that could leave the prompt root."""
    if not isinstance(name, str) or not name.strip():
        raise IncludeError(f"invalid partial name {name!r}", hint="include a path under the prompt root")
    if "\\" in name or "\x00" in name:
        raise IncludeError(f"invalid partial name {name!r}", hint="use forward slashes")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IncludeError(
            f"partial {name!r} is an absolute path",
            hint="include partials by their path under the prompt root, e.g. 'partials/policy.j2'",
        )
    parts = name.split("/")
    if ".." in parts:
        raise IncludeError(
            f"partial {name!r} leaves the prompt root",
            hint="partials must live under the prompt root; '..' is not allowed",
        )
    return posixpath.normpath(name)


class _ConfinedLoader(jinja2.BaseLoader):
    def __init__(self, read: PartialReader) -> None:
        self.read = read
        self.files: dict[str, str] = {}  # display file name -> partial name

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        name = check_partial_name(template)
        text, filename = self.read(name)
        self.files[filename] = name
        return text, filename, lambda: True


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, where an unsafe attribute raises at once.

    jinja2's sandbox returns an Undefined for an unsafe attribute, which
    ``default`` or ``is defined`` would quietly turn into empty text.
    """

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe.")


def make_environment(read: PartialReader) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment prompts render in."""
    return _StrictSandbox(
        loader=_ConfinedLoader(read),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,
        cache_size=-1,
    )


_Origin = tuple[str, int, int, bool]  # file, line of template line 1 (0: unknown), col, block scalar


class Renderer:
    """Compiles and renders prompt messages, with compiled templates cached."""

    def __init__(self, read: PartialReader) -> None:
        self.env = make_environment(read)
        self._loader: _ConfinedLoader = self.env.loader  # type: ignore[assignment]
        self._compiled: dict[tuple[str, int, str], jinja2.Template] = {}
        self._origins: dict[str, _Origin] = {}

    # -- compiling and static analysis ---------------------------------------------------------

    def _filename(self, prompt: Prompt, index: int) -> str:
        return f"{prompt.source}#messages[{index}]"

    def compile_message(self, prompt: Prompt, index: int, message: Message) -> jinja2.Template:
        """The compiled template of one message (cached by its text)."""
        key = (prompt.source, index, message.content)
        tmpl = self._compiled.get(key)
        if tmpl is None:
            filename = self._filename(prompt, index)
            self._origins[filename] = (prompt.source, message.line, message.col, message.block)
            try:
                code = self.env.compile(message.content, name=filename, filename=filename)
            except TemplateSyntaxError as e:
                raise self._error(e, filename) from None
            except (RecursionError, SyntaxError, MemoryError) as e:  # e.g. 100 nested blocks
                raise self._too_deep(e, filename) from None
            tmpl = self.env.template_class.from_code(self.env, code, self.env.make_globals(None))
            self._compiled[key] = tmpl
        return tmpl

    def collect_partials(self, prompt: Prompt) -> dict[str, str]:
        """Every partial ``prompt`` includes, directly or not, with its text.

        Raises :class:`TemplateError` for syntax errors and :class:`IncludeError`
        for missing partials, path escapes and include cycles, each at the
        line of the offending include. Dynamic includes (``{% include var %}``)
        cannot be followed here; they are checked when they render.
        """
        found: dict[str, str] = {}
        for index, entry in enumerate(prompt.messages):
            if not isinstance(entry, Message):
                continue
            filename = self._filename(prompt, index)
            self._origins[filename] = (prompt.source, entry.line, entry.col, entry.block)
            try:
                ast = self.env.parse(entry.content, name=filename, filename=filename)
            except TemplateSyntaxError as e:
                raise self._error(e, filename) from None
            except (RecursionError, SyntaxError, MemoryError) as e:  # e.g. 100 nested blocks
                raise self._too_deep(e, filename) from None
            self._follow(ast, filename, [], found)
        return found

    def _follow(self, ast: nodes.Template, filename: str, chain: list[str], found: dict[str, str]) -> None:
        for name, lineno, optional in iter_includes(ast):
            if name is None:
                continue
            file, line, col = self._locate(filename, lineno)
            try:
                name = check_partial_name(name)
            except IncludeError as e:
                raise IncludeError(e.message, path=file, line=line, col=col, hint=e.hint) from None
            if name in chain:
                cycle = " -> ".join(chain[chain.index(name):] + [name])
                raise IncludeError(
                    f"include cycle: {cycle}", path=file, line=line, col=col, hint="break the cycle"
                )
            try:
                text, pfile = self._loader.read(name)
            except TemplateNotFound as e:
                if optional:
                    continue
                raise IncludeError(
                    f"partial {name!r} not found", path=file, line=line, col=col, hint=_missing_hint(e)
                ) from None
            except IncludeError as e:
                raise IncludeError(e.message, path=file, line=line, col=col, hint=e.hint) from None
            self._loader.files[pfile] = name
            self._origins.setdefault(pfile, (pfile, 1, 1, True))
            found[name] = text
            try:
                sub = self.env.parse(text, name=name, filename=pfile)
            except TemplateSyntaxError as e:
                raise self._error(e, pfile) from None
            except (RecursionError, SyntaxError, MemoryError) as e:  # e.g. 100 nested blocks
                raise self._too_deep(e, pfile) from None
            self._follow(sub, pfile, chain + [name], found)

    def _locate(self, filename: str, lineno: int | None) -> tuple[str, int | None, int | None]:
        origin = self._origins.get(filename)
        if origin is None:
            return filename, lineno, None
        file, line, col, block = origin
        if not line or lineno is None:
            return file, None, None
        if file == filename:  # a partial: its own lines
            return file, lineno, 1
        if not block:  # a quoted or plain scalar: its lines are not the file's lines
            return file, line, col
        return file, line + lineno - 1, col

    # -- rendering -----------------------------------------------------------------------------

    def render(self, prompt: Prompt, values: Mapping[str, Any], *, validate: bool = True) -> list[dict[str, Any]]:
        """Render ``prompt`` with ``values``: the list of ``{role, content}`` messages.

        Inputs are validated first (one :class:`InputError` listing every
        problem) and defaults applied.
        """
        context = validate_inputs(prompt.inputs, values, prompt=prompt.name) if validate else dict(values)
        out: list[dict[str, Any]] = []
        for index, entry in enumerate(prompt.messages):
            if isinstance(entry, HistorySlot):
                out.extend(_history(context.get(entry.input), entry.input, prompt.name))
                continue
            tmpl = self.compile_message(prompt, index, entry)
            try:
                content = tmpl.render(context)
            except TemplateError as e:
                if e.line is not None:
                    raise
                raise self._error(e, self._filename(prompt, index)) from None
            except Exception as e:  # noqa: BLE001 - every template failure becomes a located error
                raise self._error(e, self._filename(prompt, index)) from None
            msg: dict[str, Any] = {"role": entry.role, "content": content}
            if entry.name is not None:
                msg["name"] = entry.name
            out.append(msg)
        return out

    def _too_deep(self, exc: BaseException, filename: str) -> TemplateError:
        """A template Python cannot compile (nesting past the parser's or the interpreter's limits)."""
        file, line, col = self._locate(filename, 1)
        why = "too many levels of indentation" if isinstance(exc, SyntaxError) else type(exc).__name__
        return TemplateError(f"template is nested too deeply to compile ({why})", path=file, line=line, col=col,
                             hint="flatten the nested blocks (a macro or a loop instead of deep if/for nesting)")

    def _error(self, exc: BaseException, filename: str) -> TemplateError:
        """Turn a Jinja failure into a located promptctl error."""
        if isinstance(exc, TemplateSyntaxError):
            where = exc.filename or filename
            file, line, col = self._locate(where, exc.lineno)
            return TemplateError(f"Jinja syntax error: {exc.message}", path=file, line=line, col=col)
        where, lineno = filename, None
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name in self._origins or name in self._loader.files:
                where, lineno = name, tb.tb_lineno
            tb = tb.tb_next
        file, line, col = self._locate(where, lineno)
        if isinstance(exc, SecurityError):
            return SandboxError(
                f"sandbox violation: {exc}",
                path=file,
                line=line,
                col=col,
                hint="templates may not reach Python internals; use only the declared inputs",
            )
        if isinstance(exc, UndefinedError):
            return TemplateError(
                f"undefined: {exc.message}",
                path=file,
                line=line,
                col=col,
                hint="declare every variable the template uses under `inputs`",
            )
        if isinstance(exc, TemplateNotFound):
            return IncludeError(
                f"partial {exc.name!r} not found", path=file, line=line, col=col, hint=_missing_hint(exc)
            )
        if isinstance(exc, IncludeError):
            return IncludeError(exc.message, path=file, line=line, col=col, hint=exc.hint)
        if isinstance(exc, RecursionError):
            return IncludeError(
                "templates include each other without end", path=file, line=line, col=col, hint="break the cycle"
            )
        return TemplateError(f"template failed: {type(exc).__name__}: {exc}", path=file, line=line, col=col)


def iter_includes(ast: nodes.Template) -> Iterator[tuple[str | None, int, bool]]:
    """Each ``{% include %}``/``import``/``extends`` target with its line, and whether it may be missing.

    The name is None for a dynamic target. The candidates of a list
    (``{% include ['a.j2', 'b.j2'] %}``) may each be missing, as may a target
    marked ``ignore missing``.
    """
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = node.template  # type: ignore[attr-defined]  # every node type above has one
        optional = bool(getattr(node, "ignore_missing", False))
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            yield target.value, node.lineno, optional
        elif isinstance(target, (nodes.Tuple, nodes.List)):
            for item in target.items:
                if isinstance(item, nodes.Const) and isinstance(item.value, str):
                    yield item.value, node.lineno, True
                else:
                    yield None, node.lineno, True
        else:
            yield None, node.lineno, optional


def _history(value: Any, name: str, prompt: str) -> list[dict[str, Any]]:
    """Validate the messages spliced from history input ``name``."""
    if value is None:
        return []
    problems = []
    if not isinstance(value, (list, tuple)):
        problems.append(f"input {name!r} must be a list of {{role, content}} messages")
        value = []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("content"), str):
            problems.append(f"input {name}[{i}] must be an object with a string 'content'")
            continue
        if item.get("role") not in ROLES:
            problems.append(f"input {name}[{i}] has role {item.get('role')!r}; use one of {', '.join(ROLES)}")
            continue
        out.append({"role": item["role"], "content": item["content"]})
    if problems:
        raise InputError(f"bad history input for {prompt!r}", problems=problems)
    return out
