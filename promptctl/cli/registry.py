"""``publish``, ``promote``, ``rollback``, ``release``, ``versions``, ``history``, ``show``, ``verify``."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .app import app, see
from .common import ProjectOption, TextOrJson, emit_json, note, project_dir

RegistryOption = Annotated[
    Optional[str],
    typer.Option(
        "--registry",
        metavar="URL",
        help="The registry: a path, file://… or s3://bucket/prefix. Default: $PROMPTCTL_REGISTRY, else `registry:` "
        "in promptctl.yaml. With it, no project is needed (except for publish).",
    ),
]
FormatOption = Annotated[TextOrJson, typer.Option("--format", help="text for people, json for scripts.")]
ReasonOption = Annotated[Optional[str], typer.Option("--message", "-m", help="Why: recorded in the channel's history.")]


def _open(project: Any, registry: Optional[str]) -> Any:
    from ..registry.resolve import open_registry

    return open_registry(project_dir(project), url=registry)


def _actor(handle: Any) -> str:
    from ..registry.actor import current_actor

    return current_actor(handle.root)


def _moved(move: Any, fmt: TextOrJson) -> None:
    from ..registry.formats import move_line

    if fmt is TextOrJson.json:
        emit_json(move.to_json())
    else:
        typer.echo(move_line(move))
    if move.note:
        note(move.note)


@app.command("publish", epilog=see("registry.md#promptctl-publish"))
def publish_command(
    message: Annotated[Optional[str], typer.Option("--message", "-m", help="What this version is: kept in the bundle.")] = None,
    channel: Annotated[Optional[str], typer.Option("--channel", help="Also promote the new version to this channel.")] = None,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Publish uncommitted changes (recorded as dirty: true; no git tag).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Publish even when the prompts are identical to the latest version.")] = False,
    require_tests: Annotated[
        bool, typer.Option("--require-tests", help="Refuse to publish unless `promptctl test --mode replay` passes on "
                           "the prompts being published (every dataset meets its threshold).")
    ] = False,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Publish the committed prompts as the next immutable version (v1, v2, …) and tag the commit.

    Refuses uncommitted changes to promptctl.yaml or the prompt root (unless --allow-dirty) and
    any lint error. Writes bundles/vNNNNNN.json once, creates the annotated git tag <tag_prefix>vN
    with the digest, and prints `published v3 (sha256:…)`. Identical to the latest version: publishes
    nothing (--force does). The bundle records the replayed eval summary (`promptctl test --mode
    replay`: pass rate, latency, tokens and cost per dataset and prompt), which `promptctl monitor`
    shows beside production; --require-tests refuses to publish when it fails.

    Example: promptctl publish -m "friendlier refunds" --channel staging
    """
    from ..registry.formats import move_line
    from ..registry.publish import publish

    result = publish(project_dir(project), message=message, channel=channel, allow_dirty=allow_dirty, force=force,
                     registry=registry, require_tests=require_tests)
    if fmt is TextOrJson.json:
        emit_json(result.to_json())
    elif result.published:
        typer.echo(f"published {result.name} ({result.digest})")
    if not result.published:
        note(f"nothing published: the prompts are identical to {result.name} ({result.digest}); --force publishes anyway")
    for warning in result.warnings:
        note(f"warning: {warning}")
    if result.tag:
        note(f"tagged {result.tag} on {result.commit[:7] if result.commit else '?'}")
    if result.promotion is not None:
        if fmt is TextOrJson.text:
            typer.echo(move_line(result.promotion))
        if result.promotion.note:
            note(result.promotion.note)


@app.command("promote", epilog=see("registry.md"))
def promote_command(
    version: Annotated[str, typer.Argument(help="The version to serve (v3), or a channel whose version to take.")],
    channel: Annotated[str, typer.Argument(help="The channel to move, e.g. production. Created on first promote.")],
    reason: ReasonOption = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even though the channel is on hold (it stays on hold).")] = False,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Point a channel at a published version: writes the channel's next record, then its HEAD.json.

    Refuses a channel on hold after a rollback (release it, or --force). Promoting the version the
    channel already serves writes nothing. If another writer moves the channel at the same moment,
    one of the two gets a conflict (exit 1) and writes nothing: check `promptctl history`, then retry.

    Example: promptctl promote v3 production -m "ticket 123 fixed"
    """
    from ..registry.ops import promote

    handle = _open(project, registry)
    _moved(promote(handle, version, channel, actor=_actor(handle), reason=reason, force=force), fmt)


@app.command("rollback", epilog=see("registry.md"))
def rollback_command(
    channel: Annotated[str, typer.Argument(help="The channel to roll back, e.g. production.")],
    to: Annotated[Optional[str], typer.Option("--to", help="The version to go back to. Default: the one served before the current one.")] = None,
    reason: ReasonOption = None,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Point a channel back at an earlier version, and put it on hold.

    Default target: the version the channel served before the current one (skipping versions a
    rollback already moved away from). The hold makes `promote` refuse until `promptctl release`.
    Nothing is deleted or rewritten: the rollback is a new record in the channel's history.

    Example: promptctl rollback production -m "replies in the wrong language"
    """
    from ..registry.ops import rollback

    handle = _open(project, registry)
    _moved(rollback(handle, channel, actor=_actor(handle), to=to, reason=reason), fmt)


@app.command("release", epilog=see("registry.md"))
def release_command(
    channel: Annotated[str, typer.Argument(help="The channel on hold.")],
    reason: ReasonOption = None,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Lift the hold a rollback put on a channel, so that promote works again. The channel keeps its version.

    Example: promptctl release production -m "fixed in v5"
    """
    from ..registry.ops import release

    handle = _open(project, registry)
    _moved(release(handle, channel, actor=_actor(handle), reason=reason), fmt)


@app.command("versions", epilog=see("registry.md"))
def versions_command(
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """List published versions, newest first: number, date (UTC), commit, prompts, actor, channels, message.

    Every bundle's digest is checked. A damaged bundle is listed as DAMAGED with what is wrong,
    the good ones are listed as usual, and the exit code is 1 (so is a channel whose records are
    damaged: see `promptctl history CHANNEL`). JSON rows carry "damaged": null or the reason.
    """
    from ..registry.formats import format_versions
    from ..registry.ops import versions

    handle = _open(project, registry)
    found = versions(handle)
    rows = found.rows
    if fmt is TextOrJson.json:
        emit_json([r.to_json() for r in reversed(rows)])
    else:
        if not rows:
            note(f"nothing published yet in {handle.url}: run `promptctl publish`")
        typer.echo(format_versions(rows), nl=False)
    for problem in found.problems:
        note(f"error: {problem}")
    if not found.ok:
        raise typer.Exit(1)


@app.command("history", epilog=see("registry.md"))
def history_command(
    channel: Annotated[str, typer.Argument(help="The channel, e.g. production.")],
    max_count: Annotated[Optional[int], typer.Option("--max-count", "-n", min=1, help="Show at most this many records.")] = None,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """A channel's audit log, newest first: every move, who made it, when (UTC) and why.

    The records' hash chain is checked. A damaged record is listed as DAMAGED (with the repair
    record that skips it, if any) and the good ones as usual; damage no repair has skipped yet
    is an error (exit 1) naming the record. JSON: the records, and for each damaged one an
    object with "damaged" (missing, corrupt or unverified), "seq", "message", "repaired_by".
    """
    from ..registry.formats import format_history
    from ..registry.ops import history

    log = history(_open(project, registry), channel, limit=max_count)
    if fmt is TextOrJson.json:
        emit_json(log.to_json())
    else:
        typer.echo(format_history(log.entries), nl=False)
    if log.problem is not None:
        raise log.problem


@app.command("show", epilog=see("registry.md"))
def show_command(
    target: Annotated[str, typer.Argument(help="A version (v3) or a channel (production).")],
    name: Annotated[Optional[str], typer.Argument(help="A prompt in it; omit for the whole bundle.")] = None,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Show a published bundle (a summary; --format json prints the bundle itself), or one prompt in it.

    Examples: promptctl show production · promptctl show v3 support/reply --format json
    """
    from ..registry.formats import format_bundle, format_prompt
    from ..registry.ops import show

    data = show(_open(project, registry), target, name)
    if fmt is TextOrJson.json:
        emit_json(data["bundle"] if name is None and data["channel"] is None else data)
        return
    typer.echo(format_prompt(data) if name is not None else format_bundle(data), nl=False)


@app.command("verify", epilog=see("registry.md#promptctl-verify"))
def verify_command(
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Rewrite missing or stale HEAD.json mirrors of channels whose records check out; "
                     "with --channel, also re-anchor that channel's broken chain (a new audited record)."),
    ] = False,
    channel: Annotated[
        Optional[str], typer.Option("--channel", help="With --repair: the channel whose damaged records to skip.")
    ] = None,
    to: Annotated[
        Optional[str],
        typer.Option("--to", help="With --repair --channel: the version the channel serves after the repair. "
                     "Default: the version of its last good record."),
    ] = None,
    reason: ReasonOption = None,
    fmt: FormatOption = TextOrJson.text,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Check the whole registry: every bundle's digest, canonical form, schema and prompt hashes, and every
    channel's records (hash chain, bundle digests) and HEAD.json mirror.

    Prints one line per problem (corrupt, missing, stale or unverified object) and exits 1 when
    there is any. Damage a repair record has skipped is noted on stderr ("known damage") and is
    not a problem.

    A channel with a damaged record refuses to move. `promptctl verify --repair --channel production
    -m "why"` appends a repair record that names the damaged records, links to the last good one,
    and serves its version (or --to vN), keeping its hold; nothing is rewritten or deleted.
    """
    from ..errors import UsageError

    if (channel or to or reason) and not repair:
        raise UsageError("--channel, --to and -m go with --repair", hint="promptctl verify --repair --channel C -m WHY")
    if to and not channel:
        raise UsageError("--to needs --channel", hint="promptctl verify --repair --channel C --to vN -m WHY")
    if channel:
        from ..registry.formats import move_line
        from ..registry.ops import repair as repair_channel

        handle = _open(project, registry)
        move = repair_channel(handle, channel, actor=_actor(handle), reason=reason or "", to=to)
        if move.written:
            note(f"{move_line(move)}: {move.note}")
        else:
            note(move.note or "nothing to repair")
    from ..registry.formats import format_verify, verify_summary
    from ..registry.verify import verify_registry

    report = verify_registry(_open(project, registry).store, repair=repair)
    if fmt is TextOrJson.json:
        emit_json(report.to_json())
    else:
        typer.echo(format_verify(report), nl=False)
    for line in report.repaired:
        note(f"repaired {line}")
    for known in report.acknowledged:
        note(f"known damage: {known}")
    note(verify_summary(report))
    if not report.ok:
        raise typer.Exit(1)
