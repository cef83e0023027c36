"""The errors promptctl raises.

Every error carries what went wrong, where (``path:line:col`` when a file is
involved) and what to do about it, so the CLI can print one clear line and the
runtime can raise something an application can catch::

    PromptctlError                  base; exit code 2 (bad input) unless noted
    ├── ConfigError                 promptctl.yaml is missing, unreadable or invalid
    │   └── ProjectNotFoundError    no promptctl.yaml above the working directory
    ├── FileFormatError             a project file is not what it should be
    │   ├── YamlError               malformed or unsafe YAML (duplicate keys, aliases, tags, depth)
    │   └── SchemaError             valid YAML that breaks the file's JSON Schema
    ├── TemplateError               a Jinja template cannot be compiled or rendered
    │   ├── IncludeError            missing partial, path escape, include cycle
    │   └── SandboxError            the template tried something the sandbox forbids
    ├── InputError                  render inputs: missing, unexpected or mistyped
    ├── NotFoundError               an unknown prompt, sample or schema name
    └── UsageError                  the command line itself is wrong
"""

from __future__ import annotations

from collections.abc import Sequence


class PromptctlError(Exception):
    """Base error: a message plus where it happened and what to do."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        self.hint = hint

    @property
    def location(self) -> str:
        """``path:line:col`` (as much of it as is known), or an empty string."""
        if not self.path:
            return ""
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(PromptctlError):
    """promptctl.yaml is missing, unreadable or invalid."""


class ProjectNotFoundError(ConfigError):
    """No promptctl.yaml in the directory or any parent."""


class FileFormatError(PromptctlError):
    """A project file is not what it should be."""


class YamlError(FileFormatError):
    """Malformed or unsafe YAML."""


class SchemaError(FileFormatError):
    """A file that breaks its JSON Schema."""

    def __init__(self, message: str, *, json_path: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.json_path = json_path


class TemplateError(PromptctlError):
    """A Jinja template that cannot be compiled or rendered."""


class IncludeError(TemplateError):
    """A missing partial, a path that leaves the prompt root, or an include cycle."""


class SandboxError(TemplateError):
    """A template that tried something the sandbox forbids."""


class InputError(PromptctlError):
    """Render inputs that do not match the prompt's declared inputs.

    ``problems`` lists every problem found, not just the first.
    """

    def __init__(self, message: str, *, problems: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.problems = list(problems)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "".join(f"\n  - {p}" for p in self.problems)


class NotFoundError(PromptctlError):
    """An unknown prompt, sample or schema name; ``suggestions`` holds the closest names."""

    def __init__(self, message: str, *, suggestions: Sequence[str] = (), **kwargs: object) -> None:
        if suggestions:
            guess = "did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
            kwargs["hint"] = f"{guess} {kwargs['hint']}" if kwargs.get("hint") else guess
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.suggestions = list(suggestions)


class UsageError(PromptctlError):
    """The command line is wrong."""
