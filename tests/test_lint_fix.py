"""`promptctl lint --fix`: the safe fixes (rules marked [*]) written into the files, comments and
layout kept, every fixed file still loading; what cannot be fixed safely is left and said."""

from __future__ import annotations

import json

import pytest
from conftest import run_promptctl, write_tree

CONFIG = "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n"


@pytest.fixture
def proj(tmp_path):
    return write_tree(tmp_path / "p", {
        "promptctl.yaml": CONFIG,
        "prompts/qa.prompt.yaml": """\
            # the prompt under test
            descripton: Answer a question.   # two spaces before this comment
            inputs: {q: string}
            messages:
              - role: sytem
                contnet: "Be brief."   # the typo, fixed
              - {role: "usr", content: "{{ q }}"}
            """,
        "evals/qa.eval.yaml": """\
            prompt: qa
            treshold: 0.5
            cases:
              - id: one
                inputs: {q: hi}
                assert: [{type: contains, value: hi}]
            """,
    })


def test_fix_renames_typos_in_prompts_and_datasets_keeping_comments(proj):
    r = run_promptctl(["lint"], proj)
    assert r.returncode == 1
    assert "5 fixable with `promptctl lint --fix`" in r.stderr
    r = run_promptctl(["lint", "--fix"], proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Fixed 5 findings in 2 files" in r.stderr and "All checks passed" in r.stderr
    assert (proj / "prompts/qa.prompt.yaml").read_text() == (
        "# the prompt under test\n"
        "description: Answer a question.   # two spaces before this comment\n"
        "inputs: {q: string}\n"
        "messages:\n"
        "  - role: system\n"
        '    content: "Be brief."   # the typo, fixed\n'
        '  - {role: "user", content: "{{ q }}"}\n')
    assert "threshold: 0.5" in (proj / "evals/qa.eval.yaml").read_text()
    r = run_promptctl(["lint", "--fix"], proj)  # nothing left to fix: the same files, untouched
    assert r.returncode == 0 and "Fixed" not in r.stderr


def test_fixes_say_where_they_are_in_json(proj):
    r = run_promptctl(["lint", "--format", "json"], proj)
    findings = json.loads(r.stdout)
    fixes = {(f["line"], f["fix"]["old"], f["fix"]["new"]) for f in findings if "fix" in f}
    assert fixes == {(2, "descripton", "description"), (5, "sytem", "system"), (6, "contnet", "content"),
                     (7, "usr", "user"), (2, "treshold", "threshold")}


def test_what_has_no_single_safe_fix_is_left_and_said(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": CONFIG,
        # `contnet` beside an existing `content`: renaming would clash; `xyz` is close to nothing
        "prompts/a.prompt.yaml": "xyz: 1\nmessages:\n  - role: user\n    content: hi\n    contnet: ho\n",
    })
    before = (root / "prompts/a.prompt.yaml").read_text()
    r = run_promptctl(["lint", "--fix", "--ignore", "PC506"], root)
    assert r.returncode == 1
    assert "Fixed" not in r.stderr
    assert (root / "prompts/a.prompt.yaml").read_text() == before
    assert "unknown field 'xyz'" in r.stdout and "unknown field 'messages[0].contnet'" in r.stdout


def test_a_fix_is_written_only_where_the_word_still_is(tmp_path):
    """A fix found on one version of a file is not applied to another: the text at line:col is checked."""
    from promptctl.lint.fixes import apply_fixes
    from promptctl.lint.rules import Finding

    path = tmp_path / "a.prompt.yaml"
    path.write_text("messages:\n  - role: user\n    content: hi\n")
    finding = Finding("PC102", "error", str(path), 2, 11, "x", "schema-violation", fix=("usr", "user"))
    done = apply_fixes([finding])
    assert done.count == 0 and "is not written there as one word" in done.skipped[0]
    assert path.read_text() == "messages:\n  - role: user\n    content: hi\n"


def test_fix_refuses_a_version_and_the_rules_say_which_are_fixable(proj):
    r = run_promptctl(["lint", "--fix", "--ref", "HEAD"], proj)
    assert r.returncode == 2 and "--fix" in r.stderr and "--ref" in r.stderr
    r = run_promptctl(["lint", "--explain", "PC102"], proj)
    assert "Fix: `promptctl lint --fix` renames a misspelt field or value" in r.stdout
    r = run_promptctl(["lint", "--explain", "PC201"], proj)
    assert "Fix: none that is always safe" in r.stdout
    rules = run_promptctl(["lint", "--list-rules"], proj).stdout.splitlines()
    assert [line.split()[0] for line in rules if "[*]" in line and line.startswith("PC")] == ["PC102", "PC502"]


def test_a_string_input_yaml_reads_as_a_boolean_or_number_is_pointed_at_and_fixed(tmp_path):
    """The Norway problem: `country: NO` is false in YAML. Lint says so where it is written, once
    (a default once for every case), and --fix quotes it; JSONL values and quoted ones are left."""
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/c.prompt.yaml": "inputs: {country: string, code: {type: [string, integer]}, n: number, yes_no: boolean}\n"
                                 "messages:\n  - role: user\n    content: \"{{ country }} {{ code }} {{ n }} {{ yes_no }}\"\n",
        "evals/c.eval.yaml": (
            "prompt: c\n"
            "defaults:\n"
            "  inputs: {country: on, code: 7, n: 1.5, yes_no: yes}\n"
            "cases:\n"
            "  - id: norway\n"
            "    inputs: {country: NO}\n"
            "  - id: sweden\n"
            "    inputs:\n"
            "      country: 1.10   # the version\n"
            "  - id: default-a\n"
            "  - id: default-b\n"
            "  - id: quoted\n"
            "    inputs: {country: \"NO\"}\n"
            "  - id: clock\n"
            "    inputs: {country: 12:30, code: 0123}\n"
            "  - file: rows.jsonl\n"
        ),
        "evals/rows.jsonl": '{"id": "json-true", "inputs": {"country": true}}\n',
    })
    r = run_promptctl(["lint", "--format", "json"], root)
    found = [(f["line"], f["col"], f["message"], f.get("fix")) for f in json.loads(r.stdout) if f["code"] == "PC502"]
    assert found[:4] == [
        (3, 21, "defaults.inputs: input 'country' must be a string, but YAML reads the unquoted on as boolean true; "
         "quote it: \"on\"", {"old": "on", "new": '"on"'}),
        (6, 23, "case 'norway': input 'country' must be a string, but YAML reads the unquoted NO as boolean false; "
         "quote it: \"NO\"", {"old": "NO", "new": '"NO"'}),
        (9, 16, "case 'sweden': input 'country' must be a string, but YAML reads the unquoted 1.10 as a number 1.1; "
         "quote it: \"1.10\"", {"old": "1.10", "new": '"1.10"'}),
        (15, 23, "case 'clock': input 'country' must be a string, but YAML reads the unquoted 12:30 as a number 750; "
         "quote it: \"12:30\"", {"old": "12:30", "new": '"12:30"'}),
    ]
    # 0123 is an integer, which `code` takes; a JSONL true is what JSON says: the usual message, no fix
    assert len(found) == 5 and "json-true" in found[4][2] and "got boolean True" in found[4][2] and found[4][3] is None
    r = run_promptctl(["lint", "--fix"], root)
    assert "Fixed 4 findings in 1 file" in r.stderr
    text = (root / "evals/c.eval.yaml").read_text()
    assert '{country: "on", code: 7' in text and '{country: "NO"}' in text and 'country: "1.10"   # the version' in text
    assert '{country: "12:30", code: 0123}' in text
    r = run_promptctl(["lint", "--format", "json"], root)
    assert [f["message"] for f in json.loads(r.stdout) if f["code"] == "PC502"] == [found[4][2]]


def test_a_field_yaml_reads_as_a_boolean_says_so_and_is_quoted_where_quoting_is_the_fix(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\nlint:\n  severity: {PC506: on}\n",
        "prompts/d.prompt.yaml": "description: yes\ninputs: {q: string}\nmessages:\n  - role: user\n    content: \"{{ q }}\"\n",
    })
    r = run_promptctl(["lint"], root)
    assert ('prompts/d.prompt.yaml:1:14: PC102 description: true is not of type string '
            '(YAML reads the unquoted yes as true: quote it, "yes")') in r.stdout
    assert ('promptctl.yaml:4:21: PC102 lint.severity.PC506: true is not one of "error", "warning", "off" '
            '(YAML reads the unquoted on as true, and "on" is not one of them either)') in r.stdout
    assert "1 fixable" in r.stderr  # the description; `on` has no one fix
    run_promptctl(["lint", "--fix"], root)
    assert (root / "prompts/d.prompt.yaml").read_text().startswith('description: "yes"\n')
    assert "severity: {PC506: on}" in (root / "promptctl.yaml").read_text()
