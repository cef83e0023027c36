"""A generated project for the benchmarks: N prompts spread over 10 folders, sharing 20 partials."""

from __future__ import annotations

from pathlib import Path

PROMPT = """\
description: Generated prompt {i}.
model: openai/gpt-4o-mini
params: {{temperature: 0.{t}}}
inputs:
  ticket: {{type: string, maxLength: 4000}}
  tone: {{type: string, enum: [formal, friendly], default: friendly}}
messages:
  - role: system
    content: |
      You are agent {i}. Answer in a {{{{ tone }}}} tone.
      {{% include "partials/p{p}.j2" %}}
  - role: user
    content: "{{{{ ticket }}}}"
samples:
  - {{name: s, inputs: {{ticket: hello}}}}
"""


def write_project(root: Path, prompts: int, *, changed: set[int] = frozenset(), version: int = 0) -> None:  # type: ignore[assignment]
    """Write promptctl.yaml, 20 partials and ``prompts`` prompts (those in ``changed`` get ``version``'s temperature)."""
    (root / "promptctl.yaml").write_text("promptctl: 1\n")
    for p in range(20):
        path = root / "prompts" / "partials" / f"p{p}.j2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Policy {p}: be brief and kind.\n")
    for i in range(prompts):
        path = root / "prompts" / f"team{i % 10}" / f"prompt{i}.prompt.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PROMPT.format(i=i, t=2 + (version if i in changed else 0), p=i % 20))
