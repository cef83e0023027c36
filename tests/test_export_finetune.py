"""`promptctl export finetune`: the cases of a real project (YAML, JSONL and CSV datasets, a partial,
a history input, a JSON-output prompt with a few-shot example) as OpenAI chat fine-tuning JSONL,
checked line by line against what the renderer renders; refusals, --reviewed-only, --split, -o -,
--format json, NAMES and -k, --ref, and bad usage."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from conftest import write_tree

from promptctl.evals.runner import select_datasets
from promptctl.finetune import Example, golden_content, line_problems, split
from promptctl.model import Case, Dataset
from promptctl.project import open_project

REVIEWED = '{by: "A <a@x>", at: "2026-12-06T20:15:00Z"}'

FILES = {
    "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}\n",
    "prompts/support/reply.prompt.yaml": """\
        description: Reply to a support ticket.
        inputs:
          ticket: string
          tone: {type: string, enum: [formal, friendly], default: friendly}
          history: {type: array, default: []}
        messages:
          - role: system
            name: acme
            content: |
              You are a support agent. Answer in a {{ tone }} tone.
              {% include "partials/policy.j2" %}
          - history: history
          - role: user
            content: "{{ ticket }}"
        """,
    "prompts/partials/policy.j2": "Never promise a refund before checking the order.\n",
    "prompts/extract.prompt.yaml": """\
        inputs: {text: string}
        messages:
          - role: system
            content: Extract the order number and the intent as JSON.
          - role: user
            content: I want a refund for order 7
          - role: assistant
            content: '{"order": 7, "intent": "refund"}'
          - role: user
            content: "{{ text }}"
        output: {format: json}
        """,
    "evals/support.eval.yaml": f"""\
        prompt: support/reply
        defaults:
          inputs: {{tone: formal}}
        cases:
          - id: refund
            tags: [billing]
            inputs: {{ticket: "I want a refund for order 123"}}
            golden: "I'm sorry. Your refund for order 123 is on its way."
            reviewed: {REVIEWED}
          - id: hello
            description: a greeting
            inputs: {{ticket: "Hi", tone: friendly}}
            golden: "Hello! How can I help?"
          - id: nogold
            inputs: {{ticket: "Where is my parcel?"}}
          - id: chat
            inputs:
              ticket: "And the refund?"
              history:
                - {{role: user, content: "My order is late"}}
                - {{role: assistant, content: "Sorry! It ships today."}}
            golden: "The refund follows once the order is back."
            reviewed: {REVIEWED}
          - file: tickets.jsonl
          - file: rows.csv
        """,
    "evals/tickets.jsonl": (
        '{"id": "j1", "inputs": {"ticket": "Cancel my order"}, "golden": "Done: it is cancelled.", '
        '"reviewed": {"by": "A <a@x>", "at": "2026-12-06T20:15:00Z"}}\n'
        '{"id": "j2", "inputs": {"ticket": "Status as data"}, "golden": {"status": "shipped", "eta_days": 2}}\n'
        '{"id": "j3", "inputs": {"ticket": "No answer yet"}}\n'
    ),
    "evals/rows.csv": (
        "id,ticket,golden,reviewed_by,reviewed_at\n"
        "r1,Change my address,Your address is updated.,A <a@x>,2026-12-06T20:15:00Z\n"
        "r2,Invoice please,Here is your invoice.,,\n"
    ),
    "evals/extract.eval.yaml": f"""\
        prompt: extract
        cases:
          - id: dict
            inputs: {{text: "Where is order 12?"}}
            golden: {{order: 12, intent: "where is my order"}}
            reviewed: {REVIEWED}
          - id: list
            inputs: {{text: "Orders 1 and 2"}}
            golden: [{{order: 1}}, {{order: 2}}]
          - id: text
            inputs: {{text: "Cancel 5"}}
            golden: '{{"order": 5, "intent": "cancel"}}'
          - id: same-a
            inputs: {{text: "Same prompt"}}
            golden: {{order: null, intent: unknown}}
          - id: same-b
            inputs: {{text: "Same prompt"}}
            golden: {{order: null, intent: other}}
        """,
}

#: every case with a golden, in export order (datasets sorted by path, cases in file order)
WITH_GOLDEN = ["extract/dict", "extract/list", "extract/text", "extract/same-a", "extract/same-b",
               "support/refund", "support/hello", "support/chat", "support/j1", "support/j2", "support/r1",
               "support/r2"]
MISSING = ["support/nogold", "support/j3"]
REVIEWED_CASES = ["extract/dict", "support/refund", "support/chat", "support/j1", "support/r1"]


@pytest.fixture(autouse=True)
def no_tiktoken(monkeypatch):
    """Token counts by the ~4 characters estimate (deterministic, and no tokenizer download)."""
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    monkeypatch.delenv("PROMPTCTL_PROJECT", raising=False)
    monkeypatch.delenv("PROMPTCTL_TOKENIZER", raising=False)  # tiktoken is stubbed here instead


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "proj", FILES)


def read_lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def expected_lines(root: Path, names: list[str]) -> list[dict]:
    """What each named case's line must be: the renderer's messages (assistant ones weighted 0), then the
    golden as the assistant's answer (JSON data as compact JSON text)."""
    proj = open_project(root)
    cases = {f"{d.name}/{c.id}": (d, c) for d in select_datasets(proj, [], cwd=root) for c in d.cases}
    out = []
    for name in names:
        d, c = cases[name]
        messages = proj.renderer.render(proj.get_prompt(d.prompt), c.inputs)
        for m in messages:
            if m["role"] == "assistant":
                m["weight"] = 0
        golden = c.golden if isinstance(c.golden, str) else json.dumps(c.golden, separators=(",", ":"))
        out.append({"messages": [*messages, {"role": "assistant", "content": golden}]})
    return out


def answers(lines: list[dict]) -> list[str]:
    return [line["messages"][-1]["content"] for line in lines]


# -- the lines -------------------------------------------------------------------------------------


def test_every_line_is_the_rendered_prompt_then_the_golden(cli, root):
    r = cli(["export", "finetune", "--skip-missing", "-o", "train.jsonl"], cwd=root)
    assert r.code == 0, r.err
    assert r.out == ""
    lines = read_lines(root / "train.jsonl")
    assert lines == expected_lines(root, WITH_GOLDEN)
    for line in lines:
        assert line_problems(line) == []
        assert list(line) == ["messages"]

    by_answer = {line["messages"][-1]["content"]: line for line in lines}
    # spelled out once: system message with its name, the partial included, defaults applied
    assert by_answer["I'm sorry. Your refund for order 123 is on its way."] == {"messages": [
        {"role": "system", "name": "acme", "content": "You are a support agent. Answer in a formal tone.\n"
                                                      "Never promise a refund before checking the order."},
        {"role": "user", "content": "I want a refund for order 123"},
        {"role": "assistant", "content": "I'm sorry. Your refund for order 123 is on its way."},
    ]}
    # a history input spliced in: its assistant turn is context, not a target
    chat = by_answer["The refund follows once the order is back."]["messages"]
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant"]
    assert chat[2] == {"role": "assistant", "content": "Sorry! It ships today.", "weight": 0}
    assert "weight" not in chat[-1]
    # JSON data goldens as compact JSON text; a JSON-text golden as it is; the few-shot answer weighted 0
    assert '{"order":12,"intent":"where is my order"}' in by_answer
    assert '[{"order":1},{"order":2}]' in by_answer
    assert '{"order": 5, "intent": "cancel"}' in by_answer
    assert '{"status":"shipped","eta_days":2}' in by_answer  # a data golden of a text prompt
    extract = by_answer['{"order":12,"intent":"where is my order"}']["messages"]
    assert extract[2] == {"role": "assistant", "content": '{"order": 7, "intent": "refund"}', "weight": 0}
    assert extract[3] == {"role": "user", "content": "Where is order 12?"}
    # the CSV rows: the columns are inputs, reviewed_by/reviewed_at are not
    assert by_answer["Here is your invoice."]["messages"][-2] == {"role": "user", "content": "Invoice please"}

    assert "extract (evals/extract.eval.yaml): 5 cases: 5 exported" in r.err
    assert "support (evals/support.eval.yaml): 9 cases: 7 exported, 2 without a golden skipped" in r.err
    assert "wrote 12 lines to train.jsonl (" in r.err
    assert "tokens estimated at ~4 characters per token (tiktoken is not installed)" in r.err


def test_missing_goldens_refuse_the_export_and_write_nothing(cli, root):
    (root / "train.jsonl").write_text("old\n", encoding="utf-8")
    r = cli(["export", "finetune", "-o", "train.jsonl"], cwd=root)
    assert r.code == 1
    assert r.out == ""
    assert "support/nogold  evals/support.eval.yaml:14  no golden" in r.err
    assert "support/j3      evals/tickets.jsonl:3  no golden" in r.err
    assert "error: 2 selected cases have no golden" in r.err and "nothing written" in r.err
    assert "--skip-missing" in r.err
    assert (root / "train.jsonl").read_text() == "old\n"
    assert sorted(p.name for p in root.iterdir()) == ["evals", "promptctl.yaml", "prompts", "train.jsonl"]


def test_skip_missing_writes_the_others_and_lists_the_skipped(cli, root):
    r = cli(["export", "finetune", "--skip-missing", "-o", "out/train.jsonl"], cwd=root)
    assert r.code == 0, r.err
    assert len(read_lines(root / "out/train.jsonl")) == len(WITH_GOLDEN)
    assert "skipped support/nogold (evals/support.eval.yaml:14): no golden" in r.err
    assert "skipped support/j3 (evals/tickets.jsonl:3): no golden" in r.err


def test_reviewed_only_takes_the_reviewed_goldens_and_counts_the_rest(cli, root):
    # the cases without a golden are not reviewed either: left out, not refused
    r = cli(["export", "finetune", "--reviewed-only", "-o", "train.jsonl", "-f", "json"], cwd=root)
    assert r.code == 0, r.err
    lines = read_lines(root / "train.jsonl")
    assert lines == expected_lines(root, REVIEWED_CASES)
    assert "left out 9 cases whose golden is not reviewed (--reviewed-only)" in r.err
    assert "support (evals/support.eval.yaml): 9 cases: 4 exported, 5 not reviewed left out" in r.err
    summary = json.loads(r.out)
    assert summary["unreviewed"] == 9
    assert summary["skipped"] == []
    assert summary["datasets"]["extract"]["unreviewed"] == 4
    assert summary["datasets"]["support"] == {"path": "evals/support.eval.yaml", "prompt": "support/reply",
                                              "cases": 9, "exported": 4, "skipped": 0, "unreviewed": 5}


def test_reviewed_only_with_nothing_reviewed_is_nothing_to_export(cli, root):
    r = cli(["export", "finetune", "--reviewed-only", "-k", "hello", "-o", "train.jsonl"], cwd=root)
    assert r.code == 2
    assert "nothing to export: of the 1 selected case, 1 not reviewed (--reviewed-only)" in r.err
    assert "promptctl review" in r.err
    assert not (root / "train.jsonl").exists()


# -- split -----------------------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_complete(cli, root):
    args = ["export", "finetune", "--skip-missing", "--split", "0.8", "--seed", "1", "-o", "train.jsonl"]
    r = cli(args, cwd=root)
    assert r.code == 0, r.err
    train = (root / "train.jsonl").read_text()
    validation = (root / "train.validation.jsonl").read_text()
    r2 = cli([*args[:-1], "again.jsonl"], cwd=root)
    assert r2.code == 0, r2.err
    assert (root / "again.jsonl").read_text() == train
    assert (root / "again.validation.jsonl").read_text() == validation

    t = [json.loads(x) for x in train.splitlines()]
    v = [json.loads(x) for x in validation.splitlines()]
    assert len(t) + len(v) == len(WITH_GOLDEN)
    assert sorted(answers(t) + answers(v)) == sorted(answers(expected_lines(root, WITH_GOLDEN)))
    assert not set(answers(t)) & set(answers(v))
    assert 8 <= len(t) <= 11 and v  # about 80% of 12, the rest for validation
    # same-a and same-b render the same prompt: they land on the same side
    same = {'{"order":null,"intent":"unknown"}', '{"order":null,"intent":"other"}'}
    assert same <= set(answers(t)) or same <= set(answers(v))
    # each side keeps the export order
    order = answers(expected_lines(root, WITH_GOLDEN))
    assert answers(t) == sorted(answers(t), key=order.index)
    assert f"wrote {len(t)} lines to train.jsonl" in r.err
    assert f"wrote {len(v)} line{'s' if len(v) != 1 else ''} to train.validation.jsonl" in r.err
    assert "split 0.8 with seed 1" in r.err


def test_split_depends_on_the_seed_and_the_validation_output_can_be_named(cli, root):
    sides = set()
    for seed in range(6):
        r = cli(["export", "finetune", "--skip-missing", "--split", "0.5", "--seed", str(seed), "-o", "t.jsonl",
                 "--validation-output", "held/out.jsonl"], cwd=root)
        assert r.code == 0, r.err
        sides.add((root / "held/out.jsonl").read_text())
        assert not (root / "t.validation.jsonl").exists()
    assert len(sides) > 1


def test_split_function_groups_identical_prompts():
    def ex(i: int, group: str) -> Example:
        return Example(Dataset("evals/d.eval.yaml", "p", ()), Case(id=str(i), inputs={}), {}, "", group)

    examples = [ex(0, "a"), ex(1, "a"), ex(2, "a"), ex(3, "b")]
    for seed in range(10):
        train, validation = split(examples, 0.9, seed)
        assert train and validation  # two groups: one on each side, whatever the ratio
        assert {e.group for e in train}.isdisjoint({e.group for e in validation})
    one = [ex(0, "a"), ex(1, "a")]
    assert split(one, 0.5, 0) == (one, [])  # one prompt: cannot be split
    many = [ex(i, str(i)) for i in range(100)]
    train, validation = split(many, 0.9, 3)
    assert (len(train), len(validation)) == (90, 10)
    assert split(many, 0.9, 3) == (train, validation)
    assert split(many, 0.9, 4) != (train, validation)


# -- output and summary ----------------------------------------------------------------------------


def test_dash_writes_the_lines_to_stdout(cli, root):
    r = cli(["export", "finetune", "extract", "-o", "-"], cwd=root)
    assert r.code == 0, r.err
    assert [json.loads(x) for x in r.out.splitlines()] == expected_lines(root, WITH_GOLDEN[:5])
    assert "wrote 5 lines to stdout" in r.err
    cli(["export", "finetune", "extract", "-o", "file.jsonl"], cwd=root)
    assert (root / "file.jsonl").read_text() == r.out


def test_format_json_prints_the_summary(cli, root):
    r = cli(["export", "finetune", "--skip-missing", "--split", "0.75", "-o", "train.jsonl", "--format", "json"],
            cwd=root)
    assert r.code == 0, r.err
    s = json.loads(r.out)
    assert set(s) == {"train", "validation", "skipped", "unreviewed", "datasets", "tokens", "split"}
    t = read_lines(root / "train.jsonl")
    v = read_lines(root / "train.validation.jsonl")
    assert s["train"]["path"] == "train.jsonl" and s["train"]["lines"] == len(t)
    assert s["validation"]["path"] == "train.validation.jsonl" and s["validation"]["lines"] == len(v)
    assert s["train"]["tokens"] > 0 and s["validation"]["tokens"] > 0
    assert s["skipped"] == [
        {"dataset": "support", "case": "nogold", "source": "evals/support.eval.yaml", "line": 14, "reason": "no golden"},
        {"dataset": "support", "case": "j3", "source": "evals/tickets.jsonl", "line": 3, "reason": "no golden"},
    ]
    assert s["unreviewed"] == 0
    assert s["split"] == {"ratio": 0.75, "seed": 0}
    assert s["tokens"] == {"method": "chars/4", "encoding": None}
    d = s["datasets"]
    assert d["extract"]["exported"] == 5 and d["support"]["exported"] == 7 and d["support"]["skipped"] == 2
    assert sum(x["train"] for x in d.values()) == len(t)
    assert sum(x["validation"] for x in d.values()) == len(v)

    r = cli(["export", "finetune", "extract", "-o", "x.jsonl", "-f", "json"], cwd=root)
    assert json.loads(r.out)["validation"] is None and json.loads(r.out)["split"] is None


def test_token_totals_by_estimate_and_by_tiktoken(cli, root, monkeypatch):
    r = cli(["export", "finetune", "extract", "-k", "dict", "-o", "t.jsonl", "-f", "json"], cwd=root)
    [line] = read_lines(root / "t.jsonl")
    # 3 per line, 3 per message, and each role and content at ~4 characters per token
    expected = 3 + sum(3 + -(-len(m["role"]) // 4) + -(-len(m["content"]) // 4) for m in line["messages"])
    assert json.loads(r.out)["train"]["tokens"] == expected

    fake = types.ModuleType("tiktoken")

    class Encoding:
        def encode(self, text, disallowed_special=()):
            return text.split()

    fake.get_encoding = lambda name: Encoding() if name == "o200k_base" else None
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    r = cli(["export", "finetune", "extract", "-k", "dict", "-o", "t.jsonl", "-f", "json"], cwd=root)
    assert r.code == 0, r.err
    assert "tokens counted with tiktoken (o200k_base)" in r.err
    s = json.loads(r.out)
    assert s["tokens"] == {"method": "tiktoken", "encoding": "o200k_base"}
    assert s["train"]["tokens"] == 3 + sum(3 + 1 + len(m["content"].split()) for m in line["messages"])

    def offline(name):
        raise ConnectionError("no network")

    fake.get_encoding = offline
    r = cli(["export", "finetune", "extract", "-k", "dict", "-o", "t.jsonl"], cwd=root)
    assert r.code == 0, r.err
    assert "estimated at ~4 characters per token (tiktoken could not load o200k_base: ConnectionError" in r.err


# -- selecting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("names, filter_, expected", [
    (["extract"], None, WITH_GOLDEN[:5]),
    (["support/reply"], None, WITH_GOLDEN[5:]),
    (["evals/extract.eval.yaml"], None, WITH_GOLDEN[:5]),
    ([], "refund", ["support/refund"]),  # an id (the few-shot text of extract does not count)
    ([], "billing", ["support/refund"]),  # a tag
    ([], "greeting", ["support/hello"]),  # a description
    (["extract"], "same", ["extract/same-a", "extract/same-b"]),
])
def test_names_and_filter_select_cases(cli, root, names, filter_, expected):
    args = ["export", "finetune", *names, "--skip-missing", "-o", "t.jsonl"] + (["-k", filter_] if filter_ else [])
    r = cli(args, cwd=root)
    assert r.code == 0, r.err
    assert read_lines(root / "t.jsonl") == expected_lines(root, expected)


def test_a_filter_without_missing_goldens_needs_no_skip(cli, root):
    r = cli(["export", "finetune", "support", "-k", "j1", "-o", "t.jsonl"], cwd=root)
    assert r.code == 0, r.err
    assert "support (evals/support.eval.yaml): 1 case: 1 exported" in r.err


def test_unknown_dataset_and_no_match(cli, root):
    r = cli(["export", "finetune", "nope", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2 and "no dataset or prompt named 'nope'" in r.err
    r = cli(["export", "finetune", "-k", "zzz", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2 and "nothing to export: no case matches -k 'zzz'" in r.err
    assert not (root / "t.jsonl").exists()


def test_ref_exports_the_goldens_of_a_commit(cli, root, git_env):
    import subprocess

    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "goldens"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    path = root / "evals/extract.eval.yaml"
    path.write_text(path.read_text().replace("where is my order", "changed"), encoding="utf-8")
    r = cli(["export", "finetune", "extract", "-k", "dict", "--ref", "HEAD", "-o", "t.jsonl"], cwd=root)
    assert r.code == 0, r.err
    assert answers(read_lines(root / "t.jsonl")) == ['{"order":12,"intent":"where is my order"}']
    cli(["export", "finetune", "extract", "-k", "dict", "-o", "t.jsonl"], cwd=root)
    assert answers(read_lines(root / "t.jsonl")) == ['{"order":12,"intent":"changed"}']


# -- lines that break the format, and bad usage ------------------------------------------------------


def test_a_line_that_breaks_the_format_is_an_error_naming_the_case(cli, root):
    write_tree(root, {
        "prompts/tooly.prompt.yaml": """\
            inputs: {q: string}
            messages:
              - role: user
                content: "{{ q }}"
              - role: tool
                content: '{"temp": 20}'
            """,
        "evals/tooly.eval.yaml": "prompt: tooly\ncases:\n  - {id: t1, inputs: {q: weather}, golden: Warm.}\n",
        "prompts/blank.prompt.yaml": 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ q }}"\n',
        "evals/blank.eval.yaml": "prompt: blank\ncases:\n  - {id: ok, inputs: {q: hi}, golden: Hi}\n"
                                 "  - {id: empty, inputs: {q: ''}, golden: Hi}\n",
    })
    r = cli(["export", "finetune", "tooly", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2
    assert "evals/tooly.eval.yaml:3: tooly/t1: its line is not valid chat fine-tuning data: message 2 (tool) has " \
           "no tool_call_id" in r.err
    r = cli(["export", "finetune", "blank", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2
    assert "blank/empty: its line is not valid chat fine-tuning data: message 1 (user) has empty content" in r.err
    assert not (root / "t.jsonl").exists()  # the good case before it was not written either


def test_cases_that_do_not_render_or_whose_json_golden_is_not_json(cli, root):
    write_tree(root, {
        "evals/bad.eval.yaml": "prompt: extract\ncases:\n  - {id: no-input, inputs: {}, golden: '{}'}\n",
        "evals/prose.eval.yaml": "prompt: extract\ncases:\n  - {id: prose, inputs: {text: x}, golden: not json}\n",
        "evals/gone.eval.yaml": "prompt: missing/prompt\ncases:\n  - {id: a, inputs: {}, golden: x}\n",
    })
    r = cli(["export", "finetune", "bad", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2
    assert "evals/bad.eval.yaml:3: bad/no-input: cannot render 'extract' with the case's inputs" in r.err
    assert "text" in r.err
    r = cli(["export", "finetune", "prose", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2
    assert "prose/prose: the prompt's output.format is json, but the golden is not JSON text" in r.err
    r = cli(["export", "finetune", "gone", "-o", "t.jsonl"], cwd=root)
    assert r.code == 2
    assert "dataset gone: its prompt 'missing/prompt' cannot be loaded" in r.err
    assert not (root / "t.jsonl").exists()


@pytest.mark.parametrize("args, message", [
    ([], "needs -o FILE"),
    (["--split", "1.5", "-o", "t.jsonl"], "--split must be a number between 0 and 1"),
    (["--split", "0", "-o", "t.jsonl"], "--split must be a number between 0 and 1"),
    (["--split", "nan", "-o", "t.jsonl"], "--split must be a number between 0 and 1"),
    (["--seed", "3", "-o", "t.jsonl"], "--seed goes with --split"),
    (["--validation-output", "v.jsonl", "-o", "t.jsonl"], "--validation-output goes with --split"),
    (["--split", "0.9", "-o", "-"], "the validation lines need a file of their own"),
    (["--split", "0.9", "-o", "t.jsonl", "--validation-output", "t.jsonl"], "are the same file"),
    (["-o", "-", "--format", "json"], "--format json prints the summary on stdout"),
    (["--split", "0.5", "-o", "t.jsonl", "--validation-output", "evals"], "cannot write the validation file to evals: it is a folder"),
])
def test_bad_usage(cli, root, args, message):
    r = cli(["export", "finetune", "--skip-missing", *args], cwd=root)
    assert r.code == 2, r.err
    assert message in r.err
    assert r.err.startswith("error: ") and "(" in r.err  # with a hint
    assert not (root / "t.jsonl").exists()


def test_help_and_the_export_group(cli, root):
    r = cli(["export", "finetune", "--help"])
    assert r.code == 0
    for text in ("--split", "--seed", "--reviewed-only", "--skip-missing", "--validation-output", "Examples:",
                 "weight", "Exit codes"):
        assert text in r.out
    r = cli(["export", "--help"])
    assert r.code == 0 and "finetune" in r.out
    r = cli(["--help"])
    listed = [line.split()[0] for line in r.out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed.index("export") == listed.index("review") + 1


# -- the rules -------------------------------------------------------------------------------------


def test_line_problems_follow_openais_rules():
    ok = {"messages": [{"role": "system", "content": "s", "name": "x"}, {"role": "user", "content": "u"},
                       {"role": "assistant", "content": "old", "weight": 0},
                       {"role": "tool", "content": "{}", "tool_call_id": "call_1"},
                       {"role": "assistant", "content": "a", "weight": 1}]}
    assert line_problems(ok) == []
    assert line_problems([]) == ["a line must be a JSON object"]
    assert line_problems({"messages": []}) == ["`messages` must be a non-empty list"]
    assert line_problems({"messages": [{"role": "user", "content": "u"}]}) == ["there is no assistant message"]
    assert line_problems({"messages": [{"role": "assistant", "content": "a", "weight": 0}]}) == [
        "every assistant message has weight 0: nothing to train on"]
    assert line_problems({"id": 1, "messages": [{"role": "assistant", "content": "a"}]}) == [
        "unknown key 'id' in the line"]
    problems = line_problems({"messages": [
        {"role": "developer", "content": "d"},
        {"role": "user", "content": "u", "weight": 1},
        {"role": "user", "content": 3},
        {"role": "system", "content": "s", "name": ""},
        {"role": "assistant", "content": "a", "weight": 2},
        {"role": "assistant", "content": "a", "weight": True},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
    ]})
    assert problems == [
        "message 1 has role 'developer'; use system, user, assistant or tool",
        "message 2 (user) has the key 'weight', which a user message cannot have",
        "message 3 (user): content must be a string",
        "message 4 (system): name must be a non-empty string",
        "message 5 (assistant): weight must be 0 or 1, not 2",
        "message 6 (assistant): weight must be 0 or 1, not True",
    ]


def test_golden_content():
    assert golden_content("plain text") == "plain text"
    assert golden_content({"b": 1, "a": [1, 2]}) == '{"b":1,"a":[1,2]}'
    assert golden_content(42) == "42"
    assert golden_content("é") == "é"
    assert golden_content({"k": "é"}, "json") == '{"k":"é"}'
    assert golden_content('{"a": 1}', "json") == '{"a": 1}'
    with pytest.raises(ValueError, match="not JSON text"):
        golden_content("hello", "json")


def test_datasets_sharing_a_name_are_keyed_by_path(cli, root):
    case = "prompt: extract\ncases:\n  - {{id: {0}, inputs: {{text: {0}}}, golden: '{{}}'}}\n"
    write_tree(root, {"evals/a/qa.eval.yaml": case.format("a1"), "evals/b/qa.eval.yaml": case.format("b1")})
    r = cli(["export", "finetune", "qa", "-o", "t.jsonl", "-f", "json"], cwd=root)
    assert r.code == 0, r.err
    assert set(json.loads(r.out)["datasets"]) == {"evals/a/qa.eval.yaml", "evals/b/qa.eval.yaml"}
    assert "evals/a/qa.eval.yaml: 1 case: 1 exported" in r.err
    assert len(read_lines(root / "t.jsonl")) == 2
