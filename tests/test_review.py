"""`promptctl review`: the cases a real `promptctl test` run (over HTTP, to the local test server) finds
different from their goldens are kept pending; --list, --accept-all and --reject-all for scripts;
the one-key loop in a real pseudo-terminal (pexpect); the `reviewed` field in datasets, schema and lint.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, local_project, run_promptctl, write_tree
from llm_server import LLMServer

from promptctl.errors import StaleReviewError
from promptctl.evals import pending
from promptctl.evals.results import RunResult
from promptctl.project import open_project
from promptctl.schemas import is_valid

ACTOR = "Rita Reviewer <rita@example.com>"
AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

QA = """\
    # goldens for the qa prompt
    prompt: qa
    threshold: 0.5
    cases:
      - id: a  # keep me
        description: says hello
        tags: [smoke]
        inputs: {q: "hello"}
        golden: "old"
      - id: same
        inputs: {q: "same"}
        golden: 'echo: same'
      - id: fresh        # no golden yet
        inputs: {q: "none"}
      - id: strict
        inputs: {q: "bye"}
        golden: old bye
        assert: [{type: icontains, value: farewell}]
      - file: more.jsonl
      - file: rows.csv
    """
MORE = '{"id": "j1", "inputs": {"q": "jay"}, "golden": "x", "tags": ["t"]}\n{"id": "j2", "inputs": {"q": "kay"}}\n'
ROWS = "id,q,golden\nr1,row one,old row\nr2,row two,\n"
OTHER = """\
    prompt: qa
    cases:
      - id: o1
        inputs: {q: "other"}
        golden: stale
    """
PENDING_QA = ["a", "fresh", "strict", "j1", "j2", "r1", "r2"]


@pytest.fixture(autouse=True)
def fresh_env(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-local-test")
    monkeypatch.setenv("PROMPTCTL_ACTOR", ACTOR)
    for var in ("GITHUB_STEP_SUMMARY", "PROMPTCTL_PROJECT", "EDITOR", "VISUAL"):
        monkeypatch.delenv(var, raising=False)


def make(tmp_path: Path, server: LLMServer, files: dict[str, str] | None = None) -> Path:
    return local_project(tmp_path / "p", server.url, files if files is not None else {
        "evals/qa.eval.yaml": QA,
        "evals/more.jsonl": MORE,
        "evals/rows.csv": ROWS,
        "evals/other.eval.yaml": OTHER,
    })


def ids(root: Path, **kw) -> list[str]:
    return [e.case for e in pending.load_pending(root, **kw)]


def run_test(cli, root: Path, *args: str):
    r = cli(["test", *args], cwd=root)
    assert r.code in (0, 1), r.err
    return r


# -- the pending store -------------------------------------------------------------------------


def test_a_run_keeps_every_case_whose_output_differs_from_its_golden(tmp_path, server, cli):
    root = make(tmp_path, server)
    r = run_test(cli, root)
    assert r.code == 0, r.err  # `strict` fails, within the threshold
    assert "8 cases pending review: promptctl review" in r.err
    assert ids(root) == ["o1", *PENDING_QA]  # datasets by path (other < qa), cases in dataset order
    store = root / ".promptctl/pending"
    assert (store / ".gitignore").read_text().splitlines()[-1] == "*"
    assert sorted(p.relative_to(store).as_posix() for p in store.rglob("*.jsonl")) == [
        "evals/other.eval.yaml.jsonl", "evals/qa.eval.yaml.jsonl"]
    by_id = {e.case: e for e in pending.load_pending(root)}
    a = by_id["a"]
    assert (a.dataset, a.dataset_name, a.prompt, a.source, a.line) == ("evals/qa.eval.yaml", "qa", "qa", "evals/qa.eval.yaml", 5)
    assert (a.description, a.tags, dict(a.inputs)) == ("says hello", ("smoke",), {"q": "hello"})
    assert (a.old, a.new, a.output, a.status, a.score) == ("old", "echo: hello", "echo: hello", "passed", 1.0)
    assert a.model and a.run["version"] == "working tree" and a.run["mode"] == "auto" and AT.fullmatch(a.run["at"])
    assert a.key == "evals/qa.eval.yaml#a" and a.name == "qa/a" and a.where == "evals/qa.eval.yaml:5"
    strict = by_id["strict"]
    assert strict.status == "failed" and strict.score == 0.0 and "farewell" in strict.reason
    assert [(x["type"], x["pass"]) for x in strict.asserts] == [("icontains", False)]
    assert "farewell" in strict.asserts[0]["reason"]
    assert by_id["fresh"].old is None and by_id["fresh"].new == "echo: none"
    assert (by_id["j1"].source, by_id["j1"].line, by_id["j1"].tags) == ("evals/more.jsonl", 1, ("t",))
    assert (by_id["r1"].source, by_id["r1"].line, by_id["r2"].old) == ("evals/rows.csv", 2, None)
    # the filters of `promptctl review`
    assert ids(root, names=["other"]) == ["o1"]
    assert ids(root, names=["evals/qa.eval.yaml"]) == PENDING_QA
    assert ids(root, names=["qa"]) == ["o1", *PENDING_QA]  # a dataset name, or a prompt name: both test qa
    assert ids(root, names=["evals"]) == ["o1", *PENDING_QA]  # a folder
    assert ids(root, filter="hello") == ["a"] and ids(root, filter="t") == ["strict", "j1"]
    assert ids(root, filter="smoke") == ["a"]


def test_a_rerun_replaces_only_the_cases_it_ran(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    server.answers["hello"] = "old"  # `a` now matches its golden
    server.answers["none"] = "now something else"
    r = run_test(cli, root, "qa", "--mode", "refresh", "-k", "a")  # ids with an a: a, same
    assert "7 cases pending review" in r.err
    assert ids(root) == ["o1", "fresh", "strict", "j1", "j2", "r1", "r2"]
    assert {e.case: e.new for e in pending.load_pending(root)}["fresh"] == "echo: none"  # not run: left alone
    run_test(cli, root, "qa", "--mode", "refresh")
    assert {e.case: e.new for e in pending.load_pending(root)}["fresh"] == "now something else"
    assert ids(root, names=["other"]) == ["o1"]  # a dataset that was not run keeps its entries
    (root / "evals/other.eval.yaml").write_text(OTHER.replace("stale", "'echo: other'"))
    r = run_test(cli, root, "other")
    assert ids(root, names=["other"]) == [] and not (root / ".promptctl/pending/evals/other.eval.yaml.jsonl").exists()
    assert "6 cases pending review" in r.err


def test_update_golden_clears_the_cases_it_wrote_and_nothing_is_kept_for_other_versions(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    r = run_test(cli, root, "qa", "--update-golden")
    assert "goldens: 7 cases updated" in r.err
    assert ids(root) == ["o1"] and "1 case pending review: promptctl review" in r.err
    r = run_test(cli, root, "other", "--update-golden")
    assert ids(root) == [] and "pending review" not in r.err
    assert not list((root / ".promptctl/pending").rglob("*.jsonl"))
    compare = RunResult(datasets=[], mode="replay", models=["a", "b"])
    assert pending.save_pending(root, compare) == 0
    older = RunResult(datasets=[], mode="replay", version="v3")
    assert pending.save_pending(root, older) == 0


def test_a_project_without_differences_writes_no_state(tmp_path, server, cli):
    root = make(tmp_path, server, {"evals/qa.eval.yaml": "prompt: qa\ncases:\n  - {id: a, inputs: {q: hi}, golden: 'echo: hi'}\n"})
    r = run_test(cli, root)
    assert "pending review" not in r.err
    assert not (root / ".promptctl/pending").exists()
    r = cli(["review"], cwd=root)
    assert r.code == 0 and "nothing pending review" in r.err
    r = cli(["review", "--list", "--format", "json"], cwd=root)
    assert r.code == 0 and json.loads(r.out) == []


def test_known_secrets_are_never_kept_and_such_a_case_can_still_be_accepted(tmp_path, server, cli, monkeypatch):
    key = "sk-pending-canary-7f3e9a1b"
    monkeypatch.setenv("LOCAL_KEY", key)
    root = make(tmp_path, server, {"evals/qa.eval.yaml": f"""\
        prompt: qa
        cases:
          - id: k
            description: mentions {key}
            inputs: {{q: "the key {key}"}}
            golden: "old {key}"
        """})
    run_test(cli, root)
    kept = "".join(p.read_text() for p in (root / ".promptctl/pending").rglob("*.jsonl"))
    assert key not in kept and "***" in kept
    (entry,) = pending.load_pending(root)
    assert entry.old == "old ***" and entry.inputs == {"q": "the key ***"} and entry.new == "echo: the key ***"
    r = cli(["review", "--accept-all"], cwd=root)
    assert r.code == 0, r.err  # the golden the run saw is recognised by its hash, not its redacted text
    assert 'golden: "echo: the key ***"' in (root / "evals/qa.eval.yaml").read_text()


def test_a_rerun_that_changes_nothing_leaves_the_store_file_as_it_is(tmp_path, server, cli, monkeypatch):
    root = make(tmp_path, server)
    store = root / ".promptctl/pending/evals/qa.eval.yaml.jsonl"

    def rewritten(*args: str) -> bool:  # every write replaces the file (a new inode)
        before = store.stat().st_ino
        r = run_test(cli, root, *args)
        assert "pending review: promptctl review" in r.err
        return store.stat().st_ino != before

    run_test(cli, root)
    text = store.read_text()
    assert all(line.startswith('{"fp": "') for line in text.splitlines())
    assert not rewritten() and store.read_text() == text  # replayed: the same entries, the first run's time kept
    assert not rewritten("qa")
    assert ids(root) == ["o1", *PENDING_QA]
    assert rewritten("qa", "--mode", "replay")  # a run in another mode says so in its entries
    assert not rewritten("qa", "--mode", "replay")
    server.answers["none"] = "now something else"
    assert rewritten("qa", "--mode", "refresh")  # an output changed
    assert {e.case: e.new for e in pending.load_pending(root)}["fresh"] == "now something else"
    assert not rewritten("qa", "--mode", "refresh")
    qa = root / "evals/qa.eval.yaml"
    qa.write_text(qa.read_text().replace('golden: "old"', 'golden: "older"'))
    assert rewritten("qa", "--mode", "refresh")  # a golden changed
    assert {e.case: e.old for e in pending.load_pending(root)}["a"] == "older"
    (root / "evals/rows.csv").write_text("id,q,golden\nr1,row one,old row\n")
    assert rewritten("qa", "--mode", "refresh")  # a case removed
    assert "r2" not in ids(root)
    # a store written without fingerprints (an older promptctl) is read, and written anew
    store.write_text("".join(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "fp"}) + "\n" for line in text.splitlines()))
    assert "r2" in ids(root)
    assert rewritten("qa", "--mode", "refresh") and "r2" not in ids(root)
    assert all(line.startswith('{"fp": "') for line in store.read_text().splitlines())
    monkeypatch.setenv("LOCAL_KEY", "sk-now-another-key")  # a secret that appears nowhere changes nothing
    assert not rewritten("qa", "--mode", "refresh")


# -- --list ------------------------------------------------------------------------------------


def test_list_as_text_and_json(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    r = cli(["review", "--list", "qa", "-k", "r"], cwd=root)  # fresh, strict, r1, r2
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert [line.split()[0] for line in lines] == ["qa/fresh", "qa/strict", "qa/r1", "qa/r2"]
    assert re.fullmatch(r'qa/fresh +passed +evals/qa\.eval\.yaml:13 +new golden: "echo: none"', lines[0])
    assert re.fullmatch(r'qa/strict +failed +evals/qa\.eval\.yaml:15 +"old bye" → "echo: bye"', lines[1])
    assert re.fullmatch(r'qa/r1 +passed +evals/rows\.csv:2 +"old row" → "echo: row one"', lines[2])
    assert "4 cases pending review" in r.err
    r = cli(["review", "--list", "--format", "json"], cwd=root)
    data = json.loads(r.out)
    assert [d["case"] for d in data] == ["o1", *PENDING_QA]
    a = data[1]
    assert {k: a[k] for k in ("dataset", "case", "source", "line", "old", "new", "status", "tags")} == {
        "dataset": "evals/qa.eval.yaml", "case": "a", "source": "evals/qa.eval.yaml", "line": 5,
        "old": "old", "new": "echo: hello", "status": "passed", "tags": ["smoke"]}
    assert set(a) >= {"description", "inputs", "score", "reason", "asserts", "model", "run", "dataset_name"}
    r = cli(["review", "--list", "nosuch"], cwd=root)
    assert r.code == 2 and "no dataset or prompt named 'nosuch'" in r.err
    r = cli(["review", "--list", "--accept-all"], cwd=root)
    assert r.code == 2 and "cannot be combined" in r.err
    r = cli(["review", "--format", "json"], cwd=root)
    assert r.code == 2 and "--format goes with --list" in r.err


# -- --accept-all and --reject-all ---------------------------------------------------------------


def test_accept_all_writes_the_goldens_keeping_the_files_and_records_the_reviewer(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    r = cli(["review", "--accept-all", "qa"], cwd=root)
    assert r.code == 0, r.err
    assert "accepted qa/a: golden written to evals/qa.eval.yaml:5" in r.err and "accepted 7 cases" in r.err
    text = (root / "evals/qa.eval.yaml").read_text()
    at = AT.search(text).group(0)
    mark = f'reviewed: {{by: {ACTOR}, at: "{at}"}}'
    assert text == f"""\
# goldens for the qa prompt
prompt: qa
threshold: 0.5
cases:
  - id: a  # keep me
    description: says hello
    tags: [smoke]
    inputs: {{q: "hello"}}
    golden: "echo: hello"
    {mark}
  - id: same
    inputs: {{q: "same"}}
    golden: 'echo: same'
  - id: fresh        # no golden yet
    inputs: {{q: "none"}}
    golden: 'echo: none'
    {mark}
  - id: strict
    inputs: {{q: "bye"}}
    golden: 'echo: bye'
    {mark}
    assert: [{{type: icontains, value: farewell}}]
  - file: more.jsonl
  - file: rows.csv
"""
    review = {"by": ACTOR, "at": at}
    assert [json.loads(line) for line in (root / "evals/more.jsonl").read_text().splitlines()] == [
        {"id": "j1", "inputs": {"q": "jay"}, "golden": "echo: jay", "reviewed": review, "tags": ["t"]},
        {"id": "j2", "inputs": {"q": "kay"}, "golden": "echo: kay", "reviewed": review},
    ]
    assert list(json.loads((root / "evals/more.jsonl").read_text().splitlines()[0])) == [
        "id", "inputs", "golden", "reviewed", "tags"]  # key order kept, reviewed right after the golden
    assert (root / "evals/rows.csv").read_text() == (
        "id,q,golden,reviewed_by,reviewed_at\n"
        f"r1,row one,echo: row one,{ACTOR},{at}\n"
        f"r2,row two,echo: row two,{ACTOR},{at}\n")
    assert ids(root) == ["o1"]  # the other dataset was not named
    cases = {c.id: c for c in open_project(root).load_dataset("evals/qa.eval.yaml").cases}
    assert cases["a"].reviewed == review and cases["r1"].reviewed == review and cases["same"].reviewed is None
    assert dict(cases["r1"].inputs) == {"q": "row one"}  # reviewed_by/at are metadata, not inputs
    assert cli(["lint"], cwd=root).code == 0
    r = run_test(cli, root, "qa")  # every output now matches: nothing more to review there
    assert ids(root) == ["o1"] and "1 case pending review" in r.err and "qa" in r.err


def test_accepting_again_replaces_the_reviewed_mark_in_place(tmp_path, server, cli, monkeypatch):
    root = make(tmp_path, server)
    run_test(cli, root)
    assert cli(["review", "--accept-all", "-k", "hello"], cwd=root).code == 0
    server.answers["hello"] = "hi again"
    run_test(cli, root, "qa", "--mode", "refresh")
    monkeypatch.setenv("PROMPTCTL_ACTOR", "Sam Second <sam@example.com>")
    assert cli(["review", "--accept-all", "-k", "hello"], cwd=root).code == 0
    text = (root / "evals/qa.eval.yaml").read_text()
    assert text.count("reviewed:") == 1
    assert re.search(r'    golden: "hi again"\n    reviewed: \{by: Sam Second <sam@example.com>, at: "[^"]+"\}\n  - id: same', text)


def test_reject_all_leaves_the_files_byte_identical(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    before = {p: p.read_bytes() for p in (root / "evals").iterdir()}
    r = cli(["review", "--reject-all"], cwd=root)
    assert r.code == 0, r.err
    assert "rejected qa/a (evals/qa.eval.yaml:5)" in r.err and "rejected 8 cases" in r.err
    assert {p: p.read_bytes() for p in (root / "evals").iterdir()} == before
    assert ids(root) == []
    r = cli(["review", "--reject-all"], cwd=root)
    assert r.code == 0 and "nothing pending review" in r.err


def test_a_golden_changed_after_the_run_is_refused_for_that_case(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    path = root / "evals/qa.eval.yaml"
    path.write_text(path.read_text().replace('golden: "old"', 'golden: "edited by hand"'))
    (root / "evals/more.jsonl").write_text(MORE.replace('"x"', '"y"'))
    r = cli(["review", "--accept-all", "qa"], cwd=root)
    assert r.code == 1
    assert ("refused qa/a: its golden in evals/qa.eval.yaml:5 changed since the run; "
            "run `promptctl test evals/qa.eval.yaml -k a` again, then review it") in r.err
    assert "refused qa/j1: its golden in evals/more.jsonl:1 changed since the run" in r.err
    assert "accepted 5 cases, refused 2 (still pending)" in r.err
    assert 'golden: "edited by hand"' in path.read_text() and "golden: 'echo: none'" in path.read_text()
    assert ids(root) == ["o1", "a", "j1"]
    entry = next(e for e in pending.load_pending(root) if e.case == "a")
    with pytest.raises(StaleReviewError, match="changed since the run") as e:
        pending.accept(root, entry)
    assert e.value.exit_code == 1 and "promptctl test" in e.value.hint
    # a case that already holds the proposed golden is accepted (nothing to refuse)
    path.write_text(path.read_text().replace('golden: "edited by hand"', 'golden: "echo: hello"'))
    change = pending.accept(root, entry, actor="Someone <s@example.com>")
    assert (change.case, change.new) == ("a", "echo: hello")
    assert 'reviewed: {by: Someone <s@example.com>, at: "' in path.read_text()
    jsonl = (root / "evals/more.jsonl").read_bytes()
    pending.reject(root, next(e for e in pending.load_pending(root) if e.case == "j1"))
    assert ids(root) == ["o1"] and (root / "evals/more.jsonl").read_bytes() == jsonl


def test_a_removed_case_is_refused(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    (root / "evals/other.eval.yaml").write_text(OTHER.replace("o1", "o2"))
    r = cli(["review", "--accept-all", "other"], cwd=root)
    assert r.code == 1 and "refused other/o1: evals/other.eval.yaml has no case 'o1' any more" in r.err


def test_accept_api_with_an_edited_golden(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    entry = next(e for e in pending.load_pending(root) if e.case == "o1")
    pending.accept(root, entry, golden="my own words")
    text = (root / "evals/other.eval.yaml").read_text()
    assert "golden: my own words\n" in text and f'reviewed: {{by: {ACTOR}, at: "' in text
    assert "o1" not in ids(root)


# -- the terminal loop -------------------------------------------------------------------------


def test_no_terminal_is_refused_with_what_to_run_instead(tmp_path, server, cli):
    root = make(tmp_path, server)
    run_test(cli, root)
    p = run_promptctl(["review"], root, stdin=subprocess.DEVNULL, env={"PYTHONPATH": str(REPO)}, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "stdin is not one" in p.stderr
    assert "promptctl review --list" in p.stderr and "--accept-all" in p.stderr and "--reject-all" in p.stderr
    assert len(ids(root)) == 8


THREE = """\
    prompt: qa
    cases:
      - id: x  # first
        inputs: {q: "ex"}
        golden: old x
      - id: y
        inputs: {q: "why"}
        golden: old y
      - id: z
        inputs: {q: "zed"}
    """


def spawn(root: Path, **env: str):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "promptctl", "review"], cwd=str(root), encoding="utf-8", timeout=10,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, dimensions=(50, 140))
    return pexpect, child


def test_the_loop_in_a_real_terminal_accepts_rejects_and_skips(tmp_path, server, cli):
    root = make(tmp_path, server, {"evals/three.eval.yaml": THREE})
    run_test(cli, root)
    before = (root / "evals/three.eval.yaml").read_text()
    pexpect, child = spawn(root)
    try:
        child.expect_exact("1/3  three/x")
        child.expect_exact("evals/three.eval.yaml:3")
        child.expect_exact("-old x")
        child.expect_exact("+echo: ex")
        child.expect_exact("[?]help")
        child.send("?")
        child.expect_exact("edit the new output in $EDITOR")
        child.send("a")
        child.expect_exact("golden written to evals/three.eval.yaml:3")
        child.expect_exact("2/3  three/y")
        child.send("r")
        child.expect_exact("rejected")
        child.expect_exact("3/3  three/z")
        child.expect_exact("no golden yet")
        child.send("s")
        child.expect_exact("accepted 1, rejected 1, skipped 1")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    text = (root / "evals/three.eval.yaml").read_text()
    at = AT.search(text).group(0)
    assert text == before.replace("golden: old x\n", f"golden: 'echo: ex'\n    reviewed: {{by: {ACTOR}, at: \"{at}\"}}\n")
    assert "golden: old y" in text and "golden: 'echo: ex'" in text
    assert ids(root) == ["z"]


def test_the_loop_edits_the_new_golden_in_editor(tmp_path, server, cli):
    root = make(tmp_path, server, {"evals/three.eval.yaml": THREE})
    run_test(cli, root)
    editor = write_tree(tmp_path / "bin", {
        "edit.py": "import sys\nopen(sys.argv[1], 'w').write('written in the editor\\n')\n",
        "empty.py": "import sys\nopen(sys.argv[1], 'w').write('')\n",
    })
    pexpect, child = spawn(root, EDITOR=f"{sys.executable} {editor / 'empty.py'}")
    try:
        child.expect_exact("1/3  three/x")
        child.expect_exact("[?]help")
        child.send("e")
        child.expect_exact("empty file: edit cancelled")
        child.expect_exact("[?]help")
        child.send("q")
        child.expect_exact("accepted 0, rejected 0, skipped 3")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0 and "old x" in (root / "evals/three.eval.yaml").read_text()
    pexpect, child = spawn(root, EDITOR=f"{sys.executable} {editor / 'edit.py'}", VISUAL="false")
    try:
        child.expect_exact("1/3  three/x")
        child.expect_exact("[?]help")
        child.send("e")
        child.expect_exact("accepted as edited: golden written to evals/three.eval.yaml:3")
        child.expect_exact("2/3  three/y")
        child.send("q")
        child.expect_exact("accepted 1, rejected 0, skipped 2")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    text = (root / "evals/three.eval.yaml").read_text()
    assert "    golden: written in the editor\n    reviewed: {by: " in text
    assert ids(root) == ["y", "z"]


def test_ctrl_c_in_the_loop_keeps_the_rest_pending(tmp_path, server, cli):
    root = make(tmp_path, server, {"evals/three.eval.yaml": THREE})
    run_test(cli, root)
    pexpect, child = spawn(root)
    try:
        child.expect_exact("1/3  three/x")
        child.expect_exact("[?]help")
        child.send("\x03")
        child.expect_exact("accepted 0, rejected 0, skipped 3")
        child.expect_exact("interrupted: the cases not accepted or rejected stay pending")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130
    assert ids(root) == ["x", "y", "z"]


# -- the reviewed field ------------------------------------------------------------------------


def test_the_schema_lint_and_loaders_accept_reviewed(tmp_path, server, cli):
    mark = {"by": ACTOR, "at": "2026-12-06T20:15:00Z"}
    assert is_valid({"prompt": "qa", "cases": [{"id": "a", "golden": "g", "reviewed": mark}]}, "dataset")
    for bad in ("yes", {"by": ACTOR}, {"by": "", "at": "2026-12-06T20:15:00Z"}, {**mark, "at": "yesterday"},
                {**mark, "extra": 1}):
        assert not is_valid({"prompt": "qa", "cases": [{"id": "a", "reviewed": bad}]}, "dataset"), bad
    root = make(tmp_path, server, {
        "evals/qa.eval.yaml": f"""\
            prompt: qa
            cases:
              - id: a
                inputs: {{q: hi}}
                golden: "echo: hi"
                reviewed: {{by: "{ACTOR}", at: "2026-12-06T20:15:00Z"}}
              - file: more.jsonl
              - file: rows.csv
            """,
        "evals/more.jsonl": json.dumps({"id": "j", "inputs": {"q": "jay"}, "golden": "echo: jay", "reviewed": mark}) + "\n",
        "evals/rows.csv": f"id,q,golden,reviewed_by,reviewed_at\nr,row,echo: row,{ACTOR},2026-12-06T20:15:00Z\n",
    })
    r = cli(["lint"], cwd=root)
    assert r.code == 0, r.out + r.err
    cases = {c.id: c for c in open_project(root).load_dataset("evals/qa.eval.yaml").cases}
    assert cases["a"].reviewed == mark and cases["j"].reviewed == mark and cases["r"].reviewed == mark
    assert dict(cases["r"].inputs) == {"q": "row"}
    r = run_test(cli, root)
    assert r.code == 0 and "pending review" not in r.err


def test_a_malformed_reviewed_is_a_located_error(tmp_path, server, cli):
    root = make(tmp_path, server, {
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n  - id: a\n    inputs: {q: hi}\n    reviewed: yes\n",
    })
    r = cli(["test"], cwd=root)
    assert r.code == 2
    assert "evals/qa.eval.yaml:5:15" in r.err and "reviewed" in r.err and "not of type object" in r.err
    r = cli(["lint"], cwd=root)
    assert r.code == 1 and "evals/qa.eval.yaml:5:15" in r.out + r.err
    write_tree(root, {
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n  - file: more.jsonl\n",
        "evals/more.jsonl": '{"id": "j", "inputs": {"q": "a"}}\n{"id": "k", "inputs": {"q": "b"}, "reviewed": {"by": "me"}}\n',
    })
    r = cli(["test"], cwd=root)
    assert r.code == 2 and "evals/more.jsonl:2:1" in r.err and "reviewed" in r.err and "'at'" in r.err


def test_a_reviewed_mark_is_written_as_fmt_writes_it(tmp_path):
    """With the promptctl-fmt hook on, accepting a golden leaves nothing for the hook to change."""
    from conftest import run_promptctl

    from promptctl.evals.goldens import write_goldens
    from promptctl.model import Case

    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\n",
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n  - id: a\n    inputs: {q: hi}\n    golden: old\n",
    })
    assert run_promptctl(["fmt", "--check"], root).returncode == 0
    path = root / "evals/qa.eval.yaml"
    write_goldens([(Case(id="a", inputs={}, source=str(path)), "new: answer")],
                  reviewed={"by": ACTOR, "at": "2026-12-06T20:15:00Z"})
    assert f'reviewed: {{by: {ACTOR}, at: "2026-12-06T20:15:00Z"}}' in path.read_text()
    r = run_promptctl(["fmt", "--check"], root)
    assert r.returncode == 0, r.stdout + r.stderr
