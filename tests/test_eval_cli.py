"""`promptctl test` as a command: replay without litellm, the init example, usage errors, the hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, write_tree


def without_litellm(tmp_path: Path) -> dict[str, str]:
    """An environment where `import litellm` fails, as if the eval extra were not installed."""
    shim = tmp_path / "no-litellm"
    write_tree(shim, {"sitecustomize.py": "import sys\nsys.modules['litellm'] = None  # import litellm -> ImportError\n"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])}
    env.pop("PROMPTCTL_PROJECT", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.pop(key, None)
    return env


def promptctl(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "promptctl", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_replay_and_recorded_runs_work_without_litellm_and_litellm_models_say_what_to_install(tmp_path):
    env = without_litellm(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import litellm"], env=env, capture_output=True, text=True)
    assert probe.returncode == 1 and "import of litellm halted" in probe.stderr  # the shim works

    assert promptctl(["init", "demo"], tmp_path, env).returncode == 0
    demo = tmp_path / "demo"
    p = promptctl(["test", "--mode", "replay", "--format", "json"], demo, env)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["ok"] and report["summary"]["replayed"] == 5 and report["summary"]["live_calls"] == 0
    assert {d["name"]: d["pass_rate"] for d in report["datasets"]} == {"summarize": 1.0, "support-reply": 1.0}

    # auto mode with every answer recorded needs no provider library at all
    p = promptctl(["test"], demo, env)
    assert p.returncode == 0, p.stderr
    assert "0 live calls, 5 replayed" in p.stderr

    # OpenAI models go through the native client: without a key, one error before any call
    p = promptctl(["test", "--mode", "refresh"], demo, env)
    assert p.returncode == 2 and p.stdout == ""
    assert "no API key: the environment variable OPENAI_API_KEY (for fast, openai/gpt-4o-mini) is not set" in p.stderr
    assert "nothing was called; export OPENAI_API_KEY=…" in p.stderr

    # a model only litellm speaks says what to install
    p = promptctl(["test", "--mode", "refresh", "--model", "anthropic/claude-3-5-haiku-20241022"], demo, env)
    assert p.returncode == 2
    assert p.stdout == ""
    assert "litellm, which is not installed" in p.stderr
    assert "pip install 'promptctl[eval]'" in p.stderr
    assert "Traceback" not in p.stderr


def test_the_init_example_passes_in_replay_mode(tmp_path, cli):
    r = cli(["init", str(tmp_path / "demo")], cwd=tmp_path)
    assert r.code == 0
    r = cli(["test", "--mode", "replay"], cwd=tmp_path / "demo")
    assert r.code == 0, r.err
    assert "ok: 5 passed, 0 failed, 0 errors; 0 live calls, 5 replayed" in r.err
    assert r.out == ""


def test_a_changed_prompt_misses_its_recordings_in_replay(tmp_path, cli):
    demo = tmp_path / "demo"
    cli(["init", str(demo)], cwd=tmp_path)
    path = demo / "prompts/summarize.prompt.yaml"
    path.write_text(path.read_text().replace("Do not add anything else.", "Be terse."))
    r = cli(["test", "--mode", "replay", "summarize"], cwd=demo)
    assert r.code == 1
    assert "no recording" in r.err and "--mode auto summarize --filter release-notes" in r.err


@pytest.mark.parametrize(
    "args,words",
    [
        (["test", "nosuch"], "no dataset or prompt named 'nosuch'"),
        (["test", "suport-reply"], "did you mean 'support-reply'"),
        (["test", "--mode", "sometimes"], "sometimes"),
        (["test", "--mode", "replay", "--filter", "zzz-no-case"], "no case matches --filter"),
        (["test", "--update-golden", "--ref", "HEAD"], "--update-golden"),
        (["test", "--update-golden", "--model", "a", "--model", "b"], "at most one --model"),
        (["test", "--mode", "replay", "--baseline", "-x"], "-x"),
        (["test", "--mode", "replay", "--timeout", "nan"], "--timeout must be a finite number"),
        (["test", "--mode", "replay", "--timeout", "inf"], "--timeout must be a finite number"),
        (["test", "--mode", "replay", "--timeout", "-1"], "--timeout"),
        (["test", "--mode", "replay", "--max-cost", "inf"], "--max-cost must be a finite number"),
    ],
)
def test_usage_errors_exit_2(tmp_path, cli, args, words):
    demo = tmp_path / "demo"
    cli(["init", str(demo)], cwd=tmp_path)
    r = cli(args, cwd=demo)
    assert r.code == 2, (r.out, r.err)
    assert words in r.err
    assert r.out == ""


def test_no_datasets_is_a_usage_error(tmp_path, cli):
    write_tree(tmp_path, {"promptctl.yaml": "promptctl: 1\n"})
    r = cli(["test", "--mode", "replay"], cwd=tmp_path)
    assert r.code == 2 and "no datasets" in r.err


def test_help_lists_the_options(cli):
    r = cli(["test", "--help"])
    assert r.code == 0
    for option in ("--mode", "--model", "--baseline", "--concurrency", "--max-cost", "--update-golden", "--format",
                   "--output", "--filter", "--ref"):
        assert option in r.out


def test_the_pre_commit_hook_replays_with_core_dependencies_only():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "promptctl-test"]
    assert hook["entry"] == "promptctl test --mode replay"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    assert not any("litellm" in d or "eval" in d for d in hook.get("additional_dependencies", []))
    assert "promptctl-lint" in [h["id"] for h in hooks]  # the lint hook is still there
    import re

    for changed in ("promptctl.yaml", "prompts/a.prompt.yaml", "evals/a.eval.yaml", "prompts/p/x.j2",
                    "evals/data/t.jsonl", ".promptctl/recordings/support/reply.jsonl"):
        assert re.search(hook["files"], changed), changed
    assert not re.search(hook["files"], "README.md")


def test_the_readme_set_up_command_runs_the_example_evals_from_recordings(tmp_path, cli):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1]
    command = setup.split("```sh\n", 1)[1].split("\n```", 1)[0].strip()
    steps = [s.strip() for s in command.split("&&")]
    assert steps == ["pip install .", "promptctl init demo", "promptctl --project demo test --mode replay"]
    for step in steps[1:]:
        r = cli(step.split()[1:], cwd=tmp_path)
        assert r.code == 0, (step, r.err)
    assert "ok: 5 passed" in r.err


def test_auto_mode_with_a_missing_key_is_one_error_not_one_per_case(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli(["init", str(tmp_path / "demo")]).code == 0
    demo = tmp_path / "demo"
    rec = demo / ".promptctl/recordings"
    before = {p: p.read_bytes() for p in rec.rglob("*.jsonl")}
    dataset = demo / "evals/support-reply.eval.yaml"
    text = dataset.read_text()
    assert "refund for order 123" in text
    dataset.write_text(text.replace("refund for order 123", "refund for order 124"))  # no recording for it now
    r = cli(["test"], cwd=demo)
    assert r.code == 2, r.err
    errors = [line for line in r.err.splitlines() if "no API key" in line]
    assert len(errors) == 1, r.err  # one error, not one per case
    assert "OPENAI_API_KEY" in errors[0] and "case 'refund' of support/reply has no recording" in errors[0]
    assert "--mode replay" in errors[0]
    assert {p: p.read_bytes() for p in rec.rglob("*.jsonl")} == before  # nothing lost, nothing called


def test_the_program_freezes_what_is_loaded_once_and_a_caller_of_main_never(monkeypatch):
    import gc

    from promptctl.cli import test as cli_test
    from promptctl.cli.app import state

    calls: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1))
    monkeypatch.delitem(state, "program", raising=False)
    monkeypatch.delitem(state, "gc_frozen", raising=False)
    cli_test._freeze_loaded()
    assert calls == []  # main() called in this process (as here): the caller's objects are its own
    monkeypatch.setitem(state, "program", True)
    cli_test._freeze_loaded()
    cli_test._freeze_loaded()  # --watch runs again: frozen once
    assert calls == [1]
