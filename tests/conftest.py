"""Shared fixtures: file trees in tmp dirs, an example project, and the real CLI entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptctl.cli import main

REPO = Path(__file__).resolve().parent.parent

# promptctl caches its compiled schema checks (promptctl/schemas.py); in the tests, and in every
# promptctl process they start, the cache lives in a temp folder, never in the user's home.
_CACHE = tempfile.TemporaryDirectory(prefix="promptctl-test-cache-")
os.environ["PROMPTCTL_CACHE_DIR"] = _CACHE.name
# `promptctl export finetune` counts tokens with tiktoken, which downloads its encoding on first use:
# the tests estimate instead, so that nothing reaches for the network.
os.environ["PROMPTCTL_TOKENIZER"] = "estimate"



# -- the documentation: README.md (the tour) and the reference pages under docs/ ----------------

DOCS = REPO / "docs"


def doc_pages() -> list[Path]:
    """README.md, then every docs/*.md page in name order."""
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def docs_text() -> str:
    """README.md and every docs page, concatenated: for checks that a fact is documented somewhere."""
    return "\n".join(page.read_text(encoding="utf-8") for page in doc_pages())


def doc_section(page: str, heading: str) -> str:
    """The section of ``page`` (``docs/ci.md``, ``README.md``) under the heading line ``heading``
    (``## pre-commit``), up to the next heading of the same or a higher level outside code blocks."""
    lines = (REPO / page).read_text(encoding="utf-8").split("\n")
    level = len(heading) - len(heading.lstrip("#"))
    assert heading in lines, f"{page} has no heading {heading!r}"
    start = lines.index(heading) + 1
    fence = False
    for i in range(start, len(lines)):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and line.startswith("#"):
            hashes = len(line) - len(line.lstrip("#"))
            if hashes <= level and line[hashes:hashes + 1] == " ":
                return "\n".join(lines[start:i])
    return "\n".join(lines[start:])

def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (text is dedented) and return root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def local_project(root: Path, url: str, files: dict[str, str]) -> Path:
    """A project whose one model, ``local``, is the test server at ``url`` (key from $LOCAL_KEY), with
    prompt ``qa`` (``{{ q }}`` as the user message) and ``files`` on top."""
    return write_tree(root, {
        "promptctl.yaml": f"""\
            promptctl: 1
            defaults: {{model: local}}
            models:
              local: {{model: openai/gpt-4o-mini, api_base: "{url}", api_key_env: LOCAL_KEY}}
            test: {{timeout_s: 5, retries: 0, concurrency: 8}}
            """,
        "prompts/qa.prompt.yaml": 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ q }}"\n',
        **files,
    })


@pytest.fixture(scope="module")
def server():
    """The local OpenAI-compatible test server (tests/llm_server.py), one per test module; tests
    ``server.reset()`` it and set ``server.answers``."""
    from llm_server import LLMServer

    s = LLMServer().start()
    yield s
    s.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the real ``promptctl`` entry point in-process: ``cli(["render", ...], cwd=path)``."""

    def run(args: list[str], cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def run_promptctl(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run promptctl as a separate process (``python -m promptctl``)."""
    env = {**os.environ, **kwargs.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "promptctl", *args], cwd=cwd, capture_output=True, text=True, env=env, **kwargs
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal valid project: promptctl.yaml and one prompt ``hello`` with a partial."""
    return write_tree(
        tmp_path / "proj",
        {
            "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}\n",
            "prompts/hello.prompt.yaml": """\
                description: Greet someone.
                inputs:
                  who: string
                  excited: {type: boolean, default: false}
                messages:
                  - role: system
                    content: |
                      You greet people.
                      {% include "partials/rules.j2" %}
                  - role: user
                    content: "Say hello to {{ who }}{% if excited %}!{% endif %}"
                samples:
                  - {name: world, inputs: {who: World}}
                """,
            "prompts/partials/rules.j2": "Be brief.\n",
        },
    )


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ann Author",
    "GIT_AUTHOR_EMAIL": "ann@example.com",
    "GIT_COMMITTER_NAME": "Ann Author",
    "GIT_COMMITTER_EMAIL": "ann@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A real git repository in a tmp dir, with fixed author and dates."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        p = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
        )
        if p.returncode:
            raise AssertionError(f"git {' '.join(args)} failed: {p.stderr}")
        return p.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        write_tree(self.root, files)

    def commit(self, message: str, files: dict[str, str] | None = None, *, tag: str | None = None) -> str:
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        if tag:
            self.git("tag", tag)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty git repository at tmp_path/repo (see GitRepo)."""
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def git_env(monkeypatch):
    """The fixed git identity for in-process runs (publish tags commits, records the actor)."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("PROMPTCTL_REGISTRY", "PROMPTCTL_ACTOR", "GITHUB_ACTOR"):
        monkeypatch.delenv(key, raising=False)


# -- a real browser ------------------------------------------------------------------------------
# Headless Chromium (Debian's `chromium` package) driven by Playwright's Python API. `.ci/run`
# installs the browser and sets PROMPTCTL_BROWSER_TESTS=require, so that CI fails instead of
# skipping when it is missing; elsewhere the browser tests skip with what to install.

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    import shutil

    for candidate in (os.environ.get("PROMPTCTL_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (one per test module); tests open pages with ``browser.new_page()``."""
    required = os.environ.get("PROMPTCTL_BROWSER_TESTS") == "require"
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        missing = "Chromium (apt-get install chromium)" if executable is None else "playwright (pip install -e '.[dev]')"
        if required:
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()
