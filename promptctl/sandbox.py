"""The Jinja side of rendering: the sandboxed environment prompts render in, bounded, and the loader
that reads partials only inside the prompt root.

Imported by :mod:`promptctl.templates` on the first template that needs Jinja: one whose messages
only put inputs into text (``Hello {{ name }}``) renders without it, so a run or a runtime whose
prompts are all plain never imports jinja2.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateNotFound
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .templates import (
    PartialReader,
    _check_size,
    _limit,
    _limits,
    _RenderState,
    _state,
    check_partial_name,
)

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class PartialNotFound(TemplateNotFound):
    """A partial that does not exist; ``display`` is the file the author should create."""

    def __init__(self, name: str, display: str) -> None:
        super().__init__(name)
        self.display = display


def _missing_hint(e: TemplateNotFound) -> str:
    where = getattr(e, "display", None)
    return f"create {where} or fix the include path" if where else "check the include path"



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
