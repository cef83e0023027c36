"""Golden datasets: inline cases, JSONL/CSV case files, and every way they can be wrong (with file:line:col)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import write_tree

from promptctl.errors import FileFormatError, PromptctlError, SchemaError, YamlError
from promptctl.model import Case, Dataset
from promptctl.project import open_project

DS = "evals/d.eval.yaml"


@pytest.fixture
def make(tmp_path, monkeypatch):
    """Write a project (promptctl.yaml + files) and chdir into it, so paths show as evals/…."""

    def build(files: dict[str, str], config: str = "promptctl: 1\n"):
        root = write_tree(tmp_path / "proj", {"promptctl.yaml": config, **files})
        monkeypatch.chdir(root)
        return open_project(root)

    return build


def load_error(make, files, rel=DS, exc=FileFormatError, config="promptctl: 1\n"):
    proj = make(files, config)
    with pytest.raises(exc) as info:
        proj.load_dataset(rel)
    return info.value


def jsonl(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


# -- inline cases ------------------------------------------------------------------------------------


def test_inline_cases_with_defaults(make):
    proj = make(
        {
            DS: """\
            prompt: support/reply
            description: Refund tickets.
            threshold: 0.9
            defaults:
              assert: [{type: not-icontains, value: "as an ai"}]
              inputs: {tone: friendly, lang: en}
            cases:
              - id: refund
                description: asks for a refund
                inputs: {ticket: "refund order 123", lang: fr}
                golden: "Sorry, refund done."
                assert:
                  - {type: icontains, value: refund}
                tags: [money]
              - id: 7
                golden: {reply: ok}
            """
        }
    )
    ds = proj.load_dataset(DS)
    assert isinstance(ds, Dataset)
    assert (ds.path, ds.prompt, ds.threshold, ds.description, ds.name) == (
        DS,
        "support/reply",
        0.9,
        "Refund tickets.",
        "d",
    )
    assert ds.default_asserts == ({"type": "not-icontains", "value": "as an ai"},)
    first, second = ds.cases
    assert first == Case(
        id="refund",
        inputs={"tone": "friendly", "lang": "fr", "ticket": "refund order 123"},
        golden="Sorry, refund done.",
        asserts=({"type": "icontains", "value": "refund"},),
        description="asks for a refund",
        tags=("money",),
        source=DS,
        line=8,
    )
    # an integer id becomes a string; a case without inputs still gets the dataset's defaults
    assert (second.id, second.inputs, second.golden, second.asserts, second.line) == (
        "7",
        {"tone": "friendly", "lang": "en"},
        {"reply": "ok"},
        (),
        15,
    )


def test_threshold_defaults_to_one(make):
    proj = make({DS: "prompt: p\ncases:\n  - id: a\n"})
    ds = proj.load_dataset(DS)
    assert ds.threshold == 1.0
    assert ds.default_asserts == ()
    assert ds.cases[0].inputs == {}


def test_defaults_inputs_do_not_leak_between_cases(make):
    proj = make({DS: "prompt: p\ndefaults: {inputs: {x: 1}}\ncases:\n  - {id: a, inputs: {x: 2}}\n  - id: b\n"})
    a, b = proj.load_dataset(DS).cases
    assert a.inputs == {"x": 2}
    assert b.inputs == {"x": 1}


# -- JSONL case files ----------------------------------------------------------------------------------


def test_jsonl_cases(make):
    proj = make(
        {
            DS: """\
            prompt: p
            defaults:
              inputs: {tone: formal}
            cases:
              - id: inline
              - file: data/tickets.jsonl
                assert: [{type: contains, value: order}]
            """,
            "evals/data/tickets.jsonl": jsonl(
                {"id": "j1", "inputs": {"ticket": "refund"}, "golden": "done", "assert": [{"type": "is-json"}]},
                "",
                {"inputs": {"ticket": "where", "tone": "friendly"}, "golden": {"reply": "x"}, "tags": ["t"]},
                {"id": 5, "description": "numbered"},
            ),
        }
    )
    ds = proj.load_dataset(DS)
    assert [c.id for c in ds.cases] == ["inline", "j1", "tickets.jsonl:3", "5"]
    _, j1, j3, j5 = ds.cases
    assert j1 == Case(
        id="j1",
        inputs={"tone": "formal", "ticket": "refund"},
        golden="done",
        asserts=({"type": "contains", "value": "order"}, {"type": "is-json"}),
        source="evals/data/tickets.jsonl",
        line=1,
    )
    assert (j3.inputs, j3.golden, j3.tags, j3.line) == (
        {"tone": "friendly", "ticket": "where"},
        {"reply": "x"},
        ("t",),
        3,
    )
    assert (j5.description, j5.line, j5.golden) == ("numbered", 4, None)
    assert j5.asserts == ({"type": "contains", "value": "order"},)


def test_jsonl_path_is_relative_to_the_dataset(make):
    proj = make(
        {
            "evals/sub/d.eval.yaml": "prompt: p\ncases:\n  - file: ../shared/c.jsonl\n",
            "evals/shared/c.jsonl": jsonl({"id": "x"}),
        }
    )
    ds = proj.load_dataset("evals/sub/d.eval.yaml")
    assert [(c.id, c.source, c.line) for c in ds.cases] == [("x", "evals/shared/c.jsonl", 1)]


def test_bad_jsonl_line(make):
    e = load_error(
        make,
        {DS: "prompt: p\ncases:\n  - file: c.jsonl\n", "evals/c.jsonl": jsonl({"id": "a"}, '{"id": "b", "inputs": }')},
    )
    assert type(e) is FileFormatError
    assert e.message == "invalid JSON: Expecting value"
    assert (e.path, e.line, e.col) == ("evals/c.jsonl", 2, 23)
    assert str(e) == "evals/c.jsonl:2:23: invalid JSON: Expecting value"


def test_jsonl_line_that_is_not_an_object(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - file: c.jsonl\n", "evals/c.jsonl": jsonl({"id": "a"}, "[1, 2]")})
    assert e.message == "each line must be a JSON object (one case)"
    assert (e.path, e.line, e.col) == ("evals/c.jsonl", 2, 1)


def test_unknown_jsonl_field(make):
    e = load_error(
        make,
        {DS: "prompt: p\ncases:\n  - file: c.jsonl\n", "evals/c.jsonl": jsonl({"id": "a"}, {"id": "b", "input": {}})},
    )
    assert e.message == "unknown case field 'input'"
    assert (e.path, e.line, e.col) == ("evals/c.jsonl", 2, 1)
    assert "inputs" in e.hint


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": "a", "inputs": [1]}, "inputs: [1] is not of type object"),
        ({"id": "a", "assert": {"type": "equals"}}, "assert: {\"type\": \"equals\"} is not of type array"),
    ],
)
def test_jsonl_field_types(make, row, message):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - file: c.jsonl\n", "evals/c.jsonl": "\n" + jsonl(row)})
    assert e.message == message
    assert (e.path, e.line, e.col) == ("evals/c.jsonl", 2, 1)


def test_jsonl_assertion_of_unknown_type(make):
    e = load_error(
        make,
        {
            DS: "prompt: p\ncases:\n  - file: c.jsonl\n",
            "evals/c.jsonl": jsonl({"id": "a"}, {"id": "b", "assert": [{"type": "icontain", "value": "x"}]}),
        },
    )
    assert "icontain" in e.message
    assert (e.path, e.line) == ("evals/c.jsonl", 2)


def test_jsonl_tags_must_be_a_list(make):
    e = load_error(
        make, {DS: "prompt: p\ncases:\n  - file: c.jsonl\n", "evals/c.jsonl": jsonl({"id": "a", "tags": "smoke"})}
    )
    assert "tags" in e.message
    assert (e.path, e.line, e.col) == ("evals/c.jsonl", 1, 1)


# -- CSV case files ------------------------------------------------------------------------------------


def test_csv_cases(make):
    proj = make(
        {
            DS: "prompt: p\ndefaults: {inputs: {lang: en}}\n"
            "cases:\n  - file: data/c.csv\n    assert: [{type: equals}]\n",
            "evals/data/c.csv": "id,golden,description,ticket,lang\n"
            "c1,Refunded.,asks for refund,I want a refund,\n"
            ",,,Where is it?,fr\n",
        }
    )
    ds = proj.load_dataset(DS)
    c1, c2 = ds.cases
    assert c1 == Case(
        id="c1",
        inputs={"lang": "", "ticket": "I want a refund"},
        golden="Refunded.",
        asserts=({"type": "equals"},),
        description="asks for refund",
        source="evals/data/c.csv",
        line=2,
    )
    assert (c2.id, c2.inputs, c2.golden, c2.description, c2.line) == (
        "c.csv:3",
        {"lang": "fr", "ticket": "Where is it?"},
        None,
        None,
        3,
    )


def test_csv_with_bom_and_only_input_columns(make):
    proj = make({DS: "prompt: p\ncases:\n  - file: c.csv\n"})
    Path("evals/c.csv").write_bytes("\ufeffwho,mood\nAda,happy\n".encode())
    (case,) = proj.load_dataset(DS).cases
    assert (case.id, case.inputs, case.line) == ("c.csv:2", {"who": "Ada", "mood": "happy"}, 2)


def test_csv_row_with_too_many_cells(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - file: c.csv\n", "evals/c.csv": "id,who\na,Ada\nb,Bob,extra\n"})
    assert e.message == "row has more cells than the header"
    assert (e.path, e.line, e.col) == ("evals/c.csv", 3, 1)


def test_csv_multiline_cell_case_line_is_its_first_line(make):
    proj = make({DS: "prompt: p\ncases:\n  - file: c.csv\n", "evals/c.csv": 'id,golden\na,"two\nlines"\nb,x\n'})
    a, b = proj.load_dataset(DS).cases
    assert a.golden == "two\nlines"
    assert (a.line, b.line) == (2, 4)


# -- case file problems ------------------------------------------------------------------------------


@pytest.mark.parametrize("file", ["../../outside.jsonl", "../../../etc/cases.jsonl", "/etc/cases.jsonl"])
def test_case_file_outside_the_project(make, tmp_path, file):
    (tmp_path / "outside.jsonl").write_text(jsonl({"id": "x"}), encoding="utf-8")
    e = load_error(make, {DS: f"prompt: p\ncases:\n  - id: a\n  - file: '{file}'\n"})
    assert type(e) is FileFormatError
    assert e.message == f"case file {file!r} is outside the project"
    assert (e.path, e.line, e.col) == (DS, 4, 11)


def test_case_file_parent_of_a_root_dataset_is_outside(make, tmp_path):
    (tmp_path / "x.jsonl").write_text(jsonl({"id": "x"}), encoding="utf-8")
    e = load_error(
        make,
        {"d.eval.yaml": "prompt: p\ncases:\n  - file: ../x.jsonl\n"},
        rel="d.eval.yaml",
        config="promptctl: 1\nevals: .\n",
    )
    assert e.message == "case file '../x.jsonl' is outside the project"
    assert (e.path, e.line, e.col) == ("d.eval.yaml", 3, 11)


def test_case_file_up_one_level_but_inside_the_project_is_fine(make):
    proj = make({DS: "prompt: p\ncases:\n  - file: ../shared.jsonl\n", "shared.jsonl": jsonl({"id": "s"})})
    assert [(c.id, c.source) for c in proj.load_dataset(DS).cases] == [("s", "shared.jsonl")]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_case_file_symlink_leaving_the_project_refused(make, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(jsonl({"id": "stolen"}), encoding="utf-8")
    proj = make({DS: "prompt: p\ncases:\n  - file: link.jsonl\n"})
    os.symlink(secret, "evals/link.jsonl")
    with pytest.raises(PromptctlError) as info:
        proj.load_dataset(DS)
    assert isinstance(info.value, FileFormatError)
    assert "resolves outside the project" in info.value.message


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_case_file_symlink_error_points_at_the_dataset(make, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(jsonl({"id": "stolen"}), encoding="utf-8")
    proj = make({DS: "prompt: p\ncases:\n  - file: link.jsonl\n"})
    os.symlink(secret, "evals/link.jsonl")
    with pytest.raises(FileFormatError) as info:
        proj.load_dataset(DS)
    assert "partial" not in str(info.value)
    assert (info.value.path, info.value.line, info.value.col) == (DS, 3, 11)


def test_missing_case_file(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - id: a\n  - file: data/missing.jsonl\n"})
    assert type(e) is FileFormatError
    assert e.message == "case file 'data/missing.jsonl': file not found"
    assert (e.path, e.line, e.col) == (DS, 4, 11)


def test_case_file_not_utf8(make):
    proj = make({DS: "prompt: p\ncases:\n  - file: c.jsonl\n"})
    Path("evals/c.jsonl").write_bytes(b'{"id": "caf\xe9"}\n')
    with pytest.raises(FileFormatError) as info:
        proj.load_dataset(DS)
    assert "not valid UTF-8" in info.value.message
    assert (info.value.path, info.value.line, info.value.col) == (DS, 3, 11)


# -- duplicate ids -------------------------------------------------------------------------------------


def test_duplicate_ids_across_inline_and_file_cases(make):
    e = load_error(
        make,
        {
            DS: "prompt: p\ncases:\n  - id: one\n  - id: two\n  - file: c.jsonl\n",
            "evals/c.jsonl": jsonl({"id": "three"}, {"id": "two"}),
        },
    )
    assert type(e) is FileFormatError
    assert e.message == f"duplicate case id 'two' (first at {DS}:4)"
    assert (e.path, e.line) == ("evals/c.jsonl", 2)
    assert str(e).startswith("evals/c.jsonl:2")


def test_duplicate_inline_ids_int_and_string(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - id: 1\n  - id: '1'\n"})
    assert e.message == f"duplicate case id '1' (first at {DS}:3)"
    assert (e.path, e.line) == (DS, 4)


def test_duplicate_ids_across_two_case_files(make):
    e = load_error(
        make,
        {
            DS: "prompt: p\ncases:\n  - file: a.csv\n  - file: b.jsonl\n",
            "evals/a.csv": "id,who\nx,Ada\n",
            "evals/b.jsonl": jsonl({"id": "y"}, {"id": "x"}),
        },
    )
    assert e.message == "duplicate case id 'x' (first at evals/a.csv:2)"
    assert (e.path, e.line) == ("evals/b.jsonl", 2)


# -- schema errors -----------------------------------------------------------------------------------


def test_dataset_unknown_field(make):
    e = load_error(make, {DS: "prompt: p\nthreshhold: 0.5\ncases:\n  - id: a\n"}, exc=SchemaError)
    assert e.message == "unknown field 'threshhold'"
    assert e.hint == "did you mean 'threshold'?"
    assert (e.path, e.line, e.col) == (DS, 2, 1)


def test_dataset_case_unknown_field(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - id: a\n    input: {x: 1}\n"}, exc=SchemaError)
    assert e.message == "unknown field 'cases[0].input'"
    assert e.hint == "did you mean 'inputs'?"
    assert (e.path, e.line, e.col) == (DS, 4, 5)


def test_dataset_without_prompt(make):
    e = load_error(make, {DS: "description: x\ncases:\n  - id: a\n"}, exc=SchemaError)
    assert e.message == "$: missing required field 'prompt'"
    assert (e.path, e.line, e.col) == (DS, 1, 1)


def test_dataset_without_cases(make):
    e = load_error(make, {DS: "prompt: p\n"}, exc=SchemaError)
    assert e.message == "$: missing required field 'cases'"
    assert (e.path, e.line, e.col) == (DS, 1, 1)


def test_dataset_with_bad_assertion_type(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - id: a\n    assert: [{type: icontain}]\n"}, exc=SchemaError)
    assert e.json_path == "cases[0].assert[0].type"
    assert '"icontain" is not one of' in e.message
    assert (e.path, e.line, e.col) == (DS, 4, 21)


@pytest.mark.parametrize("text", ["", "- prompt: p\n"])
def test_dataset_that_is_not_a_mapping(make, text):
    e = load_error(make, {DS: text}, exc=SchemaError)
    assert "must be a mapping" in e.message
    assert (e.path, e.line, e.col) == (DS, 1, 1)


def test_dataset_with_malformed_yaml(make):
    e = load_error(make, {DS: "prompt: p\ncases:\n  - id: a\n  - id: a\n    inputs: {x: 1\n"}, exc=YamlError)
    assert e.message.startswith("invalid YAML")
    assert (e.path, e.line, e.col) == (DS, 5, 13)  # the `{` that is never closed


# -- datasets() ----------------------------------------------------------------------------------------


def test_datasets_lists_every_eval_file(make):
    proj = make(
        {
            "evals/b.eval.yaml": "prompt: p\ncases:\n  - id: b\n",
            "evals/sub/a.eval.yaml": "prompt: q\ncases:\n  - file: a.jsonl\n",
            "evals/sub/a.jsonl": jsonl({"id": "a1"}),
            "evals/notes.yaml": "not: a dataset\n",
            "evals/.hidden/x.eval.yaml": "broken: [\n",
        }
    )
    assert proj.dataset_files() == ["evals/b.eval.yaml", "evals/sub/a.eval.yaml"]
    found = proj.datasets()
    assert [(d.path, d.prompt, [c.id for c in d.cases]) for d in found] == [
        ("evals/b.eval.yaml", "p", ["b"]),
        ("evals/sub/a.eval.yaml", "q", ["a1"]),
    ]


def test_datasets_with_custom_evals_folder(make):
    proj = make(
        {"tests/golden/x.eval.yaml": "prompt: p\ncases:\n  - id: x\n"}, config="promptctl: 1\nevals: tests/golden\n"
    )
    assert [d.path for d in proj.datasets()] == ["tests/golden/x.eval.yaml"]


def test_datasets_without_evals_folder(make):
    proj = make({})
    assert proj.dataset_files() == []
    assert proj.datasets() == []


def test_datasets_stops_at_the_first_bad_file(make):
    proj = make({"evals/a.eval.yaml": "prompt: p\ncases:\n  - id: a\n", "evals/b.eval.yaml": "prompt: p\ncases: []\n"})
    with pytest.raises(SchemaError) as info:
        proj.datasets()
    assert info.value.json_path == "cases"
    assert (info.value.path, info.value.line, info.value.col) == ("evals/b.eval.yaml", 2, 8)
