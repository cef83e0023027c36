"""`promptctl import promptfoo`: real-shaped promptfoo configs become promptctl projects that lint clean
and run (`promptctl test` against the local OpenAI-compatible server, then `--mode replay` with the
same verdicts); what cannot be carried over is listed with its file and line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import write_tree
from llm_server import LLMServer

from promptctl.importers.promptfoo import assertion_from_string, litellm_model
from promptctl.yamlio import load_file

HEADER = "# imported from promptfooconfig.yaml by promptctl import promptfoo\n"
KEY = "sk-canary-import-7f3a"


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", KEY)
    for name in ("GITHUB_STEP_SUMMARY", "PROMPTCTL_PROJECT"):
        monkeypatch.delenv(name, raising=False)


def load(root: Path, rel: str):
    return load_file(root / rel).data


def imported(cli, root: Path, *args: str):
    r = cli(["import", "promptfoo", *args, "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    return json.loads(r.out)


def skipped(report) -> list[tuple[str, str, int | None]]:
    return [(s["what"], s["file"], s["line"]) for s in report["skipped"]]


def verdicts(report) -> dict[tuple[str, str], str]:
    return {(d["name"], c["id"]): c["status"] for d in report["datasets"] for c in d["cases"]}


def run_and_replay(cli, root: Path, server: LLMServer, expect_code: int = 0):
    """lint (exit 0), a live `promptctl test`, then `--mode replay`: the same verdicts, no call made."""
    lint = cli(["lint"], cwd=root)
    assert lint.code == 0, lint.out + lint.err
    live = cli(["test", "--format", "json"], cwd=root)
    assert live.code == expect_code, live.err
    calls = server.count()
    assert calls > 0
    replay = cli(["test", "--mode", "replay", "--format", "json"], cwd=root)
    assert replay.code == expect_code, replay.err
    assert server.count() == calls  # replay calls nothing
    first, again = json.loads(live.out), json.loads(replay.out)
    assert verdicts(first) == verdicts(again)
    assert again["summary"]["replayed"] == first["summary"]["cases"]
    return first


# -- a support bot: file, inline and chat prompts, CSV tests, defaultTest, two providers ----------


def support_bot(root: Path, url: str) -> Path:
    return write_tree(root, {
        "promptfooconfig.yaml": f"""\
            # yaml-language-server: $schema=https://promptfoo.dev/config-schema.json
            description: Acme support bot
            prompts:
              - file://prompts/support.txt
              - file://prompts/chat.json
              - 'Translate to French: {{{{text}}}}'
            providers:
              - id: openai:chat:gpt-4o-mini
                label: local
                config:
                  apiBaseUrl: {url}
                  apiKeyEnvar: LOCAL_KEY
                  temperature: 0.2
                  max_tokens: 200
              - anthropic:messages:claude-haiku-4-5
            defaultTest:
              vars:
                company: Acme
              assert:
                - type: not-icontains
                  value: as an AI
            tests:
              - description: Refund question
                vars:
                  question: Can I get a refund?
                  text: refund please
                assert:
                  - type: icontains
                    value: refund
                  - type: javascript
                    value: output.length < 500
              - file://tests.csv
            redteam:
              purpose: A support bot
              plugins: [harmful:hate]
            """,
        "prompts/support.txt": """\
            You are a support agent for {{ company }}.
            Customer: {{ question }}
            """,
        "prompts/chat.json": """\
            [
              {"role": "system", "content": "You work for {{ company }}. Be brief."},
              {"role": "user", "content": "{{ question }}"}
            ]
            """,
        "tests.csv": """\
            question,text,__expected,__expected2,__description
            Where is my order?,order status,icontains: order,"javascript: output.includes('x')",Order status
            Is it raining?,rain,"contains-any: raining,rain",,
            """,
    })


def test_support_bot_imports_lints_runs_and_replays(tmp_path, cli, server):
    root = support_bot(tmp_path / "pf", server.url)
    report = imported(cli, root)

    assert sorted(report["written"]) == sorted([
        "promptctl.yaml",
        "prompts/support.prompt.yaml", "evals/support.eval.yaml",
        "prompts/chat.prompt.yaml", "evals/chat.eval.yaml",
        "prompts/prompt-3.prompt.yaml", "evals/prompt-3.eval.yaml",
    ])
    assert skipped(report) == [
        ("`javascript` assertion", "promptfooconfig.yaml", 30),
        ("`redteam`", "promptfooconfig.yaml", 33),
        ("`javascript` assertion", "tests.csv", 2),
    ]
    assert all(s["why"] for s in report["skipped"])
    for rel in report["written"]:
        assert (root / rel).read_text().startswith(HEADER), rel

    config = load(root, "promptctl.yaml")
    assert config["promptctl"] == 1
    assert config["defaults"] == {"model": "local"}
    assert config["models"]["local"] == {
        "model": "openai/gpt-4o-mini", "api_base": server.url, "api_key_env": "LOCAL_KEY",
        "params": {"temperature": 0.2, "max_tokens": 200},
    }
    assert config["models"]["claude-haiku-4-5"]["model"] == "anthropic/claude-haiku-4-5"
    assert any("--model local --model claude-haiku-4-5" in n for n in report["notes"])
    assert "promptctl test --model local --model claude-haiku-4-5" in (root / "promptctl.yaml").read_text()

    support = load(root, "prompts/support.prompt.yaml")
    assert support["inputs"] == {"company": "string", "question": "string"}
    assert support["messages"] == [{"role": "user", "content": "You are a support agent for {{ company }}.\n"
                                                                "Customer: {{ question }}"}]
    assert "content: |-\n" in (root / "prompts/support.prompt.yaml").read_text()  # a block scalar
    chat = load(root, "prompts/chat.prompt.yaml")
    assert [m["role"] for m in chat["messages"]] == ["system", "user"]
    assert chat["messages"][1]["content"] == "{{ question }}"
    assert load(root, "prompts/prompt-3.prompt.yaml")["inputs"] == {"text": "string"}

    dataset = load(root, "evals/support.eval.yaml")
    assert dataset["prompt"] == "support"
    assert dataset["defaults"] == {"inputs": {"company": "Acme"},
                                   "assert": [{"type": "not-icontains", "value": "as an AI"}]}
    assert [c["id"] for c in dataset["cases"]] == ["refund-question", "order-status", "case-3"]
    assert dataset["cases"][0]["inputs"] == {"question": "Can I get a refund?"}  # `text` is not its input
    assert dataset["cases"][0]["assert"] == [{"type": "icontains", "value": "refund"}]
    assert dataset["cases"][1]["assert"] == [{"type": "icontains", "value": "order"}]
    assert dataset["cases"][2]["assert"] == [{"type": "contains-any", "value": ["raining", "rain"]}]
    text = (root / "evals/support.eval.yaml").read_text()
    assert "  # not carried over: javascript assertion (promptfooconfig.yaml:30)\n  - id: refund-question" in text
    assert load(root, "evals/prompt-3.eval.yaml")["cases"][1]["inputs"] == {"text": "order status"}

    server.answers["Where is my order?"] = "Your order ships today."
    result = run_and_replay(cli, root, server)
    assert result["ok"] is True
    assert verdicts(result) == {(d, c): "passed" for d in ("chat", "prompt-3", "support")
                                for c in ("refund-question", "order-status", "case-3")}
    sent = [r for r in server.requests if r["text"] == "Can I get a refund?"][0]
    assert sent["body"]["temperature"] == 0.2 and sent["body"]["max_tokens"] == 200
    assert sent["authorization"] == f"Bearer {KEY}"


def test_text_report_lists_files_and_what_was_not_carried_over(tmp_path, cli, server):
    root = support_bot(tmp_path / "pf", server.url)
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "promptctl.yaml"
    assert "evals/support.eval.yaml" in r.out.splitlines()
    assert "not carried over (3):" in r.err
    assert "promptfooconfig.yaml:30: `javascript` assertion: promptctl runs no JavaScript" in r.err
    assert "tests.csv:2: `javascript` assertion" in r.err
    assert "promptfooconfig.yaml:33: `redteam`:" in r.err
    assert "next: promptctl lint && promptctl test" in r.err


def test_strict_exits_1_when_something_was_left_out(tmp_path, cli, server):
    root = support_bot(tmp_path / "pf", server.url)
    r = cli(["import", "promptfoo", "--strict", "--into", "out"], cwd=root)
    assert r.code == 1
    assert (root / "out/promptctl.yaml").is_file()  # written all the same
    clean = write_tree(tmp_path / "clean", {"promptfooconfig.yaml": "prompts: ['{{q}}']\nproviders: [openai:gpt-4o-mini]\n"})
    assert cli(["import", "promptfoo", "--strict"], cwd=clean).code == 0


# -- failing cases, a case left with no assertion, and model comparison ---------------------------


def test_failures_replay_with_the_same_verdicts_and_models_compare(tmp_path, cli, server):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": f"""\
            prompts:
              - label: Geography QA
                raw: "Answer briefly: {{{{ question }}}}"
            providers:
              - id: openai:gpt-4o-mini
                label: small
                config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY}}
              - id: openai:gpt-4o
                label: big
                config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY, temperature: 0.7}}
            tests:
              - description: capital of France
                vars: {{question: What is the capital of France?}}
                assert:
                  - {{type: icontains, value: paris}}
                  - {{type: levenshtein, value: "Paris", threshold: 2, weight: 2, metric: exact}}
              - description: capital of Spain
                vars: {{question: What is the capital of Spain?}}
                assert:
                  - {{type: contains, value: Madrid}}
              - description: length only
                vars: {{question: Say anything}}
                threshold: 0.5
                assert:
                  - type: javascript
                    value: output.length > 0
              - vars: {{question: "{{{{ not a var }}}}"}}
                assert:
                  - {{type: regex, value: "^echo"}}
            """,
    })
    report = imported(cli, root)
    assert skipped(report) == [("`javascript` assertion", "promptfooconfig.yaml", 25)]
    config = load(root, "promptctl.yaml")
    assert config["defaults"] == {"model": "small"}
    assert config["models"]["small"]["params"] == {"temperature": 0}  # promptfoo's default for OpenAI
    assert config["models"]["big"]["params"] == {"temperature": 0.7}
    prompt = load(root, "prompts/geography-qa.prompt.yaml")
    assert prompt["messages"] == [{"role": "user", "content": "Answer briefly: {{ question }}"}]
    dataset = load(root, "evals/geography-qa.eval.yaml")
    cases = {c["id"]: c for c in dataset["cases"]}
    assert list(cases) == ["capital-of-france", "capital-of-spain", "length-only", "case-4"]
    assert cases["capital-of-france"]["assert"][1] == {"type": "levenshtein", "value": "Paris", "threshold": 2,
                                                       "weight": 2, "metric": "exact"}
    assert "assert" not in cases["length-only"] and cases["length-only"]["threshold"] == 0.5
    text = (root / "evals/geography-qa.eval.yaml").read_text()
    assert "# (no assertion left: the case passes whenever the model answers)\n  - id: length-only" in text

    server.answers["Answer briefly: What is the capital of France?"] = "Paris"
    result = run_and_replay(cli, root, server, expect_code=1)  # Spain fails: the echo has no "Madrid"
    assert verdicts(result) == {
        ("geography-qa", "capital-of-france"): "passed", ("geography-qa", "capital-of-spain"): "failed",
        ("geography-qa", "length-only"): "passed", ("geography-qa", "case-4"): "passed",
    }
    # a var's value is data, never a template
    assert server.count(text="Answer briefly: {{ not a var }}") == 1

    server.answers[("gpt-4o", "Answer briefly: What is the capital of Spain?")] = "Madrid"
    compare = cli(["test", "--model", "small", "--model", "big", "--format", "json"], cwd=root)
    assert compare.code == 0, compare.err  # big meets the threshold
    data = json.loads(compare.out)
    assert {d["model"]: d["ok"] for d in data["datasets"]} == {"small": False, "big": True}


# -- defaultTest details, YAML/JSONL/glob tests, var expansion, file:// vars, python assertions ----


def test_test_files_globs_var_expansion_and_file_vars(tmp_path, cli, server):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yml": f"""\
            prompts:
              - id: file://prompts/greet.txt
                label: greeter
            providers:
              - id: openai:chat:gpt-4o-mini
                config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY}}
            defaultTest:
              vars:
                tone: warm
              threshold: 1
              metadata: {{suite: greetings}}
              options:
                provider: openai:gpt-4o-mini
            tests:
              - file://tests/*.yaml
              - file://more.jsonl
              - vars:
                  name: [Ann, Bob]
                  note: file://notes/*.txt
                  profile: file://profile.yaml
                  count: 3
                  flags: [1, 2]
                assert:
                  - type: python
                    value: "'Hello' in output or 'echo' in output"
                  - type: contains
                    value: "{{{{ name }}}}"
            """,
        "prompts/greet.txt": """\
            Greet {{ name }} in a {{ tone }} tone.{% if note %} Note: {{ note }}{% endif %}
            {% if profile %}Profile: {{ profile }}{% endif %} ({{ count }}, {{ flags }})
            """,
        "tests/a.yaml": """\
            - description: first file
              vars: {name: Cy, note: "", profile: "", count: 1, flags: []}
              assert: [{type: icontains, value: cy}]
            """,
        "tests/b.yaml": """\
            description: second file
            vars: {name: Di, note: "", profile: "", count: 2, flags: []}
            metadata: {lang: [en, fr]}
            """,
        "more.jsonl": '{"description": "from jsonl", "vars": {"name": "Ed", "note": "", "profile": "", "count": 4.5, "flags": []}}\n',
        "notes/1.txt": "first note\n",
        "notes/2.txt": "second note\n",
        "profile.yaml": "plan: pro\nseats: 3\n",
    })
    report = imported(cli, root)
    assert report["skipped"] == []
    config = load(root, "promptctl.yaml")
    # promptfoo grades with openai:gpt-4o-mini itself, not the provider with an apiBaseUrl
    assert config["test"] == {"grader": "grader"} and config["models"]["grader"] == "openai/gpt-4o-mini"
    prompt = load(root, "prompts/greeter.prompt.yaml")
    assert prompt["inputs"] == {"name": "string", "tone": "string", "note": "string", "profile": "string",
                                "count": "number", "flags": "array"}
    dataset = load(root, "evals/greeter.eval.yaml")
    ids = [c["id"] for c in dataset["cases"]]
    assert ids == ["first-file", "second-file", "from-jsonl", "case-4", "case-4-2", "case-4-3", "case-4-4"]
    expanded = dataset["cases"][3:]
    assert [(c["inputs"]["name"], c["inputs"]["note"]) for c in expanded] == [
        ("Ann", "first note"), ("Ann", "second note"), ("Bob", "first note"), ("Bob", "second note")]
    assert expanded[0]["inputs"]["profile"] == '{"plan":"pro","seats":3}'  # as promptfoo reads a YAML var file
    assert expanded[0]["inputs"]["flags"] == [1, 2]  # a list of numbers is one value
    assert dataset["cases"][0]["threshold"] == 1
    assert dataset["cases"][1]["tags"] == ["suite:greetings", "lang:en", "lang:fr"]
    assert dataset["defaults"]["inputs"] == {"tone": "warm"}

    result = run_and_replay(cli, root, server)
    assert all(s == "passed" for s in verdicts(result).values())
    assert server.count(text="Greet Bob in a warm tone. Note: second note\nProfile: {\"plan\":\"pro\",\"seats\":3} (3, [1, 2])") == 1


def test_python_file_assertions_and_yaml_chat_prompts(tmp_path, cli, server):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": f"""\
            prompts: [file://chat.yaml, file://prompts.txt]
            providers: [{{id: "openai:gpt-4o-mini", config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY}}}}]
            tests:
              - vars: {{topic: cats}}
                assert:
                  - type: python
                    value: file://checks/asserts.py
                  - type: python
                    value: file://checks/asserts.py:short
                  - type: not-contains
                    value: file://banned.txt
                  - type: similar
                    value: echo cats
                    threshold: 0.1
                    transform: output.trim()
            """,
        "chat.yaml": """\
            - role: system
              content: You are terse.
            - role: user
              content: Tell me about {{ topic }}
            """,
        "prompts.txt": "Poem about {{ topic }}\n---\nHaiku about {{ topic }}\n",
        "checks/asserts.py": """\
            def get_assert(output, context):
                return {"pass": context["vars"]["topic"] in output, "score": 1.0, "reason": "mentions the topic"}

            def short(output, context):
                return len(output) < 200
            """,
        "banned.txt": "forbidden\n",
    })
    report = imported(cli, root)
    assert skipped(report) == [("`similar` assertion", "promptfooconfig.yaml", 12)]
    assert "transform" in report["skipped"][0]["why"]
    assert sorted(report["written"]) == sorted([
        "promptctl.yaml", "prompts/chat.prompt.yaml", "evals/chat.eval.yaml",
        "prompts/prompts-1.prompt.yaml", "evals/prompts-1.eval.yaml",
        "prompts/prompts-2.prompt.yaml", "evals/prompts-2.eval.yaml"])
    assert load(root, "prompts/prompts-2.prompt.yaml")["messages"] == [{"role": "user", "content": "Haiku about {{ topic }}"}]
    chat = load(root, "prompts/chat.prompt.yaml")
    assert chat["messages"][0] == {"role": "system", "content": "You are terse."}
    case = load(root, "evals/chat.eval.yaml")["cases"][0]
    assert case["assert"] == [
        {"type": "python", "value": "checks.asserts:get_assert"},
        {"type": "python", "value": "checks.asserts:short"},
        {"type": "not-contains", "value": "forbidden"},
    ]
    result = run_and_replay(cli, root, server)
    assert set(verdicts(result).values()) == {"passed"}


def test_json_config_inline_chat_and_unknown_keys(tmp_path, cli, server):
    config = {
        "description": "json config",
        "prompts": [json.dumps([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "{{q}}"}])],
        "providers": [{"id": "openai:gpt-4o-mini", "config": {"apiBaseUrl": server.url, "apiKeyEnvar": "LOCAL_KEY",
                                                               "apiKey": "sk-literal-do-not-copy"}}],
        "tests": [{"vars": {"q": "hi"}, "assert": [{"type": "starts-with", "value": "echo"},
                                                    {"type": "webhook", "value": "https://x"}]}],
        "scenarios": [{"config": [], "tests": []}],
        "somethingNew": True,
    }
    root = write_tree(tmp_path / "pf", {"promptfooconfig.json": json.dumps(config, indent=2)})
    report = imported(cli, root)
    assert skipped(report) == [
        ("provider 'openai:gpt-4o-mini' `apiKey`", "promptfooconfig.json", 12),
        ("`webhook` assertion", "promptfooconfig.json", 26),
        ("`scenarios`", "promptfooconfig.json", 33),
        ("`somethingNew`", "promptfooconfig.json", 39),
    ]
    assert "sk-literal-do-not-copy" not in "".join((root / rel).read_text() for rel in report["written"])
    assert load(root, "prompts/prompt.prompt.yaml")["messages"][1] == {"role": "user", "content": "{{q}}"}
    run_and_replay(cli, root, server)


# -- bad input -----------------------------------------------------------------------------------


def test_refuses_to_overwrite_then_force_overwrites(tmp_path, cli, server):
    root = support_bot(tmp_path / "pf", server.url)
    assert cli(["import", "promptfoo"], cwd=root).code == 0
    (root / "prompts/support.prompt.yaml").write_text("edited\n")
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2
    assert "refusing to overwrite existing files in .: evals/chat.eval.yaml, evals/prompt-3.eval.yaml" in r.err
    assert "prompts/support.prompt.yaml" in r.err and "--force" in r.err
    assert (root / "prompts/support.prompt.yaml").read_text() == "edited\n"  # nothing written
    r = cli(["import", "promptfoo", "--force"], cwd=root)
    assert r.code == 0, r.err
    assert (root / "prompts/support.prompt.yaml").read_text().startswith(HEADER)
    assert not list(root.rglob("*promptctl-import-tmp"))


def test_into_another_folder(tmp_path, cli, server):
    root = support_bot(tmp_path / "pf", server.url)
    r = cli(["import", "promptfoo", "pf/promptfooconfig.yaml", "--into", "project"], cwd=tmp_path)
    assert r.code == 0, r.err
    assert "project/promptctl.yaml" in r.out.splitlines()
    assert "pf/tests.csv:2: `javascript` assertion" in r.err  # files shown as given
    assert "next: cd project && promptctl lint && promptctl test" in r.err
    assert not (root / "promptctl.yaml").exists()
    assert cli(["lint"], cwd=tmp_path / "project").code == 0


def test_malformed_yaml_is_located(tmp_path, cli):
    root = write_tree(tmp_path / "pf", {"promptfooconfig.yaml": "prompts:\n  - 'hi {{x}}'\n providers: [openai:gpt-4o]\n"})
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2
    assert r.err.startswith("error: promptfooconfig.yaml:3:2: invalid YAML")
    assert not (root / "promptctl.yaml").exists()
    write_tree(root, {"promptfooconfig.yaml": "prompts: [file://t.yaml]\n", "t.yaml": "- role: user\n  content: [unclosed\n"})
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2 and r.err.startswith("error: t.yaml:2:12: invalid YAML: the `[` here is not closed"), r.err


def test_a_path_leaving_the_config_folder_is_refused(tmp_path, cli):
    (tmp_path / "secret.txt").write_text("top secret {{x}}")
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": "prompts:\n  - 'ok {{x}}'\n  - file://../secret.txt\n",
    })
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2
    assert r.err.startswith("error: promptfooconfig.yaml:3:5: file://../secret.txt is outside the folder of "
                            "promptfooconfig.yaml"), r.err
    assert not (root / "promptctl.yaml").exists()
    write_tree(root, {"promptfooconfig.yaml": "prompts: ['{{x}}']\ntests:\n  - vars: {x: file://../*.txt}\n"})
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2 and "promptfooconfig.yaml:3:15: file://../*.txt is outside" in r.err, r.err
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    write_tree(root, {"promptfooconfig.yaml": "prompts: [file://link.txt]\n"})
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2 and "file://link.txt is outside" in r.err, r.err


def test_missing_config_says_what_to_run(tmp_path, cli):
    r = cli(["import", "promptfoo"], cwd=tmp_path)
    assert r.code == 2
    assert "no promptfooconfig.yaml (or .yml, .json) in" in r.err
    assert "promptctl import promptfoo path/to/promptfooconfig.yaml" in r.err
    r = cli(["import", "promptfoo", "nope.yaml"], cwd=tmp_path)
    assert r.code == 2 and "nope.yaml: no such file" in r.err
    root = write_tree(tmp_path / "pf", {"promptfooconfig.yaml": "prompts: [file://missing.txt]\n"})
    r = cli(["import", "promptfoo"], cwd=root)
    assert r.code == 2 and r.err.startswith("error: promptfooconfig.yaml:1:11: file://missing.txt: no such file")


# -- the mappings, one by one --------------------------------------------------------------------


@pytest.mark.parametrize("cell, expected", [
    ("contains: foo", {"type": "contains", "value": "foo"}),
    ("not-icontains:  Bar ", {"type": "not-icontains", "value": "Bar"}),
    ("equals: bar", {"type": "equals", "value": "bar"}),
    ("plain text", {"type": "equals", "value": "plain text"}),
    ("similar(0.9): a cat", {"type": "similar", "value": "a cat", "threshold": 0.9}),
    ("similar: a cat", {"type": "similar", "value": "a cat", "threshold": 0.8}),
    ("levenshtein(3): Paris", {"type": "levenshtein", "value": "Paris", "threshold": 3.0}),
    ("contains-all: a, b,c", {"type": "contains-all", "value": ["a", "b", "c"]}),
    ("is-json", {"type": "is-json"}),
    ("grade: is polite", {"type": "llm-rubric", "value": " is polite"}),
    ("llm-rubric: is polite", {"type": "llm-rubric", "value": " is polite"}),
    ("python: 'x' in output", {"type": "python", "value": "'x' in output"}),
    ("file://check.py", {"type": "python", "value": "file://check.py"}),
    ("javascript: output.length", {"type": "javascript", "value": "output.length"}),
    ("fn: output.length", {"type": "javascript", "value": "output.length"}),
    ("file://check.js", {"type": "javascript", "value": "check.js"}),
    ("rouge-n(0.5): text", {"type": "rouge-n", "value": "text", "threshold": 0.5}),
    ("contains-any:x", {"type": "contains-any", "value": ["x"]}),
])
def test_csv_expected_cells_read_as_promptfoo_reads_them(cell, expected):
    assert assertion_from_string(cell.strip()) == expected


@pytest.mark.parametrize("pid, model", [
    ("openai:chat:gpt-4o-mini", "openai/gpt-4o-mini"),
    ("openai:gpt-4o", "openai/gpt-4o"),
    ("openai:responses:gpt-4.1", "openai/gpt-4.1"),
    ("anthropic:messages:claude-haiku-4-5", "anthropic/claude-haiku-4-5"),
    ("anthropic:claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
    ("ollama:chat:llama3", "ollama_chat/llama3"),
    ("ollama:llama3", "ollama/llama3"),
    ("vertex:gemini-2.0-flash", "vertex_ai/gemini-2.0-flash"),
    ("bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("openrouter:meta-llama/llama-3-70b", "openrouter/meta-llama/llama-3-70b"),
    ("azure:chat:my-deployment", "azure/my-deployment"),
    ("exec:./run.sh", None), ("python:provider.py", None), ("file://provider.js", None), ("https://api.x/v1", None),
    ("openai:completion:davinci", None), ("openai:embedding:text-embedding-3-small", None), ("mystery:model", None),
])
def test_provider_ids(pid, model):
    found, why = litellm_model(pid)
    assert found == model
    assert bool(why) == (model is None)


def test_providers_not_carried_and_grader_with_embeddings(tmp_path, cli):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": """\
            prompts: ['{{q}}']
            providers:
              - exec:./my_model.sh
              - id: https://api.example.com/chat
                config: {method: POST}
              - id: file://custom_provider.js
              - id: openai:gpt-4o-mini
                label: Main Model!
                transform: output.trim()
                config:
                  apiHost: gateway.example.com
                  apiKey: "{{ env.GATEWAY_KEY }}"
                  frequency_penalty: 0.5
                  functions: []
            defaultTest:
              options:
                provider:
                  text: {id: openai:gpt-4o, config: {temperature: 0}}
                  embedding: openai:embedding:text-embedding-3-small
                transform: output.trim()
            evaluateOptions: {maxConcurrency: 3, repeat: 2}
            tests:
              - vars: {q: hi}
                provider: openai:gpt-4o
                options: {prefix: "Q: "}
            """,
    })
    report = imported(cli, root)
    assert skipped(report) == [
        ("provider 'exec:./my_model.sh'", "promptfooconfig.yaml", 3),
        ("provider 'https://api.example.com/chat'", "promptfooconfig.yaml", 4),
        ("provider 'file://custom_provider.js'", "promptfooconfig.yaml", 6),
        ("provider 'openai:gpt-4o-mini' `transform`", "promptfooconfig.yaml", 9),
        ("provider 'openai:gpt-4o-mini' setting `functions`", "promptfooconfig.yaml", 14),
        ("`defaultTest.options.transform`", "promptfooconfig.yaml", 20),
        ("`evaluateOptions.repeat`", "promptfooconfig.yaml", 21),
        ("test `provider`", "promptfooconfig.yaml", 24),
        ("test option `prefix`", "promptfooconfig.yaml", 25),
    ]
    config = load(root, "promptctl.yaml")
    assert config["defaults"] == {"model": "main-model"}
    assert config["models"]["main-model"] == {
        "model": "openai/gpt-4o-mini", "api_base": "https://gateway.example.com/v1", "api_key_env": "GATEWAY_KEY",
        "params": {"frequency_penalty": 0.5, "temperature": 0}}
    assert config["models"]["grader"] == {"model": "openai/gpt-4o", "params": {"temperature": 0}}
    assert config["models"]["embedding"] == "openai/text-embedding-3-small"
    assert config["test"] == {"concurrency": 3, "grader": "grader", "embedding_model": "embedding"}
    assert cli(["lint"], cwd=root).code == 0


def test_nunjucks_filters_and_missing_vars(tmp_path, cli):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": """\
            prompts:
              - "Items: {{ items | dump }} for {{ user.name }}{% if vip %} (VIP){% endif %}"
              - "Broken {{ x | nl2br }}"
            providers: [openai:gpt-4o-mini]
            tests:
              - vars: {items: [1, 2], user: {name: Ann}, vip: true, x: a}
              - vars: {items: [3], user: {name: Bob}, x: b}
            """,
    })
    report = imported(cli, root)
    assert skipped(report) == [("prompt 'prompt-2'", "promptfooconfig.yaml", 3)]
    assert "filter 'nl2br'" in report["skipped"][0]["why"]
    prompt = load(root, "prompts/prompt-1.prompt.yaml")
    assert prompt["messages"][0]["content"] == "Items: {{ items | tojson }} for {{ user.name }}{% if vip %} (VIP){% endif %}"
    assert prompt["inputs"] == {"items": "array", "user": "object",
                                "vip": {"type": ["boolean", "null"], "default": None}}  # promptfoo renders it empty
    r = cli(["render", "prompt-1", "--sample", "case-1"], cwd=root)
    assert r.code == 0 and "Items: [1, 2] for Ann (VIP)" in r.out, r.err
    lint = cli(["lint"], cwd=root)
    assert lint.code == 1 and "prompt-2.prompt.yaml" in lint.out  # the one reported as not carried over


def test_assertions_promptctl_lacks_are_listed_with_their_lines(tmp_path, cli):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": """\
            prompts: ['{{q}}']
            providers: [openai:gpt-4o-mini]
            tests:
              - vars: {q: hi}
                assert:
                  - type: perplexity
                    threshold: 2
                  - type: select-best
                    value: most polite
                  - type: contains
                    value: ""
                  - type: model-graded-factuality
                    value: says hi
                  - type: assert-set
                    assert:
                      - {type: icontains, value: hi}
                      - {type: is-html}
                  - type: llm-rubric
                    value: is friendly
                    provider: openai:gpt-4o
            """,
    })
    report = imported(cli, root)
    assert skipped(report) == [
        ("`perplexity` assertion", "promptfooconfig.yaml", 6),
        ("`select-best` assertion", "promptfooconfig.yaml", 8),
        ("`contains` assertion", "promptfooconfig.yaml", 10),
        ("`is-html` assertion", "promptfooconfig.yaml", 17),
        ("`llm-rubric` assertion `provider`", "promptfooconfig.yaml", 20),
    ]
    case = load(root, "evals/prompt.eval.yaml")["cases"][0]
    assert case["assert"] == [{"type": "factuality", "value": "says hi"}, {"type": "icontains", "value": "hi"},
                              {"type": "llm-rubric", "value": "is friendly"}]
    assert cli(["lint"], cwd=root).code == 0


def test_prompt_filters_pick_datasets_and_models(tmp_path, cli, server):
    root = write_tree(tmp_path / "pf", {
        "promptfooconfig.yaml": f"""\
            prompts:
              - {{id: "Short answer: {{{{q}}}}", label: short}}
              - {{id: "Long answer: {{{{q}}}}", label: long}}
            providers:
              - id: openai:gpt-4o-mini
                config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY}}
              - id: openai:gpt-4o
                label: big
                prompts: [long]
                config: {{apiBaseUrl: "{server.url}", apiKeyEnvar: LOCAL_KEY}}
            tests:
              - vars: {{q: both, style: [a, b]}}
                assert: [{{type: contains, value: both}}]
              - vars: {{q: only long}}
                prompts: [long]
                assert: [{{type: contains, value: long}}]
            """,
    })
    report = imported(cli, root)
    assert report["skipped"] == []
    assert "model" not in load(root, "prompts/short.prompt.yaml")
    assert load(root, "prompts/long.prompt.yaml")["model"] == "big"
    # `style` expands the test in two, but neither prompt uses it: one case each
    assert [c["id"] for c in load(root, "evals/short.eval.yaml")["cases"]] == ["case-1"]
    assert [c["id"] for c in load(root, "evals/long.eval.yaml")["cases"]] == ["case-1", "case-2"]
    result = run_and_replay(cli, root, server)
    assert {d["name"]: d["model"] for d in result["datasets"]} == {"long": "big", "short": "gpt-4o-mini"}
    assert server.count(model="gpt-4o") == 2 and server.count(model="gpt-4o-mini") == 1


def test_help_names_the_source(cli):
    r = cli(["import", "--help"])
    assert r.code == 0 and "promptfoo" in r.out
    r = cli(["import", "promptfoo", "--help"])
    assert r.code == 0
    for option in ("--into", "--force", "--strict", "--format"):
        assert option in r.out
