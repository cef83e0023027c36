"""`promptctl lint`: exit codes, output formats, suppression, PATHS mode, --ref, model data, start-up imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, GitRepo, doc_section, run_promptctl, write_tree
from test_lint_rules import BASE, EVAL, GREET, PROMPT, greet, make

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json"

BROKEN = greet(user='    content: "Say {{ whom }} to {{ who }}"')  # PC202 at 11:22, and nothing else


def lint(cli, root: Path, *args: str):
    return cli(["lint", *args], cwd=root)


# -- exit codes and streams -------------------------------------------------------------------------


def test_clean_project_exits_0_with_summary_on_stderr(cli, tmp_path):
    r = lint(cli, make(tmp_path / "p", {}))
    assert (r.code, r.out) == (0, "")
    assert re.fullmatch(r"All checks passed \(4 files checked\)\.\n", r.err)


def test_errors_exit_1_text_is_ruff_style(cli, tmp_path):
    r = lint(cli, make(tmp_path / "p", {PROMPT: BROKEN}))
    assert r.code == 1
    assert r.out == (
        "prompts/greet.prompt.yaml:11:22: PC202 'whom' is not declared under `inputs`; did you mean 'who'?\n"
    )
    assert r.err == "Found 1 error (4 files checked).\n"


def test_warnings_alone_exit_0(cli, tmp_path):
    r = lint(cli, make(tmp_path / "p", {EVAL: None}))
    assert r.code == 0
    assert r.out == (
        "prompts/greet.prompt.yaml:1:1: PC506 [warning] prompt 'greet' has no dataset; "
        "add an evals/*.eval.yaml with `prompt: greet`\n"
    )
    assert "1 warning" in r.err


def test_exit_zero(cli, tmp_path):
    r = lint(cli, make(tmp_path / "p", {PROMPT: BROKEN}), "--exit-zero")
    assert r.code == 0 and "PC202" in r.out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--select", "PC9"], "--select: no lint rule matches 'PC9'"),
        (["--ignore", "XX1"], "--ignore: no lint rule matches 'XX1'"),
        (["--explain", "PC999"], "no lint rule 'PC999'"),
        (["no/such/file.prompt.yaml"], "no/such/file.prompt.yaml: no such file or folder"),
        (["--ref", "-x"], "invalid revision"),
    ],
)
def test_bad_usage_exits_2(cli, tmp_path, args, message):
    r = lint(cli, make(tmp_path / "p", {}), *args)
    assert r.code == 2, r
    assert message in r.err and r.out == ""


def test_bad_format_exits_2(cli, tmp_path):
    assert lint(cli, make(tmp_path / "p", {}), "--format", "xml").code == 2


def test_no_project_exits_2(cli, tmp_path):
    r = lint(cli, tmp_path)
    assert r.code == 2 and "no promptctl.yaml found" in r.err


def test_explain(cli, tmp_path):
    r = cli(["lint", "--explain", "PC204"], cwd=tmp_path)  # needs no project
    assert r.code == 0
    assert r.out.startswith("PC204 unknown-attribute (template rule, error, on by default)")
    assert "user.nmae" in r.out and "ignore[PC204]" in r.out
    assert cli(["lint", "--explain", "undeclared-variable"], cwd=tmp_path).out.startswith("PC202 ")


def test_broken_config_is_a_finding_and_the_rest_is_still_linted(cli, tmp_path):
    root = make(tmp_path / "p", {"promptctl.yaml": "promptctl: 1\nprompts: prompts\nprompts: again\n", PROMPT: BROKEN})
    r = lint(cli, root, "--format", "json")
    got = {(f["path"], f["code"]) for f in json.loads(r.out)}
    assert got == {("promptctl.yaml", "PC101"), (PROMPT, "PC202")}


# -- formats -----------------------------------------------------------------------------------------


def many_findings(tmp_path: Path) -> Path:
    return make(tmp_path / "p", {
        PROMPT: greet(user='    content: "Say, hello: to {{ whom }} and {{ who }}, 100%"'),
        EVAL: None,
        "prompts/partials/old.j2": "old\n",
    })


def test_json_format(cli, tmp_path):
    r = lint(cli, many_findings(tmp_path), "--format", "json")
    data = json.loads(r.out)
    assert [(f["code"], f["severity"], f["path"], f["line"]) for f in data] == [
        ("PC202", "error", PROMPT, 11),
        ("PC506", "warning", PROMPT, 1),
        ("PC104", "warning", "prompts/partials/old.j2", 1),
    ] or sorted(data, key=lambda f: (f["path"], f["line"])) == data
    assert {tuple(sorted(f)) for f in data} == {("code", "col", "line", "message", "path", "rule", "severity")}
    assert {f["rule"] for f in data} == {"undeclared-variable", "untested-prompt", "unknown-file"}
    assert r.code == 1 and "Found 1 error and 2 warnings" in r.err


def test_sarif_validates_against_the_sarif_schema(cli, tmp_path):
    from jsonschema import Draft4Validator

    r = lint(cli, many_findings(tmp_path), "--format", "sarif")
    log = json.loads(r.out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    errors = list(Draft4Validator(schema).iter_errors(log))
    assert not errors, [e.message for e in errors[:3]]
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (log["version"], driver["name"], driver["informationUri"]) == ("2.1.0", "promptctl", "https://promptctl.dev")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert rules["PC202"]["name"] == "undeclared-variable"
    assert rules["PC202"]["defaultConfiguration"] == {"level": "error"}
    assert rules["PC402"]["defaultConfiguration"] == {"level": "warning", "enabled": False}
    assert "inputs" in rules["PC202"]["help"]["text"] and rules["PC202"]["fullDescription"]["text"]
    results = {(res["ruleId"], res["level"]) for res in run["results"]}
    assert results == {("PC202", "error"), ("PC506", "warning"), ("PC104", "warning")}
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] in (PROMPT, "prompts/partials/old.j2")
        assert loc["region"]["startLine"] >= 1 and loc["region"]["startColumn"] >= 1


def test_sarif_uris_are_relative_to_the_repository_root(cli, tmp_path):
    repo = GitRepo(tmp_path / "repo")
    make(repo.root / "apps" / "bot", {PROMPT: BROKEN})
    r = lint(cli, repo.root / "apps" / "bot" / "prompts", "--format", "sarif")
    [result] = json.loads(r.out)["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "apps/bot/prompts/greet.prompt.yaml"


def test_github_format(cli, tmp_path):
    r = lint(cli, many_findings(tmp_path), "--format", "github")
    lines = r.out.splitlines()
    pattern = re.compile(r"::(error|warning) file=([^,]+),line=(\d+),col=(\d+),title=(PC\d{3})::(.*)")
    parsed = [pattern.fullmatch(line).groups() for line in lines]
    assert [(p[0], p[1], p[4]) for p in parsed] == [
        ("warning", "prompts/greet.prompt.yaml", "PC506"),
        ("error", "prompts/greet.prompt.yaml", "PC202"),
        ("warning", "prompts/partials/old.j2", "PC104"),
    ]
    assert parsed[1][2:4] == ("11", "33")
    assert "%" not in parsed[1][5].replace("%25", "")  # data escaping: '%' is written %25


def test_stdout_is_only_the_report(tmp_path):
    root = many_findings(tmp_path)
    p = run_promptctl(["lint", "--format", "json"], cwd=root)
    assert p.returncode == 1
    json.loads(p.stdout)  # nothing else on stdout
    assert p.stderr.strip().startswith("Found 1 error")


# -- suppression ---------------------------------------------------------------------------------------


def test_suppress_with_a_yaml_comment(cli, tmp_path):
    root = make(tmp_path / "p", {PROMPT: BROKEN.replace('{{ who }}"', '{{ who }}"  # promptctl: ignore[PC202]')})
    assert lint(cli, root).code == 0
    root = make(tmp_path / "q", {PROMPT: BROKEN.replace('{{ who }}"', '{{ who }}"  # promptctl: ignore[PC201,PC203]')})
    assert lint(cli, root).code == 1  # other codes do not suppress it


def test_suppress_with_a_jinja_comment_in_a_partial_and_in_a_block(cli, tmp_path):
    partial = "{{ nobody }} {# promptctl: ignore[PC2] #}\n"
    block = greet(system="      You greet people in a {{ tone }} way {{ x }}. {# promptctl: ignore[PC202] #}")
    root = make(tmp_path / "p", {"prompts/partials/rules.j2": partial, PROMPT: block})
    r = lint(cli, root, "--format", "json")
    # the partial's own line is suppressed, but its variable is reported at the prompt's include line
    assert [(f["path"], f["line"]) for f in json.loads(r.out)] == [(PROMPT, 9)]


def test_suppress_in_the_prompt_file(cli, tmp_path):
    root = make(tmp_path / "p", {PROMPT: "lint: {ignore: [PC202]}\n" + BROKEN})
    assert lint(cli, root).code == 0
    root = make(tmp_path / "q", {PROMPT: "lint: {ignore: [PC2]}\n" + BROKEN})
    assert lint(cli, root).code == 0


def test_suppress_in_promptctl_yaml(cli, tmp_path):
    config = BASE["promptctl.yaml"]
    root = make(tmp_path / "a", {PROMPT: BROKEN, "promptctl.yaml": config + "lint: {ignore: [PC202]}\n"})
    assert (lint(cli, root).code, lint(cli, root).out) == (0, "")
    root = make(tmp_path / "b", {PROMPT: BROKEN, "promptctl.yaml": config + "lint: {severity: {PC202: warning}}\n"})
    r = lint(cli, root)
    assert r.code == 0 and "PC202 [warning]" in r.out
    root = make(tmp_path / "c", {PROMPT: BROKEN, "promptctl.yaml": config + "lint: {severity: {PC2: off}}\n"})
    assert lint(cli, root).out == ""
    root = make(tmp_path / "d", {EVAL: None, "promptctl.yaml": config + "lint: {severity: {PC506: error}}\n"})
    assert lint(cli, root).code == 1


def test_select_and_ignore_on_the_command_line(cli, tmp_path):
    root = many_findings(tmp_path)
    codes = lambda *a: [f["code"] for f in json.loads(lint(cli, root, "--format", "json", *a).out)]  # noqa: E731
    assert sorted(codes()) == ["PC104", "PC202", "PC506"]
    assert codes("--select", "PC2") == ["PC202"]
    assert sorted(codes("--select", "PC1,PC5")) == ["PC104", "PC506"]
    assert sorted(codes("--select", "PC1", "--select", "PC5")) == ["PC104", "PC506"]
    assert codes("--ignore", "PC1,PC506") == ["PC202"]
    assert lint(cli, root, "--ignore", "PC202").code == 0


# -- PATHS mode ----------------------------------------------------------------------------------------


def two_prompts(tmp_path: Path) -> Path:
    other = textwrap.dedent("""\
        inputs: {topic: string}
        messages:
          - {role: user, content: "Tell me about {{ topic }}"}
        """)
    return make(tmp_path / "p", {
        "prompts/other.prompt.yaml": other,
        "evals/other.eval.yaml": "prompt: other\ncases:\n  - {id: a, inputs: {topic: x}}\n",
    })


def test_paths_lint_only_those_files(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / "prompts" / "other.prompt.yaml").write_text(
        "inputs: {topic: string}\nmessages:\n  - {role: user, content: '{{ topik }}'}\n")
    (root / PROMPT).write_text(BROKEN)
    r = lint(cli, root, "--format", "json", "prompts/other.prompt.yaml")
    assert {(f["path"], f["code"]) for f in json.loads(r.out)} == {("prompts/other.prompt.yaml", "PC202"),
                                                                    ("prompts/other.prompt.yaml", "PC203")}
    assert "files checked" in r.err


def test_a_changed_partial_rechecks_the_prompts_that_include_it(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / "prompts/partials/rules.j2").write_text("Be brief with {{ customer }}.\n")
    r = lint(cli, root, "--format", "json", "prompts/partials/rules.j2")
    assert [(f["path"], f["code"], f["line"]) for f in json.loads(r.out)] == [(PROMPT, "PC202", 9)]


def test_a_changed_partial_reaches_prompts_through_other_partials(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / "prompts/partials/rules.j2").write_text('{% include "partials/inner.j2" %}\n')
    (root / "prompts/partials/inner.j2").write_text("Hi {{ customer }}\n")
    r = lint(cli, root, "--format", "json", str(root / "prompts/partials/inner.j2"))
    assert [(f["path"], f["code"]) for f in json.loads(r.out)] == [(PROMPT, "PC202")]


def test_a_changed_prompt_rechecks_its_datasets(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / PROMPT).write_text(GREET.replace("  who: string", "  who: string\n  lang: string").replace(
        "{{ who }}", "{{ who }} in {{ lang }}").replace("{who: World}", "{who: World, lang: en}"))
    r = lint(cli, root, "--format", "json", PROMPT)
    assert [(f["path"], f["code"]) for f in json.loads(r.out)] == [(EVAL, "PC502")]


def test_promptctl_yaml_rechecks_everything(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / "evals/other.eval.yaml").unlink()
    r = lint(cli, root, "--format", "json", "promptctl.yaml")
    assert [(f["path"], f["code"]) for f in json.loads(r.out)] == [("prompts/other.prompt.yaml", "PC506")]
    r = lint(cli, root, "--format", "json", PROMPT)
    assert json.loads(r.out) == []


def test_paths_outside_any_project_are_skipped_and_projects_are_found_per_path(cli, tmp_path):
    make(tmp_path / "a", {PROMPT: BROKEN})
    make(tmp_path / "b", {"prompts/partials/rules.j2": "{{ nope }}\n"})
    write_tree(tmp_path, {"docs/notes.j2": "{{ whatever }\n"})
    r = cli(["lint", "--format", "json", f"a/{PROMPT}", "b/prompts/partials/rules.j2", "docs/notes.j2"], cwd=tmp_path)
    assert r.code == 1
    assert [(f["path"], f["code"]) for f in json.loads(r.out)] == [(f"a/{PROMPT}", "PC202"), (f"b/{PROMPT}", "PC202")]
    r = cli(["lint", "docs/notes.j2"], cwd=tmp_path)
    assert (r.code, r.out) == (0, "")


def test_a_folder_path_lints_what_is_under_it(cli, tmp_path):
    root = two_prompts(tmp_path)
    (root / PROMPT).write_text(BROKEN)
    (root / "evals/other.eval.yaml").write_text("prompt: other\ncases:\n  - {id: a, inputs: {}}\n")
    r = lint(cli, root, "--format", "json", "evals")
    assert [(f["path"], f["code"]) for f in json.loads(r.out)] == [("evals/other.eval.yaml", "PC502")]


# -- git revisions -------------------------------------------------------------------------------------


def test_lint_a_git_revision(cli, tmp_path):
    repo = GitRepo(tmp_path / "repo")
    files = dict(BASE)
    repo.commit("good", files)
    repo.commit("broken", {PROMPT: BROKEN})
    (repo.root / PROMPT).write_text(GREET)  # fixed in the working tree, not committed
    assert lint(cli, repo.root).code == 0
    r = lint(cli, repo.root, "--ref", "HEAD", "--format", "json")
    assert r.code == 1
    assert [(f["path"], f["code"], f["line"]) for f in json.loads(r.out)] == [(f"HEAD:{PROMPT}", "PC202", 11)]
    assert lint(cli, repo.root, "--ref", "HEAD~1").code == 0
    r = lint(cli, repo.root, "--ref", "HEAD", "--format", "sarif")
    uri = json.loads(r.out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == PROMPT
    r = lint(cli, repo.root, "--ref", "nope")
    assert r.code == 2 and "unknown revision" in r.err


# -- two processes on large projects -----------------------------------------------------------------


def test_two_processes_find_exactly_what_one_does(tmp_path):
    files = dict(BASE)
    for i in range(40):
        body = greet(user=f'    content: "Say hello to {{{{ who }}}} {{{{ x{i} }}}}"') if i % 3 else GREET
        files[f"prompts/p{i:02d}.prompt.yaml"] = body
    files[EVAL] = None
    root = make(tmp_path / "p", files)
    outs = []
    for jobs in ("1", "2"):
        p = run_promptctl(["lint", "--format", "json"], cwd=root, env={"PROMPTCTL_LINT_JOBS": jobs})
        assert p.returncode == 1, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1]
    assert len([f for f in json.loads(outs[0]) if f["code"] == "PC202"]) == 26



def test_the_second_process_is_really_used(tmp_path):
    """Counted in a fresh interpreter: the test session may have threads, and lint never forks then."""
    files = {**BASE, EVAL: None}
    for i in range(6):
        files[f"prompts/p{i}.prompt.yaml"] = greet(user=f'    content: "{{{{ who }}}} {{{{ x{i} }}}}"')
    root = make(tmp_path / "p", files)
    script = textwrap.dedent("""\
        import os, sys
        from promptctl.lint.engine import run_lint
        forks, real_fork = [], os.fork
        def fork():
            pid = real_fork()
            if pid:
                forks.append(pid)
            return pid
        os.fork = fork
        os.environ["PROMPTCTL_LINT_JOBS"] = "1"
        one = run_lint(None, project=sys.argv[1]).findings
        assert forks == [], forks
        os.environ["PROMPTCTL_LINT_JOBS"] = "2"
        two = run_lint(None, project=sys.argv[1]).findings
        assert len(forks) == 1, forks
        assert one == two, (one, two)
        print(len([f for f in one if f.code == "PC202"]))
        """)
    p = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True)
    assert (p.returncode, p.stdout.strip()) == (0, "6"), p.stderr


# -- model data ----------------------------------------------------------------------------------------


def test_installed_litellm_model_file_is_read_as_data_not_imported(tmp_path):
    site = tmp_path / "site" / "litellm"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("raise RuntimeError('litellm was imported')\n")
    (site / "model_prices_and_context_window_backup.json").write_text(json.dumps({
        "sample_spec": {"mode": "chat"},
        "acme-frontier-1": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 1000, "max_output_tokens": 50},
        "gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 1000, "max_output_tokens": 50},
    }))
    root = make(tmp_path / "p", {PROMPT: "model: acme-frontier-1\n" + GREET})
    env = {"PYTHONPATH": str(tmp_path / "site"), "PROMPTCTL_MODEL_DATA": ""}
    p = run_promptctl(["lint", "--format", "json"], cwd=root, env=env)
    assert (p.returncode, json.loads(p.stdout)) == (0, []), p.stderr
    p = run_promptctl(["lint", "--format", "json"], cwd=root, env={**env, "PROMPTCTL_MODEL_DATA": "snapshot"})
    assert [f["code"] for f in json.loads(p.stdout)] == ["PC301"]


def test_snapshot_regeneration(tmp_path):
    from promptctl.lint.modeldata import ModelTable, write_snapshot

    src = tmp_path / "models.json"
    src.write_text(json.dumps({
        "sample_spec": {"litellm_provider": "one of ..."},
        "gpt-x": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 10, "max_output_tokens": 5},
        "anthropic/claude-x": {"litellm_provider": "anthropic", "mode": "chat", "max_input_tokens": 20},
        "dall-e-9": {"litellm_provider": "openai", "mode": "image_generation"},
    }))
    out = tmp_path / "snap.json"
    assert write_snapshot(str(src), out=out) == 2
    snap = json.loads(out.read_text())
    assert snap["models"] == {"anthropic/claude-x": [20, None, "anthropic"], "gpt-x": [10, 5, "openai"]}
    table = ModelTable("t", {k: tuple(v) for k, v in snap["models"].items()}, frozenset(snap["providers"]))
    assert table.lookup("openai/gpt-x").max_output_tokens == 5
    assert table.accepts("anthropic/claude-x") and not table.accepts("gpt-y")
    assert table.suggest("opnai/gpt-x") == ["openai/gpt-x"]


def test_shipped_snapshot_is_current_litellm_data():
    from promptctl.lint.modeldata import SNAPSHOT

    snap = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert snap["source"].startswith("litellm ")
    assert snap["models"]["gpt-4o-mini"] == [128000, 16384, "openai"]
    assert {"openai", "anthropic", "ollama"} <= set(snap["providers"])


# -- start-up ------------------------------------------------------------------------------------------


def test_rules_and_explain_import_nothing_heavy():
    code = (
        "import sys, promptctl.lint, promptctl.lint.rules, promptctl.lint.formats\n"
        "heavy = [m for m in ('jinja2', 'yaml', 'jsonschema', 'git', 'litellm', 'rich') if m in sys.modules]\n"
        "print(heavy)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.stdout.strip() == "[]", p.stderr


def test_the_docs_document_every_rule():
    from promptctl.lint.rules import RULES

    section = doc_section("docs/lint.md", "### Rules")
    for rule in RULES.values():
        assert f"| {rule.code} | {rule.name} |" in section, rule.code


def test_precommit_hook_manifest():
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    hook = hooks["promptctl-lint"]
    assert (hook["id"], hook["entry"], hook["language"]) == ("promptctl-lint", "promptctl lint", "python")
    files = re.compile(hook["files"])
    for path in ("promptctl.yaml", "sub/promptctl.yaml", "prompts/a/b.prompt.yaml", "evals/x.eval.yaml",
                 "prompts/partials/p.j2", "evals/data/rows.jsonl"):
        assert files.search(path), path
    for path in ("README.md", "src/app.py", "promptctl.yaml.bak"):
        assert not files.search(path), path
    assert os.path.isfile(REPO / "promptctl" / "data" / "litellm_models.json")


# -- listing, explaining, counting, writing ------------------------------------------------------------


def test_list_rules_and_explain_suggest_only_near_codes(cli, tmp_path):
    from promptctl.lint.rules import RULES

    r = cli(["lint", "--list-rules"], cwd=tmp_path)  # needs no project
    assert r.code == 0 and len(r.out.splitlines()) == len(RULES)
    assert re.search(r"^PC202  undeclared-variable\s+error\s+A template uses a variable", r.out, re.M)
    assert re.search(r"^PC402  pii\s+warning, opt-in\s+", r.out, re.M)
    r = cli(["lint", "--explain", "PC999"], cwd=tmp_path)
    assert (r.code, r.err) == (2, "error: no lint rule 'PC999' (`promptctl lint --list-rules` lists every rule)\n")
    r = cli(["lint", "--explain", "PC210"], cwd=tmp_path)  # two digits swapped
    assert "did you mean PC201?" in r.err
    assert "did you mean PC201?" in cli(["lint", "--explain", "PC21"], cwd=tmp_path).err  # a digit dropped
    assert "did you mean" not in cli(["lint", "--select", "PC99"], cwd=tmp_path).err


def test_statistics_and_output_file(cli, tmp_path):
    root = many_findings(tmp_path)
    r = lint(cli, root, "--statistics")
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines and all(re.fullmatch(r"\d+  PC\d{3}  [a-z-]+\s+\[(error|warning)\]", line) for line in lines), lines
    counts = [int(line.split()[0]) for line in lines]
    assert counts == sorted(counts, reverse=True)
    full = lint(cli, root, "--format", "json")
    assert sum(counts) == len(json.loads(full.out))
    out = tmp_path / "lint.sarif"
    r = lint(cli, root, "--format", "sarif", "-o", str(out))
    assert r.code == 1 and r.out == "" and json.loads(out.read_text())["version"] == "2.1.0"


def test_a_bundle_has_no_datasets_so_lint_ref_does_not_call_every_prompt_untested(git_repo, git_env, cli):
    from promptctl.scaffold import init_project

    init_project(git_repo.root)
    git_repo.commit("example")
    assert cli(["publish", "-m", "first", "--channel", "production"], cwd=git_repo.root).code == 0
    for ref in ("v1", "production"):
        r = cli(["lint", "--ref", ref, "--format", "json"], cwd=git_repo.root)
        assert r.code == 0, r.err
        assert [f["code"] for f in json.loads(r.out) if f["code"] == "PC506"] == []
    r = cli(["lint", "--ref", "HEAD", "--format", "json"], cwd=git_repo.root)  # a git revision has its datasets
    assert r.code == 0
