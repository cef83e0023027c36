"""``promptctl render NAME``: render a prompt's messages with inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError, UsageError
from .app import app
from .common import ProjectOption, RefOption, TextOrJson, emit_json, note, project_dir


def _pairs(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--input {item!r} is not KEY=VALUE", hint="e.g. --input ticket='Where is my order?'")
        values[key] = value
    return values


@app.command("render")
def render_command(
    name: Annotated[str, typer.Argument(help="The prompt's name: its path under the prompt root, e.g. support/reply.")],
    input_: Annotated[
        Optional[list[str]],
        typer.Option("--input", "-i", metavar="KEY=VALUE", help="An input as KEY=VALUE (a string). Repeatable; wins over --inputs and --sample."),
    ] = None,
    inputs_file: Annotated[
        Optional[Path],
        typer.Option("--inputs", help="A YAML or JSON file of inputs (- reads stdin). Wins over --sample."),
    ] = None,
    sample: Annotated[Optional[str], typer.Option("--sample", "-s", help="Start from the inputs of this named sample.")] = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="text for people, json for scripts.")] = TextOrJson.text,
    ref: RefOption = None,
    project: ProjectOption = None,
) -> None:
    """Render a prompt's messages exactly as the model will see them.

    Inputs are validated against the prompt's declared inputs (defaults applied); every problem is
    reported at once. `--format json` prints {prompt, ref, model, params, fallbacks, messages, output}.

    Example: promptctl render support/reply --input ticket="I want a refund" --format json
    """
    from ..project import open_project
    from ..yamlio import load_inputs_file

    proj = open_project(project_dir(project), ref=ref)
    values: dict[str, object] = {}
    if sample is not None:
        values.update(proj.sample_inputs(name, sample))
    if inputs_file is not None:
        values.update(load_inputs_file(str(inputs_file)))
    pairs = _pairs(input_ or [])
    values.update(pairs)
    try:
        result = proj.render_result(name, values)
    except InputError as e:
        if pairs and not e.hint:
            e.hint = "--input values are strings; pass numbers, lists and objects with --inputs FILE"
        raise
    if fmt is TextOrJson.json:
        emit_json(result)
        return
    note(f"{result['ref']}  model: {result['model'] or '(none)'}")
    for i, message in enumerate(result["messages"]):
        if i:
            typer.echo("")
        typer.echo(f"[{message['role']}]")
        typer.echo(message["content"])
