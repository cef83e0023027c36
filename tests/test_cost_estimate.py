"""`--max-cost` estimates each call from the rendered prompt's tokens and the answer's likely length
(its golden's), at the price table's prices: within 2x of the real cost on the embedded example."""

from __future__ import annotations

import json

from promptctl.evals.prices import estimate_cost
from promptctl.evals.provider import ChatRequest, resolve_endpoint
from promptctl.evals.recordings import request_key
from promptctl.evals.runner import Budget, golden_tokens, response_format, select_datasets
from promptctl.project import open_project


def test_the_estimate_of_every_example_call_is_within_2x_of_what_it_cost(cli, tmp_path):
    assert cli(["init", str(tmp_path / "demo")]).code == 0
    project = open_project(tmp_path / "demo")
    recorded = {}
    for path in (tmp_path / "demo" / project.config.test.recordings).rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            recorded[record["key"]] = record["response"]["cost_usd"]
    ratios = []
    for dataset in select_datasets(project, []):
        prompt = project.get_prompt(dataset.prompt)
        for case in dataset.cases:
            messages = project.renderer.render(prompt, case.inputs)
            endpoint = resolve_endpoint(prompt.model, project.config.models)
            request = ChatRequest(endpoint, tuple(messages), {**endpoint.params, **prompt.params}, response_format(prompt.output))
            cost = recorded[request_key("chat", request.key_payload())]
            budget = Budget(1.0)  # a fresh run: nothing seen yet, the worst case for an estimate
            estimate = budget.estimate(estimate_cost(request, budget.expected_output_tokens(request.params,
                                                                                          golden_tokens(case.golden))))
            ratios.append(estimate / cost)
    assert len(ratios) == 5
    print("estimate / cost:", [round(r, 2) for r in ratios])
    assert all(0.5 <= r <= 2.0 for r in ratios), ratios


def test_without_a_golden_the_estimate_learns_from_the_calls_of_the_run():
    budget = Budget(1.0)
    assert budget.expected_output_tokens({"max_tokens": 400}) == 256  # a limit is a ceiling, not a guess
    assert budget.expected_output_tokens({"max_tokens": 50}) == 50
    assert budget.expected_output_tokens({"max_tokens": 400}, golden_tokens("x" * 120)) == 31
    assert budget.expected_output_tokens({}, golden_tokens({"reply": "hi"})) == 4  # as JSON text
    from promptctl.evals.provider import Completion

    budget.settle(0.0, Completion(text="a", model="m", usage={"completion_tokens": 30}, cost_usd=0.002), by_tokens=0.001)
    assert budget.expected_output_tokens({"max_tokens": 400}) == 31  # the mean of the answers so far
    assert budget.estimate(0.001) == 0.002  # this run's calls cost twice their estimates: learnt
    assert budget.estimate(None) == 0.002  # no price: the mean cost of the calls so far


def test_the_text_report_says_what_the_estimate_was(cli, tmp_path):
    # replayed answers cost nothing new, so the line shows a run that made no live call
    assert cli(["init", str(tmp_path / "demo")]).code == 0
    r = cli(["test", "--mode", "replay", "--max-cost", "0.01"], cwd=tmp_path / "demo")
    assert r.code == 0, r.err
    assert "budget $0.01: live calls cost $0.000000 (estimated $0.000000 before they were made)" in r.err
