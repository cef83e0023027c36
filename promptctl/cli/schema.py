"""``promptctl schema [NAME]``: print one JSON Schema, or list them."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import app, see
from .common import TextOrJson, emit_json


@app.command("schema", epilog=see("commands.md#promptctl-schema-name"))
def schema_command(
    name: Annotated[
        Optional[str],
        typer.Argument(help="project, prompt, dataset, bundle or channel-record. Omit to list them."),
    ] = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="Format of the list (a schema is always JSON).")] = TextOrJson.text,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a promptctl file, or list the schemas.

    Point an editor at them for completion and checks, e.g. `promptctl schema prompt > prompt.schema.json`.
    """
    from ..schemas import NAMES, load_schema, schema_path

    if name is None:
        rows = [
            {"name": n, "title": load_schema(n).get("title", ""), "path": str(schema_path(n))} for n in NAMES
        ]
        if fmt is TextOrJson.json:
            emit_json(rows)
        else:
            width = max(len(n) for n in NAMES)
            for row in rows:
                typer.echo(f"{row['name']:<{width}}  {row['title']}")
        return
    schema_path(name)  # an unknown name raises NotFoundError with suggestions
    emit_json(load_schema(name))
