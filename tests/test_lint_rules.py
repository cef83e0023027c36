"""One failing and one passing fixture per lint rule, through the real `promptctl lint` entry point.

Every case starts from BASE, a project on which lint reports nothing at all,
and changes a few files. The failing fixture must report the rule at the
expected file and line; the passing one must report neither that rule nor any
error.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import write_tree

BASE = {
    "promptctl.yaml": """\
        promptctl: 1
        defaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}
        models:
          fast: openai/gpt-4o-mini
          local: {model: openai/my-own-llama, api_base: "http://127.0.0.1:8000/v1"}
        """,
    "prompts/greet.prompt.yaml": """\
        description: Greet someone.
        inputs:
          who: string
          tone: {type: string, enum: [warm, cool], default: warm}
        messages:
          - role: system
            content: |
              You greet people in a {{ tone }} way.
              {% include "partials/rules.j2" %}
          - role: user
            content: "Say hello to {{ who }}"
        samples:
          - {name: world, inputs: {who: World}}
        """,
    "prompts/partials/rules.j2": "Be brief.\n",
    "evals/greet.eval.yaml": """\
        prompt: greet
        cases:
          - id: ann
            inputs: {who: Ann}
            golden: Hello Ann
            assert: [{type: icontains, value: ann}]
        """,
}

BASE = {k: textwrap.dedent(v) for k, v in BASE.items()}
GREET = BASE["prompts/greet.prompt.yaml"]
DATASET = BASE["evals/greet.eval.yaml"]
PROMPT = "prompts/greet.prompt.yaml"
EVAL = "evals/greet.eval.yaml"


def greet(**replace: str) -> str:
    """BASE's prompt with text replaced: greet(old=new) -- keys are placeholders below."""
    text = GREET
    for old, new in replace.items():
        assert text.count(PLACES[old]) == 1, old
        text = text.replace(PLACES[old], new)
    return text


PLACES = {
    "user": '    content: "Say hello to {{ who }}"',
    "system": '      You greet people in a {{ tone }} way.',
    "include": '      {% include "partials/rules.j2" %}',
    "inputs": "  who: string",
    "samples": "  - {name: world, inputs: {who: World}}",
    "description": "description: Greet someone.",
}

# (id, code, failing files, passing files, (path, line) of the expected finding, extra args)
CASES = [
    ("yaml", "PC101", {PROMPT: GREET + "inputs: {}\n"}, {}, (PROMPT, 14), []),
    ("jsonl-line", "PC101", {EVAL: DATASET + "  - file: data/more.jsonl\n", "evals/data/more.jsonl": '{"id": "x", "inputs": {"who": "Bo"}}\n{oops\n'},
     {EVAL: DATASET + "  - file: data/more.jsonl\n", "evals/data/more.jsonl": '{"id": "x", "inputs": {"who": "Bo"}}\n'},
     ("evals/data/more.jsonl", 2), []),
    ("schema", "PC102", {PROMPT: greet(user='    content: "Say hello to {{ who }}"\n    rol: user')},
     {}, (PROMPT, 12), []),
    ("schema-dataset", "PC102", {EVAL: DATASET.replace("prompt: greet", "prompt: greet\nthreshold: 2")}, {},
     (EVAL, 2), []),
    ("duplicate-name-case", "PC103", {"prompts/Greet.prompt.yaml": GREET}, {"prompts/greet2.prompt.yaml": GREET},
     ("prompts/greet.prompt.yaml", 1), []),
    ("duplicate-name-suffix", "PC103", {"prompts/greet.PROMPT.yaml": GREET}, {"prompts/greet.prompt.yaml.bak.j2": "x"},
     ("prompts/greet.PROMPT.yaml", 1), ["--ignore", "PC104"]),
    ("unknown-file", "PC104", {"prompts/partials/old.j2": "Old policy.\n"},
     {"prompts/partials/old.j2": "Old policy.\n", PROMPT: greet(include='      {% include "partials/rules.j2" %}\n      {% include "partials/old.j2" %}')},
     ("prompts/partials/old.j2", 1), []),
    ("unknown-file-suffix", "PC104", {"prompts/other.prompt.yml": "x: 1\n"}, {}, ("prompts/other.prompt.yml", 1), []),
    ("unknown-rule-code", "PC105", {"promptctl.yaml": BASE["promptctl.yaml"] + "lint: {ignore: [PC999]}\n"},
     {"promptctl.yaml": BASE["promptctl.yaml"] + "lint: {ignore: [PC999, PC105]}\n"}, ("promptctl.yaml", 6), []),
    ("syntax", "PC201", {PROMPT: greet(system="      You greet people in a {{ tone } way.")}, {}, (PROMPT, 8), []),
    ("syntax-partial", "PC201", {"prompts/partials/rules.j2": "Be brief.\n{% if x %}\n"}, {},
     ("prompts/partials/rules.j2", 2), []),
    ("unknown-filter", "PC201", {PROMPT: greet(user='    content: "Say hello to {{ who|shout }}"')}, {}, (PROMPT, 11), []),
    ("undeclared", "PC202", {PROMPT: greet(user='    content: "Say hello to {{ whom }}"')},
     {PROMPT: greet(user='    content: "{% set whom = who %}Say hello to {{ whom }} {{ range(2)|list }}"')}, (PROMPT, 11), []),
    ("undeclared-in-partial", "PC202", {"prompts/partials/rules.j2": "Be brief, {{ customer }}.\n"},
     {"prompts/partials/rules.j2": "Be brief, {{ who }}.\n"}, (PROMPT, 9), []),
    ("undeclared-history", "PC202", {PROMPT: greet(user='    content: "Say hello to {{ who }}"\n  - history: past')},
     {PROMPT: greet(user='    content: "Say hello to {{ who }}"\n  - history: past', inputs="  who: string\n  past: {type: array, default: []}")},
     (PROMPT, 12), []),
    ("unused-input", "PC203", {PROMPT: greet(inputs="  who: string\n  mood: string")},
     {PROMPT: greet(inputs="  who: string\n  mood: {type: string, default: ok}", user='    content: "Say hello to {{ who }} ({{ mood }})"')},
     (PROMPT, 4), []),
    ("unknown-attribute", "PC204",
     {PROMPT: greet(inputs="  who: {type: object, properties: {name: {type: string}}}", user='    content: "Say hello to {{ who.nmae }}"',
                    samples="  - {name: world, inputs: {who: {name: World}}}"),
      EVAL: DATASET.replace("{who: Ann}", "{who: {name: Ann}}")},
     {PROMPT: greet(inputs="  who: {type: object, properties: {name: {type: string}}}", user='    content: "Say hello to {{ who.name }} {{ who.items()|list|length }}"',
                    samples="  - {name: world, inputs: {who: {name: World}}}"),
      EVAL: DATASET.replace("{who: Ann}", "{who: {name: Ann}}")},
     (PROMPT, 11), []),
    ("unknown-attribute-loop", "PC204",
     {PROMPT: greet(inputs="  who: {type: array, items: {type: object, properties: {id: {type: string}}, additionalProperties: false}}",
                    user='    content: "{% for w in who %}Hello {{ w.idd }}{% endfor %}"', samples="  - {name: world, inputs: {who: [{id: a}]}}"),
      EVAL: DATASET.replace("{who: Ann}", "{who: [{id: b}]}")},
     {PROMPT: greet(inputs="  who: {type: array, items: {type: object, properties: {id: {type: string}}, additionalProperties: false}}",
                    user='    content: "{% for w in who %}Hello {{ w.id }}{% endfor %}"', samples="  - {name: world, inputs: {who: [{id: a}]}}"),
      EVAL: DATASET.replace("{who: Ann}", "{who: [{id: b}]}")},
     (PROMPT, 11), []),
    ("missing-partial", "PC205", {PROMPT: greet(include='      {% include "partials/rulez.j2" %}')},
     {PROMPT: greet(include='      {% include "partials/rulez.j2" ignore missing %}{% include ["partials/nope.j2", "partials/rules.j2"] %}')},
     (PROMPT, 9), []),
    ("include-cycle", "PC206", {"prompts/partials/rules.j2": '{% include "partials/more.j2" %}\n', "prompts/partials/more.j2": 'More.\n{% include "partials/rules.j2" %}\n'},
     {"prompts/partials/rules.j2": '{% include "partials/more.j2" %}\n', "prompts/partials/more.j2": "More.\n"},
     ("prompts/partials/more.j2", 2), []),
    ("dynamic-include", "PC207", {PROMPT: greet(include='      {% include "partials/" ~ tone ~ ".j2" %}'), "prompts/partials/warm.j2": "Warm.\n", "prompts/partials/cool.j2": "Cool.\n"},
     {PROMPT: greet(include='      {% if tone == "warm" %}{% include "partials/warm.j2" %}{% else %}{% include "partials/cool.j2" %}{% endif %}{% include "partials/rules.j2" %}'),
      "prompts/partials/warm.j2": "Warm.\n", "prompts/partials/cool.j2": "Cool.\n"},
     (PROMPT, 9), ["--ignore", "PC104"]),
    ("sandbox-dunder", "PC208", {PROMPT: greet(user='    content: "Say hello to {{ who.__class__ }}"')},
     {PROMPT: greet(user='    content: "Say hello to {{ who|upper }}"')}, (PROMPT, 11), []),
    ("sandbox-attr-filter", "PC208", {"prompts/partials/rules.j2": "{{ tone|attr('__init__') }}\n"},
     {"prompts/partials/rules.j2": "{{ tone|attr('upper') }}\n"}, ("prompts/partials/rules.j2", 1), []),
    ("sandbox-format", "PC208", {PROMPT: greet(user="""    content: "{{ 'Hello {}'.format(who) }}\"""")},
     {PROMPT: greet(user="""    content: "{{ 'Hello %s'|format(who) }}\"""")}, (PROMPT, 11), []),
    ("include-outside", "PC209", {PROMPT: greet(include='      {% include "../secrets.j2" %}')}, {}, (PROMPT, 9), []),
    ("unknown-model", "PC301", {PROMPT: "model: openai/gpt-4o-mni\n" + GREET},
     {PROMPT: "model: fast\nfallbacks: [local, anthropic/claude-sonnet-4-5, ollama/llama3]\n" + GREET}, (PROMPT, 1), []),
    ("unknown-model-alias", "PC301", {"promptctl.yaml": BASE["promptctl.yaml"].replace("fast: openai/gpt-4o-mini", "fast: openai/gpt-4o-mni")},
     {}, ("promptctl.yaml", 4), []),
    ("param-range", "PC302", {PROMPT: "params: {temperature: 5, top_p: 1.5}\n" + GREET},
     {PROMPT: "params: {temperature: 1.5, top_p: 1, max_tokens: 1000}\n" + GREET}, (PROMPT, 1), []),
    ("param-max-output", "PC302", {PROMPT: "model: openai/gpt-4o-mini\nparams: {max_tokens: 100000}\n" + GREET},
     {PROMPT: "model: openai/gpt-4o-mini\nparams: {max_tokens: 16000}\n" + GREET}, (PROMPT, 2), []),
    ("param-anthropic-temperature", "PC302", {PROMPT: "model: anthropic/claude-sonnet-4-5\nparams: {temperature: 1.5}\n" + GREET},
     {PROMPT: "model: anthropic/claude-sonnet-4-5\nparams: {temperature: 1}\n" + GREET}, (PROMPT, 2), []),
    ("secret", "PC401", {PROMPT: greet(system="      You greet people in a {{ tone }} way. Key: sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8")},
     {PROMPT: greet(system="      You greet people in a {{ tone }} way. Example key id: AKIAIOSFODNN7EXAMPLE, sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")},
     (PROMPT, 8), []),
    ("secret-in-config", "PC401", {"promptctl.yaml": BASE["promptctl.yaml"] + "# token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0\n"}, {},
     ("promptctl.yaml", 6), []),
    ("pii", "PC402", {"prompts/partials/rules.j2": "Escalate to ann.lee@acme-corp.io or +1 415 555 0134.\n"},
     {"prompts/partials/rules.j2": "Escalate to support@example.com; order {{ '555-0134' }}.\n"},
     ("prompts/partials/rules.j2", 1), ["--extend-select", "PC402"]),
    ("unknown-prompt", "PC501", {EVAL: DATASET.replace("prompt: greet", "prompt: gret")}, {}, (EVAL, 1), ["--ignore", "PC506"]),
    ("case-inputs", "PC502", {EVAL: DATASET.replace("{who: Ann}", "{whom: Ann, tone: hot}")},
     {EVAL: DATASET.replace("{who: Ann}", "{who: Ann, tone: cool}")}, (EVAL, 3), []),
    ("case-inputs-csv", "PC502", {EVAL: DATASET + "  - file: data/more.csv\n", "evals/data/more.csv": "id,who,tone\nb,Bo,hot\n"},
     {EVAL: DATASET + "  - file: data/more.csv\n", "evals/data/more.csv": "id,who,tone\nb,Bo,cool\n"}, ("evals/data/more.csv", 2), []),
    ("assert-type", "PC503", {EVAL: DATASET.replace("type: icontains", "type: icontain")}, {}, (EVAL, 6), []),
    ("duplicate-case", "PC504", {EVAL: DATASET + "  - {id: ann, inputs: {who: Ann}}\n"},
     {EVAL: DATASET + "  - {id: ann2, inputs: {who: Ann}}\n"}, (EVAL, 7), []),
    ("similar-without-golden", "PC505", {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: similar, threshold: 0.8}]}\n"},
     {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: similar, value: Hello Bo}]}\n"}, (EVAL, 7), []),
    ("untested", "PC506", {EVAL: None}, {}, (PROMPT, 1), []),
    ("missing-case-file", "PC507", {EVAL: DATASET + "  - file: data/missing.jsonl\n"},
     {EVAL: DATASET + "  - file: data/there.jsonl\n", "evals/data/there.jsonl": '{"id": "t", "inputs": {"who": "T"}}\n'}, (EVAL, 7), []),
    ("empty-assertion-value", "PC508", {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: contains, value: ''}]}\n"},
     {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: contains, value: Bo}]}\n"}, (EVAL, 7), []),
    ("missing-assertion-file", "PC509", {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: contains, value: 'file://bo.txt'}]}\n"},
     {EVAL: DATASET + "  - {id: bo, inputs: {who: Bo}, assert: [{type: contains, value: 'file://bo.txt'}]}\n",
      "evals/bo.txt": "Bo"}, (EVAL, 7), []),
    ("sample-render", "PC601", {PROMPT: greet(samples="  - {name: world, inputs: {whom: World}}")},
     {PROMPT: greet(samples="  - {name: world, inputs: {who: World, tone: cool}}")}, (PROMPT, 13), []),
    ("sample-render-runtime", "PC601", {PROMPT: greet(user='    content: "Say hello to {{ who.first }}"')}, {}, (PROMPT, 13), []),
]


def make(root: Path, changes: dict[str, str | None]) -> Path:
    files = {**BASE, **changes}
    write_tree(root, {k: v for k, v in files.items() if v is not None})
    return root


def lint_json(cli, root: Path, *args: str) -> tuple[int, list[dict]]:
    r = cli(["lint", "--format", "json", *args], cwd=root)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)


def test_base_project_is_clean(cli, tmp_path):
    code, findings = lint_json(cli, make(tmp_path / "p", {}), "--select", "ALL")
    assert (code, findings) == (0, [])


@pytest.mark.parametrize(
    "code, bad, good, where, args", [pytest.param(*c[1:], id=f"{c[1]}-{c[0]}") for c in CASES]
)
def test_rule(cli, tmp_path, code, bad, good, where, args):
    _, findings = lint_json(cli, make(tmp_path / "bad", bad), *args)
    hits = [f for f in findings if f["code"] == code]
    assert hits, f"{code} not reported; got {findings}"
    assert (hits[0]["path"], hits[0]["line"]) == where, hits
    assert all(f["rule"] and f["message"] and f["col"] >= 1 for f in hits)
    _, findings = lint_json(cli, make(tmp_path / "good", good), *args)
    assert not [f for f in findings if f["code"] == code or f["severity"] == "error"], findings


def test_every_rule_has_a_failing_fixture():
    from promptctl.lint.rules import RULES

    assert {c[1] for c in CASES} | {"PC303"} == set(RULES)  # PC303: test_context_window_with_a_small_model


def test_context_window_with_a_small_model(cli, tmp_path, monkeypatch):
    """PC303: a sample over the model's max_input_tokens (a litellm-format model file names a tiny model)."""
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"tiny-model": {"litellm_provider": "openai", "mode": "chat",
                                                 "max_input_tokens": 50, "max_output_tokens": 20}}))
    monkeypatch.setenv("PROMPTCTL_MODEL_DATA", str(models))
    long_sample = "  - {name: world, inputs: {who: World}}\n  - {name: long, inputs: {who: " + "word " * 60 + "}}"
    root = make(tmp_path / "p", {PROMPT: "model: tiny-model\n" + greet(samples=long_sample),
                                 "promptctl.yaml": "promptctl: 1\ndefaults: {model: tiny-model}\n"})
    _, findings = lint_json(cli, root)
    hits = [f for f in findings if f["code"] == "PC303"]
    assert [(h["line"], "'long'" in h["message"]) for h in hits] == [(15, True)], findings
    assert "context window of tiny-model" in hits[0]["message"]


def test_every_problem_in_a_file_is_reported(cli, tmp_path):
    """Lint does not stop at the first problem of a file, and a broken file does not stop the others."""
    root = make(tmp_path / "p", {
        PROMPT: greet(user='    content: "{{ whom }} {{ whoo }} {{ who.__class__ }}"', inputs="  who: string\n  spare: string"),
        "prompts/broken.prompt.yaml": "messages: [\n",
        "prompts/second.prompt.yaml": "messages:\n  - {role: sytem, content: '{{ x }}'}\n  - {role: user, content: hi, extra: 1}\n",
    })
    _, findings = lint_json(cli, root)
    got = {(f["path"], f["code"], f["line"]) for f in findings}
    assert {(PROMPT, "PC202", 12), (PROMPT, "PC208", 12), (PROMPT, "PC203", 4)} <= got
    assert len([f for f in findings if f["path"] == PROMPT and f["code"] == "PC202"]) == 2
    assert ("prompts/broken.prompt.yaml", "PC101", 1) in got  # at the `[` left open
    second = [f for f in findings if f["path"] == "prompts/second.prompt.yaml"]
    assert {(f["code"], f["line"]) for f in second} >= {("PC102", 2), ("PC102", 3), ("PC202", 2)}


def test_positions_in_block_scalars(cli, tmp_path):
    """Template line N of a `content: |` block is file line (block start + N), at the variable's column."""
    prompt = textwrap.dedent("""\
        inputs: {who: string}
        messages:
          - role: user
            content: |
              Line one.
                Indented {{ nobody }} here.
        """)
    root = make(tmp_path / "p", {PROMPT: prompt, EVAL: None})
    _, findings = lint_json(cli, root, "--select", "PC202")
    assert [(f["line"], f["col"]) for f in findings] == [(6, prompt.splitlines()[5].index("nobody") + 1)]


def test_symlinked_prompt_is_a_duplicate(cli, tmp_path):
    root = make(tmp_path / "p", {})
    (root / "prompts" / "hello.prompt.yaml").symlink_to("greet.prompt.yaml")
    _, findings = lint_json(cli, root, "--select", "PC103")
    assert [(f["path"], f["code"]) for f in findings] == [("prompts/hello.prompt.yaml", "PC103")]
    assert "symlink" in findings[0]["message"]


def test_secret_is_redacted_everywhere(cli, tmp_path):
    key = "sk-ant-api03-Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0ZZa1b2"
    root = make(tmp_path / "p", {"evals/data/rows.jsonl": json.dumps({"id": "k", "inputs": {"who": key}}) + "\n",
                                 EVAL: DATASET + "  - file: data/rows.jsonl\n"})
    for fmt in ("text", "json", "sarif", "github"):
        r = cli(["lint", "--format", fmt], cwd=root)
        assert r.code == 1
        assert key not in r.out and key not in r.err
        assert "sk-ant-…a1b2" in r.out


def test_pii_is_off_by_default_and_on_by_config(cli, tmp_path):
    changes = {"prompts/partials/rules.j2": "Mail ann.lee@acme-corp.io\n"}
    _, findings = lint_json(cli, make(tmp_path / "a", changes))
    assert findings == []
    config = BASE["promptctl.yaml"] + "lint: {severity: {PC402: warning}}\n"
    code, findings = lint_json(cli, make(tmp_path / "b", {**changes, "promptctl.yaml": config}))
    assert code == 0 and [f["code"] for f in findings] == ["PC402"]
    assert "ann.lee@acme-corp.io" not in findings[0]["message"]


def test_partials_see_the_names_of_the_place_they_are_included(cli, tmp_path):
    """A partial included inside a loop reads the loop variable (and `loop`): no PC202 for those."""
    root = make(tmp_path / "p", {
        PROMPT: greet(include='      {% for friend in [who, "Bo"] %}{% set shout = true %}{% include "partials/rules.j2" %}{% endfor %}'),
        "prompts/partials/rules.j2": "{{ loop.index }}. Hi {{ friend }}{% if shout %}!{% endif %} {{ stranger }}\n",
    })
    _, findings = lint_json(cli, root)
    assert [(f["code"], f["line"]) for f in findings] == [("PC202", 9)]
    assert "'stranger' is used by prompts/partials/rules.j2:1" in findings[0]["message"]


def test_a_suppression_comment_with_an_unknown_code_is_reported(cli, tmp_path):
    root = make(tmp_path / "p", {"prompts/partials/rules.j2": "Be brief. {# promptctl: ignore[PC2O2] #}\n"})
    _, findings = lint_json(cli, root)
    assert [(f["code"], f["path"], f["line"], f["col"]) for f in findings] == [
        ("PC105", "prompts/partials/rules.j2", 1, 12)
    ]


def test_every_schema_violation_of_a_message_is_reported(cli, tmp_path):
    """`role: sytem` and `contnet:` in one message: both said, not only the first."""
    root = make(tmp_path / "p", {PROMPT: "inputs: {who: string}\nmessages:\n  - role: sytem\n    contnet: hi {{ who }}\n"})
    r = cli(["lint", "--select", "PC102", "--format", "json"], cwd=root)
    messages = sorted(f["message"] for f in json.loads(r.out))
    assert any("'sytem' is not one of" in m or '"sytem" is not one of' in m for m in messages), messages
    assert any("unknown field 'messages[0].contnet'" in m and "did you mean 'content'?" in m for m in messages), messages
    assert any("missing required field 'content'" in m for m in messages), messages


def test_a_yaml_error_points_at_what_is_not_closed(cli, tmp_path):
    root = make(tmp_path / "p", {PROMPT: "inputs: {who: string\nmessages: []\n"})
    r = cli(["lint", "--select", "PC101", "--format", "json"], cwd=root)
    (f,) = json.loads(r.out)
    assert (f["line"], f["col"]) == (1, 9) and "the `{` here is not closed" in f["message"]
