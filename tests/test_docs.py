"""The documentation: README.md is a short tour, the reference lives in docs/*.md, and every link resolves.

A relative link must name a file (or folder) of the repository, and its ``#anchor`` a heading of the
Markdown file it names, by GitHub's rules for heading ids. Every docs page is linked from the
README; every command's ``-h`` epilog names a page (and heading) that exists.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import DOCS, REPO, doc_pages

README_LIMIT = 15_000  # bytes: the README is a tour; the reference belongs in docs/

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` for every line outside fenced code blocks."""
    out, fence = [], None
    for n, line in enumerate(text.split("\n"), 1):
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip().strip(mark[0]):
                fence = None
            continue
        if fence is None:
            out.append((n, line))
    return out


def heading_text(markdown: str) -> str:
    """The text a heading renders to: code spans without their backticks, links as their text,
    no emphasis markers or HTML tags."""
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), markdown)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"(\*\*|__|\*|(?<!\w)_|_(?!\w))", "", text)


def github_slug(heading: str) -> str:
    """GitHub's id for a heading (github-slugger): lower-cased, every character that is not a letter,
    mark, digit, connector (``_``), space or hyphen removed, spaces made hyphens."""
    kept = "".join(c for c in heading_text(heading).lower()
                   if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The ids of every heading of a Markdown file; a repeated id gets ``-1``, ``-2``… as on GitHub."""
    seen: dict[str, int] = {}
    ids = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        m = _HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        ids.add(slug if n == 0 else f"{slug}-{n}")
    return ids


def links(path: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every Markdown link and image in the prose of ``path``."""
    out = []
    for n, line in prose_lines(path.read_text(encoding="utf-8")):
        # a code span is not a link, but a link's text may be one: blank the spans' insides
        blanked = _CODE_SPAN.sub(lambda m: m.group(1) + "x" * len(m.group(2)) + m.group(1), line)
        out.extend((n, m.group(2)) for m in _LINK.finditer(blanked))
    return out


def resolve(page: Path, target: str) -> tuple[Path | None, str]:
    """The file a relative link of ``page`` names (None for an external link) and its anchor."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
        return None, ""
    path, _, anchor = target.partition("#")
    return ((page.parent / unquote(path)).resolve() if path else page), unquote(anchor)


PAGES = doc_pages()


def test_the_slug_rules_are_githubs():
    assert github_slug("`promptctl test [NAMES...]`") == "promptctl-test-names"
    assert github_slug("A prompt (`*.prompt.yaml`)") == "a-prompt-promptyaml"
    assert github_slug("`promptctl rollback CHANNEL` and `promptctl release CHANNEL`") == (
        "promptctl-rollback-channel-and-promptctl-release-channel")
    assert github_slug("`promptctl show VERSION|CHANNEL [NAME]`") == "promptctl-show-versionchannel-name"
    assert github_slug("`promptctl golden add --from OBSERVATIONS`") == "promptctl-golden-add---from-observations"
    assert github_slug("The production loop, step by step") == "the-production-loop-step-by-step"
    assert github_slug("Why **promptctl**?") == "why-promptctl"
    assert github_slug("snake_case and Ünïcode") == "snake_case-and-ünïcode"


def test_headings_and_links_in_code_blocks_do_not_count(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Title\n\n```markdown\n## Not a heading\n[x](missing.md)\n```\n\n  ```yaml\n  # comment\n  ```\n"
                    "## Title\n\nSee [`a`](#title-1) and `[b](nowhere.md)`.\n")
    assert anchors(page) == {"title", "title-1"}
    assert links(page) == [(13, "#title-1")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for line, target in links(page):
        path, anchor = resolve(page, target)
        if path is None:
            continue
        where = f"{page.relative_to(REPO)}:{line}: {target}"
        if not path.exists():
            broken.append(f"{where}: no such file")
        elif REPO not in path.parents and path != REPO:
            broken.append(f"{where}: outside the repository")
        elif anchor and (path.suffix != ".md" or anchor not in anchors(path)):
            broken.append(f"{where}: no heading #{anchor} in {path.relative_to(REPO)}")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_short_tour():
    size = len((REPO / "README.md").read_bytes())
    assert size < README_LIMIT, f"README.md is {size} bytes: move reference text to docs/ (limit {README_LIMIT})"


def test_every_docs_page_is_linked_from_the_readme():
    readme = REPO / "README.md"
    linked = {resolve(readme, target)[0] for _, target in links(readme)}
    pages = sorted(DOCS.glob("*.md"))
    assert pages, "no docs pages"
    assert [p.name for p in pages if p.resolve() not in linked] == []


def test_ci_runs_the_readme_test_command():
    """`.ci/run` runs exactly the test command the README's Set up gives."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("\n```", 1)[0].strip() for b in setup.split("```sh\n")[1:]]
    command = next(b for b in blocks if "pytest" in b)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().split("\n")[-1].strip()
    assert ci == command


def _commands():
    """``(path, click command)`` of every promptctl command and command group."""
    from typer.main import get_command

    from promptctl.cli import app

    todo = [("promptctl", get_command(app))]
    while todo:
        path, cmd = todo.pop()
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            todo.append((f"{path} {name}", sub))


# The commands whose -h must name their page.
DOCUMENTED = ("init", "import promptfoo", "lint", "fmt", "render", "run", "diff", "log", "test", "review", "export finetune",
              "report", "recordings prune", "publish", "promote", "rollback", "release", "versions", "history",
              "show", "verify", "monitor", "golden add", "schema", "completion")


def test_every_help_epilog_names_a_page_that_exists():
    commands = dict(_commands())
    for name in DOCUMENTED:
        assert commands[f"promptctl {name}"].epilog, f"promptctl {name} -h names no docs page"
    checked = 0
    for path, cmd in commands.items():
        for ref in re.findall(r"docs/[\w./-]+\.md(?:#[\w-]+)?", cmd.epilog or ""):
            file, _, anchor = ref.partition("#")
            assert (REPO / file).is_file(), f"{path}: {ref}: no such page"
            assert not anchor or anchor in anchors(REPO / file), f"{path}: {ref}: no such heading"
            checked += 1
        for line in (cmd.epilog or "").split("\n"):
            assert len(line) <= 78, f"{path}: epilog line too long for an 80-column help: {line!r}"
    assert checked >= len(DOCUMENTED)


def test_the_test_help_ends_with_its_page(cli):
    r = cli(["test", "-h"])
    assert r.code == 0, r.err
    assert r.out.rstrip().endswith("\n\n  See docs/evals.md in the promptctl repository."), r.out[-300:]
