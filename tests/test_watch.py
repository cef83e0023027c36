"""``--watch`` on lint, render and test: the real command in a subprocess, real files saved under its
project, real file-system events (watchfiles); each test waits for what the command prints."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_promptctl, write_tree

pytest.importorskip("watchfiles")

WAIT_S = 20  # the longest wait for an expected line (a slow CI machine); never reached when it works


class Watched:
    """``promptctl ARGS`` running in ``cwd``, its stdout and stderr read line by line as they come."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "promptctl", *args], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str) -> list[str]:
        """The lines up to (and with) the first that contains ``text``."""
        got: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, f"promptctl exited {self.proc.returncode}: {self.seen[-20:]}"
                continue
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got
        raise AssertionError(f"no line with {text!r} within {WAIT_S} s; got: {got[-30:]}")

    def quiet_for(self, seconds: float) -> list[str]:
        """What was printed over the next ``seconds``."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got.append(self.lines.get(timeout=0.1))
            except queue.Empty:
                pass
        self.seen += got
        return got

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(WAIT_S)
        finally:
            self.proc.kill()


def save(path: Path, text: str) -> None:
    """Save as an editor does: the whole file, at once."""
    path.write_text(text)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/a.prompt.yaml": 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "A says {{ q }}"\n'
                                 'samples:\n  - {name: s, inputs: {q: hi}}\n',
        "prompts/b.prompt.yaml": 'messages:\n  - role: system\n    content: |\n      {% include "partials/tone.j2" %}\n'
                                 '  - {role: user, content: B}\n',
        "prompts/partials/tone.j2": "Be kind.\n",
        "evals/a.eval.yaml": "prompt: a\ncases:\n  - id: one\n    inputs: {q: hi}\n    golden: ok\n"
                             "    assert: [{type: contains, value: A}]\n",
        "evals/b.eval.yaml": "prompt: b\ncases:\n  - id: two\n    golden: ok\n    assert: [{type: contains, value: B}]\n",
    })


def test_lint_watch_relints_the_saved_file_and_stops_on_ctrl_c(proj):
    w = Watched(["lint", "--watch", "--ignore", "PC5"], proj)
    try:
        w.until("All checks passed")
        w.until("watching")
        save(proj / "prompts/a.prompt.yaml", 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ qq }}"\n')
        lines = w.until("Found")
        assert any(line.startswith("prompts/a.prompt.yaml:4:") and "PC202" in line for line in lines), lines
        assert "prompts/a.prompt.yaml changed" in "\n".join(lines)
        w.until("watching")
        save(proj / "prompts/a.prompt.yaml", 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ q }}"\n')
        assert "All checks passed" in w.until("All checks passed")[-1]
    finally:
        code = w.stop()
    assert code == 0
    assert "stopped watching" in w.quiet_for(0.5) + w.seen[-1:]


def test_render_watch_renders_again_only_for_its_own_files(proj):
    w = Watched(["render", "a", "-s", "s", "--watch"], proj)
    try:
        assert "A says hi" in w.until("A says hi")[-1]
        w.until("watching")
        save(proj / "prompts/b.prompt.yaml", "messages:\n  - {role: user, content: B2}\n")  # another prompt
        lines = w.until("watching")
        assert any("nothing this command shows depends on it" in line for line in lines), lines
        assert not any("A says" in line for line in lines)
        save(proj / "prompts/a.prompt.yaml", 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "A now says {{ q }}"\n'
                                             'samples:\n  - {name: s, inputs: {q: hi}}\n')
        assert "A now says hi" in w.until("A now says hi")[-1]
        w.until("watching")
        save(proj / "prompts/a.prompt.yaml", 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ q "\n')
        lines = w.until("watching")  # an error is said, and the watch goes on
        assert any(line.startswith("error: ") and "a.prompt.yaml" in line for line in lines), lines
    finally:
        assert w.stop() == 0


def test_test_watch_runs_the_datasets_a_save_affects_and_ignores_its_own_writes(proj):
    w = Watched(["test", "--watch", "--mode", "replay"], proj)
    try:
        first = w.until("watching")
        assert any(line.startswith("a ") for line in first) and any(line.startswith("b ") for line in first), first
        save(proj / "prompts/partials/tone.j2", "Be very kind.\n")  # only b includes it
        lines = w.until("watching")
        table = [line for line in lines if line.startswith(("a ", "b "))]
        assert [line.split()[0] for line in table] == ["b"], lines
        assert "(exit 1)" in lines  # replay finds no recording: the run fails, the watch goes on
        save(proj / "evals/a.eval.yaml", (proj / "evals/a.eval.yaml").read_text() + "# a comment\n")
        lines = w.until("watching")
        assert [line.split()[0] for line in lines if line.startswith(("a ", "b "))] == ["a"], lines
        # what promptctl writes itself (recordings, pending reviews under .promptctl/) starts nothing
        rec = proj / ".promptctl" / "recordings"
        rec.mkdir(parents=True, exist_ok=True)
        (rec / "a.jsonl").write_text("")
        assert w.quiet_for(1.5) == []
    finally:
        assert w.stop() == 0


def test_watch_refuses_what_it_cannot_watch(proj):
    r = run_promptctl(["test", "--watch", "--ref", "HEAD"], proj)
    assert r.returncode == 2 and "--watch" in r.stderr and "--ref" in r.stderr
    r = run_promptctl(["test", "--watch", "--update-golden"], proj)
    assert r.returncode == 2 and "--update-golden" in r.stderr
    r = run_promptctl(["lint", "--watch", "--ref", "HEAD"], proj)
    assert r.returncode == 2 and "--watch" in r.stderr
    r = run_promptctl(["render", "a", "--watch", "--ref", "HEAD"], proj)
    assert r.returncode == 2 and "--watch" in r.stderr
