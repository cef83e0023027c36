"""The HTML report (`promptctl test --format html`, `promptctl report R.json --format html`), opened in
a real headless Chromium: it opens from disk, the filters work, regressions come first, the
baseline's output sits beside today's, and a model's output that holds markup runs nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import GitRepo, local_project, run_promptctl

from promptctl.evals.html import CSP, format_html, word_diff
from promptctl.evals.results import CaseResult, DatasetResult, RunResult
from promptctl.model import Dataset

PAYLOAD = ('<script>window.__pwned = 1</script></textarea></pre><img src=x onerror="window.__pwned = 2">'
           '<b onmouseover="window.__pwned = 3">bold</b>')


@pytest.fixture(autouse=True)
def env(monkeypatch, git_env):
    monkeypatch.setenv("LOCAL_KEY", "sk-local-test")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


DATASET = """\
    prompt: qa
    threshold: 0.3
    cases:
      - id: hello
        tags: [greeting]
        inputs: {q: hello}
        golden: hello there
        assert: [{type: icontains, value: hello}]
      - id: refund
        description: Asks for a refund
        tags: [billing]
        inputs: {q: "refund?"}
        golden: yes, a refund
        assert: [{type: icontains, value: refund}]
      - id: xss
        description: '<img src=y onerror="window.__pwned = 4">'
        tags: ["sec'urity"]
        inputs: {q: attack}
        golden: a safe answer
        assert: [{type: contains, value: safe}]
    """


@pytest.fixture
def repo(tmp_path, server):
    """A git project whose HEAD asks `{{ q }}` and whose working tree asks `Q: {{ q }}`: the refund
    case passes at HEAD and fails now (a regression); the xss case fails in both with markup."""
    server.reset()
    server.answers.update({
        "hello": "hello there", "Q: hello": "hello there, friend",
        "refund?": "yes, a refund", "Q: refund?": "no money back",
        "attack": PAYLOAD, "Q: attack": PAYLOAD,
        "ping": "pong", "Q: ping": "pong",
    })
    git = GitRepo(tmp_path / "repo")
    local_project(git.root, server.url, {
        "evals/qa.eval.yaml": DATASET,
        "evals/other.eval.yaml": "prompt: qa\ncases:\n  - {id: ping, inputs: {q: ping}, assert: [{type: equals, value: pong}]}\n",
    })
    config = git.root / "promptctl.yaml"
    config.write_text(config.read_text().replace(
        "models:\n", f"models:\n  other: {{model: openai/gpt-4o, api_base: \"{server.url}\", api_key_env: LOCAL_KEY}}\n"))
    git.commit("first")
    (git.root / "prompts/qa.prompt.yaml").write_text(
        'inputs: {q: string}\nmessages:\n  - role: system\n    content: "Answer briefly."\n'
        '  - role: user\n    content: "Q: {{ q }}"\n')
    return git.root


def _promptctl(args: list[str], cwd: Path):
    """promptctl in a process of its own: Playwright's sync API keeps an event loop running in this one."""
    p = run_promptctl(args, cwd, timeout=120)
    p.code, p.err = p.returncode, p.stderr
    return p


def _open(browser, path: Path, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    return ctx, page, problems


def _visible(page) -> list[str]:
    return page.eval_on_selector_all(
        "article.case", "els => els.filter(e => !e.hidden).map(e => e.querySelector('summary b').textContent)")


def test_the_report_opens_filters_and_lists_regressions_first(tmp_path, repo, browser):
    r = _promptctl(["test", "--baseline", "HEAD", "--format", "json", "-o", "run.json"], repo)
    assert r.code == 1, r.err  # refund regressed
    r = _promptctl(["report", "run.json", "--format", "html", "-o", "from-json.html"], repo)
    assert r.code == 1 and "wrote the html report" in r.err
    r = _promptctl(["test", "--baseline", "HEAD", "--format", "html", "-o", "report.html"], repo)
    assert r.code == 1
    direct = (repo / "report.html").read_text()
    again = (repo / "from-json.html").read_text()
    order = re.compile(r"<summary><span class='badge \w+'>\w+</span> <b>([^<]+)</b>")
    assert order.findall(direct) == order.findall(again) == ["qa/refund", "other/ping", "qa/hello", "qa/xss"]

    ctx, page, problems = _open(browser, repo / "report.html")
    try:
        assert page.title().startswith("promptctl test · working tree")
        assert page.evaluate("window.__pwned") is None
        # the markup a model wrote is text on the page, not elements
        assert page.locator("img").count() == 0 and page.locator("b[onmouseover]").count() == 0
        assert page.locator("script").count() == 1
        xss = page.locator("article.case", has_text="qa/xss")
        assert xss.locator("pre.output").first.inner_text() == PAYLOAD
        assert xss.locator("details").first.get_attribute("open") is not None  # a failing case is unfolded
        assert '<img src=y onerror="window.__pwned = 4">' in xss.inner_text()
        # regressions first, with the baseline's output beside today's
        first = page.locator("article.case").first
        assert first.get_attribute("data-regression") == "1" and "REGRESSION" in first.inner_text()
        assert "yes, a refund" in first.inner_text() and "no money back" in first.inner_text()
        assert first.locator("pre.diff del").count() >= 1 and first.locator("pre.diff ins").count() >= 1
        # the summary has the baseline's figures beside today's
        header = page.locator("table.summary thead").inner_text()
        assert "HEAD" in header and "pass rate" in header
        # filters
        assert _visible(page) == ["qa/refund", "other/ping", "qa/hello", "qa/xss"]
        page.check("input[name=failed]")
        assert _visible(page) == ["qa/refund", "qa/xss"]
        page.check("input[name=regressions]")
        assert _visible(page) == ["qa/refund"]
        assert page.inner_text("#shown") == "1 of 4 cases shown"
        page.uncheck("input[name=failed]")
        page.uncheck("input[name=regressions]")
        page.select_option("select[name=dataset]", "other")
        assert _visible(page) == ["other/ping"]
        page.select_option("select[name=dataset]", "")
        page.select_option("select[name=tag]", "sec'urity")
        assert _visible(page) == ["qa/xss"]
        page.select_option("select[name=tag]", "")
        page.fill("input[name=q]", "money BACK")
        assert _visible(page) == ["qa/refund"]
        page.fill("input[name=q]", "")
        assert len(_visible(page)) == 4
        # the rendered messages are there, folded
        hello = page.locator("article.case", has_text="qa/hello")
        hello.locator("summary").first.click()
        messages = hello.locator("details.messages")
        assert messages.get_attribute("open") is None
        messages.locator("summary").click()
        assert "Answer briefly." in messages.inner_text() and "Q: hello" in messages.inner_text()
        assert page.evaluate("window.__pwned") is None
        assert problems == []  # no CSP violation: the page's own style and script are allowed by hash
    finally:
        ctx.close()


def test_the_report_reads_with_javascript_off(tmp_path, repo, browser):
    assert _promptctl(["test", "--format", "html", "-o", "report.html"], repo).code == 0
    ctx, page, _ = _open(browser, repo / "report.html", java_script_enabled=False)
    try:
        assert not page.locator("#filters").is_visible()
        assert len(_visible(page)) == 4
        assert "The filters need JavaScript" in page.inner_text("body")
    finally:
        ctx.close()


def test_the_csp_stops_a_script_that_got_into_the_file(tmp_path, repo, browser):
    """Defence in depth: were escaping ever broken, an injected script still would not run."""
    assert _promptctl(["test", "--format", "html", "-o", "report.html"], repo).code == 0
    path = repo / "report.html"
    text = path.read_text()
    assert f'content="{CSP.replace(chr(39), "&#x27;")}"' in text
    path.write_text(text.replace("</body>", "<script>window.__pwned = 9</script><img src=x onerror='window.__pwned = 8'></body>"))
    ctx, page, problems = _open(browser, path)
    try:
        assert page.evaluate("window.__pwned") is None
        assert any("Content Security Policy" in p for p in problems)
        assert page.locator("#filters").is_visible()  # the page's own script still runs
    finally:
        ctx.close()


def test_model_comparison_has_a_table_and_a_chart(tmp_path, repo, browser):
    r = _promptctl(["test", "--model", "local", "--model", "other", "--format", "html", "-o", "cmp.html"], repo)
    assert r.code == 0, r.err
    ctx, page, problems = _open(browser, repo / "cmp.html")
    try:
        assert page.locator("svg circle").count() == 2
        labels = page.eval_on_selector_all("svg > text", "els => els.map(e => e.textContent)")
        assert "local" in labels and "other" in labels
        assert "Cheapest model meeting every threshold" in page.inner_text("body")
        page.select_option("select[name=model]", "other")
        assert len(_visible(page)) == 4
        assert problems == []
    finally:
        ctx.close()


# -- without a browser ---------------------------------------------------------------------------


def test_word_diff_marks_words_and_escapes():
    assert word_diff("the cat sat", "the dog sat") == "the <del>cat</del><ins>dog</ins> sat"
    assert word_diff("a", "<b>") == "<del>a</del><ins>&lt;b&gt;</ins>"
    assert word_diff("x " * 5000, "y") is None  # too long to diff: shown side by side only


def _big_run(n: int) -> RunResult:
    dataset = Dataset(path="evals/big.eval.yaml", prompt="support/reply", cases=(), threshold=0.9)
    cases = [
        CaseResult(
            id=f"case-{i}", status="passed" if i % 7 else "failed", score=1.0 if i % 7 else 0.0,
            reason="" if i % 7 else "icontains: output does not contain 'refund'",
            output=f"Hello, thanks for writing about order {i}. We have issued a refund of ${i}.00 today.",
            golden=f"Hello, thanks for writing about order {i}. A refund of ${i}.00 is on its way.",
            inputs={"ticket": f"Where is the refund for order {i}?", "tone": "formal"},
            messages=[{"role": "system", "content": "You are a support agent. Be brief and kind."},
                      {"role": "user", "content": f"Where is the refund for order {i}?"}],
            latency_ms=100.0 + i % 50, cost_usd=0.00002, tokens=90, source=f"evals/big.eval.yaml:{i * 5 + 3}",
            position=i, tags=("refund",),
        )
        for i in range(n)
    ]
    return RunResult([DatasetResult(dataset, "fast", "support/reply@v3:3f9a2c1", cases)], mode="replay")


def test_a_thousand_case_report_is_small_and_opens(tmp_path, browser):
    html = format_html(_big_run(1000))
    size = len(html.encode())
    assert size < 3_000_000, size  # about 2 KB a case with inputs, messages, output, golden and a diff
    path = tmp_path / "big.html"
    path.write_text(html)
    ctx, page, problems = _open(browser, path)
    try:
        assert page.locator("article.case").count() == 1000
        page.check("input[name=failed]")
        assert page.inner_text("#shown") == f"{len(range(0, 1000, 7))} of 1000 cases shown"
        assert problems == []
    finally:
        ctx.close()


def test_every_text_a_model_or_a_dataset_wrote_is_escaped():
    run = _big_run(1)
    case = run.datasets[0].cases[0]
    case.output = PAYLOAD
    case.golden = {"answer": "</textarea><script>x()</script>"}
    case.inputs = {"q": "<script>y()</script>"}
    case.tags = ("a'b\"c<d>",)
    case.description = "<iframe src=//evil>"
    html = format_html(run)
    for raw in ("<script>window", "<img", "<iframe", "</textarea>", "<script>x()", "<script>y()", "a'b"):
        assert raw not in html
    assert html.count("<script>") == 1
    assert json.loads(re.search(r"data-tags='([^']*)'", html).group(1).replace("&quot;", '"')
                      .replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) == ["a'b\"c<d>"]
