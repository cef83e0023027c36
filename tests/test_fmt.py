"""`promptctl fmt`: one canonical layout that keeps comments and never changes what a file means."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, doc_section, run_promptctl, write_tree

from promptctl.errors import FileFormatError
from promptctl.fmt import KEY_ORDER, FormatError, file_kind, format_text
from promptctl.yamlio import loads


def corpus() -> list[tuple[str, str]]:
    """Every prompt, dataset and promptctl.yaml text in the repository: the example's files, every
    such file a test writes (dict literals `{"x.prompt.yaml": "..."}` in tests/), and the docs'
    documented examples."""
    found = [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
             for p in sorted((REPO / "promptctl" / "example").rglob("*.yaml"))]
    for test in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(test.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (isinstance(key, ast.Constant) and isinstance(key.value, str) and file_kind(key.value)
                            and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                        found.append((f"{test.name}:{value.lineno}:{key.value}", textwrap.dedent(value.value)))
    for heading, name in (("## promptctl.yaml", "promptctl.yaml"), ("## A prompt (`*.prompt.yaml`)", "x.prompt.yaml"),
                          ("## A golden dataset (`*.eval.yaml`)", "x.eval.yaml")):
        block = doc_section("docs/files.md", heading).split("```yaml\n", 1)[1].split("```", 1)[0]
        found.append((f"docs/files.md:{heading}:{name}", block))
    return found


CORPUS = corpus()


def test_the_corpus_is_large():
    assert len(CORPUS) > 50


@pytest.mark.parametrize("name,text", CORPUS, ids=[n for n, _ in CORPUS])
def test_every_file_in_the_repository_keeps_its_meaning_and_formats_once(tmp_path, name, text):
    path = tmp_path / name.rsplit(":", 1)[-1].replace("/", "_")
    path.write_text(text, encoding="utf-8")
    kind = file_kind(path)
    try:
        before = loads(text, path=name).data
    except FileFormatError:
        with pytest.raises(FileFormatError):  # a fixture that is broken on purpose: an error, no crash
            format_text(text, kind, path=name)
        return
    once = format_text(text, kind, path=name)
    assert loads(once, path=name).data == before
    assert format_text(once, kind, path=name) == once


def test_the_embedded_example_is_formatted(cli):
    example = REPO / "promptctl" / "example"
    r = cli(["fmt", "--check", str(example)])
    assert r.code == 0, r.out + r.err
    assert "0 files would be reformatted, 5 unchanged" in r.err


def test_a_fresh_init_project_passes_check(tmp_path):
    p = run_promptctl(["init", "demo"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = run_promptctl(["-C", "demo", "fmt", "--check"], cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == "" and "0 files would be reformatted, 5 unchanged" in p.stderr


MESSY = """\
# yaml-language-server: $schema=../.promptctl/schemas/prompt.schema.json
messages:    # the conversation
- role: user   # who speaks
  content: "Hello {{ who }},\\nwelcome."
# the inputs, above them
inputs:
    who: {type: string, description: "The name."}
x-team: support
model: "fast"  # an alias  (comments keep their column)
description: 'Greets.'
# at the end
"""

TIDY = """\
# yaml-language-server: $schema=../.promptctl/schemas/prompt.schema.json
description: Greets.
model: fast    # an alias  (comments keep their column)
# the inputs, above them
inputs:
  who: {type: string, description: The name.}
messages:    # the conversation
  - role: user # who speaks
    content: |-
      Hello {{ who }},
      welcome.
x-team: support
# at the end
"""


def test_keys_in_order_comments_kept_blocks_and_plain_strings():
    assert format_text(MESSY, "prompt") == TIDY
    assert format_text(TIDY, "prompt") == TIDY


def test_a_comment_above_a_key_moves_with_it():
    text = "prompt: p\ncases:\n  - id: a\n    inputs: {q: x}\n# about the description\ndescription: D  # inline\n"
    assert format_text(text, "dataset") == (
        "prompt: p\n# about the description\ndescription: D  # inline\ncases:\n  - id: a\n    inputs: {q: x}\n")


def test_nested_keys_are_ordered_too_and_unknown_keys_keep_their_place_after_the_known_ones():
    text = textwrap.dedent("""\
        cases:
          - assert:
              - {value: refund, type: icontains, zz: 1, weight: 2}
            zeta: 1
            inputs: {q: x}
            alpha: 2
            id: a
        defaults:
          assert: []
          inputs: {tone: formal}
        threshold: 0.9
        prompt: p
        """)
    assert format_text(text, "dataset") == textwrap.dedent("""\
        prompt: p
        threshold: 0.9
        defaults:
          inputs: {tone: formal}
          assert: []
        cases:
          - id: a
            inputs: {q: x}
            assert:
              - {type: icontains, value: refund, weight: 2, zz: 1}
            zeta: 1
            alpha: 2
        """)


def test_project_config_order():
    text = "test: {concurrency: 2}\nmodels:\n  fast: {api_base: 'http://x/v1', model: openai/m}\npromptctl: 1\n"
    assert format_text(text, "project") == (
        "promptctl: 1\nmodels:\n  fast: {model: openai/m, api_base: http://x/v1}\ntest: {concurrency: 2}\n")


@pytest.mark.parametrize("value", ['"yes"', '"off"', '"1.0"', '"0o17"', '"2026-01-01"', '"null"', '"{{ x }}"',
                                   '"- x"', '"a: b"', '"a #b"', '" padded"', '"[x]"', "''"])
def test_quotes_stay_where_a_plain_string_would_mean_something_else(value):
    text = f"description: {value}\nmessages: []\n"
    assert format_text(text, "prompt") == text


def test_multi_line_strings_with_trailing_spaces_or_tabs_stay_as_they_are():
    text = 'messages:\n  - role: user\n    content: "a  \\nb"\n  - role: user\n    content: "a\\tb\\nc"\n'
    assert format_text(text, "prompt") == text


def test_flow_style_and_null_are_canonical():
    text = "prompt: p\ndescription:\ncases: [{id: a}]\n"
    assert format_text(text, "dataset") == "prompt: p\ndescription: null\ncases: [{id: a}]\n"


def test_crlf_line_endings_are_kept():
    assert format_text("messages:\r\n- role: user\r\n  content: 'hi'\r\n", "prompt") == (
        "messages:\r\n  - role: user\r\n    content: hi\r\n")


def test_a_change_of_meaning_is_refused_and_nothing_is_written(tmp_path, cli, monkeypatch):
    import promptctl.fmt as fmt

    write_tree(tmp_path, {"a.prompt.yaml": "messages:\n- role: user\n  content: 'hi'\n",
                          "b.prompt.yaml": "messages:\n- role: user\n  content: hello\n"})
    monkeypatch.setattr(fmt, "plain_where_safe", lambda value, flow: "changed" if value == "hi" else value)
    with pytest.raises(FormatError, match="would change what this file means"):
        format_text("messages: [{role: user, content: 'hi'}]\n", "prompt")
    before = (tmp_path / "a.prompt.yaml").read_text()
    r = cli(["fmt", "a.prompt.yaml", "b.prompt.yaml"], cwd=tmp_path)
    assert r.code == 2
    assert "error: a.prompt.yaml: formatting would change what this file means, so it was left as it is" in r.err
    assert (tmp_path / "a.prompt.yaml").read_text() == before
    assert "reformatted b.prompt.yaml" in r.out  # the other file is still done


def messy_project(root: Path) -> Path:
    return write_tree(root, {
        "promptctl.yaml": "promptctl: 1\n",
        "prompts/a.prompt.yaml": "messages:\n- role: user\n  content: hi\ndescription: A\n",
        "prompts/b.prompt.yaml": "description: B\nmessages:\n  - role: user\n    content: hi\n",
        "prompts/partials/p.j2": "not: yaml: here\n",
        "evals/a.eval.yaml": "cases: [{id: x}]\nprompt: a\n",
        "notes/c.prompt.yaml": "messages:\n- role: user\n  content: hi\n",  # outside the prompt root
    })


def test_check_lists_what_would_change_and_writes_nothing(tmp_path, cli):
    root = messy_project(tmp_path / "p")
    before = (root / "prompts/a.prompt.yaml").read_text()
    r = cli(["-C", str(root), "fmt", "--check"], cwd=tmp_path)
    assert r.code == 1
    shown = os.path.relpath(root, tmp_path)
    assert r.out == f"would reformat {shown}/prompts/a.prompt.yaml\nwould reformat {shown}/evals/a.eval.yaml\n"
    assert "2 files would be reformatted, 2 unchanged" in r.err
    assert (root / "prompts/a.prompt.yaml").read_text() == before
    assert cli(["fmt"], cwd=root).code == 0
    r = cli(["fmt", "--check"], cwd=root)
    assert r.code == 0 and r.out == "" and "0 files would be reformatted, 4 unchanged" in r.err


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path, cli):
    root = messy_project(tmp_path / "p")
    r = cli(["fmt", "--diff", "evals"], cwd=root)
    assert r.code == 1
    assert r.out == ("--- a/evals/a.eval.yaml\n+++ b/evals/a.eval.yaml\n@@ -1,2 +1,2 @@\n"
                     "+prompt: a\n cases: [{id: x}]\n-prompt: a\n")
    assert (root / "evals/a.eval.yaml").read_text() == "cases: [{id: x}]\nprompt: a\n"


def test_fmt_rewrites_in_place_keeping_the_mode(tmp_path, cli):
    root = messy_project(tmp_path / "p")
    target = root / "prompts/a.prompt.yaml"
    target.chmod(0o640)
    r = cli(["fmt"], cwd=root)
    assert r.code == 0, r.err
    assert r.out == "reformatted prompts/a.prompt.yaml\nreformatted evals/a.eval.yaml\n"
    assert "2 files reformatted, 2 unchanged" in r.err
    assert target.read_text() == "description: A\nmessages:\n  - role: user\n    content: hi\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    assert (root / "notes/c.prompt.yaml").read_text().startswith("messages:\n- role")  # not a project file


def test_paths_folders_are_searched_and_a_file_of_another_kind_is_an_error(tmp_path, cli):
    root = messy_project(tmp_path / "p")
    r = cli(["fmt", "--check", "notes", "prompts"], cwd=root)
    assert r.code == 1
    assert r.out == "would reformat notes/c.prompt.yaml\nwould reformat prompts/a.prompt.yaml\n"  # p.j2 skipped
    r = cli(["fmt", "prompts/partials/p.j2"], cwd=root)
    assert r.code == 2
    assert r.err.startswith("error: prompts/partials/p.j2: not a file promptctl fmt formats (it formats")
    r = cli(["fmt", "nope.prompt.yaml"], cwd=root)
    assert r.code == 2 and "error: nope.prompt.yaml: no such file or folder" in r.err


def test_malformed_yaml_is_an_error_at_its_position_and_the_other_files_are_still_done(tmp_path, cli):
    write_tree(tmp_path, {"bad.prompt.yaml": "messages:\n  - role: user\n    content: {oops\n",
                          "dup.eval.yaml": "prompt: a\nprompt: b\n",
                          "ok.prompt.yaml": "messages:\n- {role: user, content: hi}\n"})
    r = cli(["fmt", "."], cwd=tmp_path)
    assert r.code == 2
    assert "error: bad.prompt.yaml:3:14: invalid YAML: the `{` here is not closed" in r.err
    assert "error: dup.eval.yaml:2:1: duplicate key 'prompt' (first defined at line 1) (remove one of them)" in r.err
    assert r.out == "reformatted ok.prompt.yaml\n"
    assert "1 file reformatted, 0 unchanged, 2 errors" in r.err
    assert (tmp_path / "ok.prompt.yaml").read_text() == "messages:\n  - {role: user, content: hi}\n"


def test_fmt_is_listed_after_lint_and_start_up_does_not_import_ruamel():
    p = subprocess.run([sys.executable, "-c", "import sys; from promptctl.cli import main\n"
                        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                        "assert 'ruamel' not in ' '.join(sys.modules), 'ruamel imported at start-up'"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    commands = [line.split()[0] for line in p.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert commands[commands.index("lint") + 1] == "fmt"


def test_the_pre_commit_hook_runs_fmt_on_the_files_it_formats_and_the_readme_shows_it():
    import re

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    hook = hooks["promptctl-fmt"]
    assert (hook["entry"], hook["language"]) == ("promptctl fmt", "python")
    files = re.compile(hook["files"])
    for path in ("promptctl.yaml", "sub/promptctl.yaml", "prompts/a/b.prompt.yaml", "evals/x.eval.yaml"):
        assert files.search(path) and file_kind(path), path
    for path in ("prompts/partials/p.j2", "evals/data/rows.jsonl", "xpromptctl.yaml", "notes.yaml"):
        assert not files.search(path) and not file_kind(path), path
    section = doc_section("docs/lint.md", "## `promptctl fmt [PATHS...]`")
    local = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])[0]
    assert (local["entry"], local["files"]) == (hook["entry"], hook["files"])


def test_a_comment_indented_under_a_value_stays_with_it_and_moved_comments_take_their_keys_indentation():
    text = textwrap.dedent("""\
        messages:   # msgs
          - role: user
            content: hi
          # - role: assistant   (a commented-out message: it stays in the list)
        inputs:  # ins
          a: string
        samples:
          - inputs: {a: x}
                # about the name, indented oddly
            name: s
            # about the description
            description: D
        """)
    assert format_text(text, "prompt") == textwrap.dedent("""\
        inputs:  # ins
          a: string
        messages:   # msgs
          - role: user
            content: hi
          # - role: assistant   (a commented-out message: it stays in the list)
        samples:
          - name: s
            # about the name, indented oddly
            # about the description
            description: D
            inputs: {a: x}
        """)


def test_comments_are_re_indented_with_the_items_they_sit_among():
    text = textwrap.dedent("""\
        description: x
        inputs:
            # first input
            a: string
            b:
                type: string
                # the default
                default: hi
        messages:
        # system first
        - role: system
          content: hi
        # then the user
        - role: user
          content: hi
          # name: a commented-out field of the last message
        # about the tags
        tags: [a]
        """)
    assert format_text(text, "prompt") == textwrap.dedent("""\
        description: x
        inputs:
          # first input
          a: string
          b:
            type: string
            # the default
            default: hi
        messages:
          # system first
          - role: system
            content: hi
          # then the user
          - role: user
            content: hi
            # name: a commented-out field of the last message
        # about the tags
        tags: [a]
        """)


def test_the_comment_right_above_the_first_key_moves_with_it_the_file_head_stays():
    text = ("# yaml-language-server: $schema=x.json\n# Copyright: us\n\n# about messages\nmessages: []\n"
            "# about the description\ndescription: x\n")
    assert format_text(text, "prompt") == ("# yaml-language-server: $schema=x.json\n# Copyright: us\n\n"
                                           "# about the description\ndescription: x\n# about messages\nmessages: []\n")
    text = "# yaml-language-server: $schema=x.json\nmessages: []\n# about the description\ndescription: x\n"
    assert format_text(text, "prompt") == (
        "# yaml-language-server: $schema=x.json\n# about the description\ndescription: x\nmessages: []\n")


def shuffled_with_comments(text: str, seed: int) -> tuple[str, dict[str, str]]:
    """``text`` with its top-level keys (each with what follows it) in a random order, a comment
    ``# above KEY`` right above each; and which key each comment is above."""
    import random
    import re

    head: list[str] = []
    chunks: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if re.match(r"[A-Za-z_\"'][^:]*:", line):
            chunks.append([line])
        elif chunks:
            chunks[-1].append(line)
        else:
            head.append(line)
    random.Random(seed).shuffle(chunks)
    marks = {f"# above {i}": chunk[0].split(":")[0].strip("\"'") for i, chunk in enumerate(chunks)}
    body = "".join(f"# above {i}\n" + "".join(chunk) for i, chunk in enumerate(chunks))
    return "".join(head) + body.rstrip("\n") + "\n", marks


def test_shuffled_keys_come_back_in_order_each_with_the_comment_above_it():
    checked = 0
    for name, text in CORPUS:
        kind = file_kind(name.rsplit(":", 1)[-1])
        try:
            data = loads(text).data
        except FileFormatError:
            continue
        if not isinstance(data, dict):
            continue
        for seed in range(3):
            messy, marks = shuffled_with_comments(text, seed)
            once = format_text(messy, kind, path=name)
            assert loads(once).data == data and format_text(once, kind) == once, (name, messy)
            given = list(loads(messy).data)
            rank = {k: i for i, k in enumerate(KEY_ORDER[kind][0])}
            assert list(loads(once).data) == sorted(given, key=lambda k: (0, rank[k]) if k in rank else (1, given.index(k)))
            lines = once.splitlines()
            for mark, key in marks.items():
                at = lines.index(mark) + 1
                while lines[at].lstrip().startswith("#"):
                    at += 1
                assert lines[at].split(":")[0].strip("\"'") == key, (name, mark, once)
            checked += 1
    assert checked > 100


def test_a_file_the_formatter_fails_on_is_an_error_naming_it_and_the_others_are_still_done(tmp_path, cli, monkeypatch):
    import promptctl.fmt as fmt

    write_tree(tmp_path, {"a.prompt.yaml": "messages: []\nx: 1\n", "b.prompt.yaml": "messages:\n- {role: user, content: hi}\n"})
    real = fmt._restyle

    def fail_on_x(node, flow):
        if "x" in node:
            raise ValueError("boom")
        real(node, flow=flow)

    monkeypatch.setattr(fmt, "_restyle", fail_on_x)
    r = cli(["fmt", "."], cwd=tmp_path)
    assert r.code == 2
    assert "error: a.prompt.yaml: cannot be formatted (ValueError: boom), so it was left as it is" in r.err
    assert r.out == "reformatted b.prompt.yaml\n"
    assert (tmp_path / "a.prompt.yaml").read_text() == "messages: []\nx: 1\n"


def test_a_project_file_that_links_outside_the_project_is_never_written(tmp_path, cli):
    outside = write_tree(tmp_path / "elsewhere", {"x.prompt.yaml": "messages:\n- {role: user, content: hi}\n"})
    root = write_tree(tmp_path / "p", {"promptctl.yaml": "promptctl: 1\n",
                                       "prompts/b.prompt.yaml": "messages:\n- {role: user, content: hi}\n"})
    (root / "prompts" / "x.prompt.yaml").symlink_to(outside / "x.prompt.yaml")
    r = cli(["fmt"], cwd=root)
    assert r.code == 2
    assert "error: prompts/x.prompt.yaml: a symlink that leaves the project, so it was left as it is" in r.err
    assert r.out == "reformatted prompts/b.prompt.yaml\n"
    assert (outside / "x.prompt.yaml").read_text() == "messages:\n- {role: user, content: hi}\n"


def test_a_file_that_cannot_be_written_is_an_error_and_the_others_are_still_done(tmp_path, cli, monkeypatch):
    import errno

    import promptctl.fileio

    write_tree(tmp_path, {"full/a.prompt.yaml": "messages:\n- {role: user, content: hi}\n",
                          "ok/b.prompt.yaml": "messages:\n- {role: user, content: hi}\n"})
    real = promptctl.fileio.write_atomic

    def disk_full_in_full(path, data, **kwargs):
        if "full" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, **kwargs)

    monkeypatch.setattr(promptctl.fileio, "write_atomic", disk_full_in_full)
    r = cli(["fmt", "full", "ok"], cwd=tmp_path)
    assert r.code == 2
    assert "error: full/a.prompt.yaml: cannot write the formatted file: No space left on device" in r.err
    assert r.out == "reformatted ok/b.prompt.yaml\n"
    assert "1 file reformatted, 0 unchanged, 1 error" in r.err
