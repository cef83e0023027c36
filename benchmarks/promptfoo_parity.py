"""Verdict parity with promptfoo: the same (output, assertion) pairs through promptfoo's own assertion
runner and through promptctl's, side by side.

Needs node and promptfoo installed somewhere (not a dependency of promptctl; nothing in CI runs this):

    mkdir /tmp/pf && cd /tmp/pf && npm install promptfoo@0.121
    python benchmarks/promptfoo_parity.py --promptfoo /tmp/pf [--show 20]

The pairs cross a set of outputs with a set of deterministic assertions (no grader, no embeddings:
those need a model), plus case-level scoring (weights, `weight: 0`, a case `threshold`). Prints the
share of pairs where verdict and score agree, per type, and the pairs that differ.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUTPUTS = [
    "Paris", "paris", "The capital of France is Paris.", "", "  ", "42", "42.0", "1e-7", "true",
    '{"answer": "Paris", "n": 1}', '```json\n{"answer": "Paris"}\n```', '[1, 2, 3]', "NaN",
    "Here is the data: {\"a\": 1} and more", "I'm sorry, but I can't help with that.",
    "As an AI language model, I cannot do that.", "<order><id>7</id><total>3</total></order>",
    "Text with <b>xml</b> inside", "hello, world and universe", "line one\nline two\nend",
    "The quick brown fox jumps over the lazy dog", "the cat sat on the mat", "SELECT id, name FROM users",
    "SELECT id name FROM users", "SELECT * FROM users WHERE", "Query:\n```sql\nSELECT 1\n```",
    '[{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]',
    '{"tool_calls": [{"function": {"name": "get_time", "arguments": "{}"}}, {"function": {"name": "get_weather"}}]}',
]
ASSERTIONS = [
    {"type": "equals", "value": "Paris"}, {"type": "equals", "value": 42}, {"type": "equals", "value": {"answer": "Paris", "n": 1}},
    {"type": "contains", "value": "Paris"}, {"type": "contains", "value": 1.0}, {"type": "contains", "value": 1e-7},
    {"type": "icontains", "value": "PARIS"}, {"type": "not-contains", "value": "sorry"},
    {"type": "contains-any", "value": ["Paris", "Lyon"]}, {"type": "contains-any", "value": '"hello, world",universe'},
    {"type": "contains-all", "value": ["line", "end"]}, {"type": "icontains-any", "value": ["PARIS", "dog"]},
    {"type": "icontains-all", "value": ["THE", "fox"]}, {"type": "starts-with", "value": "The"},
    {"type": "regex", "value": "^Paris$"}, {"type": "regex", "value": "(?<city>Paris)"}, {"type": "regex", "value": "end$"},
    {"type": "regex", "value": "\\d+"}, {"type": "not-regex", "value": "sorry"},
    {"type": "is-json"}, {"type": "is-json", "value": {"type": "object", "required": ["answer"]}},
    {"type": "contains-json"}, {"type": "not-is-json"},
    {"type": "levenshtein", "value": "Paris", "threshold": 1}, {"type": "levenshtein", "value": "The capital of France is Paris"},
    {"type": "word-count", "value": 1}, {"type": "word-count", "value": {"min": 2, "max": 6}},
    {"type": "is-refusal"}, {"type": "not-is-refusal"},
    {"type": "is-xml"}, {"type": "is-xml", "value": "order.id"}, {"type": "contains-xml"},
    {"type": "bleu", "value": "the cat sat on the mat"}, {"type": "bleu", "value": "The quick brown fox jumps over the dog"},
    {"type": "rouge-n", "value": "The cat sat on the mat."}, {"type": "rouge-n", "value": "The capital of France is Paris"},
    {"type": "not-rouge-n", "value": "Paris"},
    {"type": "is-sql"}, {"type": "contains-sql"}, {"type": "is-sql", "value": {"databaseType": "PostgresQL"}},
    {"type": "tool-call-f1", "value": ["get_weather"]}, {"type": "tool-call-f1", "value": "get_weather, get_time"},
    {"type": "not-tool-call-f1", "value": ["get_weather"]},
]
CASE_SCORING = [  # (output, assertions, case threshold)
    ("Paris", [{"type": "contains", "value": "Paris", "weight": 2}, {"type": "contains", "value": "Lyon"}], None),
    ("Paris", [{"type": "contains", "value": "Paris", "weight": 2}, {"type": "contains", "value": "Lyon"}], 0.6),
    ("Paris", [{"type": "contains", "value": "Lyon", "weight": 0}, {"type": "contains", "value": "Paris"}], None),
    ("Paris", [{"type": "contains", "value": "Lyon", "weight": 0}], None),
    ("Paris", [{"type": "contains", "value": "Paris", "weight": 0}], 0.5),
    ("Paris", [{"type": "contains", "value": "Lyon"}, {"type": "contains", "value": "Rome"}], 0.0),
    ("Paris", [{"type": "assert-set", "threshold": 0.5, "assert": [{"type": "contains", "value": "Paris"},
                                                                  {"type": "contains", "value": "Lyon"}]}], None),
]

NODE = r"""
import promptfoo from 'promptfoo';
import readline from 'node:readline';
const out = [];
for await (const line of readline.createInterface({ input: process.stdin })) {
  const job = JSON.parse(line);
  try {
    if (job.kind === 'one') {
      const r = await promptfoo.assertions.runAssertion({ assertion: job.assertion, test: { vars: {} },
        providerResponse: { output: job.output } });
      out.push({ pass: r.pass, score: r.score, reason: r.reason });
    } else {
      const r = await promptfoo.assertions.runAssertions({ test: { vars: {}, assert: job.asserts, threshold: job.threshold ?? undefined },
        providerResponse: { output: job.output } });
      out.push({ pass: r.pass, score: r.score, reason: r.reason });
    }
  } catch (e) { out.push({ error: String(e && e.message || e) }); }
}
process.stdout.write(JSON.stringify(out));
"""


def promptfoo_verdicts(folder: Path, jobs: list[dict]) -> list[dict]:
    script = folder / "promptctl_parity.mjs"
    script.write_text(NODE)
    p = subprocess.run(["node", str(script)], input="\n".join(json.dumps(j) for j in jobs), capture_output=True,
                       text=True, cwd=folder, timeout=600)
    if p.returncode:
        raise SystemExit(f"node failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout)


def promptctl_verdicts(jobs: list[dict]) -> list[dict]:
    from promptctl.evals.assertions import Subject, evaluate, verdict

    out = []
    for job in jobs:
        if job["kind"] == "one":
            (r,) = asyncio.run(evaluate([job["assertion"]], Subject(output=job["output"])))
            out.append({"pass": r.passed, "score": r.score, "reason": r.reason})
        else:
            results = asyncio.run(evaluate(job["asserts"], Subject(output=job["output"])))
            passed, score, reason = verdict(results, job["threshold"])
            out.append({"pass": passed, "score": score, "reason": reason})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promptfoo", type=Path, required=True, help="a folder where `npm install promptfoo` ran")
    parser.add_argument("--show", type=int, default=30, help="how many differing pairs to print")
    args = parser.parse_args()
    jobs = [{"kind": "one", "output": o, "assertion": a} for a in ASSERTIONS for o in OUTPUTS]
    jobs += [{"kind": "case", "output": o, "asserts": asserts, "threshold": t} for o, asserts, t in CASE_SCORING]
    theirs = promptfoo_verdicts(args.promptfoo.resolve(), jobs)
    ours = promptctl_verdicts(jobs)
    same, total, differ = Counter(), Counter(), []
    for job, t, o in zip(jobs, theirs, ours, strict=True):
        kind = job["assertion"]["type"] if job["kind"] == "one" else "case scoring"
        total[kind] += 1
        if "error" in t:  # promptfoo refused the assertion (an invalid value): promptctl must fail it
            agree = not o["pass"]
        else:
            agree = t["pass"] == o["pass"] and abs(float(t["score"]) - o["score"]) < 1e-6
        if agree:
            same[kind] += 1
        else:
            differ.append((job, t, o))
    n, k = sum(total.values()), sum(same.values())
    print(f"promptfoo and promptctl agree (verdict and score) on {k} of {n} pairs ({k / n:.1%})")
    for kind in sorted(total, key=lambda x: same[x] / total[x]):
        if same[kind] != total[kind]:
            print(f"  {kind:<24} {same[kind]:>3} of {total[kind]}")
    for job, t, o in differ[: args.show]:
        what = job.get("assertion") or {"asserts": job["asserts"], "threshold": job["threshold"]}
        print(f"\n{json.dumps(what)}\n  output {job['output']!r}\n  promptfoo {t}\n  promptctl {o}")


if __name__ == "__main__":
    main()
