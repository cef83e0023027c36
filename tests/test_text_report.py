"""The text report shows what happened: a failing case's output beside its golden (a short diff when
they are long), `-q` only the summary, `-v` every case; a model's control characters stay inert."""

from __future__ import annotations

import pytest
from conftest import local_project

from promptctl.evals import reports
from promptctl.evals.results import CaseResult, DatasetResult, RunResult
from promptctl.model import Dataset


def _run(*cases: CaseResult) -> RunResult:
    dataset = Dataset(path="evals/qa.eval.yaml", prompt="qa", cases=(), threshold=0.5)
    return RunResult([DatasetResult(dataset, "local", "qa@abc1234", list(cases))], mode="replay")


def _case(id: str, status: str, output: str | None, golden, reason: str = "") -> CaseResult:
    return CaseResult(id, status, score=float(status == "passed"), reason=reason, output=output, golden=golden,
                      source=f"evals/qa.eval.yaml:{len(id)}", latency_ms=12.0)


def test_the_terminal_table_folds_long_names_instead_of_cutting_them(monkeypatch):
    import io

    name = "customer-support-escalations-for-enterprise-accounts-in-europe"
    dataset = Dataset(path=f"evals/{name}.eval.yaml", prompt=f"team/{name}", cases=(), threshold=0.5)
    run = RunResult([DatasetResult(dataset, "openai/gpt-4o-mini-2024-07-18", f"team/{name}@abc1234",
                                   [_case("a", "passed", "x", "x")])], mode="replay")
    for width in ("160", "120", "112"):
        monkeypatch.setenv("COLUMNS", width)
        out = io.StringIO()
        reports.print_rich(run, out)
        text = out.getvalue()
        assert "…" not in text, text
        assert max(len(line) for line in text.splitlines()) <= int(width)
        lines = text.splitlines()
        if "│" in text:  # the boxed table (wide terminals)
            rows = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
        else:  # the lighter table: columns where the header's are
            head = next(line for line in lines if line.lstrip().startswith("dataset"))
            starts = [head.index(h) for h in ("dataset", "prompt", "model", "pass rate")]
            body = lines[lines.index(head) + 2:]
            rows = [[line[a:b] for a, b in zip(starts, starts[1:], strict=False)] for line in body if line[:starts[1]].strip() and not line.startswith("ok:")]
        column = ["".join(row[i].strip() for row in rows) for i in range(3)]  # a folded cell, read down its lines
        assert column[0] == name
        assert column[1] == f"team/{name}"
        assert column[2] == "openai/gpt-4o-mini-2024-07-18"
        assert "100.0%" in text and "1/1" in text  # figures whole
    monkeypatch.setenv("COLUMNS", "80")  # too narrow for a table: the plain report, each name whole on its line
    out = io.StringIO()
    reports.print_rich(run, out)
    assert f"team/{name}" in out.getvalue() and "…" not in out.getvalue()


def test_a_failing_case_shows_its_output_and_golden():
    text = reports.format_text(_run(_case("short", "failed", "no money back", "yes, a refund", "icontains: no 'refund'")))
    assert "  qa/short failed: icontains: no 'refund' (evals/qa.eval.yaml:5)\n" \
           "      output: no money back\n      golden: yes, a refund\n" in text


def test_long_texts_show_a_short_diff():
    golden = "\n".join(f"line {i} of the expected answer" for i in range(40))
    output = golden.replace("line 3 of", "line three of").replace("line 30 of", "row 30 of")
    text = reports.format_text(_run(_case("long", "failed", output, golden, "similar: 0.4 < 0.9")))
    assert ("      golden → output:\n         line 2 of the expected answer\n        -line 3 of the expected answer\n"
            "        +line three of the expected answer\n         line 4 of the expected answer\n         …\n"
            "         line 29 of the expected answer\n        -line 30 of the expected answer\n") in text
    assert "line 20 of" not in text  # only what changed, with one line of context


def test_a_very_long_diff_is_cut_with_where_to_look():
    golden = "\n".join(f"expected {i}" for i in range(50))
    output = "\n".join(f"actual {i}" for i in range(50))
    text = reports.format_text(_run(_case("big", "failed", output, golden, "equals: differs")))
    assert f"… {100 - reports.DIFF_LINES} more lines (see --format html)" in text


def test_json_goldens_are_compared_as_indented_json():
    text = reports.format_text(_run(_case("j", "failed", '{"a": 1, "b": [1, 2, 3], "c": "a long value to make it long enough"}',
                                          {"a": 1, "b": [1, 2, 4], "c": "a long value to make it long enough"})))
    assert "-    4" in text and "+    3" in text


def test_no_golden_shows_the_output():
    text = reports.format_text(_run(_case("n", "failed", "what it said", None, "contains: x")))
    assert "output: what it said\n      golden: (none)" in text


def test_control_characters_in_an_output_are_escaped():
    text = reports.format_text(_run(_case("esc", "failed", "\x1b]0;pwned\x07\x1b[2Jcleared", "fine", "contains: fine")))
    assert "\x1b" not in text and "\x07" not in text
    assert "output: \\x1b]0;pwned\\x07\\x1b[2Jcleared" in text


def test_quiet_is_the_summary_and_verbose_is_every_case():
    run = _run(_case("good", "passed", "hi", "hi"), _case("bad", "failed", "no", "yes", "equals: differs"))
    assert reports.format_text(run, verbosity=reports.QUIET) == reports.summary_line(run) + "\n"
    normal = reports.format_text(run)
    assert "qa/bad failed" in normal and "qa/good" not in normal
    verbose = reports.format_text(run, verbosity=reports.VERBOSE)
    assert "cases (2):" in verbose and "qa/good passed (score 1.00, 12ms)" in verbose and "qa/bad failed" in verbose


# -- through the CLI -------------------------------------------------------------------------------


@pytest.fixture
def proj(tmp_path, server, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    server.reset()
    server.answers.update({"hello": "hello there", "refund?": "no money back"})
    return local_project(tmp_path / "p", server.url, {
        "evals/qa.eval.yaml": """\
            prompt: qa
            threshold: 0.5
            cases:
              - {id: hello, inputs: {q: hello}, golden: hello there, assert: [{type: icontains, value: hello}]}
              - {id: refund, inputs: {q: "refund?"}, golden: "yes, a refund", assert: [{type: icontains, value: refund}]}
            """,
    })


def test_cli_quiet_verbose_and_normal(proj, cli):
    r = cli(["test"], cwd=proj)
    assert r.code == 0
    assert "output: no money back" in r.err and "golden: yes, a refund" in r.err and "qa/hello" not in r.err.split("failed cases")[1]
    r = cli(["test", "-q"], cwd=proj)
    assert r.code == 0
    assert "FAIL qa/refund" not in r.err and "dataset" not in r.err  # no progress lines, no table
    assert r.err.startswith("ok: 1 passed, 1 failed")
    r = cli(["test", "-v"], cwd=proj)
    assert "qa/hello passed" in r.err and "qa/refund failed" in r.err
    r = cli(["test", "-q", "-v"], cwd=proj)
    assert r.code == 2 and "--quiet and --verbose" in r.err
    assert cli(["test", "--format", "json", "-o", "run.json"], cwd=proj).code == 0
    r = cli(["report", "run.json", "-v"], cwd=proj)
    assert r.code == 0 and "qa/hello passed" in r.err and "output: no money back" in r.err


def test_the_summary_counts_in_the_singular_and_the_plural():
    run = _run(_case("bad", "error", None, None, "HTTP 500"))
    run.live_calls = 1
    line = reports.summary_line(run)
    assert "1 error;" in line and "1 live call," in line and "errors" not in line
    run.live_calls = 2
    assert "2 live calls" in reports.summary_line(run)


def test_dash_capital_v_prints_the_version(cli):
    from promptctl import __version__

    r = cli(["-V"])
    assert r.code == 0 and r.out.strip() == f"promptctl {__version__}"


def test_costs_in_the_json_report_are_written_without_float_noise():
    import json

    from promptctl.evals.results import CaseResult

    case = CaseResult("a", "passed", cost_usd=1.01e-05 + 2.02e-05)  # 3.0299999999999998e-05 as a float sum
    assert '"cost_usd": 3.03e-05' in json.dumps(case.to_json())
    assert CaseResult("b", "passed").to_json()["cost_usd"] is None
