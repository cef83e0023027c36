"""The JSON Schemas and the located, readable SchemaErrors built from them."""

from __future__ import annotations

import json
import textwrap

import pytest
from jsonschema import Draft202012Validator

from promptctl import schemas
from promptctl.errors import FileFormatError, NotFoundError, SchemaError
from promptctl.yamlio import loads


def doc(text: str, path: str = "p.yaml"):
    return loads(textwrap.dedent(text), path=path)


def errors(text: str, name: str = "prompt", path: str = "p.yaml") -> list[SchemaError]:
    return schemas.schema_errors(doc(text, path), name)


def only_error(text: str, name: str = "prompt", path: str = "p.yaml") -> SchemaError:
    found = errors(text, name, path)
    assert len(found) == 1, [str(e) for e in found]
    e = found[0]
    assert type(e) is SchemaError
    assert "not valid under any of the given schemas" not in str(e)
    return e


DESIGN_PROMPT = """\
description: Reply to a customer support ticket.
model: openai/gpt-4o-mini        # a litellm model string or an alias; falls back to defaults
params: {temperature: 0.2, max_tokens: 400}
fallbacks: [anthropic/claude-3-5-haiku-latest]
inputs:                          # name -> JSON Schema; required unless it has a default
  ticket: {type: string, maxLength: 8000}
  tone: {type: string, enum: [formal, friendly], default: friendly}
  history: {type: array, default: []}
messages:
  - role: system
    content: |
      You are a support agent. Answer in a {{ tone }} tone.
      {% include "partials/policy.j2" %}
  - history: history             # splices a list of {role, content} messages from an input
  - role: user
    content: "{{ ticket }}"
output: {format: json, schema: {type: object, required: [reply], properties: {reply: {type: string}}}}
samples:                         # named inputs: render smoke tests and diff previews
  - {name: refund, inputs: {ticket: "I want a refund for order 123"}}
tags: [support]
owners: [team-support]
"""

DESIGN_DATASET = """\
prompt: support/reply
threshold: 0.95                  # minimum pass rate for this dataset
defaults:
  assert: [{type: not-icontains, value: "as an ai"}]
cases:
  - id: refund
    inputs: {ticket: "I want a refund for order 123"}
    golden: "I'm sorry … refund for order 123 …"   # the reviewed output; `--update-golden` rewrites it
    assert:
      - {type: icontains, value: refund}
      - {type: similar, threshold: 0.8}            # compares with golden
  - file: data/tickets.jsonl     # more cases from JSONL or CSV (one case per row)
"""

DESIGN_CONFIG = """\
promptctl: 1                     # config format version
prompts: prompts                 # prompt root (relative to this file)
evals: evals
registry: .promptctl/registry    # a path, file://…, or s3://bucket/prefix
tag_prefix: prompts/             # publish tags commits as prompts/v3
defaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}
models:                          # aliases usable wherever a model is named
  fast: openai/gpt-4o-mini
  local: {model: openai/llama3, api_base: http://127.0.0.1:8000/v1, api_key_env: LOCAL_KEY}
lint: {ignore: [], severity: {}}
test: {concurrency: 8, timeout_s: 60, retries: 3, recordings: .promptctl/recordings, max_cost_usd: null}
"""

SHA = "sha256:" + "ab" * 32


def channel_record(**over):
    record = {
        "format": "promptctl.channel/1",
        "channel": "production",
        "seq": 2,
        "version": 3,
        "digest": SHA,
        "action": "promote",
        "actor": "alice@example.com",
        "at": "2024-05-01T12:00:00Z",
        "reason": "ship v3",
        "prev": "sha256:" + "cd" * 32,
        "held": False,
    }
    record.update(over)
    return record


def bundle(**over):
    data = {
        "format": "promptctl.bundle/1",
        "version": 3,
        "created_at": "2024-05-01T12:00:00Z",
        "actor": "alice",
        "message": None,
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "dirty": False},
        "project": {"tag_prefix": "prompts/", "defaults": {"model": "openai/gpt-4o-mini"}, "models": {}},
        "prompts": {
            "support/reply": {
                "hash": SHA,
                "description": "Reply.",
                "model": "openai/gpt-4o-mini",
                "params": {"temperature": 0},
                "fallbacks": [],
                "inputs": {"ticket": {"type": "string"}, "history": {"type": "array", "default": []}},
                "messages": [
                    {"role": "system", "content": "{% include 'partials/policy.j2' %}"},
                    {"history": "history"},
                    {"role": "user", "content": "{{ ticket }}"},
                ],
                "output": {"format": "text", "schema": None},
                "samples": [{"name": "refund", "inputs": {"ticket": "refund"}}],
                "includes": ["partials/policy.j2"],
                "source": "prompts/support/reply.prompt.yaml",
            }
        },
        "partials": {"partials/policy.j2": "Be kind."},
        "evals": None,
        "digest": SHA,
    }
    data.update(over)
    return data


def json_doc(data, path="record.json"):
    # JSON is YAML: bundles and channel records go through the same loader and locator
    return loads(json.dumps(data, indent=2), path=path)


# -- the schema files --------------------------------------------------------------------------------


def test_schema_dir_finds_every_schema():
    folder = schemas.schema_dir()
    assert folder.is_dir()
    assert sorted(p.name for p in folder.glob("*.schema.json")) == sorted(
        f"{n}.schema.json" for n in schemas.NAMES
    )
    assert schemas.schema_path("prompt") == folder / "prompt.schema.json"


@pytest.mark.parametrize("name", schemas.NAMES)
def test_each_schema_is_valid_draft_2020_12(name):
    schema = schemas.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")


def test_unknown_schema_name_suggests_the_closest():
    with pytest.raises(NotFoundError) as info:
        schemas.schema_path("promt")
    assert info.value.suggestions[0] == "prompt"
    assert "no schema named 'promt'" in str(info.value)
    assert "did you mean 'prompt'" in str(info.value)


def test_json_path_rendering():
    assert schemas.json_path(()) == "$"
    assert schemas.json_path(("messages", 1, "role")) == "messages[1].role"
    assert schemas.json_path((0, "a")) == "[0].a"


# -- prompt files ------------------------------------------------------------------------------------


def test_design_prompt_example_is_valid():
    assert errors(DESIGN_PROMPT) == []
    schemas.validate(doc(DESIGN_PROMPT), "prompt")  # does not raise


def test_minimal_prompt_is_valid():
    assert errors("messages:\n  - {role: user, content: hi}\n") == []


def test_unknown_field_named_located_and_suggested():
    e = only_error(
        """\
        descripton: Greets.
        messages:
          - {role: user, content: hi}
        """
    )
    assert e.message == "unknown field 'descripton'"
    assert e.hint == "did you mean 'description'?"
    assert e.json_path == "descripton"
    assert (e.path, e.line, e.col) == ("p.yaml", 1, 1)
    assert str(e) == "p.yaml:1:1: unknown field 'descripton' (did you mean 'description'?)"


def test_unknown_nested_field_points_at_its_key():
    e = only_error(
        """\
        messages:
          - {role: user, content: hi}
        output:
          fromat: json
        """
    )
    assert e.message == "unknown field 'output.fromat'"
    assert e.hint == "did you mean 'format'?"
    assert (e.line, e.col) == (4, 3)


def test_unknown_field_with_no_close_name_lists_the_allowed_ones():
    e = only_error("messages:\n  - {role: user, content: hi}\nlint: {zzz: 1}\n")
    assert e.message == "unknown field 'lint.zzz'"
    assert e.hint == "allowed: ignore"
    assert (e.line, e.col) == (3, 8)


def test_every_unknown_field_is_reported():
    found = errors("messages:\n  - {role: user, content: hi}\ndescripton: x\nowner: [me]\n")
    assert [(e.message, e.line, e.col) for e in found] == [
        ("unknown field 'descripton'", 3, 1),
        ("unknown field 'owner'", 4, 1),
    ]


def test_wrong_type_has_json_path_and_position():
    e = only_error(
        """\
        messages:
          - {role: user, content: hi}
        params: 3
        """
    )
    assert e.json_path == "params"
    assert e.message == "params: 3 is not of type object"
    assert (e.line, e.col) == (3, 9)
    assert str(e).startswith("p.yaml:3:9: params: 3 is not of type object")
    assert e.hint == "see `promptctl schema prompt` for the format"


def test_out_of_range_param():
    e = only_error("messages:\n  - {role: user, content: hi}\nparams: {temperature: 3}\n")
    assert e.json_path == "params.temperature"
    assert "greater than the maximum of 2" in e.message
    assert (e.line, e.col) == (3, 23)


def test_message_with_both_role_and_history_is_a_clear_error():
    e = only_error(
        """\
        inputs: {history: {type: array, default: []}}
        messages:
          - role: user
            content: hi
            history: history
        """
    )
    assert e.message == "unknown field 'messages[0].history'"
    assert e.json_path == "messages[0].history"
    assert (e.line, e.col) == (5, 5)


def test_history_splice_with_a_role_is_a_clear_error():
    e = only_error(
        """\
        messages:
          - history: history
            role: user
        """
    )
    assert e.message == "unknown field 'messages[0].role'"
    assert (e.line, e.col) == (3, 5)


def test_message_missing_content():
    e = only_error("messages:\n  - role: user\n")
    assert e.message == "messages[0]: missing required field 'content'"
    assert (e.line, e.col) == (2, 5)


def test_history_splice_of_wrong_type():
    e = only_error("messages:\n  - history: 3\n")
    assert e.message == "messages[0].history: 3 is not of type string"
    assert (e.line, e.col) == (2, 14)


def test_missing_messages():
    e = only_error("description: nothing to say\n")
    assert e.message == "$: missing required field 'messages'"
    assert e.json_path == "$"
    assert (e.line, e.col) == (1, 1)


def test_empty_messages():
    e = only_error("description: x\nmessages: []\n")
    assert e.json_path == "messages"
    assert "should be non-empty" in e.message
    assert (e.line, e.col) == (2, 11)


def test_bad_role_lists_the_allowed_ones():
    e = only_error(
        """\
        messages:
          - role: system
            content: ok
          - role: robot
            content: beep
        """
    )
    assert e.message == 'messages[1].role: "robot" is not one of "system", "user", "assistant", "tool"'
    assert e.json_path == "messages[1].role"
    assert (e.line, e.col) == (4, 11)


def test_bad_input_type_name():
    e = only_error("inputs:\n  who: strin\nmessages:\n  - {role: user, content: hi}\n")
    assert e.json_path == "inputs.who"
    assert '"strin" is not one of "string"' in e.message
    assert (e.line, e.col) == (2, 8)


def test_several_errors_sorted_by_position():
    found = errors(
        """\
        params: {max_tokens: 0}
        messages:
          - role: robot
            content: x
        tags: [1]
        """
    )
    assert [(e.json_path, e.line, e.col) for e in found] == [
        ("params.max_tokens", 1, 22),
        ("messages[0].role", 3, 11),
        ("tags[0]", 5, 8),
    ]


def test_validate_raises_the_first_error():
    with pytest.raises(SchemaError) as info:
        schemas.validate(doc("tags: [1]\nzzz: 1\nmessages:\n  - {role: user, content: hi}\n"), "prompt")
    assert isinstance(info.value, FileFormatError)
    assert (info.value.line, info.value.col) == (1, 8)
    assert info.value.json_path == "tags[0]"


# -- datasets ----------------------------------------------------------------------------------------


def test_design_dataset_example_is_valid():
    assert errors(DESIGN_DATASET, "dataset") == []


def test_assertion_of_unknown_type():
    e = only_error(
        """\
        prompt: support/reply
        cases:
          - id: one
            assert:
              - {type: icontains, value: ok}
              - {type: icontain, value: refund}
        """,
        "dataset",
    )
    assert e.json_path == "cases[0].assert[1].type"
    assert e.message.startswith('cases[0].assert[1].type: "icontain" is not one of "equals"')
    assert '"not-factuality"' in e.message
    assert (e.line, e.col) == (6, 16)
    assert e.hint == "did you mean 'icontains'?"
    assert e.fix is None  # `contains` is as close: no single safe fix


def test_assertion_of_unknown_type_in_defaults_and_file_ref():
    found = errors(
        """\
        prompt: p
        defaults:
          assert: [{type: bogus}]
        cases:
          - file: data/x.jsonl
            assert: [{type: alsobogus}]
        """,
        "dataset",
    )
    assert [(e.json_path, e.line, e.col) for e in found] == [
        ("defaults.assert[0].type", 3, 19),
        ("cases[0].assert[0].type", 6, 21),
    ]


def test_assertion_with_unknown_key_suggests():
    e = only_error("prompt: p\ncases:\n  - id: a\n    assert: [{type: similar, treshold: 0.8}]\n", "dataset")
    assert e.message == "unknown field 'cases[0].assert[0].treshold'"
    assert e.hint == "did you mean 'threshold'?"
    assert (e.line, e.col) == (4, 30)


def test_every_assertion_type_and_its_not_form_is_accepted():
    kinds = (
        "equals contains icontains contains-any contains-all starts-with regex is-json contains-json "
        "json-schema levenshtein similar latency cost python llm-rubric factuality"
    ).split()
    asserts = ", ".join(f"{{type: {k}}}, {{type: not-{k}}}" for k in kinds)
    assert errors(f"prompt: p\ncases:\n  - id: a\n    assert: [{asserts}]\n", "dataset") == []


def test_dataset_threshold_out_of_range():
    e = only_error("prompt: p\nthreshold: 1.5\ncases:\n  - id: a\n", "dataset")
    assert e.json_path == "threshold"
    assert (e.line, e.col) == (2, 12)


def test_dataset_case_file_must_be_jsonl_or_csv():
    e = only_error("prompt: p\ncases:\n  - file: data/x.txt\n", "dataset")
    assert e.json_path == "cases[0].file"
    assert "x.txt" in e.message
    assert (e.line, e.col) == (3, 11)


def test_dataset_without_prompt():
    e = only_error("cases:\n  - id: a\n", "dataset")
    assert e.message == "$: missing required field 'prompt'"
    assert (e.line, e.col) == (1, 1)


# -- project config ----------------------------------------------------------------------------------


def test_design_config_example_is_valid():
    assert errors(DESIGN_CONFIG, "project") == []


def test_config_alias_with_key_in_file_is_refused():
    e = only_error("promptctl: 1\nmodels:\n  fast: {model: x, api_key: sk-123}\n", "project")
    assert e.message == "unknown field 'models.fast.api_key'"
    assert e.hint == "did you mean 'api_key_env'?"
    assert (e.line, e.col) == (3, 20)


# -- bundles and channel records ---------------------------------------------------------------------


def test_channel_record_example_is_valid():
    assert schemas.schema_errors(json_doc(channel_record()), "channel-record") == []
    first = channel_record(seq=1, prev=None, action="rollback", held=True, reason=None)
    assert schemas.schema_errors(json_doc(first), "channel-record") == []


def test_channel_record_first_must_have_no_prev():
    found = schemas.schema_errors(json_doc(channel_record(seq=1)), "channel-record")
    assert [e.json_path for e in found] == ["prev"]
    assert found[0].line == 11


def test_channel_record_later_records_need_prev():
    found = schemas.schema_errors(json_doc(channel_record(prev=None)), "channel-record")
    assert [e.json_path for e in found] == ["prev"]
    assert "None is not of type" not in found[0].message


def test_channel_rollback_must_hold():
    found = schemas.schema_errors(json_doc(channel_record(action="rollback", held=False)), "channel-record")
    assert [e.json_path for e in found] == ["held"]
    assert found[0].line == 12


def test_bundle_example_is_valid():
    assert schemas.schema_errors(json_doc(bundle(), "v000003.json"), "bundle") == []


def test_bundle_rejects_bad_digest_and_escaping_partial():
    data = bundle(digest="sha256:xyz", partials={"../secret.j2": "x"})
    found = schemas.schema_errors(json_doc(data, "b.json"), "bundle")
    assert sorted(e.json_path for e in found) == ["digest", "partials"]
    for e in found:
        assert e.path == "b.json" and e.line is not None and e.col is not None


# -- the fast validity check agrees with jsonschema ---------------------------------------------------

DRAFT_2020_ONLY = {"prefixItems", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
                   "unevaluatedItems", "$dynamicRef", "$dynamicAnchor", "minContains", "maxContains"}


def _keywords(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keywords(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keywords(item)


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schemas_use_no_keyword_the_fast_check_ignores(name):
    # promptctl.schemas.is_valid compiles the schemas as draft-07 (fastjsonschema); a 2020-12-only
    # keyword would be silently ignored there.
    assert not DRAFT_2020_ONLY & set(_keywords(schemas.load_schema(name)))


@pytest.mark.parametrize(
    "name, doc",
    [
        ("prompt", {"messages": [{"role": "user", "content": "hi"}]}),
        ("prompt", {"messages": [{"role": "user", "content": "hi", "history": "h"}]}),
        ("prompt", {"messages": []}),
        ("prompt", {"messages": [{"role": "robot", "content": "hi"}]}),
        ("prompt", {"messages": [{"history": "h"}], "inputs": {"h": "array"}, "params": 3}),
        ("prompt", {"messages": [{"role": "user", "content": "x"}], "inputs": {"1bad": "string"}}),
        ("prompt", {"messages": [{"role": "user", "content": "x"}], "params": {"temperature": 3}}),
        ("prompt", {"messages": [{"role": "user", "content": "x"}], "samples": [{"inputs": {}}]}),
        ("dataset", {"prompt": "p", "cases": [{"id": "a"}]}),
        ("dataset", {"prompt": "p", "cases": [{"id": "a", "assert": [{"type": "nope"}]}]}),
        ("dataset", {"prompt": "p", "cases": [{"file": "x.txt"}]}),
        ("dataset", {"prompt": "p", "threshold": 2, "cases": [{"id": 1}]}),
        ("project", {"promptctl": 1, "models": {"a": {"model": "x", "api_key_env": "1X"}}}),
        ("project", {"promptctl": 2}),
        ("project", {"promptctl": 1, "test": {"concurrency": 0}}),
        ("channel-record", {"format": "promptctl.channel/1", "channel": "p", "seq": 1, "version": 1,
                            "digest": "sha256:" + "0" * 64, "action": "promote", "actor": "a",
                            "at": "2026-01-01T00:00:00Z", "prev": None, "held": False}),
        ("channel-record", {"format": "promptctl.channel/1", "channel": "p", "seq": 2, "version": 1,
                            "digest": "sha256:" + "0" * 64, "action": "rollback", "actor": "a",
                            "at": "2026-01-01T00:00:00Z", "prev": None, "held": False}),
    ],
)
def test_fast_check_agrees_with_jsonschema(name, doc):
    from jsonschema import Draft202012Validator

    from promptctl.schemas import is_valid

    assert is_valid(doc, name) == Draft202012Validator(schemas.load_schema(name)).is_valid(doc)
