"""``promptctl run NAME``: one live call from the terminal, the answer streamed as it arrives."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError
from .app import app, see
from .common import ProjectOption, RefOption, TextOrJson, emit_json, note, project_dir
from .render import InputOption, InputsFileOption, SampleOption, gather_inputs


@app.command("run", epilog=see("commands.md#promptctl-run-name"))
def run_command(
    name: Annotated[str, typer.Argument(help="The prompt's name: its path under the prompt root, e.g. support/reply.")],
    input_: InputOption = None,
    inputs_file: InputsFileOption = None,
    sample: SampleOption = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", help="Call this model (an alias of promptctl.yaml or a model string) instead of the "
                     "prompt's; its fallbacks are then not tried."),
    ] = None,
    record: Annotated[
        bool,
        typer.Option("--record", help="Record the answer where `promptctl test` finds it (a case with these inputs "
                     "then replays it). Default: record nothing."),
    ] = False,
    stream: Annotated[
        bool,
        typer.Option("--stream/--no-stream", help="Stream the answer as it arrives (default), or ask for it whole."),
    ] = True,
    timeout: Annotated[
        Optional[float],
        typer.Option("--timeout", min=0.1, metavar="SECONDS", help="How long to wait for the answer to begin, and "
                     "between its pieces. Default: test.timeout_s of promptctl.yaml."),
    ] = None,
    fmt: Annotated[
        TextOrJson,
        typer.Option("--format", help="text: the answer on stdout as it arrives, figures on stderr; json: one "
                     "object on stdout when the answer is complete."),
    ] = TextOrJson.text,
    ref: RefOption = None,
    project: ProjectOption = None,
) -> None:
    """Call the model once with a rendered prompt and print its answer as it arrives.

    The answer goes to stdout; tokens, cost and latency to stderr (so `promptctl run … > answer.txt`
    keeps only the answer). Inputs are given as for `promptctl render`. The call follows the prompt's
    retries and fallbacks until its first words arrive. Nothing is recorded unless --record.
    `--format json` prints {prompt, ref, model, resolved_model, text, tool_calls, usage, cost_usd,
    latency_ms, first_token_ms, finish_reason, recorded}.

    Exit codes: 0 answered, 1 the call failed, 2 bad input (unknown prompt, inputs, model, a missing key).

    Example: promptctl run support/reply -s refund --model fast
    """
    from ..project import open_project

    proj = open_project(project_dir(project), ref=ref)
    prompt = proj.get_prompt(name)
    values = gather_inputs(proj, name, sample, inputs_file, input_)
    messages = proj.renderer.render(prompt, values)
    model_name = model or prompt.model
    if not model_name:
        raise UsageError(f"prompt {prompt.name!r} names no model",
                         hint=f"pass --model, or set `model:` in {prompt.source} or `defaults.model` in promptctl.yaml")
    from ..evals.runner import chat_requests

    config = proj.config
    request, fallbacks = chat_requests(prompt, messages, model_name, config.models, fallbacks=model is None)
    from ..evals.preflight import check_models
    from ..evals.providers import uses_litellm

    endpoints = [r.endpoint for r in (request, *fallbacks)]
    check_models(endpoints, config.models, live=True, client=config.test.client)
    if any(uses_litellm(ep, config.test.client) for ep in endpoints):
        from ..evals.provider import litellm_installed

        litellm_installed()
    text_out = fmt is TextOrJson.text
    completion, served_by = _call(request, fallbacks, config, timeout, stream, show=text_out)
    recorded = _record(proj, prompt.name, request, completion) if record else None
    if not text_out:
        model_of = {ep.name: ep.model for ep in reversed(endpoints)}  # the alias that answered -> its model
        emit_json({
            "prompt": prompt.name, "ref": proj.ref_of(prompt), "model": served_by,
            "resolved_model": model_of.get(served_by, served_by),
            "text": completion.text, "tool_calls": [dict(c) for c in completion.tool_calls],
            "usage": dict(completion.usage), "cost_usd": completion.cost_usd,
            "latency_ms": round(completion.latency_ms, 1),
            "first_token_ms": round(completion.first_token_ms, 1) if completion.first_token_ms is not None else None,
            "finish_reason": completion.finish_reason, "recorded": recorded,
        })
        return
    for call in completion.tool_calls:
        fn = call.get("function") or {}
        typer.echo(f"tool call: {fn.get('name')}({fn.get('arguments')})")
    note(_figures(proj.ref_of(prompt), served_by, completion, recorded))


def _call(request: Any, fallbacks: list[Any], config: Any, timeout: float | None, stream: bool, *,
          show: bool) -> tuple[Any, str]:
    """The completion of ``request`` (or of the first fallback that answers) and the name of the model
    that answered, its text written to stdout as it arrives when ``show``. A failure once text was shown
    is not retried (a retry would print it again)."""
    import asyncio

    from ..errors import ProviderError
    from ..evals.provider import Attempts, RetryPolicy, call_with_policy
    from ..evals.providers import Providers

    policy = RetryPolicy(retries=config.test.retries, timeout_s=timeout or config.test.timeout_s)
    by_endpoint = {r.endpoint: r for r in (request, *fallbacks)}
    shown = _Shown()

    def on_text(text: str) -> None:
        shown.any, shown.last = True, text
        if show:
            sys.stdout.write(text)
            sys.stdout.flush()

    async def main() -> Any:
        providers = Providers(1, config.test.client)

        async def attempt(endpoint: Any) -> Any:
            try:
                if stream:
                    return await providers.stream(by_endpoint[endpoint], policy.timeout_s, on_text)
                completion = await providers.complete(by_endpoint[endpoint], policy.timeout_s)
                if completion.text:
                    on_text(completion.text)
                return completion
            except ProviderError as e:
                if shown.any:  # the answer began: another try, or a fallback, would print a second one
                    raise _Stop(e) from None
                raise

        try:
            await providers.ready(by_endpoint)
            return await call_with_policy(attempt, list(by_endpoint), policy, stats=stats, bounded_attempts=not stream)
        finally:
            await providers.aclose()

    def end_line() -> None:  # what was shown of the answer, ended by a newline
        if shown.any and show and not shown.last.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()

    stats = Attempts()  # which model answered
    try:
        completion = asyncio.run(main())
    except KeyboardInterrupt:  # asyncio.run cancelled the call (its connection is closed) and re-raised
        end_line()
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except (ProviderError, _Stop) as e:
        error = e.error if isinstance(e, _Stop) else e
        end_line()
        hint = f" ({error.hint})" if error.hint else ""
        sys.stderr.write(f"error: {error.message}{hint}\n")
        raise typer.Exit(1) from None
    end_line()
    return completion, stats.served_by or request.endpoint.name


class _Shown:
    """What of the answer was shown: anything at all, and its last piece."""

    any = False
    last = ""


class _Stop(BaseException):
    """A streamed answer that failed part way: out of the retry loop and past the fallbacks at once
    (a BaseException, as cancellation is, so that the policy does not take it for a failed attempt)."""

    def __init__(self, error: Any) -> None:
        super().__init__(str(error))
        self.error = error


def _record(proj: Any, prompt: str, request: Any, completion: Any) -> str:
    """Record ``completion`` as the answer to ``request``, as `promptctl test` would: under the
    primary request's key, in the prompt's recordings file; the file, relative to the project."""
    from pathlib import Path

    from ..evals.recordings import RecordingStore, prompt_file, request_key
    from ..evals.runner import run_secrets

    root = Path(proj.config.root)
    store = RecordingStore(root / proj.config.test.recordings, secrets=run_secrets(proj))
    key = request_key("chat", request.key_payload())
    file = prompt_file(prompt)
    try:
        store.put(key, {"kind": "chat", "prompt": prompt, "source": "promptctl run", "request": request.payload(),
                        "response": completion.to_json()}, file=file)
    finally:
        store.close()
    store.compact()
    return (Path(proj.config.test.recordings) / file).as_posix()


def _figures(ref: str, model: str, completion: Any, recorded: str | None) -> str:
    """``support/reply@3f9a2c1 · fast · 42 tokens (30 in, 12 out) · $0.000021 · 0.84 s (first words 0.12 s)``."""
    from ..text import plural

    usage = completion.usage
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        tokens = (f"{plural(usage.get('total_tokens', 0), 'token')} ({usage.get('prompt_tokens', 0)} in, "
                  f"{usage.get('completion_tokens', 0)} out)")
    else:
        tokens = "tokens unknown (the server reported no usage)"
    cost = f"${completion.cost_usd:.6f}" if completion.cost_usd is not None else "cost unknown (no price for this model)"
    latency = f"{completion.latency_ms / 1000:.2f} s"
    if completion.first_token_ms is not None:
        latency += f" (first words {completion.first_token_ms / 1000:.2f} s)"
    parts = [ref, model, tokens, cost, latency]
    if completion.finish_reason not in (None, "stop", "tool_calls"):
        parts.append(f"finish: {completion.finish_reason}")
    if recorded:
        parts.append(f"recorded in {recorded}")
    return " · ".join(parts)
