"""Only regular files inside the project are read, and reads are bounded (the working tree)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

from promptctl.scaffold import init_project

PROMPT = "prompts/summarize.prompt.yaml"


def _run(args, cwd, timeout=60):
    """The real CLI in a subprocess with a 1 GiB address-space limit and a timeout: a regression fails fast."""
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PROMPTCTL_PROJECT", None)
    return subprocess.run([sys.executable, "-m", "promptctl", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit)


@pytest.fixture
def demo(tmp_path):
    init_project(tmp_path / "demo")
    return tmp_path / "demo"


def test_a_partial_symlinked_out_of_the_project_is_refused(demo, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("root:x:0:0:SECRET-OUTSIDE\n")
    (demo / "prompts/partials/leak.j2").symlink_to(secret)
    reply = demo / "prompts/support/reply.prompt.yaml"
    reply.write_text(reply.read_text().replace('{% include "partials/policy.j2" %}',
                                               '{% include "partials/leak.j2" %}'))
    for args in (["render", "support/reply", "-s", "refund"], ["lint"]):
        p = _run(args, demo)
        assert p.returncode in (1, 2), (args, p.stderr)
        assert "SECRET-OUTSIDE" not in p.stdout + p.stderr
        assert "leaves the project" in p.stdout + p.stderr or "resolves outside" in p.stdout + p.stderr, (args, p.stderr)


def test_a_prompt_file_symlinked_out_of_the_project_is_refused(demo, tmp_path):
    outside = tmp_path / "elsewhere.prompt.yaml"
    outside.write_text((demo / PROMPT).read_text().replace("bullet points", "SECRET-OUTSIDE"))
    (demo / "prompts/stolen.prompt.yaml").symlink_to(outside)
    p = _run(["render", "stolen", "-i", "text=x"], demo)
    assert p.returncode == 2 and "leaves the project" in p.stderr and "SECRET-OUTSIDE" not in p.stdout


def test_a_symlink_to_dev_zero_is_refused_not_read_forever(demo):
    (demo / "prompts/zero.prompt.yaml").symlink_to("/dev/zero")
    p = _run(["lint"], demo, timeout=60)
    assert p.returncode in (1, 2) and "zero.prompt.yaml" in p.stdout + p.stderr


def test_a_fifo_named_like_a_prompt_does_not_hang(demo):
    os.mkfifo(demo / "prompts/pipe.prompt.yaml")
    p = _run(["render", "pipe"], demo, timeout=30)
    assert p.returncode == 2 and "not a regular file" in p.stderr
    p = _run(["lint"], demo, timeout=30)
    assert p.returncode in (1, 2) and "pipe.prompt.yaml" in p.stdout + p.stderr


def test_the_size_limit_holds_for_what_is_read(tmp_path):
    from promptctl.errors import YamlError
    from promptctl.yamlio import read_regular

    big = tmp_path / "big"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(YamlError, match="over the 1,000-byte limit"):
        read_regular(big, display="big", max_bytes=1000)
    assert read_regular(big, display="big", max_bytes=2000) == b"x" * 2000


def test_a_symlink_inside_the_project_still_works(demo):
    (demo / "prompts/partials/alias.j2").symlink_to("policy.j2")
    reply = demo / "prompts/support/reply.prompt.yaml"
    reply.write_text(reply.read_text().replace('"partials/policy.j2"', '"partials/alias.j2"'))
    p = _run(["render", "support/reply", "-s", "refund"], demo)
    assert p.returncode == 0, p.stderr


# -- bad input is a located error, never a crash (exit 2) --------------------------------------------


def _dataset(demo, name, text):
    (demo / "evals" / name).write_text(text)
    (demo / "evals/rows.eval.yaml").write_text(f"prompt: summarize\ncases:\n  - file: {name}\n")


@pytest.mark.parametrize("name,text,words", [
    ("rows.jsonl", '{"id": "a", "inputs": {"text": ' + "9" * 5000 + "}}\n", "invalid JSON"),
    ("rows.jsonl", '{"id": "a", "inputs": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "nested too deeply"),
    ("rows.jsonl", '{"id": "a", "id": "b", "inputs": {"text": "x"}}\n', "duplicate key 'id'"),
    ("rows.csv", 'id,text\na,"' + "x" * 200_000 + '"\n', "invalid CSV"),
])
def test_bad_dataset_rows_are_located_errors(demo, name, text, words):
    _dataset(demo, name, text)
    p = _run(["test", "--mode", "replay", "rows"], demo)
    assert p.returncode == 2, p.stderr
    assert words in p.stderr and f"{name}:" in p.stderr and "Traceback" not in p.stderr


def test_a_template_nested_100_deep_is_a_located_error_and_lint_reports_the_rest(demo):
    body = "{% if x %}" * 100 + "deep" + "{% endif %}" * 100
    (demo / "prompts/deep.prompt.yaml").write_text(
        f"inputs: {{x: string}}\nmessages:\n  - role: user\n    content: \"{body}\"\n")
    p = _run(["render", "deep", "-i", "x=yes"], demo)
    assert p.returncode == 2 and "nested too deeply" in p.stderr and "deep.prompt.yaml:4" in p.stderr
    (demo / "prompts/other.prompt.yaml").write_text("messages:\n  - role: user\n    content: \"{{ undeclared }}\"\n")
    p = _run(["lint", "--format", "json"], demo)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "deep.prompt.yaml" in p.stdout and "other.prompt.yaml" in p.stdout  # every other finding still reported


def test_a_ref_naming_a_file_in_a_revision_is_a_usage_error(git_repo, git_env, cli):
    init_project(git_repo.root)
    git_repo.commit("example")
    for ref in ("HEAD:promptctl.yaml", "HEAD^{tree}"):
        r = cli(["render", "summarize", "-i", "text=x", "--ref", ref], cwd=git_repo.root)
        assert r.code == 2 and "unexpected" not in r.err, (ref, r.err)


# -- rendering has limits (in the CLI and the runtime: one sandbox) ----------------------------------


@pytest.mark.parametrize("content,inputs", [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", []),
    ("{{ lipsum(n=10**7) }}", []),
    ("{{ '=' * width }}", ["-i", "width=3000000000"]),
    ("{{ 'x' | center(width) }}", ["-i", "width=3000000000"]),
    ("{{ '%*d' % (width, 1) }}", ["-i", "width=3000000000"]),
    ("{{ '{:>3000000000}'.format(1) }}", []),
    ("{{ 2 ** 100000000 }}", []),
    ("{% for i in range(900) %}{{ 'y' * 2000 }}{% endfor %}", []),
])
def test_renders_are_bounded_in_output_and_work(demo, content, inputs):
    (demo / "prompts/big.prompt.yaml").write_text(
        "inputs: {width: {type: integer, default: 1}}\nmessages:\n  - role: user\n"
        f"    content: \"{content}\"\n")
    inputs_file = demo / "in.json"
    inputs_file.write_text('{"width": 3000000000}' if inputs else "{}")
    p = _run(["render", "big", "--inputs", str(inputs_file)], demo, timeout=60)
    assert p.returncode == 2, (content, p.returncode, p.stderr[-500:])
    assert "render limit" in p.stderr and "big.prompt.yaml" in p.stderr, p.stderr


def test_the_runtime_renders_with_the_same_limits(demo):
    from promptctl.errors import TemplateError
    from promptctl.runtime import Registry

    (demo / "prompts/big.prompt.yaml").write_text(
        "inputs: {width: integer}\nmessages:\n  - role: user\n    content: \"{{ '=' * width }}\"\n")
    p = Registry.from_project(demo).get("big")
    assert p.render(width=3)[0]["content"] == "==="
    with pytest.raises(TemplateError, match="render limit"):
        p.render(width=20_000_000)  # over the limit, yet harmless (20 MB) if the limit ever regressed
