"""`promptctl review --serve`: the review in a real browser (headless Chromium through Playwright).
Clicking Accept writes the golden with `reviewed`, Reject leaves the file alone, Edit writes what was
typed; the page is on 127.0.0.1 behind a token, refuses other hosts and other sites' forms, runs no
script, and the server stops when every case is decided."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import local_project, run_promptctl

from promptctl.evals import pending
from promptctl.evals.review_page import Review, edited_golden

ACTOR = "Rita Reviewer <rita@example.com>"

QA = """\
    # goldens for the qa prompt
    prompt: qa
    threshold: 0.1
    cases:
      - id: a  # keep me
        inputs: {q: "hello"}
        golden: "old a"
      - id: b
        inputs: {q: "bye"}
        golden: old b
      - id: c
        inputs: {q: "<script>window.__pwned = 1</script>"}
    """


@pytest.fixture
def root(tmp_path, server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-local-test")
    monkeypatch.setenv("PROMPTCTL_ACTOR", ACTOR)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    root = local_project(tmp_path / "p", server.url, {"evals/qa.eval.yaml": QA})
    p = run_promptctl(["test"], root, timeout=60)
    assert p.returncode == 0, p.stderr
    assert [e.case for e in pending.load_pending(root)] == ["a", "b", "c"]
    return root


def _serve(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "promptctl", "review", "--serve"], cwd=root, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    line = proc.stderr.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+/[\w-]+/", line)
    assert m, line
    return proc, m.group(0)


def _request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_accept_reject_and_edit_in_the_browser(root, browser):
    proc, url = _serve(root)
    try:
        port = url.split(":")[2].split("/")[0]
        token = url.rstrip("/").rsplit("/", 1)[1]
        # only with the token, only at its own address, only forms from itself
        assert _request(url.replace(token, "x" * len(token))) == 404
        assert _request(f"http://127.0.0.1:{port}/") == 404
        assert _request(url, headers={"Host": f"evil.example:{port}"}) == 403
        assert _request(url + "decide", data=b"key=evals/qa.eval.yaml%23a&action=accept",
                        headers={"Origin": "https://evil.example"}) == 403
        assert "old a" in (root / "evals/qa.eval.yaml").read_text()  # nothing was accepted by those

        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.set_default_timeout(10_000)
        response = page.goto(url)
        assert response.status == 200, page.content()
        assert page.inner_text(".progress") == "1/3", page.content()
        assert "qa/a" in page.inner_text("h2")
        assert page.inner_text("pre.golden") == "old a" and page.inner_text("pre.output") == "echo: hello"
        assert page.locator("script").count() == 0
        page.click("button.accept >> text=Accept")
        assert page.locator(".progress").count() == 1, page.content()
        assert page.inner_text(".progress") == "2/3"
        assert "accepted qa/a" in page.inner_text(".flash")
        text = (root / "evals/qa.eval.yaml").read_text()
        assert "golden: \"echo: hello\"" in text and "# keep me" in text and f'by: {ACTOR}, at: "' in text

        page.click("button.reject")
        assert page.inner_text(".progress") == "3/3"
        assert "golden: old b" in (root / "evals/qa.eval.yaml").read_text()

        # the case whose input holds markup shows it as text, and runs nothing
        assert "<script>window.__pwned = 1</script>" in page.inner_text("body")
        assert page.evaluate("window.__pwned") is None
        page.click("details.edit summary")
        page.fill("textarea[name=golden]", "an edited golden\nover two lines")
        page.click("button[value=edit]")
        assert page.inner_text("h2") == "Done"
        assert "accepted 2, rejected 1, skipped 0" in page.inner_text("body")
        assert problems == []
        page.close()
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
        assert "accepted qa/a" in err and "rejected qa/b" in err and "accepted (edited) qa/c" in err
        text = (root / "evals/qa.eval.yaml").read_text()
        assert "an edited golden\n" in text and text.count("reviewed:") == 2
        assert pending.load_pending(root) == []
        from promptctl.project import open_project

        cases = {c.id: c for c in open_project(root).load_dataset("evals/qa.eval.yaml").cases}
        assert cases["c"].golden == "an edited golden\nover two lines"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_golden_changed_since_the_run_is_refused_on_the_page(root, browser):
    proc, url = _serve(root)
    try:
        path = root / "evals/qa.eval.yaml"
        path.write_text(path.read_text().replace('golden: "old a"', 'golden: "changed by hand"'))
        page = browser.new_page()
        page.goto(url)
        page.click("button.accept >> text=Accept")
        assert "refused qa/a" in page.inner_text(".flash") and page.inner_text(".progress") == "2/3"
        assert 'golden: "changed by hand"' in path.read_text()
        page.click("button[value=stop]")
        assert page.inner_text("h2") == "Done"
        page.close()
        assert proc.wait(timeout=10) == 1  # a case was refused, as in the terminal review
        assert [e.case for e in pending.load_pending(root)] == ["a", "b", "c"]  # still pending
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_stops_on_ctrl_c(root):
    import signal

    proc, url = _serve(root)
    try:
        assert _request(url) == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_edited_golden_is_read_as_the_proposed_one_is():
    text_entry = pending.PendingCase("d", "d", "p", "c", "d", 1, old="x", new="y", output="y", status="passed")
    json_entry = pending.PendingCase("d", "d", "p", "c", "d", 1, old={"a": 1}, new={"a": 2}, output="{}", status="passed")
    assert edited_golden(text_entry, "one\r\ntwo") == "one\ntwo"
    assert edited_golden(json_entry, '{"a": 3}') == {"a": 3}
    with pytest.raises(ValueError, match="not JSON"):
        edited_golden(json_entry, "{a: 3")
    with pytest.raises(ValueError, match="empty"):
        edited_golden(text_entry, "  \n")
    review = Review("/nonexistent", [text_entry])
    review.decide("d#c", "edit", "")
    assert review.decided == {} and "empty" in review.flash[0]
    review.decide("other#key", "reject")
    assert "already decided" in review.flash[0]
