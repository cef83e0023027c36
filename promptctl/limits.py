"""The limits of one render: standard library only, so that promptctl.config need not import jinja2.

:mod:`promptctl.templates` enforces them (and re-exports :class:`RenderLimits`); promptctl.yaml sets
them under ``render:``, and ``promptctl.runtime.Registry(render_limits=...)`` for an application.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The defaults (documented in docs/safety.md).
DEFAULT_MAX_OUTPUT_CHARS = 1_000_000
DEFAULT_MAX_RANGE_ITEMS = 1_000_000
DEFAULT_MAX_LOOP_ITERATIONS = 1_000_000


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """What one render (all the messages of one prompt, together) may do.

    ``max_output_chars``: the most characters it may produce (also bounds repetition, widths and
    ``lipsum``); ``max_range_items``: the most items all its ``range()`` calls may produce together;
    ``max_loop_iterations``: the most iterations all its ``{% for %}`` loops may run together
    (items a loop filter skips count too), so that loops producing no output still cannot run away.
    """

    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    max_range_items: int = DEFAULT_MAX_RANGE_ITEMS
    max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS

    def __post_init__(self) -> None:
        for name in ("max_output_chars", "max_range_items", "max_loop_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RenderLimits.{name} must be a positive integer, not {value!r}")
