"""Sandboxed Jinja rendering of prompt messages.

Standard library and jinja2 only: the runtime renders with this same module,
so that an application sees exactly what ``promptctl render`` shows.

- A message that only puts inputs into text (``Hello {{ name }}``: no blocks,
  filters, expressions or comments) is rendered here, as Jinja renders it
  (``str()`` of each value, the one trailing newline dropped), without jinja2;
  every other one is compiled by Jinja (:mod:`promptctl.sandbox`, imported on
  the first that needs it), as is a plain one whose input is missing or whose
  text is over the limit, so that its error is Jinja's, located.

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

import contextvars
import posixpath
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import IncludeError, InputError, SandboxError, TemplateError
from .inputs import validate_inputs
from .limits import RenderLimits
from .model import HistorySlot, Message, Prompt

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes
    from jinja2.exceptions import UndefinedError

    from .sandbox import _ConfinedLoader

#: Reads a partial by its name under the prompt root; returns its text and the
#: file name to show in errors. Raises IncludeError when it cannot.
PartialReader = Callable[[str], tuple[str, str]]

ROLES = ("system", "user", "assistant", "tool")


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


#: The default limits of one render (all messages together): the most characters it may produce, the
#: most items all its ``range()`` calls may produce, the most iterations all its for-loops may run. A
#: template or an input value can make neither memory nor CPU run away. :class:`RenderLimits` (set by
#: promptctl.yaml ``render:`` or ``Registry(render_limits=...)``) changes them; documented in
#: docs/safety.md.
DEFAULT_LIMITS = RenderLimits()
MAX_OUTPUT_CHARS = DEFAULT_LIMITS.max_output_chars
MAX_RANGE_ITEMS = DEFAULT_LIMITS.max_range_items
MAX_LOOP_ITERATIONS = DEFAULT_LIMITS.max_loop_iterations


class _RenderState:
    """One render's limits and what it has used of them (carried by the ``_budget`` context variable)."""

    __slots__ = ("limits", "prompt", "range_items", "loop_iterations")

    def __init__(self, limits: RenderLimits, prompt: str | None = None) -> None:
        self.limits = limits
        self.prompt = prompt
        self.range_items = 0
        self.loop_iterations = 0


_budget: contextvars.ContextVar[_RenderState | None] = contextvars.ContextVar("promptctl_render_budget", default=None)


def _state() -> _RenderState:
    """The current render's state; outside a render, a fresh one with the default limits."""
    state = _budget.get()
    return state if state is not None else _RenderState(DEFAULT_LIMITS)


def _limits() -> RenderLimits:
    state = _budget.get()
    return state.limits if state is not None else DEFAULT_LIMITS


class RenderLimitError(TemplateError):
    """A render that would exceed a limit (output size, repetition, width, range items, loop iterations)."""


def _limit(what: str, size: int, limit: int) -> RenderLimitError:
    return RenderLimitError(
        f"render limit: {what} would be {size:,}, over the limit of {limit:,}",
        hint="templates and inputs may not produce huge texts or loops; check the input values",
    )


def _check_size(what: str, size: int) -> None:
    limit = _limits().max_output_chars
    if size > limit:
        raise _limit(what, size, limit)


_Origin = tuple[str, int, int, bool]  # file, line of template line 1 (0: unknown), col, block scalar

# -- plain messages: inputs put into text, rendered without Jinja -------------------------------

#: ``{{ name }}``: an input's value and nothing else (no filter, attribute, call, operator or `-`)
_PUT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: names that are not variables in Jinja (its constants and operators)
_NOT_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"})
_MISSING = object()


def plain_pieces(source: str) -> tuple[str, ...] | None:
    """A message that only puts inputs into text, split as ``(text, name, text, name, …, text)``,
    with the text as Jinja renders it; None for any other (Jinja renders it).

    Jinja drops one trailing newline (``keep_trailing_newline`` is off); a text with ``\\r`` (whose
    newlines Jinja rewrites), a ``{{``, ``{%`` or ``{#`` that is not a plain ``{{ name }}``, or a
    ``{`` just before one (Jinja would read ``{{{`` from its first brace) is not plain.
    """
    if "\r" in source or "{%" in source or "{#" in source:
        return None
    if source.endswith("\n"):
        source = source[:-1]
    pieces = tuple(_PUT.split(source))
    for i, piece in enumerate(pieces):
        if i % 2:
            if piece in _NOT_NAMES:
                return None
        elif "{{" in piece or (piece.endswith("{") and i < len(pieces) - 1):
            return None
    return pieces


def _put(pieces: tuple[str, ...], context: Mapping[str, Any]) -> str | None:
    """The text of a plain message with ``context``'s values, as Jinja makes it (``str()`` of each);
    None when a name is not in ``context`` (Jinja then says it, at its line)."""
    if len(pieces) == 1:
        return pieces[0]
    parts = list(pieces)
    for i in range(1, len(parts), 2):
        value = context.get(parts[i], _MISSING)
        if value is _MISSING:
            return None
        parts[i] = value if type(value) is str else str(value)
    return "".join(parts)


class Renderer:
    """Compiles and renders prompt messages, with compiled templates cached.

    ``limits`` bounds each render (default: :class:`RenderLimits` ``()``, the documented defaults).
    """

    def __init__(self, read: PartialReader, limits: RenderLimits | None = None) -> None:
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self._read = read
        self._env: jinja2.Environment | None = None
        self._compiled: dict[tuple[str, int, str], jinja2.Template] = {}
        self._origins: dict[str, _Origin] = {}
        self._texts: dict[str, jinja2.Template] = {}  # render_text's compiled templates
        self._plain: dict[str, tuple[str, ...] | None] = {}  # a message's text -> its plain_pieces

    @property
    def env(self) -> jinja2.Environment:
        """The sandboxed Jinja environment (made, and jinja2 imported, on the first use)."""
        if self._env is None:
            from .sandbox import make_environment

            self._env = make_environment(self._read)
        return self._env

    @property
    def _loader(self) -> _ConfinedLoader:
        return self.env.loader  # type: ignore[return-value]  # make_environment's own loader

    def plain(self, content: str) -> tuple[str, ...] | None:
        """``content``'s :func:`plain_pieces` (cached)."""
        try:
            return self._plain[content]
        except KeyError:
            pieces = self._plain[content] = plain_pieces(content)
            return pieces

    # -- compiling and static analysis ---------------------------------------------------------

    def _filename(self, prompt: Prompt, index: int) -> str:
        return f"{prompt.source}#messages[{index}]"

    def compile_message(self, prompt: Prompt, index: int, message: Message) -> jinja2.Template:
        """The compiled template of one message (cached by its text)."""
        key = (prompt.source, index, message.content)
        tmpl = self._compiled.get(key)
        if tmpl is None:
            from jinja2.exceptions import TemplateSyntaxError

            filename = self._filename(prompt, index)
            self._origins[filename] = (prompt.source, message.line, message.col, message.block)
            try:
                code = self.env.compile(message.content, name=filename, filename=filename)
            except TemplateSyntaxError as e:
                raise self._error(e, filename) from None
            except (RecursionError, SyntaxError, MemoryError) as e:  # e.g. 100 nested blocks
                raise self._too_deep(e, filename) from None
            # the environment's globals as a plain dict (they are set once, in make_environment): each
            # render copies them into its context, and a dict copies much faster than jinja's ChainMap
            tmpl = self.env.template_class.from_code(self.env, code, dict(self.env.globals))
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
            if not isinstance(entry, Message) or self.plain(entry.content) is not None:
                continue  # a plain message includes nothing and has no syntax to check
            from jinja2.exceptions import TemplateSyntaxError

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
        from jinja2.exceptions import TemplateNotFound, TemplateSyntaxError

        from .sandbox import _missing_hint, iter_includes

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
        token = _budget.set(_RenderState(self.limits, prompt.name))
        try:
            return self._render(prompt, context)
        finally:
            _budget.reset(token)

    def render_text(self, source: str, values: Mapping[str, Any], *, what: str) -> str:
        """Render one standalone template ``source`` (an assertion's value, say) in the same sandbox and
        limits as prompts; a failure is a TemplateError naming ``what``."""
        from jinja2.exceptions import SecurityError

        token = _budget.set(_RenderState(self.limits, what))
        try:
            template = self._texts.get(source)
            if template is None:
                template = self._texts[source] = self.env.from_string(source)
            text = template.render(values)
            _check_size(what, len(text))
            return text
        except TemplateError:
            raise
        except SecurityError as e:
            raise SandboxError(f"{what}: the sandbox refused it: {e}") from None
        except Exception as e:  # noqa: BLE001 - a syntax error, an undefined name, a failing filter
            message = getattr(e, "message", None) or str(e)
            raise TemplateError(f"{what}: {type(e).__name__}: {message}") from None
        finally:
            _budget.reset(token)

    def _render(self, prompt: Prompt, context: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        size = 0
        limit = self.limits.max_output_chars
        for index, entry in enumerate(prompt.messages):
            if isinstance(entry, HistorySlot):
                out.extend(_history(context.get(entry.input), entry.input, prompt.name))
                continue
            pieces = self.plain(entry.content)
            text = None if pieces is None else _put(pieces, context)
            if text is not None and size + len(text) <= limit:
                size += len(text)
                msg: dict[str, Any] = {"role": entry.role, "content": text}
                if entry.name is not None:
                    msg["name"] = entry.name
                out.append(msg)
                continue
            tmpl = self.compile_message(prompt, index, entry)  # (a plain one too, to say what is wrong)
            try:
                parts = []
                for chunk in tmpl.generate(context):
                    size += len(chunk)
                    if size > limit:
                        raise _limit(f"the rendered text of {prompt.name!r}", size, limit)
                    parts.append(chunk)
                content = "".join(parts)
            except TemplateError as e:
                if e.line is not None:
                    raise
                raise self._error(e, self._filename(prompt, index)) from None
            except Exception as e:  # noqa: BLE001 - every template failure becomes a located error
                from jinja2.exceptions import UndefinedError

                filename = self._filename(prompt, index)
                error = self._error(e, filename)
                if isinstance(e, UndefinedError):
                    _say_undefined(error, e, filename, entry.content, prompt)
                raise error from None
            msg = {"role": entry.role, "content": content}
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
        from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError, UndefinedError

        from .sandbox import _missing_hint

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
        if isinstance(exc, RenderLimitError):
            return RenderLimitError(exc.message, path=file, line=line, col=col, hint=exc.hint)
        if isinstance(exc, RecursionError):
            return IncludeError(
                "templates include each other without end", path=file, line=line, col=col, hint="break the cycle"
            )
        return TemplateError(f"template failed: {type(exc).__name__}: {exc}", path=file, line=line, col=col)


def _say_undefined(error: TemplateError, exc: UndefinedError, filename: str, source: str, prompt: Prompt) -> None:
    """An undefined variable said as lint says it (PC202): at the name itself, with "did you mean"
    one of the declared inputs."""
    import difflib

    found = re.search(r"'([A-Za-z_]\w*)' is undefined", exc.message or "")
    if not found:
        return
    name = found.group(1)
    lineno = None
    tb = exc.__traceback__
    while tb is not None:  # the template's own line, as _error finds it
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = source.splitlines() or [""]
    text = lines[lineno - 1] if lineno and lineno <= len(lines) else lines[0]
    at = re.search(rf"\b{re.escape(name)}\b", text)
    if at is not None and error.col is not None and error.path == prompt.source:  # in the message, not a partial
        error.col += at.start()
    close = difflib.get_close_matches(name, list(prompt.inputs), n=1)
    error.message = f"{name!r} is not declared under `inputs`"
    error.hint = f"did you mean {close[0]!r}?" if close else "declare it under `inputs` or fix the name"


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


def __getattr__(name: str) -> Any:
    """The Jinja side's names, as this module had them (``PartialNotFound``, ``make_environment``,
    ``iter_includes``): from :mod:`promptctl.sandbox`, imported when first asked for."""
    if name in ("PartialNotFound", "make_environment", "iter_includes"):
        from . import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
