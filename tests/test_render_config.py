"""Render limits: the for-loop iteration bound, and limits set by promptctl.yaml ``render:`` or the runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, GitRepo, write_tree

from promptctl.config import Config, parse_config
from promptctl.limits import RenderLimits as LimitsFromLimits
from promptctl.project import open_project
from promptctl.runtime import Registry
from promptctl.scaffold import init_project
from promptctl.templates import MAX_OUTPUT_CHARS, MAX_RANGE_ITEMS, RenderLimitError, RenderLimits

CONFIG = "promptctl: 1\n"
LOOP_PROMPT = """\
    inputs: {x: array}
    messages:
      - role: user
        content: |
          start
          {% for a in x %}{% for b in x %}{% endfor %}{% endfor %}
    """


def _run(args, cwd, timeout=60):
    """The real CLI in a subprocess with a 1 GiB address-space limit and a timeout: a regression fails fast."""
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PROMPTCTL_PROJECT", None)
    return subprocess.run([sys.executable, "-m", "promptctl", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit)


def _inputs(root, name="in.json", **values):
    path = root / name
    path.write_text(json.dumps(values))
    return str(path)


# -- the loop bound --------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    "{% for a in x %}{% for b in x %}{% endfor %}{% endfor %}",  # 10^8 iterations, no output
    "{% for a in x %}{% for b in x if b is none %}{% endfor %}{% endfor %}",  # the filter skips every item
    "{% for a in x %}{% for b in x %}{% if loop.last %}{% endif %}{% endfor %}{% endfor %}",  # loop.length used
    "{% macro m() %}{% for b in x %}{% endfor %}{% endmacro %}{% for a in x %}{% set r = m() %}{% endfor %}",
])
def test_nested_loops_that_print_nothing_stop_at_the_loop_limit(tmp_path, content):
    root = write_tree(tmp_path / "proj", {
        "promptctl.yaml": CONFIG,
        "prompts/loop.prompt.yaml": LOOP_PROMPT.replace(
            "{% for a in x %}{% for b in x %}{% endfor %}{% endfor %}", content),
    })
    p = _run(["render", "loop", "--inputs", _inputs(root, x=list(range(10_000)))], root, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr[-500:])
    assert "render limit: the for-loop iterations of 'loop' would be 1,000,001, over the limit of 1,000,000" \
        in p.stderr, p.stderr
    assert "prompts/loop.prompt.yaml:6:" in p.stderr, p.stderr  # the line of the loops (template line 2)
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_a_recursive_loop_counts_its_inner_calls(tmp_path, cli):
    root = write_tree(tmp_path / "proj", {
        "promptctl.yaml": CONFIG + "render: {max_loop_iterations: 1110}\n",
        "prompts/tree.prompt.yaml": """\
            inputs: {x: array}
            messages:
              - role: user
                content: "{% for a in x recursive %}{% if loop.depth < 3 %}{{ loop(x) }}{% endif %}{% endfor %}."
            """,
    })
    # depth 1, 2 and 3: 10 + 10*10 + 10*10*10 = 1110 iterations, exactly the limit
    r = cli(["render", "tree", "--inputs", _inputs(root, x=list(range(10)))], cwd=root)
    assert r.code == 0 and r.out.strip().endswith("."), r.err
    # 11 + 121 + 1331: over it, though the loop in the template itself only runs 11 times
    r = cli(["render", "tree", "--inputs", _inputs(root, x=list(range(11)))], cwd=root)
    assert r.code == 2 and "would be 1,111, over the limit of 1,110" in r.err, r.err


def test_the_loop_limit_counts_every_loop_of_the_render_and_resets_between_renders(tmp_path, cli):
    root = write_tree(tmp_path / "proj", {
        "promptctl.yaml": CONFIG + "render: {max_loop_iterations: 12}\n",
        "prompts/loop.prompt.yaml": """\
            inputs: {x: array}
            messages:
              - role: system
                content: "{% for a in x %}{{ a }}{% endfor %}"
              - role: user
                content: "{% for a in x %}{% for b in x %}{% endfor %}{% endfor %}done"
            """,
    })
    two = _inputs(root, x=[1, 2])  # 2 in the first message + 2 + 4 = 8
    r = cli(["render", "loop", "--inputs", two], cwd=root)
    assert r.code == 0 and "done" in r.out, r.err
    over = _inputs(root, "over.json", x=[1, 2, 3])  # 3 in the first message + 3 + 9 = 15 > 12
    r = cli(["render", "loop", "--inputs", over], cwd=root)
    assert r.code == 2 and "the for-loop iterations of 'loop' would be 13, over the limit of 12" in r.err, r.err
    assert "prompts/loop.prompt.yaml:6:" in r.err

    p = Registry.from_project(root).get("loop")  # one renderer, many renders: each has its own count
    for _ in range(3):
        assert p.render(x=[1, 2])[1]["content"] == "done"
    with pytest.raises(RenderLimitError, match="over the limit of 12"):
        p.render(x=[1, 2, 3])


def test_lint_renders_samples_with_the_configured_limits(tmp_path, cli):
    root = write_tree(tmp_path / "proj", {
        "promptctl.yaml": CONFIG + "render: {max_loop_iterations: 5}\n",
        "prompts/loop.prompt.yaml": """\
            inputs: {x: array}
            messages:
              - role: user
                content: "{% for a in x %}{{ a }}{% endfor %}"
            samples:
              - {name: small, inputs: {x: [1, 2, 3]}}
              - {name: big, inputs: {x: [1, 2, 3, 4, 5, 6]}}
            """,
    })
    r = cli(["lint", "--format", "json"], cwd=root)
    assert r.code == 1, r.out + r.err
    findings = [f for f in json.loads(r.out) if f["code"] == "PC601"]
    assert len(findings) == 1, findings  # the small sample renders: 3 iterations
    assert "sample 'big' does not render: render limit: the for-loop iterations of 'loop' would be 6, " \
        "over the limit of 5" in findings[0]["message"]
    assert "(at prompts/loop.prompt.yaml:4:" in findings[0]["message"]


# -- promptctl.yaml `render:` ----------------------------------------------------------------------


BIG_OUTPUT = """\
    inputs: {n: {type: integer, default: 200}}
    messages:
      - role: user
        content: "{{ 'x' * n }}"
    """


def test_max_output_chars_from_the_config_fails_a_render_the_default_allows(tmp_path, cli):
    root = write_tree(tmp_path / "proj", {"promptctl.yaml": CONFIG, "prompts/big.prompt.yaml": BIG_OUTPUT})
    r = cli(["render", "big", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert json.loads(r.out)["messages"][0]["content"] == "x" * 200

    (root / "promptctl.yaml").write_text(CONFIG + "render:\n  max_output_chars: 100\n")
    r = cli(["render", "big"], cwd=root)
    assert r.code == 2 and r.out == ""
    assert "render limit" in r.err and "over the limit of 100" in r.err and "prompts/big.prompt.yaml" in r.err, r.err
    r = cli(["render", "big", "--inputs", _inputs(root, n=100)], cwd=root)  # exactly at the limit
    assert r.code == 0 and "x" * 100 in r.out, r.err


def test_max_range_items_from_the_config(tmp_path, cli):
    root = write_tree(tmp_path / "proj", {
        "promptctl.yaml": CONFIG + "render: {max_range_items: 40}\n",
        "prompts/r.prompt.yaml": """\
            inputs: {n: integer}
            messages:
              - role: user
                content: "{% for i in range(n) %}.{% endfor %}{{ range(n) | length }}"
            """,
    })
    r = cli(["render", "r", "--inputs", _inputs(root, n=20)], cwd=root)  # two ranges of 20: 40 in all
    assert r.code == 0 and "." * 20 + "20" in r.out, r.err
    r = cli(["render", "r", "--inputs", _inputs(root, n=21)], cwd=root)
    assert r.code == 2 and "the items of range() in this render would be 42, over the limit of 40" in r.err, r.err
    assert "prompts/r.prompt.yaml:4:" in r.err


def test_the_render_section_is_parsed_into_the_config(tmp_path):
    assert Config(root=tmp_path).render == RenderLimits()
    assert RenderLimits() == RenderLimits(1_000_000, 1_000_000, 1_000_000)
    assert (MAX_OUTPUT_CHARS, MAX_RANGE_ITEMS) == (RenderLimits().max_output_chars, RenderLimits().max_range_items)
    assert RenderLimits is LimitsFromLimits  # templates re-exports the one class
    config = parse_config({"promptctl": 1, "render": {"max_output_chars": 100, "max_loop_iterations": 7}}, tmp_path)
    assert config.render == RenderLimits(max_output_chars=100, max_range_items=1_000_000, max_loop_iterations=7)
    write_tree(tmp_path / "p", {"promptctl.yaml": CONFIG + "render: {max_range_items: 5.0}\n"})
    project = open_project(tmp_path / "p")
    assert project.config.render.max_range_items == 5 and type(project.config.render.max_range_items) is int
    assert project.renderer.limits is project.config.render


@pytest.mark.parametrize("section,line,words", [
    ("render:\n  max_output_chars: 0\n", 3, "render.max_output_chars: 0 is less than the minimum of 1"),
    ("render:\n  max_loop_iterations: -5\n", 3, "render.max_loop_iterations: -5 is less than the minimum of 1"),
    ('render:\n  max_output_chars: "x"\n', 3, "render.max_output_chars: \"x\" is not of type integer"),
    ("render:\n  max_range_items: 2.5\n", 3, "render.max_range_items: 2.5 is not of type integer"),
    ("render:\n  max_range_items: true\n", 3, "render.max_range_items: true is not of type integer"),
    ("render:\n  max_loops: 10\n", 3, "unknown field 'render.max_loops'"),
    ("render: 100\n", 2, "render: 100 is not of type object"),
])
def test_bad_render_settings_are_schema_errors(tmp_path, cli, section, line, words):
    root = write_tree(tmp_path / "proj", {"promptctl.yaml": CONFIG + section, "prompts/big.prompt.yaml": BIG_OUTPUT})
    r = cli(["render", "big"], cwd=root)
    assert r.code == 2 and r.out == ""
    assert f"promptctl.yaml:{line}:" in r.err and words in r.err, r.err
    assert "Traceback" not in r.err


def test_render_limits_refuse_values_that_are_not_positive_integers():
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="positive integer"):
            RenderLimits(max_loop_iterations=bad)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        RenderLimits().max_output_chars = 5  # type: ignore[misc]  # frozen


def test_importing_the_config_does_not_import_jinja2():
    code = "import sys, promptctl.config; print('jinja2' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 0 and p.stdout.strip() == "False", p.stdout + p.stderr


# -- the runtime -----------------------------------------------------------------------------------


LOOPS = """\
    description: Lists items.
    inputs: {x: array}
    messages:
      - role: user
        content: "{% for a in x %}{% for b in x %}{% endfor %}{{ a }}{% endfor %}"
    samples:
      - {name: two, inputs: {x: [1, 2]}}
    """


@pytest.fixture
def published(git_repo: GitRepo, git_env, cli) -> GitRepo:
    """The `promptctl init` example plus a prompt with loops, published as v1 and promoted to production."""
    init_project(git_repo.root)
    git_repo.commit("example", {"prompts/loops.prompt.yaml": LOOPS})
    r = cli(["publish", "-m", "first", "--channel", "production"], cwd=git_repo.root)
    assert r.code == 0, r.err
    return git_repo


def test_the_runtime_registry_enforces_its_render_limits(published, tmp_path):
    registry = published.root / ".promptctl" / "registry"
    text = "y" * 200
    default = Registry(registry, refresh_s=0).get("summarize")
    assert default.render(text=text)[1]["content"] == text

    cache = tmp_path / "cache"
    reg = Registry(registry, refresh_s=0, cache_dir=cache, render_limits=RenderLimits(max_output_chars=50))
    assert reg.render_limits == RenderLimits(max_output_chars=50)
    p = reg.get("summarize")
    with pytest.raises(RenderLimitError, match="the rendered text of 'summarize' would be .*, over the limit of 50"):
        p.render(text=text)
    with pytest.raises(RenderLimitError, match="over the limit of 50"):
        p.completion_kwargs(text=text)
    assert reg.get("loops").render(x=[1, 2])[0]["content"] == "12"  # a short render still passes

    shutil.move(registry, tmp_path / "gone")  # unreachable: the cached bundle is served, with the same limits
    cached = Registry(registry, refresh_s=0, cache_dir=cache, render_limits=RenderLimits(max_output_chars=50))
    assert cached.status()["source"] == "cache"
    with pytest.raises(RenderLimitError, match="over the limit of 50"):
        cached.get("summarize").render(text=text)


def test_the_runtime_registry_bounds_loop_iterations(published):
    registry = published.root / ".promptctl" / "registry"
    reg = Registry(registry, refresh_s=0, render_limits=RenderLimits(max_loop_iterations=12))
    p = reg.get("loops")
    assert p.render(x=[1, 2, 3])[0]["content"] == "123"  # 3 + 3*3 = 12 iterations
    with pytest.raises(RenderLimitError, match="the for-loop iterations of 'loops' would be 13, over the limit of 12") \
            as info:
        p.render(x=[1, 2, 3, 4])
    assert info.value.path == "v1:prompts/loops.prompt.yaml"  # a bundle keeps no line numbers
    big = list(range(10_000))  # 10^8 iterations with the default limit: stopped at a million
    with pytest.raises(RenderLimitError, match="over the limit of 1,000,000"):
        Registry(registry, refresh_s=0).get("loops").render(x=big)
