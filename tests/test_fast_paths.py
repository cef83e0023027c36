"""The shortcuts of the hot paths of a recorded run give what the general code gives (issue 11)."""

from __future__ import annotations

from types import MappingProxyType

from promptctl.evals.provider import redact, redact_data
from promptctl.inputs import check_value
from promptctl.model import canonical_json


def test_canonical_json_of_plain_and_nested_values():
    assert canonical_json({"b": "x", "a": 1, "c": None, "d": True}) == '{"a":1,"b":"x","c":null,"d":true}'
    assert canonical_json([1, "a", None]) == '[1,"a",null]'
    assert canonical_json({"m": [{"role": "user", "content": "hi"}], "p": {"t": 1.0, "u": 0.5}}) == (
        '{"m":[{"content":"hi","role":"user"}],"p":{"t":1,"u":0.5}}')
    assert canonical_json([1.0, (2.0, "x"), MappingProxyType({"k": 3.0})]) == '[1,[2,"x"],{"k":3}]'
    assert canonical_json({"a": [1, 2.0]}) == '{"a":[1,2]}'


def test_redact_without_secrets_still_masks_the_shapes():
    assert redact("plain text, nothing here", []) == "plain text, nothing here"
    assert redact("Authorization: BEARER abc.def", []) == "Authorization: BEARER ***"
    assert redact("key sk-abcdef123 and well-known", []) == "key *** and well-known"
    assert redact("uses hf-AbCdEf_12", ()) == "uses ***"
    assert redact("the secret-value-9 here", ["secret-value-9"]) == "the *** here"
    assert redact_data({"a": ["bearer   xyz", "no dash"]}, []) == {"a": ["bearer   ***", "no dash"]}


def test_a_typed_input_with_only_words_is_checked_for_its_type_only():
    assert check_value({"type": "string", "description": "the question"}, "hi", "q") == []
    assert check_value({"type": "integer"}, "x", "n") == ["input 'n' must be integer, got string 'x'"]
    assert check_value({"type": "string", "minLength": 3}, "hi", "q") == ["input 'q' is shorter than 3 characters"]
    assert check_value({"enum": ["a"]}, "b", "q") == ["input 'q' must be one of 'a', got 'b'"]


def test_templated_assertion_values_are_found_in_sets_too(tmp_path):
    from promptctl.evals.runner import _templated, templated_values
    from promptctl.project import open_project

    (tmp_path / "promptctl.yaml").write_text("promptctl: 1\n")
    project = open_project(tmp_path)
    plain = [{"type": "contains", "value": "x"}, {"type": "assert-set", "assert": [{"type": "equals", "value": "y"}]}]
    assert not any(_templated(a) for a in plain) and templated_values(plain, project, {}) == plain
    nested = [{"type": "assert-set", "assert": [{"type": "contains", "value": "{{ q }}!"}]}, "not a mapping"]
    assert _templated(nested[0])
    assert templated_values(nested, project, {"q": "hi"}) == [
        {"type": "assert-set", "assert": [{"type": "contains", "value": "hi!"}]}, "not a mapping"]
    assert templated_values([{"type": "regex", "value": "{% if q %}a{% endif %}"}], project, {"q": 1}) == [
        {"type": "regex", "value": "a"}]
