"""The real pre-commit tool runs the hooks of .pre-commit-hooks.yaml (`promptctl-lint`, `promptctl-fmt`,
`promptctl-test`).

`pre-commit try-repo` builds the hook's environment the way users get it: a
fresh virtualenv with promptctl and only its core dependencies (no litellm),
installed from the package registry. The hook repository is a snapshot of this
working tree (tracked and untracked files, as a fresh commit), so the test
checks the code as it is now. About a minute: the tests share one hook repository, and so its
environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GIT_ENV, REPO, GitRepo, doc_section
from test_lint_rules import BASE, PROMPT, greet

pytest.importorskip("pre_commit", reason="pre-commit is not installed: pip install -e '.[dev]'")


def snapshot_of_this_repo(dest: Path) -> Path:
    """This working tree's files (not .gitignored ones) committed into a new repository at ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    repo = GitRepo(dest)
    repo.commit("snapshot")
    return dest


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, Path]:
    """The snapshot of this repository and the PRE_COMMIT_HOME its hook environment is built in, once."""
    base = tmp_path_factory.mktemp("pre-commit")
    return snapshot_of_this_repo(base / "hooks"), base / "home"


def try_repo(hooks: Path, project: Path, home: Path, hook: str = "promptctl-lint") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PRE_COMMIT_COLOR": "never"}
    env.pop("PROMPTCTL_MODEL_DATA", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook, "--all-files"],
        cwd=project, capture_output=True, text=True, env=env, timeout=600,
    )


def test_try_repo_fails_on_a_broken_prompt_and_passes_on_a_good_one(tmp_path, hook_repo):
    hooks, home = hook_repo
    user = GitRepo(tmp_path / "user")
    user.commit("prompts", {**BASE, PROMPT: greet(user='    content: "Say {{ whom }} to {{ who }}"'),
                            "README.md": "not linted\n"})
    p = try_repo(hooks, user.root, home)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "promptctl lint" in out and "Failed" in out
    assert "prompts/greet.prompt.yaml:11:22: PC202 'whom' is not declared under `inputs`" in out
    user.commit("fix", {PROMPT: BASE[PROMPT]})
    p = try_repo(hooks, user.root, home)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "promptctl lint" in out and "Passed" in out

    # The promptctl-test hook, in the same (already built) environment: the example project's
    # recorded answers replay with no API key and no litellm; a prompt change that the
    # recordings do not cover fails the hook and names what to re-record.
    from promptctl.scaffold import init_project

    example = GitRepo(tmp_path / "example")
    init_project(example.root)
    example.commit("example")
    p = try_repo(hooks, example.root, home, "promptctl-test")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "promptctl test (replay)" in out and "Passed" in out
    summarize = example.root / "prompts" / "summarize.prompt.yaml"
    example.commit("reword", {"prompts/summarize.prompt.yaml": summarize.read_text().replace("bullet points", "points")})
    p = try_repo(hooks, example.root, home, "promptctl-test")
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Failed" in out and "promptctl test --mode auto" in out


def test_the_fmt_hook_rewrites_a_badly_laid_out_file_then_passes(tmp_path, hook_repo):
    hooks, home = hook_repo
    user = GitRepo(tmp_path / "user")
    messy = "messages:\n- role: user  # the only message\n  content: \"Hi {{ who }}\\nthere\"\ninputs: {who: string}\n"
    user.commit("prompts", {"prompts/hi.prompt.yaml": messy, "notes.yaml": "b: 1\na:   2\n"})
    p = try_repo(hooks, user.root, home, "promptctl-fmt")
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "promptctl fmt" in out and "Failed" in out and "files were modified by this hook" in out
    assert "reformatted prompts/hi.prompt.yaml" in out
    assert (user.root / "prompts/hi.prompt.yaml").read_text() == (
        "inputs: {who: string}\nmessages:\n  - role: user # the only message\n    content: |-\n      Hi {{ who }}\n      there\n")
    assert (user.root / "notes.yaml").read_text() == "b: 1\na:   2\n"  # not a promptctl file: untouched
    user.commit("formatted")
    p = try_repo(hooks, user.root, home, "promptctl-fmt")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "promptctl fmt" in out and "Passed" in out


def docs_yaml_blocks(page: str, heading: str) -> list[str]:
    """The ```yaml blocks of the section of ``page`` under the heading line ``heading``."""
    section = doc_section(page, heading)
    return [block.split("```", 1)[0] for block in section.split("```yaml\n")[1:]]


def test_the_documented_snippets_work_as_written(tmp_path):
    """The docs' `repo: local` config (docs/ci.md), copied as it is, runs both hooks with the real
    pre-commit; its remote snippet names a rev form that exists (a sha or a tag), never a tag that does not."""
    import yaml

    local, remote = docs_yaml_blocks("docs/ci.md", "## pre-commit")[:2]
    # no made-up version: a placeholder the reader must replace, saying with what
    assert yaml.safe_load(remote)["repos"][0]["rev"] == "SHA-OR-TAG" and "git ls-remote" in remote
    from promptctl.scaffold import init_project

    user = GitRepo(tmp_path / "user")
    init_project(user.root)
    user.write({".pre-commit-config.yaml": local})
    user.commit("example and hooks")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "home"), "PRE_COMMIT_COLOR": "never",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    env.pop("PROMPTCTL_MODEL_DATA", None)
    run = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    p = subprocess.run(run, cwd=user.root, capture_output=True, text=True, env=env, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "promptctl lint" in out and "promptctl test (replay)" in out and "Failed" not in out
    summarize = user.root / "prompts" / "summarize.prompt.yaml"
    user.write({"prompts/summarize.prompt.yaml": summarize.read_text().replace("{{ text }}", "{{ txt }}")})
    p = subprocess.run(run, cwd=user.root, capture_output=True, text=True, env=env, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 1 and "PC202 'txt' is not declared under `inputs`" in out, out
