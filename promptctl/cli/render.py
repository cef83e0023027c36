"""``promptctl render NAME``: render a prompt's messages with inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import PromptctlError, UsageError
from .app import app, see
from .common import ProjectOption, RefOption, TextOrJson, WatchOption, emit_json, note, project_dir


def _pairs(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--input {item!r} is not KEY=VALUE", hint="e.g. --input ticket='Where is my order?'")
        values[key] = value
    return values


def typed_inputs(pairs: dict[str, str], declared: dict[str, Any]) -> dict[str, Any]:
    """``--input`` values as the inputs declare them: ``KEY=@FILE`` is the file's text (``@@`` for a
    literal ``@``); a string input takes the text as it is; any other type (integer, number, boolean,
    array, object) reads the text as JSON (``-i bullets=2``, ``-i tags='["a","b"]'``)."""
    import json

    out: dict[str, Any] = {}
    for key, text in pairs.items():
        if text.startswith("@@"):
            text = text[1:]
        elif text.startswith("@"):
            path = Path(text[1:])
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise UsageError(f"--input {key}=@{path}: cannot read {path}: {getattr(e, 'strerror', None) or e}",
                                 hint="give a readable text file, or write @@ for a value that starts with @") from None
        kind = (declared.get(key) or {}).get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if kind is None or "string" in kinds:
            out[key] = text
            continue
        try:
            out[key] = json.loads(text)
        except ValueError:
            wanted = " or ".join(sorted(str(k) for k in kinds))
            example = {"integer": "3", "number": "0.5", "boolean": "true", "array": "'[\"a\", \"b\"]'",
                       "object": "'{\"k\": 1}'"}.get(str(kind), "null")
            raise UsageError(f"--input {key}={text[:40]!r}: {key!r} is declared {wanted}, and this is not JSON",
                             hint=f"e.g. --input {key}={example}") from None
    return out


InputOption = Annotated[
    Optional[list[str]],
    typer.Option("--input", "-i", metavar="KEY=VALUE", help="An input as KEY=VALUE, read by the input's declared "
                 "type: text for a string, JSON otherwise (-i bullets=2, -i tags='[\"a\"]'); KEY=@FILE reads a file. "
                 "Repeatable; wins over --inputs-file and --sample."),
]
InputsFileOption = Annotated[
    Optional[Path],
    typer.Option("--inputs-file", "--inputs", help="A YAML or JSON file of inputs (- reads stdin). Wins over --sample."),
]
SampleOption = Annotated[Optional[str], typer.Option("--sample", "-s", help="Start from the inputs of this named sample.")]


def gather_inputs(proj: Any, name: str, sample: str | None, inputs_file: Path | None, input_: list[str] | None) -> dict[str, Any]:
    """The inputs of a render of prompt ``name``: the sample's, then the file's, then each ``--input``."""
    from ..yamlio import load_inputs_file

    values: dict[str, Any] = {}
    if sample is not None:
        values.update(proj.sample_inputs(name, sample))
    if inputs_file is not None:
        values.update(load_inputs_file(str(inputs_file)))
    pairs = _pairs(input_ or [])
    if pairs:
        values.update(typed_inputs(pairs, dict(proj.get_prompt(name).inputs)))
    return values


@app.command("render", epilog=see("commands.md#promptctl-render-name"))
def render_command(
    name: Annotated[str, typer.Argument(help="The prompt's name: its path under the prompt root, e.g. support/reply.")],
    input_: InputOption = None,
    inputs_file: InputsFileOption = None,
    sample: SampleOption = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="text for people, json for scripts.")] = TextOrJson.text,
    ref: RefOption = None,
    watch: WatchOption = False,
    project: ProjectOption = None,
) -> None:
    """Render a prompt's messages exactly as the model will see them.

    Inputs are validated against the prompt's declared inputs (defaults applied); every problem is
    reported at once. `--format json` prints {prompt, ref, model, resolved_model, api_base, params, fallbacks,
    messages, output}.

    Example: promptctl render support/reply --input ticket="I want a refund" --format json
    """
    from ..project import open_project

    if watch:
        if ref is not None:
            raise UsageError("--watch renders the working tree, so it cannot be combined with --ref")
        from ..config import project_root
        from .watch import prompt_sources, touches
        from .watch import watch as watch_files

        def once(changed: set[str] | None) -> bool:
            proj = open_project(project_dir(project))  # anew: the files changed
            files = [str(inputs_file)] if inputs_file is not None else []
            try:
                files += prompt_sources(proj, proj.get_prompt(name))
            except PromptctlError:
                changed = None  # the prompt does not load: show why, whatever was saved
            if not touches(changed, files):
                return False
            _render_once(proj, name, gather_inputs(proj, name, sample, inputs_file, input_), fmt)
            return True

        root = project_root(project_dir(project))
        watch_files(root, once, skip=[root / ".promptctl"])
        return
    proj = open_project(project_dir(project), ref=ref)
    _render_once(proj, name, gather_inputs(proj, name, sample, inputs_file, input_), fmt)


def _render_once(proj: Any, name: str, values: dict[str, Any], fmt: TextOrJson) -> None:
    result = proj.render_result(name, values)
    if fmt is TextOrJson.json:
        emit_json(result)
        return
    model = result["model"] or "(none)"
    if result.get("resolved_model") and result["resolved_model"] != result["model"]:
        model += f" ({result['resolved_model']})"  # an alias, and what it resolves to
    note(f"{result['ref']}  model: {model}")
    for i, message in enumerate(result["messages"]):
        if i:
            typer.echo("")
        typer.echo(f"[{message['role']}]")
        typer.echo(message["content"])
