"""The HTML report of a test run: one self-contained file to look at and decide with.

No network, no CDN: the style and the one small script are inline, allowed by their hashes in a
Content-Security-Policy that forbids everything else, so a model's output that holds ``<script>`` or
an ``onerror=`` attribute is shown as text (everything is escaped) and could run nothing even if it
were not. Every case is in the page as HTML, so it reads with JavaScript off; the script only adds
the filters. Passing cases are folded, which keeps a 1,000-case report quick to open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from html import escape
from typing import TYPE_CHECKING, Any

from .reports import (
    _cost,
    _ms,
    _pct,
    baseline_note,
    budget_line,
    call_arguments,
    call_name,
    comparable,
    golden_text,
    summary_line,
)

if TYPE_CHECKING:
    from .results import CaseResult, DatasetResult, RunResult

#: Longer texts (in words and spaces) are shown side by side without a word diff: difflib is
#: quadratic in the worst case, and such a diff would not be read anyway.
MAX_DIFF_TOKENS = 4000

STYLE = """
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--ok:#1a7f37;--bad:#cf222e;
--warn:#9a6700;--ins:#dafbe1;--del:#ffebe9;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;
--line:#3d444d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--ins:#033a16;--del:#67060c;--accent:#4493f8}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);
margin:0 auto;max-width:1400px;padding:16px 24px 48px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}h4{font-size:13px;margin:12px 0 4px;color:var(--muted)}
.run{color:var(--muted);margin:0 0 12px}
.verdict{font-weight:600;padding:8px 12px;border-radius:6px;border:1px solid var(--line);background:var(--panel)}
.verdict.ok{border-color:var(--ok)}.verdict.fail{border-color:var(--bad)}
.note{color:var(--warn)}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}td.n{text-align:right}
.badge{display:inline-block;min-width:44px;text-align:center;font-size:12px;font-weight:700;border-radius:4px;
padding:0 6px;color:#fff;background:var(--muted)}
.badge.passed,.badge.ok{background:var(--ok)}.badge.failed,.badge.error,.badge.fail{background:var(--bad)}
.badge.skipped{background:var(--warn)}.badge.reg{background:var(--warn)}
#filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:8px 12px;margin:8px 0;
background:var(--panel);border:1px solid var(--line);border-radius:6px;position:sticky;top:0;z-index:1}
#filters input[type=search]{min-width:240px}
article.case{border:1px solid var(--line);border-radius:6px;margin:6px 0}
article.case>details>summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
article.case.regression{border-color:var(--warn)}
.case .body{padding:0 12px 12px;border-top:1px solid var(--line)}
.meta{color:var(--muted);font-size:12px}
.reason{color:var(--muted)}
pre{white-space:pre-wrap;word-break:break-word;background:var(--panel);border:1px solid var(--line);
border-radius:4px;padding:6px 8px;margin:0;max-height:480px;overflow:auto;font:12px/1.45 ui-monospace,monospace}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.msg .role{font-size:12px;font-weight:600;color:var(--muted);margin-top:6px}
ins{background:var(--ins);text-decoration:none}del{background:var(--del)}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}
svg text{fill:var(--fg);font-size:11px}svg .axis{stroke:var(--muted)}svg circle{fill:var(--accent)}
svg circle.met{fill:var(--ok)}svg circle.missed{fill:var(--bad)}
.tag{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 6px;font-size:12px;margin-right:4px}
"""

SCRIPT = """
(function () {
  var form = document.getElementById("filters");
  if (!form) return;
  form.hidden = false;
  var cases = Array.prototype.slice.call(document.querySelectorAll("article.case"));
  var tags = cases.map(function (c) { return JSON.parse(c.getAttribute("data-tags") || "[]"); });
  var texts = null;
  var shown = document.getElementById("shown");
  function value(name) { var el = form.elements[name]; return el ? el.value : ""; }
  function apply() {
    var failed = form.elements.failed.checked;
    var reg = form.elements.regressions ? form.elements.regressions.checked : false;
    var ds = value("dataset"), tag = value("tag"), model = value("model");
    var q = value("q").trim().toLowerCase();
    if (q && !texts) texts = cases.map(function (c) { return c.textContent.toLowerCase(); });
    var n = 0;
    for (var i = 0; i < cases.length; i++) {
      var c = cases[i], status = c.getAttribute("data-status");
      var keep = (!failed || status === "failed" || status === "error") &&
        (!reg || c.getAttribute("data-regression") === "1") &&
        (!ds || c.getAttribute("data-dataset") === ds) &&
        (!model || c.getAttribute("data-model") === model) &&
        (!tag || tags[i].indexOf(tag) >= 0) &&
        (!q || texts[i].indexOf(q) >= 0);
      c.hidden = !keep;
      if (keep) n++;
    }
    shown.textContent = n + " of " + cases.length + " cases shown";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  apply();
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


#: Nothing loads from anywhere; only this file's own style and script run.
CSP = (f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str) -> str | None:
    """HTML of ``old`` → ``new`` word by word (``<del>``/``<ins>``), escaped; None when too long to diff."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) > MAX_DIFF_TOKENS or len(b) > MAX_DIFF_TOKENS:
        return None
    # A change, the spaces between, and the next change read as one change ("yes, a" → "no money"),
    # not as a chequerboard of single words.
    ops: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        op = "equal" if tag == "equal" else "change"
        if ops and op == "change" and len(ops) >= 2 and ops[-2][0] == "change" and ops[-1][0] == "equal" \
                and not "".join(a[ops[-1][1]:ops[-1][2]]).strip():
            ops.pop()
            ops[-1][2], ops[-1][4] = i2, j2
        elif ops and ops[-1][0] == op == "change":
            ops[-1][2], ops[-1][4] = i2, j2
        else:
            ops.append([op, i1, i2, j1, j2])
    out: list[str] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append("<del>" + escape("".join(a[i1:i2])) + "</del>")
        if j2 > j1:
            out.append("<ins>" + escape("".join(b[j1:j2])) + "</ins>")
    return "".join(out)


# -- summary figures ---------------------------------------------------------------------------


def _baseline_figures(d: DatasetResult) -> dict[str, str] | None:
    """The baseline's pass rate, cost and latency for ``d``'s cases, from the cases themselves (so a
    merged report shows them too); None when no baseline ran."""
    from .results import percentile

    base = [c.baseline for c in d.cases if c.baseline is not None]
    if not base:
        return None
    ran = [c for c in base if c.status != "skipped"]
    lat = [c.latency_ms for c in base if c.latency_ms is not None]
    return {
        "pass rate": _pct(sum(c.passed for c in ran) / len(ran)) if ran else "-",
        "cost": _cost(sum(c.cost_usd or 0.0 for c in base), any(c.cost_usd is not None for c in base)),
        "p50": _ms(percentile(lat, 0.5)),
        "p95": _ms(percentile(lat, 0.95)),
    }


def _summary_table(r: RunResult) -> list[str]:
    from .reports import dataset_row

    has_base = any(c.baseline is not None for c in r.cases)
    cols = ["", "dataset", "prompt", "model", "pass rate", "threshold", "passed", "tokens", "cost", "p50", "p95"]
    if has_base:
        cols += [f"{r.baseline_version or 'baseline'}: pass rate", "cost", "p50", "p95"]
    out = ["<table class=summary><thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr></thead><tbody>"]
    numeric = {"pass rate", "threshold", "tokens", "cost", "p50", "p95"}
    for d in r.datasets:
        row = dataset_row(d)
        status = row.pop("status")
        cells = [f"<td><span class='badge {'ok' if status == 'ok' else 'fail'}'>{_e(status)}</span></td>"]
        cells += [f"<td{' class=n' if k in numeric else ''}>{_e(v)}</td>" for k, v in row.items()]
        if has_base:
            base = _baseline_figures(d) or dict.fromkeys(("pass rate", "cost", "p50", "p95"), "-")
            cells += [f"<td class=n>{_e(v)}</td>" for v in base.values()]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def _comparison(r: RunResult) -> list[str]:
    if len(r.models) < 2:
        return []
    summaries = r.comparison()
    cheapest = r.cheapest()
    out = ["<h2>Model comparison</h2>", "<div class=cols><div><table><thead><tr><th>model</th><th>pass rate</th>"
           "<th>thresholds</th><th>tokens</th><th>cost</th><th>p50</th><th>p95</th></tr></thead><tbody>"]
    for m in summaries:
        name = _e(m.model or "-")
        out.append(f"<tr><td>{'<b>' + name + '</b>' if m.model == cheapest else name}</td>"
                   f"<td class=n>{_pct(m.pass_rate)}</td><td>{'met' if m.meets_thresholds else 'missed'}</td>"
                   f"<td class=n>{m.tokens:,}</td><td class=n>{_e(_cost(m.cost_usd, m.priced))}</td>"
                   f"<td class=n>{_ms(m.p50)}</td><td class=n>{_ms(m.p95)}</td></tr>")
    out.append("</tbody></table>")
    verdict = _e(r.cheapest_line()[:1].upper() + r.cheapest_line()[1:]) + "."
    if cheapest:
        verdict = verdict.replace(f": {_e(cheapest)}", f": <b>{_e(cheapest)}</b>", 1)
    out.append(f"<p>{verdict}</p>")
    out.append("</div><div>" + _chart(summaries) + "</div></div>")
    return out


def _chart(summaries: Sequence[Any]) -> str:
    """An inline SVG: cost (x) against pass rate (y), one labelled dot per model."""
    w, h, left, bottom, top, right = 420, 240, 48, 32, 12, 16
    top_cost = max((m.cost_usd for m in summaries), default=0.0) or 1.0
    parts = [f"<svg role=img aria-label='cost against pass rate per model' width={w} height={h} viewBox='0 0 {w} {h}'>",
             "<title>cost against pass rate per model</title>",
             f"<line class=axis x1={left} y1={h - bottom} x2={w - right} y2={h - bottom} />",
             f"<line class=axis x1={left} y1={top} x2={left} y2={h - bottom} />",
             f"<text x={left - 6} y={top + 4} text-anchor=end>100%</text>",
             f"<text x={left - 6} y={h - bottom} text-anchor=end>0%</text>",
             f"<text x={left} y={h - 10}>$0</text>",
             f"<text x={w - right} y={h - 10} text-anchor=end>{_e(_cost(top_cost))}</text>",
             f"<text x={(w + left) // 2} y={h - 10} text-anchor=middle>cost</text>"]
    for m in summaries:
        x = left + (w - left - right) * (m.cost_usd / top_cost)
        y = (h - bottom) - (h - bottom - top) * m.pass_rate
        cls = "met" if m.meets_thresholds else "missed"
        label = _e(m.model or "-")
        parts.append(f"<circle class={cls} cx={x:.1f} cy={y:.1f} r=5><title>{label}: {_pct(m.pass_rate)}, "
                     f"{_e(_cost(m.cost_usd, m.priced))}</title></circle>")
        anchor = "end" if x > w * 0.7 else "start"
        dx = -8 if anchor == "end" else 8
        parts.append(f"<text x={x + dx:.1f} y={y + 4:.1f} text-anchor={anchor}>{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


# -- cases -------------------------------------------------------------------------------------


def _ordered(r: RunResult) -> list[tuple[DatasetResult, CaseResult]]:
    """Every case: the regressions first, then the rest in the datasets' order."""
    regressed = {(g.dataset, g.case, g.model) for g in r.regressions}
    every = [(d, c) for d in r.datasets for c in d.cases]
    first = [(d, c) for d, c in every if c.regressed or (d.name, c.id, d.model) in regressed]
    chosen = {id(c) for _, c in first}
    return first + [(d, c) for d, c in every if id(c) not in chosen]


def _pre(text: str, cls: str = "") -> str:
    return f"<pre{' class=' + cls if cls else ''}>{_e(text)}</pre>"


def _case(n: int, d: DatasetResult, c: CaseResult, regressed: bool, multi_model: bool) -> str:
    status = c.status
    label = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}.get(status, status.upper())
    model = d.model or c.model or ""
    attrs = (f"class='case {_e(status)}{' regression' if regressed else ''}' id=case-{n} data-status='{_e(status)}' "
             f"data-dataset='{_e(d.name)}' data-model='{_e(d.model or '')}' data-regression='{int(regressed)}' "
             f"data-tags='{_e(json.dumps(list(c.tags), ensure_ascii=False))}'")
    facts = [f"score {c.score:.2f}"]
    if c.latency_ms is not None:
        facts.append(_ms(c.latency_ms))
    if c.cost_usd is not None:
        facts.append(_cost(c.cost_usd))
    if c.tokens:
        facts.append(f"{c.tokens:,} tokens")
    head = (f"<summary><span class='badge {_e(status)}'>{label}</span> <b>{_e(d.name)}/{_e(c.id)}</b>"
            + (f" <span class=meta>[{_e(model)}]</span>" if multi_model and model else "")
            + (" <span class='badge reg'>REGRESSION</span>" if regressed else "")
            + f" <span class=meta>{_e(' · '.join(facts))}</span>"
            + (f" <span class=reason>{_e(c.reason)}</span>" if status != "passed" and c.reason else "")
            + "</summary>")
    body = ["<div class=body>"]
    if c.description:
        body.append(f"<p>{_e(c.description)}</p>")
    if c.tags:
        body.append("<p>" + "".join(f"<span class=tag>{_e(t)}</span>" for t in c.tags) + "</p>")
    body.append(f"<p class=meta>{_e(c.source)}{' · model ' + _e(c.model) if c.model else ''}"
                f"{' · recorded' if c.recorded else ''}</p>")
    if c.inputs:
        body += ["<h4>inputs</h4>", _pre(json.dumps(c.inputs, ensure_ascii=False, indent=2, default=str))]
    if c.messages:
        body.append(f"<details class=messages><summary>rendered messages ({len(c.messages)})</summary>")
        for m in c.messages:
            body.append(f"<div class=msg><div class=role>{_e(m.get('role'))}</div>{_pre(golden_text(m.get('content')))}</div>")
        body.append("</details>")
    if c.tool_calls:
        body.append(f"<h4>tool calls ({len(c.tool_calls)})</h4>")
        body += [f"<div class=msg><div class=role>{_e(call_name(t))}</div>{_pre(call_arguments(t))}</div>"
                 for t in c.tool_calls]
    body += _output_and_golden(c)
    if c.baseline is not None:
        b = c.baseline
        body.append(f"<h4>on the baseline: <span class='badge {_e(b.status)}'>{_e(b.status.upper())}</span>"
                    f" score {b.score:.2f}{' · ' + _e(b.reason) if b.reason and b.status != 'passed' else ''}</h4>")
        body.append(f"<div class=cols><div><h4>baseline output</h4>{_pre(b.output or '', 'baseline')}</div>"
                    f"<div><h4>output now</h4>{_pre(c.output or '', 'output')}</div></div>")
        if b.output is not None and c.output is not None and b.output != c.output:
            diff = word_diff(b.output, c.output)
            if diff is not None:
                body.append(f"<h4>baseline → now</h4><pre class=diff>{diff}</pre>")
    if c.asserts:
        body.append("<h4>assertions</h4><table class=asserts><thead><tr><th>verdict</th><th>type</th><th>score</th>"
                    "<th>weight</th><th>reason</th></tr></thead><tbody>")
        for a in c.asserts:
            body.append(f"<tr><td class={'pass' if a.passed else 'fail'}>{'pass' if a.passed else 'FAIL'}</td>"
                        f"<td>{_e(a.type)}{' · ' + _e(a.description) if a.description else ''}</td>"
                        f"<td class=n>{a.score:.2f}</td><td class=n>{a.weight:g}</td><td>{_e(a.reason)}</td></tr>")
        body.append("</tbody></table>")
    elif c.reason and status in ("error", "skipped"):
        body += ["<h4>reason</h4>", _pre(c.reason)]
    body.append("</div>")
    open_ = " open" if status in ("failed", "error") else ""
    return f"<article {attrs}><details{open_}>{head}{''.join(body)}</details></article>"


def _output_and_golden(c: CaseResult) -> list[str]:
    if c.output is None and c.golden is None:
        return []
    golden, output = comparable(c.golden, c.output)
    out = [f"<div class=cols><div><h4>output</h4>{_pre(output, 'output') if c.output is not None else '<p class=meta>no output</p>'}</div>"
           f"<div><h4>golden</h4>{_pre(golden, 'golden') if c.golden is not None else '<p class=meta>no golden</p>'}</div></div>"]
    if c.output is not None and c.golden is not None:
        if golden == output:
            out.append("<p class=meta>the output equals the golden</p>")
        else:
            diff = word_diff(golden, output)
            out.append("<h4>golden → output, word by word</h4>" + (
                f"<pre class=diff>{diff}</pre>" if diff is not None else "<p class=meta>too long for a word diff</p>"))
    return out


def _filters(r: RunResult, pairs: Sequence[tuple[DatasetResult, CaseResult]]) -> str:
    datasets = list(dict.fromkeys(d.name for d in r.datasets))
    tags = sorted({t for _, c in pairs for t in c.tags})
    parts = ["<form id=filters hidden>",
             "<label><input type=checkbox name=failed> failed only</label>"]
    if r.baseline_version is not None or any(c.baseline is not None for _, c in pairs):
        parts.append("<label><input type=checkbox name=regressions> regressions only</label>")
    parts.append(_select("dataset", "every dataset", datasets))
    if len(r.models) > 1:
        parts.append(_select("model", "every model", [m or "" for m in r.models]))
    if tags:
        parts.append(_select("tag", "every tag", tags))
    parts.append("<input type=search name=q placeholder='text in a case' aria-label='text in a case'>")
    parts.append(f"<span id=shown class=meta>{len(pairs)} cases</span></form>")
    return "".join(parts)


def _select(name: str, every: str, values: Iterable[str]) -> str:
    options = "".join(f"<option value='{_e(v)}'>{_e(v)}</option>" for v in values)
    return f"<label>{_e(name)} <select name={name}><option value=''>{_e(every)}</option>{options}</select></label>"


def format_html(r: RunResult) -> str:
    """The report as one self-contained HTML page."""
    pairs = _ordered(r)
    regressed = {(g.dataset, g.case, g.model) for g in r.regressions}
    multi = len(r.models) > 1
    title = f"promptctl test · {r.version} · {'ok' if r.ok else 'FAIL'}"
    out = ["<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
           f"<meta http-equiv=Content-Security-Policy content=\"{_e(CSP)}\">",
           "<meta name=viewport content='width=device-width, initial-scale=1'>",
           f"<meta name=generator content='promptctl'><title>{_e(title)}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>promptctl test · {_e(r.version)}</h1>",
           f"<p class=run>mode {_e(r.mode)}" + (f" · baseline {_e(r.baseline_version)}" if r.baseline_version else "")
           + (f" · shard {r.shard[0]}/{r.shard[1]}" if r.shard else "") + "</p>",
           f"<p class='verdict {'ok' if r.ok else 'fail'}'>{_e(summary_line(r))}</p>"]
    for extra in (budget_line(r), baseline_note(r)):
        if extra:
            out.append(f"<p class=note>{_e(extra)}</p>")
    out.append("<h2>Datasets</h2>")
    out += _summary_table(r)
    if r.baseline_version is not None:
        regs = r.regressions
        out.append(f"<p>{len(regs) or 'No'} regression{'s' if len(regs) != 1 else ''} against {_e(r.baseline_version)}"
                   f"{' (listed first)' if regs else ''}.</p>")
    out += _comparison(r)
    out.append(f"<h2>Cases ({len(pairs)})</h2>")
    out.append(_filters(r, pairs))
    out.append("<noscript><p class=meta>The filters need JavaScript; every case is below.</p></noscript>")
    out.append("<section id=cases>")
    for n, (d, c) in enumerate(pairs, 1):
        out.append(_case(n, d, c, c.regressed or (d.name, c.id, d.model) in regressed, multi))
    out.append("</section>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"


__all__ = ["CSP", "format_html", "word_diff"]
