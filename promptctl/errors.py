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
    ├── NotFoundError               an unknown prompt, sample, schema, version or channel name
    ├── UsageError                  the command line itself is wrong
    ├── StaleReviewError            review refused: the golden changed since the run (exit 1; test again)
    ├── DependencyError             an optional dependency is missing; the hint says what to install
    ├── ProviderError               a model call failed; in a test run the case fails with it, never the run
    ├── RegistryError               the registry cannot be reached or read, or its URL is bad
    │   ├── ConflictError           another writer took that version or channel record first (exit 1; retry)
    │   ├── IntegrityError          a bundle or record whose digest, hash chain or JSON is wrong (exit 1)
    │   └── ChannelHeldError        promote to a channel on hold (release it, or --force)
    └── PublishError                publish refused: a dirty tree, or a prompt with no model
        └── LintFailedError         publish refused: lint found errors (exit 1)
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
        """``path:line:col: what (what to do)``, on one line; a hint that has brackets of its own
        follows a semicolon instead, so that brackets never nest."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"; {self.hint}" if "(" in self.hint else f" ({self.hint})"
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

    def __init__(self, message: str, *, json_path: str = "", fix: tuple[str, str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.json_path = json_path
        self.fix = fix  # (what is written at line:col, what to write instead): a typo with one close fix


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


class StaleReviewError(PromptctlError):
    """A case pending review whose dataset changed since the run that proposed its golden (its golden
    was edited, or the case was removed): nothing was written; run the test again to review it anew."""

    exit_code = 1


class DependencyError(PromptctlError):
    """An optional dependency is not installed; ``hint`` names the exact ``pip install``."""


class ProviderError(PromptctlError):
    """A model call that failed: ``kind`` (``rate_limit``, ``server``, ``timeout``, ``connection``,
    ``auth``, ``bad_request``, ``not_found``, ``context_window``, ``invalid_response``, ``replay_miss``,
    ``budget``, ``error``), the HTTP ``status`` when there was one, whether it is worth ``retryable``,
    and the server's ``retry_after`` in seconds. Its message never holds an API key.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.kind = kind
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class RegistryError(PromptctlError):
    """The registry cannot be reached or read, or its URL is bad."""


class ConflictError(RegistryError):
    """A write-once object (a bundle version or a channel record) was taken by another writer first.

    Nothing was overwritten; running the command again retries with the new state.
    """

    exit_code = 1


class IntegrityError(RegistryError):
    """An object in the registry whose digest, hash chain or JSON does not check out.

    ``path`` names the object (``bundles/v000003.json``). Such an object is never served.
    """

    exit_code = 1


class ChannelHeldError(RegistryError):
    """A promote to a channel that a rollback put on hold."""


class PublishError(PromptctlError):
    """publish refused to build a bundle from this tree."""


class LintFailedError(PublishError):
    """publish refused: lint found errors; ``problems`` lists the first of them."""

    exit_code = 1

    def __init__(self, message: str, *, problems: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.problems = list(problems)

    def __str__(self) -> str:
        return super().__str__() + "".join(f"\n  {p}" for p in self.problems)
