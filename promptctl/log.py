"""``promptctl log``: the history of prompts across commits, by content hash.

Only commits where a prompt's identity changed are listed: its file, a partial
it includes, or a project default it inherits. A prompt renamed without changes
is followed to its old name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME
from .errors import NotFoundError, PromptctlError, UsageError


@dataclass(slots=True)
class LogEntry:
    commit: str
    date: str
    author: str
    subject: str
    prompt: str
    change: str  # created | changed | renamed | deleted | broken
    hash: str | None
    old_name: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _snapshot(repo: Any, commit: Any, prefix: str, root: Path) -> tuple[dict[str, str | None], dict[str, str]]:
    """Prompt name -> hash (None when it does not load) at ``commit``, and load errors."""
    from .project import load_project
    from .sources import GitRevision

    source = GitRevision(repo, commit, prefix, commit.hexsha[:7])
    try:
        project = load_project(source, root)
    except PromptctlError as e:
        return {}, {"*": str(e)}
    hashes: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in project.prompt_names():
        try:
            hashes[name] = project.get_prompt(name).hash
        except PromptctlError as e:
            hashes[name] = None
            errors[name] = str(e)
    return hashes, errors


def prompt_log(root: Path, name: str | None = None, *, max_count: int = 100, rev: str = "HEAD",
               shown: str | None = None) -> list[LogEntry]:
    """Newest first: every commit (up to ``max_count`` touching the prompts) where a prompt changed."""
    import git

    from .project import load_project
    from .sources import WorkTree, _repo

    if rev.startswith("-"):
        raise UsageError(f"invalid revision {rev!r}", hint="a revision may not start with '-'")
    try:
        repo = _repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"{root} is not inside a git repository", hint="`promptctl log` reads git history") from None
    work = Path(repo.working_tree_dir or root).resolve()
    prefix = root.resolve().relative_to(work).as_posix()
    prefix = "" if prefix == "." else prefix
    config = load_project(WorkTree(root), root).config
    paths = [f"{prefix}/{p}" if prefix else p for p in (config.prompts, CONFIG_NAME)]
    try:
        commits = list(repo.iter_commits(rev, paths=paths, max_count=max_count + 1))
    except (git.GitCommandError, ValueError) as e:
        raise UsageError(f"cannot read history from {shown or rev!r}",
                         hint="does the repository have commits, and is it a version, a channel or a git revision?") from e

    snapshots = [(c, *_snapshot(repo, c, prefix, root)) for c in commits]
    if name is not None and not any(name in s[1] for s in snapshots[:1]) and snapshots:
        if not any(name in s[1] for s in snapshots):
            raise NotFoundError(f"prompt {name!r} is not in the history of {shown or rev}")

    entries: list[LogEntry] = []
    current = name
    for i, (commit, hashes, errors) in enumerate(snapshots[:max_count]):
        older = snapshots[i + 1][1] if i + 1 < len(snapshots) else {}
        when = datetime.fromtimestamp(commit.committed_date, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        base = {
            "commit": commit.hexsha,
            "date": when,
            "author": commit.author.name or "",
            "subject": commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
        }
        names = [current] if current is not None else sorted(set(hashes) | set(older))
        renamed_away = {
            o for o, h in older.items() if o not in hashes and h is not None and h in {v for k, v in hashes.items() if k not in older}
        }
        for n in names:
            if n is None:
                continue
            new_hash = hashes.get(n, "missing")
            old_hash = older.get(n, "missing")
            if new_hash == old_hash:
                continue
            if new_hash == "missing":
                if name is None and n not in renamed_away:
                    entries.append(LogEntry(**base, prompt=n, change="deleted", hash=None))
                continue
            change, old_name = "changed", None
            if old_hash == "missing":
                change = "created"
                renamed_from = [o for o, h in older.items() if h is not None and h == new_hash and o not in hashes]
                if renamed_from:
                    change, old_name = "renamed", renamed_from[0]
                    if current is not None:
                        current = old_name
            if new_hash is None:
                change = "broken"
            entries.append(
                LogEntry(**base, prompt=n, change=change, hash=new_hash, old_name=old_name, error=errors.get(n))
            )
        if current is not None and current not in older and i + 1 < len(snapshots):
            break  # the prompt was created here (or renamed away from a name we now follow)
    return entries


def format_log(entries: list[LogEntry]) -> str:
    """Text: ``3f9a2c1  2026-11-30 12:00  Ann  support/reply@1a2b3c4  changed  subject``."""
    if not entries:
        return "no changes\n"
    rows = []
    for e in entries:
        ref = f"{e.prompt}@{(e.hash or '').removeprefix('sha256:')[:7] or '-------'}"
        what = f"renamed from {e.old_name}" if e.change == "renamed" else e.change
        rows.append(f"{e.commit[:7]}  {e.date}  {e.author:<16.16}  {ref:<32}  {what:<10}  {e.subject}")
    return "\n".join(rows) + "\n"
