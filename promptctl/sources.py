"""Sources: "the project's files at a version", behind one small interface.

A source reads files by their POSIX path relative to the project root (the
folder holding promptctl.yaml). :class:`WorkTree` reads the working tree;
other versions (git revisions, bundles) implement the same methods.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path
from typing import Any, Protocol

from .errors import IncludeError, YamlError
from .yamlio import MAX_BYTES, Document, decode, loads, read_regular


class Source(Protocol):
    """The files of a project at one version."""

    label: str

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of file ``rel``; FileNotFoundError when there is none."""
        ...

    def walk(self, rel_dir: str) -> list[str]:
        """Every file below ``rel_dir``, as sorted project-relative POSIX paths."""
        ...

    def display(self, rel: str) -> str:
        """How to show file ``rel`` in messages (a path the user can open)."""
        ...

    def confine(self, rel: str, root_rel: str) -> None:
        """Raise IncludeError when ``rel`` resolves (through symlinks) outside ``root_rel``."""
        ...

    def fingerprint(self, rel: str) -> str | None:
        """An id of ``rel``'s content (git's blob id): equal ids mean equal bytes; None if missing."""
        ...


def read_text(source: Source, rel: str) -> str:
    """Read ``rel`` from ``source`` as UTF-8 text with the size limit applied."""
    try:
        raw = source.read_bytes(rel)
    except FileNotFoundError:
        raise YamlError("file not found", path=source.display(rel)) from None
    except OSError as e:
        raise YamlError(f"cannot read file: {e.strerror or e}", path=source.display(rel)) from None
    return decode(raw, display=source.display(rel), max_bytes=MAX_BYTES)


def load_yaml(source: Source, rel: str) -> Document:
    """Load a YAML file of ``source`` with the safe loader."""
    return loads(read_text(source, rel), path=source.display(rel))


class WorkTree:
    """The project's files as they are on disk now."""

    label = "working tree"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._real_root = os.path.realpath(self.root)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of ``rel``: a regular file inside the project (after symlinks), bounded in size."""
        path = self._abs(rel)
        real = os.path.realpath(path)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            if not os.path.lexists(path):
                raise FileNotFoundError(rel)
            raise IncludeError(
                f"{rel!r} is a symlink that leaves the project",
                path=self.display(rel),
                hint="prompts, partials and datasets must be real files inside the project",
            )
        return read_regular(real, display=self.display(rel))

    def walk(self, rel_dir: str) -> list[str]:
        base = self._abs(rel_dir)
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_base = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for f in filenames:
                out.append(f if rel_base == "." else f"{rel_base}/{f}")
        return sorted(out)

    def fingerprint(self, rel: str) -> str | None:
        """The git blob id of ``rel``'s content, comparable with a GitRevision's."""
        try:
            data = self.read_bytes(rel)
        except (OSError, IncludeError, YamlError):
            return None
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()

    def display(self, rel: str) -> str:
        path = self._abs(rel)
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            return path
        return path if shown.startswith("..") else shown

    def confine(self, rel: str, root_rel: str) -> None:
        real = os.path.realpath(self._abs(rel))
        root = os.path.realpath(self._abs(root_rel)) if root_rel not in ("", ".") else self._real_root
        if real != root and not real.startswith(root + os.sep):
            raise IncludeError(
                f"{rel!r} resolves outside {root_rel or 'the project'!s} (through a symlink)",
                path=self.display(rel),
                hint="partials must be real files under the prompt root",
            )


class GitRevision:
    """The project's files at a git revision, read from the object store (never a checkout).

    The tree is listed once (``git ls-tree -r``); blobs are then read through
    gitpython's persistent ``git cat-file --batch`` reader, one process for all
    reads.
    """

    def __init__(self, repo: Any, commit: Any, prefix: str, rev: str) -> None:
        self.repo = repo
        self.commit = commit
        self.prefix = prefix  # the project root's path inside the repository ("" at the top)
        self.rev = rev
        self.label = f"{rev} ({commit.hexsha[:7]})"
        self._index: dict[str, tuple[str, str]] | None = None  # project path -> (mode, blob sha)

    @property
    def index(self) -> dict[str, tuple[str, str]]:
        if self._index is None:
            args = ["-r", "-z", "--full-tree", self.commit.hexsha]
            if self.prefix:
                args += ["--", self.prefix + "/"]
            out = self.repo.git.ls_tree(*args, stdout_as_string=False)
            cut = len(self.prefix) + 1 if self.prefix else 0
            index = {}
            for entry in out.split(b"\0"):
                if not entry:
                    continue
                meta, _, path = entry.partition(b"\t")
                mode, kind, sha = meta.decode().split()
                if kind == "blob":
                    index[path.decode("utf-8", "surrogateescape")[cut:]] = (mode, sha)
            self._index = index
        return self._index

    def _blob(self, sha: str) -> bytes:
        return self.repo.odb.stream(bytes.fromhex(sha)).read()  # type: ignore[no-any-return]

    def _resolve(self, rel: str) -> str:
        """``rel`` with every symlink stored in the tree followed (may leave the project)."""
        for _ in range(9):
            entry = self.index.get(rel)
            if entry is None or entry[0] != "120000":
                return rel
            target = self._blob(entry[1]).decode("utf-8", "replace")
            if target.startswith("/"):
                return target
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if rel.startswith("../") or rel == "..":
                return rel
        return rel

    def fingerprint(self, rel: str) -> str | None:
        """The blob id of ``rel`` (after symlinks): equal ids mean equal content."""
        entry = self.index.get(self._resolve(rel))
        return entry[1] if entry else None

    def read_bytes(self, rel: str) -> bytes:
        real = self._resolve(rel)
        if real.startswith(("/", "..")):
            raise IncludeError(
                f"{rel!r} is a symlink that leaves the project",
                path=self.display(rel),
                hint="partials must be real files under the prompt root",
            )
        entry = self.index.get(real)
        if entry is None:
            raise FileNotFoundError(rel)
        data = self._blob(entry[1])
        if len(data) > MAX_BYTES:
            raise YamlError(
                f"file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit",
                path=self.display(rel),
                hint="split it into smaller files",
            )
        return data

    def walk(self, rel_dir: str) -> list[str]:
        base = "" if rel_dir in ("", ".") else rel_dir.rstrip("/") + "/"
        return sorted(
            p
            for p in self.index
            if p.startswith(base) and not any(part.startswith(".") for part in p[len(base):].split("/")[:-1])
        )

    def display(self, rel: str) -> str:
        return f"{self.rev}:{self.prefix}/{rel}" if self.prefix else f"{self.rev}:{rel}"

    def confine(self, rel: str, root_rel: str) -> None:
        real = self._resolve(rel)
        root = "" if root_rel in ("", ".") else root_rel.rstrip("/") + "/"
        if real.startswith(("/", "..")) or not real.startswith(root):
            raise IncludeError(
                f"{rel!r} resolves outside {root_rel or 'the project'} (through a symlink)",
                path=self.display(rel),
                hint="partials must be real files under the prompt root",
            )


_REPOS: dict[Path, object] = {}


def _repo(root: Path) -> Any:
    """One gitpython Repo (and so one ``cat-file --batch`` reader) per project root."""
    import git

    key = root.resolve()
    if key not in _REPOS:
        _REPOS[key] = git.Repo(key, search_parent_directories=True)
    return _REPOS[key]


def open_git_revision(root: Path, rev: str, *, label: str | None = None) -> GitRevision:
    """The project at ``root`` as of git revision ``rev``; clear errors for bad revisions."""
    from .errors import UsageError

    if not rev or rev.startswith("-"):
        raise UsageError(f"invalid revision {rev!r}", hint="a revision may not start with '-'")
    import git

    try:
        repo = _repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(
            f"{root} is not inside a git repository, so {rev!r} cannot be read",
            hint="run `git init` and commit, or drop the revision to use the working tree",
        ) from None
    if ":" in rev:  # rev:path names a file or folder (a blob or tree), never a version of the project
        raise UsageError(
            f"{rev!r} names a file in a revision, not a revision",
            hint=f"use the revision alone, e.g. --ref {rev.split(':', 1)[0] or 'HEAD'}",
        )
    try:
        commit = repo.rev_parse(rev + "^{commit}")
    except (git.BadName, git.BadObject, ValueError, IndexError, KeyError) as e:
        has_commits = True
        try:
            repo.head.commit  # noqa: B018 - raises on an empty repository
        except ValueError:
            has_commits = False
        hint = (
            "the repository has no commits yet"
            if not has_commits
            else "use a branch, tag, commit sha or an expression like HEAD~1"
        )
        raise UsageError(f"unknown revision {rev!r}", hint=hint) from e
    work = Path(repo.working_tree_dir or root).resolve()
    prefix = root.resolve().relative_to(work).as_posix()
    return GitRevision(repo, commit, "" if prefix == "." else prefix, label or rev)
