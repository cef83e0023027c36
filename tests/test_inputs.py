"""Prompt inputs: the short form, defaults, and one error listing every problem.

Unit tests of promptctl.inputs, plus the same rules through the real loading
path (``open_project(root).render(...)``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_tree

from promptctl.errors import InputError
from promptctl.inputs import check_value, is_required, normalize_inputs, validate_inputs
from promptctl.project import open_project


def validate(schemas: dict, values: dict) -> dict:
    return validate_inputs(normalize_inputs(schemas), values, prompt="p")


def problems(schemas: dict, values: dict) -> list[str]:
    with pytest.raises(InputError) as info:
        validate(schemas, values)
    return info.value.problems


# -- short form and required ---------------------------------------------------------------------


def test_short_form_expands_to_a_type():
    raw = {"who": "string", "n": {"type": "integer", "minimum": 1}}
    assert normalize_inputs(raw) == {"who": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}
    assert normalize_inputs(None) == {}


def test_normalize_copies_the_long_form():
    raw = {"n": {"type": "integer"}}
    out = normalize_inputs(raw)
    out["n"]["minimum"] = 3
    assert raw == {"n": {"type": "integer"}}


def test_required_unless_default():
    assert is_required({"type": "string"})
    assert not is_required({"type": "string", "default": None})
    assert not is_required({"type": "array", "default": []})


# -- defaults ------------------------------------------------------------------------------------


def test_defaults_are_applied_and_given_values_win():
    schemas = {"who": "string", "tone": {"type": "string", "default": "friendly"}, "n": {"default": None}}
    assert validate(schemas, {"who": "Ann"}) == {"who": "Ann", "tone": "friendly", "n": None}
    assert validate(schemas, {"who": "Ann", "tone": "formal"})["tone"] == "formal"


def test_defaults_are_deep_copied():
    schemas = normalize_inputs({"tags": {"type": "array", "default": [["a"], {"k": []}]}})
    first = validate_inputs(schemas, {}, prompt="p")
    first["tags"].append("x")
    first["tags"][0].append("y")
    first["tags"][1]["k"].append("z")
    assert schemas["tags"]["default"] == [["a"], {"k": []}]
    assert validate_inputs(schemas, {}, prompt="p") == {"tags": [["a"], {"k": []}]}


# -- one error, every problem -------------------------------------------------------------------


def test_one_error_lists_missing_unexpected_and_mistyped():
    schemas = {
        "ticket": {"type": "string", "description": "the ticket text"},
        "count": "integer",
        "tone": {"type": "string", "default": "friendly"},
    }
    with pytest.raises(InputError) as info:
        validate(schemas, {"count": "three", "tonne": "formal"})
    e = info.value
    assert e.message == "3 problems with the inputs of 'p'"
    assert e.problems == [
        "missing required input 'ticket' (string: the ticket text)",
        "input 'count' must be integer, got string 'three'",
        "unexpected input 'tonne' (declared inputs: ticket, count, tone)",
    ]
    text = str(e)
    for p in e.problems:
        assert f"\n  - {p}" in text


def test_single_problem_message_is_singular():
    with pytest.raises(InputError) as info:
        validate({"a": "string"}, {})
    assert info.value.message == "1 problem with the inputs of 'p'"
    assert info.value.problems == ["missing required input 'a' (string)"]


def test_unexpected_input_when_none_declared():
    assert problems({}, {"x": 1}) == ["unexpected input 'x' (declared inputs: none)"]


def test_nested_problems_are_all_reported():
    schemas = {
        "user": {
            "type": "object",
            "required": ["id", "email"],
            "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
            "additionalProperties": False,
        },
        "n": {"type": "integer", "maximum": 5},
    }
    got = problems(schemas, {"user": {"id": "x", "tags": ["a", 2], "extra": 1}, "n": 9})
    assert got == [
        "input 'user' is missing the field 'email'",
        "input 'user.id' must be integer, got string 'x'",
        "input 'user.tags[1]' must be string, got integer 2",
        "input 'user' has an unexpected field 'extra'",
        "input 'n' must be at most 5, got 9",
    ]


# -- keywords ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema, value, expected",
    [
        ({"enum": ["formal", "friendly"]}, "rude", ["input 'v' must be one of 'formal', 'friendly', got 'rude'"]),
        ({"const": 1}, 2, ["input 'v' must be 1, got 2"]),
        ({"type": "string", "maxLength": 3}, "abcd", ["input 'v' is 4 characters, over the maximum of 3"]),
        ({"type": "string", "minLength": 2}, "a", ["input 'v' is shorter than 2 characters"]),
        ({"type": "integer", "minimum": 1}, 0, ["input 'v' must be at least 1, got 0"]),
        ({"type": "number", "maximum": 1.5}, 2, ["input 'v' must be at most 1.5, got 2"]),
        ({"exclusiveMinimum": 0}, 0, ["input 'v' must be more than 0, got 0"]),
        ({"exclusiveMaximum": 10}, 10, ["input 'v' must be less than 10, got 10"]),
        ({"pattern": "^[A-Z]{3}-\\d+$"}, "abc-1", ["input 'v' does not match the pattern '^[A-Z]{3}-\\\\d+$'"]),
        ({"type": "array", "minItems": 2}, [1], ["input 'v' needs at least 2 items"]),
        ({"type": "array", "maxItems": 1}, [1, 2], ["input 'v' has more than 1 items"]),
        (
            {"type": "array", "items": {"type": "integer", "minimum": 0}},
            [1, -1, "x"],
            ["input 'v[1]' must be at least 0, got -1", "input 'v[2]' must be integer, got string 'x'"],
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]},
            {"a": 1},
            ["input 'v' is missing the field 'b'", "input 'v.a' must be string, got integer 1"],
        ),
        (
            {"type": "object", "additionalProperties": False, "properties": {"a": {}}},
            {"a": 1, "b": 2},
            ["input 'v' has an unexpected field 'b'"],
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"a": 1, "b": "x"},
            ["input 'v.b' must be integer, got string 'x'"],
        ),
        ({"type": ["string", "null"]}, 3, ["input 'v' must be string or null, got integer 3"]),
    ],
)
def test_keyword_violations(schema, value, expected):
    assert check_value(schema, value, "v") == expected


@pytest.mark.parametrize(
    "schema, value",
    [
        ({"enum": ["formal", "friendly"]}, "formal"),
        ({"const": "x"}, "x"),
        ({"type": "string", "maxLength": 3, "minLength": 3}, "abc"),
        ({"type": "string", "maxLength": 2}, "éé"),
        ({"type": "integer", "minimum": 1, "maximum": 1}, 1),
        ({"pattern": "\\d"}, "abc1def"),  # JSON Schema patterns are not anchored
        ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}, ["a", "b"]),
        ({"type": "array"}, ("a", "b")),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"a": "x", "b": 1}),
        ({"type": ["string", "null"]}, None),
        ({"type": "null"}, None),
        ({}, object()),
    ],
)
def test_keyword_satisfied(schema, value):
    assert check_value(schema, value, "v") == []


def test_long_values_are_shortened_in_messages():
    [msg] = check_value({"type": "integer"}, "x" * 100, "v")
    assert msg == "input 'v' must be integer, got string " + repr("x" * 100)[:37] + "..."


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("t", ["integer", "number"])
def test_bool_is_not_a_number(t, value):
    assert check_value({"type": t}, value, "v") == [f"input 'v' must be {t}, got boolean {value!r}"]


@pytest.mark.parametrize("value", [3, 3.0, -2.0, 0])
def test_whole_floats_are_integers(value):
    assert check_value({"type": "integer"}, value, "v") == []
    assert check_value({"type": "number"}, value, "v") == []


@pytest.mark.parametrize("value", [3.5, float("inf"), float("nan"), "3", None])
def test_non_integers(value):
    assert len(check_value({"type": "integer"}, value, "v")) == 1


def test_bool_is_not_an_integer_even_with_default_present():
    assert problems({"n": {"type": "integer", "default": 1}}, {"n": True}) == [
        "input 'n' must be integer, got boolean True"
    ]


def test_boolean_type_accepts_only_bools():
    assert check_value({"type": "boolean"}, False, "v") == []
    assert check_value({"type": "boolean"}, 0, "v") == ["input 'v' must be boolean, got integer 0"]


@pytest.mark.parametrize("schema, value", [({"enum": [1, 2]}, True), ({"enum": [True]}, 1), ({"const": 0}, False)])
def test_enum_and_const_do_not_confuse_bool_and_int(schema, value):
    assert len(check_value(schema, value, "v")) == 1


# -- through the project -------------------------------------------------------------------------


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = write_tree(
        tmp_path / "proj",
        {
            "promptctl.yaml": "promptctl: 1\n",
            "prompts/support/reply.prompt.yaml": """\
                inputs:
                  ticket: {type: string, maxLength: 20}
                  tone: {type: string, enum: [formal, friendly], default: friendly}
                  count: integer
                  history: {type: array, default: []}
                  user: {type: object, required: [name], properties: {name: {type: string}}}
                messages:
                  - role: system
                    content: "Answer in a {{ tone }} tone. {{ count }} {{ user.name }}"
                  - history: history
                  - role: user
                    content: "{{ ticket }}"
                """,
        },
    )
    monkeypatch.chdir(root)
    return open_project(root)


def test_project_renders_with_short_form_and_defaults(proj):
    p = proj.get_prompt("support/reply")
    assert p.inputs["count"] == {"type": "integer"}
    out = proj.render("support/reply", {"ticket": "help", "count": 2.0, "user": {"name": "Ann"}})
    assert out == [
        {"role": "system", "content": "Answer in a friendly tone. 2.0 Ann"},
        {"role": "user", "content": "help"},
    ]


def test_project_render_lists_every_problem_at_once(proj):
    with pytest.raises(InputError) as info:
        proj.render(
            "support/reply",
            {"ticket": "x" * 21, "tone": "rude", "count": True, "user": {}, "colour": "red"},
        )
    e = info.value
    assert e.message == "5 problems with the inputs of 'support/reply'"
    assert e.problems == [
        "input 'ticket' is 21 characters, over the maximum of 20",
        "input 'tone' must be one of 'formal', 'friendly', got 'rude'",
        "input 'count' must be integer, got boolean True",
        "input 'user' is missing the field 'name'",
        "unexpected input 'colour' (declared inputs: ticket, tone, count, history, user)",
    ]


def test_project_render_reports_missing_inputs(proj):
    with pytest.raises(InputError) as info:
        proj.render("support/reply", {})
    assert info.value.problems == [
        "missing required input 'ticket' (string)",
        "missing required input 'count' (integer)",
        "missing required input 'user' (object)",
    ]


def test_default_is_not_shared_between_renders(proj):
    prompt = proj.get_prompt("support/reply")
    values = {"ticket": "t", "count": 1, "user": {"name": "A"}}
    ctx = validate_inputs(prompt.inputs, values, prompt=prompt.name)
    ctx["history"].append({"role": "user", "content": "leak"})
    assert prompt.inputs["history"]["default"] == []
    assert proj.render("support/reply", values) == [
        {"role": "system", "content": "Answer in a friendly tone. 1 A"},
        {"role": "user", "content": "t"},
    ]
