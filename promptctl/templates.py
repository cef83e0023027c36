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

import contextvars
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import IncludeError, InputError, SandboxError, TemplateError
from .inputs import validate_inputs
from .limits import RenderLimits
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


#: The default limits of one render (all messages together): the most characters it may produce, the
#: most items all its ``range()`` calls may produce, the most iterations all its for-loops may run. A
#: template or an input value can make neither memory nor CPU run away. :class:`RenderLimits` (set by
#: promptctl.yaml ``render:`` or ``Registry(render_limits=...)``) changes them; documented in
#: docs/safety.md.
DEFAULT_LIMITS = RenderLimits()
MAX_OUTPUT_CHARS = DEFAULT_LIMITS.max_output_chars
MAX_RANGE_ITEMS = DEFAULT_LIMITS.max_range_items
MAX_LOOP_ITERATIONS = DEFAULT_LIMITS.max_loop_iterations
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


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


def _bounded_range(*args: int) -> range:
    r = range(*args)
    state = _state()
    limit = state.limits.max_range_items
    if state.range_items + len(r) > limit:
        raise _limit("the items of range() in this render", state.range_items + len(r), limit)
    state.range_items += len(r)
    return r


class _CountedLoop:
    """The iterable of a ``{% for %}`` loop, each item counted against the render's loop limit.

    It keeps the iterable's ``len()`` (so ``loop.length`` stays cheap) and counts when an item is
    taken, before the loop body runs: nested loops that print nothing are bounded too.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Any) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return _count_iterations(iter(self._items), _state())


def _count_iterations(items: Iterator[Any], state: _RenderState) -> Iterator[Any]:
    limit = state.limits.max_loop_iterations
    for item in items:
        state.loop_iterations += 1
        if state.loop_iterations > limit:
            what = f"the for-loop iterations of {state.prompt!r}" if state.prompt else "the for-loop iterations"
            raise _limit(what, state.loop_iterations, limit)
        yield item


class _LoopCountingCodeGenerator(CodeGenerator):
    """jinja2's code generator, with the iterable of every for-loop wrapped in :class:`_CountedLoop`.

    ``{% for x in items if test %}`` compiles to ``for x in <filter>(environment.call(context,
    environment.counted_loop, items))``: items the filter skips count too. A recursive loop's
    ``loop(children)`` calls are counted by :meth:`_StrictSandbox.call`.
    """

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        iterable = node.iter
        node.iter = nodes.Call(nodes.EnvironmentAttribute("counted_loop"), [iterable], [], None, None,
                               lineno=iterable.lineno)
        try:
            super().visit_For(node, frame)
        finally:
            node.iter = iterable  # the tree is left as parsed (lint caches and walks it)


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, where an unsafe attribute raises at once, and whose work is bounded.

    jinja2's sandbox returns an Undefined for an unsafe attribute, which
    ``default`` or ``is defined`` would quietly turn into empty text. Repetition (``'=' * n``),
    ``**``, string widths (``center``, ``%``-formats, ``format``), ``lipsum`` and ``range`` are
    checked before they run, and every for-loop iteration is counted (see
    :class:`_LoopCountingCodeGenerator`), so no template or input can exhaust memory or CPU.
    """

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _LoopCountingCodeGenerator

    @staticmethod
    def counted_loop(items: Any) -> _CountedLoop:
        """A for-loop's iterable, counted (called by the code :class:`_LoopCountingCodeGenerator` writes)."""
        return _CountedLoop(items)

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe.")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(n, int) and _text_size(seq):
                    _check_size("a repeated text or list", _text_size(seq) * n)
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 4096:
                raise _limit("an exponent", right, 4096)
        elif operator == "%" and isinstance(left, str):
            _check_format_widths(left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:  # str.format / format_map: widths checked first
            _check_format_widths(text, args)
            return wrapped(*args, **kwargs)

        return bounded

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja's signature
        if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive loop: counted as well
            args = (_CountedLoop(args[0]), *args[1:])
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name in _WIDTH_METHODS and args and isinstance(args[0], int):
                _check_size(f"str.{name}() width", args[0])
            elif name == "join" and args:  # (str.format never reaches call(): see wrap_str_format)
                items = args[0]
                if isinstance(items, (list, tuple)):
                    _check_size("a joined text", len(owner) * len(items) + sum(_text_size(i) for i in items))
            elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
                _check_size("a replaced text", len(owner) + owner.count(args[0]) * len(args[1]) if args[0] else
                            len(owner) * (len(args[1]) + 1))
        return super().call(__context, __obj, *args, **kwargs)


_FORMAT_WIDTH = re.compile(r"[%:{][^%:{}a-zA-Z]*?(\d{4,})")


def _check_format_widths(fmt: str, args: Any) -> None:
    """Refuse %-formats and format() specs whose width or precision is huge (or taken from an argument)."""
    for m in _FORMAT_WIDTH.finditer(fmt):
        _check_size("a format width", int(m.group(1)))
    if "*" in fmt and "%" in fmt:
        values = args if isinstance(args, tuple) else (args,)
        for v in values:
            if isinstance(v, int):
                _check_size("a format width", abs(v))


def _center(value: Any, width: int = 80) -> str:
    if isinstance(width, int):
        _check_size("center() width", width)
    return str(value).center(width)


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    from jinja2.filters import do_indent

    if isinstance(width, int):
        _check_size("indent() width", width * max(1, str(s).count("\n") + 1))
    elif isinstance(width, str):
        _check_size("indent() text", len(width) * max(1, str(s).count("\n") + 1))
    return do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    from jinja2.filters import do_format

    _check_format_widths(str(value), args)
    return do_format(value, *args, **kwargs)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - jinja's names
    from jinja2.utils import generate_lorem_ipsum

    limit = _limits().max_output_chars // 8
    if isinstance(n, int) and isinstance(max, int) and n * max > limit:
        raise _limit("lipsum() words", n * max, limit)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def make_environment(read: PartialReader) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment prompts render in."""
    env = _StrictSandbox(
        loader=_ConfinedLoader(read),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,
        cache_size=-1,
    )
    env.globals.update(range=_bounded_range, lipsum=_lipsum)
    env.filters.update(center=_center, indent=_indent, format=_format)
    return env


_Origin = tuple[str, int, int, bool]  # file, line of template line 1 (0: unknown), col, block scalar


class Renderer:
    """Compiles and renders prompt messages, with compiled templates cached.

    ``limits`` bounds each render (default: :class:`RenderLimits` ``()``, the documented defaults).
    """

    def __init__(self, read: PartialReader, limits: RenderLimits | None = None) -> None:
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self.env = make_environment(read)
        self._loader: _ConfinedLoader = self.env.loader  # type: ignore[assignment]
        self._compiled: dict[tuple[str, int, str], jinja2.Template] = {}
        self._origins: dict[str, _Origin] = {}
        self._texts: dict[str, jinja2.Template] = {}  # render_text's compiled templates

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
        token = _budget.set(_RenderState(self.limits, prompt.name))
        try:
            return self._render(prompt, context)
        finally:
            _budget.reset(token)

    def render_text(self, source: str, values: Mapping[str, Any], *, what: str) -> str:
        """Render one standalone template ``source`` (an assertion's value, say) in the same sandbox and
        limits as prompts; a failure is a TemplateError naming ``what``."""
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
            tmpl = self.compile_message(prompt, index, entry)
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
                filename = self._filename(prompt, index)
                error = self._error(e, filename)
                if isinstance(e, UndefinedError):
                    _say_undefined(error, e, filename, entry.content, prompt)
                raise error from None
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
