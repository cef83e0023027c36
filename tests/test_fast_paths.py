"""The shortcuts of the hot paths of a recorded run give what the general code gives (issue 11)."""

from __future__ import annotations

import json
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


def test_jsonl_rows_are_checked_against_the_case_definition_with_the_same_errors(tmp_path):
    import pytest

    from promptctl.errors import FileFormatError
    from promptctl.project import _check_case_row, _jsonl_cases
    from promptctl.schemas import definition_check, is_valid

    assert callable(definition_check("dataset", "case")) and definition_check("dataset", "nothing") is None
    rows = ['{"id": "a", "inputs": {"q": 1}, "assert": [{"type": "contains", "value": "x"}], "tags": ["t"]}',
            '{"inputs": {"q": 2}, "golden": {"k": [1]}, "threshold": 0.5}']
    cases = _jsonl_cases("\n".join(rows) + "\n", "d/c.jsonl")
    assert [(c.id, c.line) for c in cases] == [("a", 1), ("c.jsonl:2", 2)]
    for bad in ('{"id": "b", "tags": [1]}', '{"id": "b", "assert": [{"type": "nope"}]}', '{"id": "", "inputs": {}}',
                '{"id": "b", "threshold": 2}', '{"id": "b", "reviewed": {"by": "x"}}'):
        row = json.loads(bad)
        assert not is_valid({"prompt": "p", "cases": [{"id": "row", **row}]}, "dataset")
        with pytest.raises(FileFormatError) as expected:
            _check_case_row(row, "d/c.jsonl", 3)
        with pytest.raises(FileFormatError) as got:
            _jsonl_cases("\n".join([*rows, bad]) + "\n", "d/c.jsonl")
        assert (got.value.message, got.value.line, got.value.hint) == (
            expected.value.message, expected.value.line, expected.value.hint)
    with pytest.raises(FileFormatError) as bom:
        _jsonl_cases('\ufeff{"id": "a"}\n', "d/c.jsonl")
    assert (bom.value.message, bom.value.line, bom.value.col) == (
        "invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)", 1, 1)
    with pytest.raises(FileFormatError) as dup:
        _jsonl_cases('{"id": "a", "id": "b"}\n', "d/c.jsonl")
    assert dup.value.message == "duplicate key 'id'"


def test_a_pending_entry_has_the_same_fingerprint_in_every_process():
    import datetime
    import subprocess
    import sys

    from promptctl.evals.pending import PendingCase, _fingerprint

    make = ("PendingCase('evals/qa.eval.yaml', 'qa', 'qa', 'c', 'evals/qa.eval.yaml', 3, None, 'new', 'out', 'passed',"
            " 1.0, '', ({'type': 'contains', 'pass': True, 'score': 1.0, 'reason': 'r', 'weight': 1.0},),"
            " inputs={'q': 'hi', 'n': 1}, run={'at': 'now', 'mode': 'auto'})")
    entry = eval(make, {"PendingCase": PendingCase})  # noqa: S307 - the same text in both processes
    code = f"from promptctl.evals.pending import PendingCase, _fingerprint; print(_fingerprint({make}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == _fingerprint(entry)
    from dataclasses import replace

    assert _fingerprint(replace(entry, run={"at": "later", "mode": "auto"})) == other  # the run's time is left out
    assert _fingerprint(replace(entry, inputs={"q": "hi", "n": True})) != other  # 1 and true differ
    assert _fingerprint(replace(entry, score=0.5)) != other
    dated = replace(entry, inputs={"d": datetime.date(2026, 1, 1)})  # not marshal's: by its repr
    assert _fingerprint(dated) == _fingerprint(replace(dated)) != other


def test_shown_values_and_canonical_text_are_json_as_before():
    from promptctl.evals.assertions import _show

    for value in ("plain", 'quote " and \\ back', "ünïcode ✓", "\x00\n\t", 3.0, 7, None, True, ["a", 1], {"k": "v"}):
        shown = _show(value)
        assert json.loads(shown) == (value if isinstance(value, str) else json.loads(shown))
    assert _show("é") == '"é"' and _show("x" * 100) == json.dumps("x" * 59 + "…", ensure_ascii=False)
    assert canonical_json({"é": "ü", "b": [1.0, float(2)]}) == '{"b":[1,2],"é":"ü"}'
    try:
        canonical_json({"x": float("nan")})
    except ValueError:
        pass
    else:
        raise AssertionError("NaN is not JSON")
