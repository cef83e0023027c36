"""Plain messages (inputs put into text) render without Jinja, exactly as Jinja renders them.

Every template of the corpus below is rendered both ways: through promptctl's renderer (which takes
the plain path where it can) and through the same sandboxed Jinja environment directly. They must
agree on the text, and on the error when there is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, write_tree

from promptctl.errors import TemplateError
from promptctl.model import Message, Prompt
from promptctl.sandbox import make_environment
from promptctl.templates import Renderer, plain_pieces

PLAIN = [
    "", "hello", "{{ q }}", "{{q}}", "{{  q  }}", "a {{ q }} b", "{{ q }}{{ n }}", "{{ q }}\n", "{{ q }}\n\n",
    "line one\nline {{ n }}\n", "\n", "\n\n", "trailing space \n", "{{ q }} }} and }", "}}{{ q }}}}",
    "{ {{ q }}", "{q} {{ q }}", "a { b } c", "100% sure {{ n }}", "{{ _under }}", "{{ q2 }}",
    "unicode é ✓ {{ q }}", "tabs\t{{ q }}\t", "{{\tq\t}}", "{{\nq\n}}", "%} not a block", "#} not a comment",
    "{{ q }}{", "x {", "{{ range }}",
]
NOT_PLAIN = [
    "{{ q | upper }}", "{{ q.x }}", "{{ q[0] }}", "{{ q() }}", "{{ q ~ n }}", "{{- q }}", "{{ q -}}", "{{+ q }}",
    "{% if q %}x{% endif %}", "{# c #}{{ q }}", "{{{ q }}", "x {{{ q }}}", "{{ true }}", "{{ None }}", "{{ not }}",
    "a\r\nb {{ q }}", "a\rb", "{{ 'lit' }}", "{{ 1 }}", "{{ q }", "{{ é }}", "{{ q }} {{", "{%raw%}{{ q }}{%endraw%}",
]
VALUES = [
    "text", "", "with {{ braces }} and {% blocks %}", "new\nline\n", "é ✓", 7, 0, -1, 2.5, 1.0, 1e20, True, False,
    None, [1, "a", None], {"k": "v", "n": [1, 2]}, ("t",),
]


def jinja_render(source: str, context: dict) -> str:
    env = make_environment(lambda name: ("", name))
    return "".join(env.from_string(source).generate(context))


def renderer_render(source: str, context: dict, inputs: dict | None = None) -> str:
    prompt = Prompt(name="p", source="p.prompt.yaml", messages=(Message("user", source, line=1, col=1),),
                    inputs=inputs if inputs is not None else {k: {"type": "any"} for k in context})
    return Renderer(lambda name: ("", name)).render(prompt, context, validate=False)[0]["content"]


@pytest.mark.parametrize("source", PLAIN)
def test_plain_templates_are_taken_without_jinja(source):
    assert plain_pieces(source) is not None


@pytest.mark.parametrize("source", NOT_PLAIN)
def test_anything_more_goes_to_jinja(source):
    assert plain_pieces(source) is None


@pytest.mark.parametrize("value", VALUES, ids=repr)
@pytest.mark.parametrize("source", PLAIN + [s for s in NOT_PLAIN if "q" in s])
def test_the_plain_path_renders_what_jinja_renders(source, value):
    context = {"q": value, "n": 3, "_under": "u", "q2": value}

    def outcome(render):
        try:
            return ("ok", render(source, context))
        except Exception as e:  # noqa: BLE001 - the same failure both ways
            return ("error", type(e).__name__)

    ours, theirs = outcome(renderer_render), outcome(jinja_render)
    if ours[0] == "error":  # promptctl's error is its own (located) kind; Jinja refused it as well
        assert theirs[0] == "error", (source, value, ours, theirs)
    else:
        assert ours == theirs, (source, value)


def test_a_missing_input_in_a_plain_message_is_jinja_s_located_error(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\n",
        "prompts/p.prompt.yaml": "inputs: {name: string}\nmessages:\n  - role: user\n    content: \"Hi {{ nmae }}\"\n",
    })
    from promptctl.project import open_project

    with pytest.raises(TemplateError) as e:
        open_project(root).render("p", {"name": "x"})
    assert "'nmae' is not declared under `inputs`" in e.value.message
    assert (e.value.line, e.value.col) == (4, 21) and "did you mean 'name'" in (e.value.hint or "")


def test_a_plain_message_over_the_output_limit_is_refused_as_before(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\nrender: {max_output_chars: 1000}\n",
        "prompts/p.prompt.yaml": "inputs: {t: string}\nmessages:\n  - role: user\n    content: \"{{ t }}\"\n",
    })
    from promptctl.project import open_project

    project = open_project(root)
    assert project.render("p", {"t": "x" * 1000})[0]["content"] == "x" * 1000
    with pytest.raises(TemplateError, match="render limit: .* 1,001, over the limit of 1,000") as e:
        project.render("p", {"t": "x" * 1001})
    assert e.value.path and e.value.path.endswith("p.prompt.yaml")  # said by the Jinja path, as before


def test_plain_prompts_render_and_load_without_importing_jinja(tmp_path):
    """The project, the runtime and `promptctl render` of plain prompts never import jinja2; a prompt
    with a block imports it when it renders."""
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\n",
        "prompts/p.prompt.yaml": "inputs: {name: string}\nmessages:\n  - role: user\n    content: \"Hi {{ name }}\"\n",
        "prompts/b.prompt.yaml": "inputs: {name: string}\nmessages:\n"
                                 "  - role: user\n    content: \"{% if name %}Hi {{ name }}{% endif %}\"\n",
    })
    probe = ("import sys, json\nfrom promptctl.project import open_project\np = open_project('.')\n"
             "a = p.render('p', {'name': 'Ann'})[0]['content']\nplain = 'jinja2' in sys.modules\n"
             "b = p.render('b', {'name': 'Bo'})[0]['content']\n"
             "print(json.dumps([a, plain, b, 'jinja2' in sys.modules]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["Hi Ann", False, "Hi Bo", True]
    cli = ("import sys\nfrom promptctl.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
           "sys.stderr.write('JINJA %s\\n' % ('jinja2' in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", cli, "render", "p", "-i", "name=Ann"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=60)
    assert "Hi Ann" in out.stdout and "JINJA False" in out.stderr, out.stderr


def test_the_runtime_renders_a_plain_prompt_without_jinja(tmp_path, git_env):
    from conftest import GitRepo  # a published bundle, loaded by the runtime in a fresh process

    repo = GitRepo(tmp_path / "repo")
    repo.commit("prompt", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/p.prompt.yaml": "inputs: {name: string}\nmessages:\n  - role: user\n    content: \"Hi {{ name }}\"\n",
    })
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pub = subprocess.run([sys.executable, "-m", "promptctl", "publish", "-m", "first", "--channel", "production"],
                         cwd=repo.root, env=env, capture_output=True, text=True, timeout=120)
    assert pub.returncode == 0, pub.stderr
    registry = repo.root / ".promptctl" / "registry"
    probe = ("import sys, json\nfrom promptctl.runtime import Registry\n"
             f"r = Registry({str(registry)!r}, refresh_s=0)\n"
             "m = r.get('p').render(name='Ann')\n"
             "print(json.dumps([m[0]['content'], 'jinja2' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["Hi Ann", False]


def test_a_plain_message_is_not_parsed_when_its_prompt_loads(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\n",
        "prompts/p.prompt.yaml": "inputs: {name: string}\nmessages:\n  - role: user\n    content: \"Hi {{ name }}\"\n",
        "prompts/bad.prompt.yaml": "inputs: {name: string}\nmessages:\n  - role: user\n    content: \"Hi {{ name \"\n",
    })
    from promptctl.project import open_project

    project = open_project(root)
    assert project.get_prompt("p").partials == {}
    with pytest.raises(TemplateError, match="Jinja syntax error") as e:  # not plain: parsed on load, as before
        project.get_prompt("bad")
    assert e.value.line == 4
