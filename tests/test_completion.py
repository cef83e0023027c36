"""`promptctl completion SHELL`: the script, sourced in a real bash, completes commands, options and
the values of choices by calling promptctl itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, run_promptctl


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_for_each_shell(tmp_path, shell):
    p = run_promptctl(["completion", shell], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "_PROMPTCTL_COMPLETE" in p.stdout and "promptctl" in p.stdout


def test_an_unknown_shell_is_bad_usage(tmp_path):
    p = run_promptctl(["completion", "tcsh"], cwd=tmp_path)
    assert p.returncode == 2 and "error: invalid value for" in p.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_options_and_choices(tmp_path):
    script = tmp_path / "promptctl.bash"
    script.write_text(run_promptctl(["completion", "bash"], cwd=tmp_path).stdout)
    bin_dir = tmp_path / "bin"  # `promptctl` on PATH, running this checkout
    bin_dir.mkdir()
    exe = bin_dir / "promptctl"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promptctl "$@"\n')
    exe.chmod(0o755)
    driver = f"""
source {script}
complete_words() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); _promptctl_completion promptctl;
  printf '%s ' "${{COMPREPLY[@]}}"; echo; }}
complete_words promptctl te
complete_words promptctl test --mo
complete_words promptctl test --mode ""
complete_words promptctl lint --format ""
"""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    p = subprocess.run(["bash", "-c", driver], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = [line.split() for line in p.stdout.splitlines()]
    assert lines == [["test"], ["--mode", "--model"], ["auto", "replay", "refresh", "off"],
                     ["text", "json", "sarif", "github"]]
