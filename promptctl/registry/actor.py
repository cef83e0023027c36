"""Who is publishing or moving a channel: recorded in every bundle and channel record."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import unicodedata
from pathlib import Path

ACTOR_ENV = "PROMPTCTL_ACTOR"

#: CI variables naming the person (or bot) that started the run, in the order they are tried.
CI_ACTORS = (
    ("GITHUB_ACTOR", "github"),
    ("GITLAB_USER_LOGIN", "gitlab"),
    ("BUILDKITE_BUILD_CREATOR_EMAIL", "buildkite"),
    ("CIRCLE_USERNAME", "circleci"),
    ("BITBUCKET_STEP_TRIGGERER_UUID", "bitbucket"),
    ("BUILD_REQUESTEDFOREMAIL", "azure"),
    ("BUILD_USER_ID", "jenkins"),
)


def _git_config(root: Path | None) -> dict[str, str]:
    try:
        out = subprocess.run(
            ["git", "config", "--get-regexp", r"^user\.(name|email)$"],
            cwd=root if root is not None and root.is_dir() else None,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        found[key.lower()] = value.strip()
    return found


def clean_actor(value: str) -> str:
    """``value`` with control characters (newline, ESC, …) written as escapes: an actor is one line."""
    return "".join(json.dumps(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)


def current_actor(root: Path | None = None) -> str:
    """Who is acting, as one printable line (see :func:`clean_actor`)."""
    return clean_actor(_current_actor(root)).strip()


def _current_actor(root: Path | None = None) -> str:
    """``$PROMPTCTL_ACTOR``; else the git identity (``Name <email>``: GIT_AUTHOR_NAME/EMAIL, then
    git config user.name/user.email); else a CI variable (``octocat (github)``); else the OS user."""
    explicit = os.environ.get(ACTOR_ENV, "").strip()
    if explicit:
        return explicit
    name = os.environ.get("GIT_AUTHOR_NAME", "").strip()
    email = os.environ.get("GIT_AUTHOR_EMAIL", "").strip()
    if not name:
        config = _git_config(root)
        name = config.get("user.name", "")
        email = email or config.get("user.email", "")
    if name:
        return f"{name} <{email}>" if email else name
    for var, ci in CI_ACTORS:
        value = os.environ.get(var, "").strip()
        if value:
            return f"{value} ({ci})"
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"
