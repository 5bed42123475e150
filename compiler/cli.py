"""The compiler's `ferry` commands: a thin click layer. Each command parses its options and
makes one call; exit codes are 0 ok, 1 validation failure or stale output, 2 usage error.

They are attached to the `ferry` group with the sandbox's and the proxy's in ``ferry.cli``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .credentials import redact
from .diagnostics import FORMATTERS, format_text
from .explain import explain as explain_client
from .jsonschema import spec_schemas
from .org import build_org
from .output import diff_tree, read_tree, write_tree
from .plan import format_plan, plan_changes
from .render import render_org
from .spec import Specs
from .validate import validate_specs

specs_option = click.option(
    "--specs", "specs_dir", default="specs", show_default=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True), help="The specs directory.",
)
out_option = click.option(
    "--out", "out_dir", default="rendered", show_default=True,
    type=click.Path(path_type=Path, file_okay=False), help="The rendered output directory.",
)


def _validated(specs_dir: Path) -> Specs:
    """Validate; on errors print them (text) to stderr and exit 1."""
    result = validate_specs(specs_dir)
    if result.diagnostics:
        click.echo(format_text(result.diagnostics), nl=False, err=True)
    if not result.ok:
        errors = sum(d.is_error for d in result.diagnostics)
        click.echo(f"ferry: {errors} error(s) in {specs_dir}; nothing rendered", err=True)
        sys.exit(1)
    assert result.specs is not None  # ok implies loaded
    return result.specs


@click.command()
@specs_option
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="text", show_default=True)
def validate(specs_dir: Path, fmt: str) -> None:
    """Check every spec against the policies and each other."""
    result = validate_specs(specs_dir)
    click.echo(FORMATTERS[fmt](result.diagnostics), nl=False)
    specs = result.specs
    if fmt == "text" and result.ok and specs is not None:
        click.echo(f"ok: {len(specs.migrations)} migration(s), {len(specs.clusters.model.clusters)} cluster(s), "
                   f"{len(specs.clusters.model.gateways)} gateway(s)")
    sys.exit(0 if result.ok else 1)


@click.command()
@specs_option
@out_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when OUT is stale.")
def render(specs_dir: Path, out_dir: Path, check: bool) -> None:
    """Render proxy routes, MirrorMaker 2 / Connect configs and Helm values into OUT."""
    files = render_org(build_org(_validated(specs_dir)))
    if check:
        diff = diff_tree(files, out_dir, label=out_dir.name)
        if diff:
            click.echo(redact(diff), nl=False)  # the committed side may hold anything someone wrote there
            click.echo(f"ferry: {out_dir} is stale; run `ferry render` and commit the result", err=True)
            sys.exit(1)
        click.echo(f"{out_dir} is up to date ({len(files)} files)")
        return
    write_tree(files, out_dir)
    click.echo(f"rendered {len(files)} files into {out_dir}")


@click.command()
@specs_option
@out_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def plan(specs_dir: Path, out_dir: Path, fmt: str) -> None:
    """Describe what the specs change compared with the committed OUT."""
    files = render_org(build_org(_validated(specs_dir)))
    click.echo(redact(format_plan(plan_changes(read_tree(out_dir), files), fmt)), nl=False)


@click.command()
@click.argument("client_id")
@specs_option
@click.option("--gateway", help="Only this gateway.")
def explain(client_id: str, specs_dir: Path, gateway: str | None) -> None:
    """Show which rule routes CLIENT_ID, to which cluster, and where the rule came from."""
    org = build_org(_validated(specs_dir))
    if gateway and gateway not in {g.table.gateway for g in org.gateways}:
        known = ", ".join(sorted(g.table.gateway for g in org.gateways))
        raise click.BadParameter(f"unknown gateway {redact(repr(gateway))}; the specs define {known}",
                                 param_hint="--gateway")
    for line in explain_client(org, client_id, gateway):
        click.echo(redact(line))


@click.command()
@click.option("--out", "out_dir", default="schema", show_default=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when OUT is stale.")
def schema(out_dir: Path, check: bool) -> None:
    """Write JSON Schema for the spec files (for editors and CI)."""
    files = spec_schemas()
    if check:
        stale = [name for name, text in files.items() if read_tree(out_dir).get(name) != text]
        if stale:
            click.echo(f"ferry: stale schema files in {out_dir}: {', '.join(stale)}; run `ferry schema`", err=True)
            sys.exit(1)
        click.echo(f"{out_dir} is up to date")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(files)} schema files into {out_dir}")


@click.command()
@specs_option
@click.option("--spec", "spec_files", multiple=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Only this migration spec (repeatable). Default: every active migration.")
@click.option("--connections", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON with a `clusters` section (e.g. .ferry/sandbox.json) overriding addresses and credentials.")
@out_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def preflight(specs_dir: Path, spec_files: tuple[Path, ...], connections: Path | None, out_dir: Path, fmt: str) -> None:
    """Live gates before a cutover PR merges: topics, mirror lag, offset sync (exact when fenced), drain, strays."""
    import json

    from .live.connections import ClusterConnectionError, Connections
    from .live.preflight import format_table, run_preflight, topic_count

    specs = _validated(specs_dir)
    wanted = {p.resolve() for p in spec_files}
    selected = [
        m for m in specs.migrations
        if m.model.status.value == "active" and (not wanted or Path(m.doc.path).resolve() in wanted)
    ]
    if wanted and not selected:
        raise click.BadParameter("none of these files is an active migration spec under --specs", param_hint="--spec")
    try:
        conns = Connections(specs.clusters.model.clusters, connections)
        with click.progressbar(length=topic_count(selected), label="checking topics", file=sys.stderr) as bar:
            results = run_preflight(specs, selected, conns, out_dir, progress=bar.update)
    except ClusterConnectionError as exc:
        click.echo(f"ferry preflight: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps({"results": [r.as_dict() for r in results],
                               "failed": sum(r.status == "fail" for r in results)}, indent=2))
    else:
        click.echo(format_table(results), nl=False)
    sys.exit(1 if any(r.status == "fail" for r in results) else 0)


@click.command()
@specs_option
@out_option
@click.option("--decision-log", "logs", multiple=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The proxy's JSON decision log (repeatable; one per gateway replica).")
@click.option("--connections", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read groups' translated-offset positions from the clusters (file as for preflight).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(specs_dir: Path, out_dir: Path, logs: tuple[Path, ...], connections: Path | None, fmt: str) -> None:
    """Where every migration stands: stage, route in force, who still uses legacy."""
    import itertools
    import json

    from .live.connections import ClusterConnectionError, Connections
    from .live.facts import Reader
    from .live.routes import committed_tables
    from .live.status import build_status, format_status, offset_deltas, read_decision_log

    specs = _validated(specs_dir)
    tables = committed_tables(out_dir)
    opened = [p.open(encoding="utf-8", errors="replace") for p in logs]
    try:
        records = itertools.chain.from_iterable(read_decision_log(fh, source=i) for i, fh in enumerate(opened))
        rows, unmatched = build_status(specs, tables, records)
    finally:
        for fh in opened:
            fh.close()
    if connections is not None:
        try:
            offset_deltas(specs, rows, Reader(Connections(specs.clusters.model.clusters, connections)))
        except ClusterConnectionError as exc:
            click.echo(f"ferry status: {exc}", err=True)
            sys.exit(1)
    if fmt == "json":
        unmatched_on_legacy = {k: {"connections": v.connections, "last": v.last} for k, v in sorted(unmatched.items())}
        click.echo(json.dumps({"entries": [r.as_dict() for r in rows], "unmatched_on_legacy": unmatched_on_legacy},
                              indent=2))
    else:
        click.echo(format_status(rows, unmatched), nl=False)


@click.group("apply")
def apply_group() -> None:
    """Apply rendered output to running systems."""


@apply_group.command("connect")
@click.option("--url", required=True, help="The Kafka Connect worker's REST URL, e.g. http://localhost:8083.")
@click.option("--dir", "connect_dir", default="rendered/connect", show_default=True,
              type=click.Path(path_type=Path, file_okay=False), help="Rendered connectors (**/*.json).")
@click.option("--prune", is_flag=True, help="Delete ferry-* connectors that are no longer rendered.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--wait", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait for created/updated connectors to start (0: do not check).")
def apply_connect(url: str, connect_dir: Path, prune: bool, dry_run: bool, wait: float) -> None:
    """Create or update the rendered MirrorMaker 2 connectors on a Connect worker."""
    from .connect_apply import run as apply_connectors

    sys.exit(apply_connectors(url, connect_dir, prune=prune, dry_run=dry_run, wait=wait, echo=click.echo,
                              error=lambda line: click.echo(line, err=True)))


@click.group("cutover")
def cutover_group() -> None:
    """Steps of a fenced cutover."""


@cutover_group.command("align")
@specs_option
@click.option("--connections", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON with a `clusters` section (e.g. .ferry/sandbox.json) overriding addresses and credentials.")
@click.option("--group", help="Only this fenced consumer group.")
@click.option("--fenced-since", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="An earlier rendered tree (e.g. the previous commit's rendered/): only the groups whose fence "
                   "its route files do not have yet, the ones the change since put into the fence.")
@click.option("--dry-run", is_flag=True, help="Compute and show the offsets; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def cutover_align(specs_dir: Path, connections: Path | None, group: str | None, fenced_since: Path | None,
                  dry_run: bool, fmt: str) -> None:
    """Write each fenced group's exact position on the renamed topics to the target cluster."""
    import json

    from .live.align import format_alignment
    from .live.connections import ClusterConnectionError, Connections
    from .live.cutover import entered_fence, fenced_groups, run_align
    from .live.preflight import routes_in_force

    specs = _validated(specs_dir)
    selected = fenced_groups(specs, group)
    if group is not None and not selected:
        raise click.BadParameter(f"{group!r} is not a fenced group (fence: true, not cut over) of an active "
                                 "migration", param_hint="--group")
    if fenced_since is not None:
        selected = entered_fence(selected, routes_in_force(fenced_since, specs))
        if fmt == "text":
            if not selected:
                click.echo(f"no group entered the fence since {fenced_since}: nothing to align")
                return
            click.echo(f"entered the fence since {fenced_since}: {', '.join(g.name for g in selected)}", err=True)
    try:
        groups = run_align(Connections(specs.clusters.model.clusters, connections), selected, dry_run)
    except ClusterConnectionError as exc:
        click.echo(f"ferry cutover align: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps({"dry_run": dry_run, "groups": [g.as_dict() for g in groups],
                               "refused": sum(g.refused for g in groups)}, indent=2))
    else:
        click.echo(format_alignment(groups, dry_run), nl=False)
    sys.exit(1 if any(g.refused for g in groups) else 0)


@cutover_group.command("report")
@specs_option
@click.option("--connections", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON with a `clusters` section (e.g. .ferry/sandbox.json) overriding addresses and credentials.")
@out_option
@click.option("--decision-log", "logs", multiple=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The proxy's JSON decision log (repeatable; one per gateway replica): who was still on legacy.")
@click.option("--group", "groups", multiple=True, help="Only this consumer group (repeatable).")
@click.option("--producer", "producers", multiple=True, help="Only this producer (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--state-dir", default=".ferry", show_default=True, type=click.Path(path_type=Path, file_okay=False),
              help="The run's state folder: the report is written into its reports/ folder (JSON and Markdown).")
def cutover_report(specs_dir: Path, connections: Path | None, out_dir: Path, logs: tuple[Path, ...],
                   groups: tuple[str, ...], producers: tuple[str, ...], fmt: str, state_dir: Path) -> None:
    """Evidence of a cutover: offsets per group and partition, mirrored position per producer, who is on legacy."""
    import json

    from .live.connections import ClusterConnectionError, Connections
    from .live.cutover import in_transition, run_report, write_report
    from .live.report import format_markdown

    specs = _validated(specs_dir)
    missing = {*groups, *producers} - {e.name for e in in_transition(specs, groups, producers)}
    if missing:
        raise click.BadParameter(f"{', '.join(sorted(missing))}: no fenced or cut-over entry of that kind in an "
                                 "active migration", param_hint="--group/--producer")
    try:
        report = run_report(specs, Connections(specs.clusters.model.clusters, connections), out_dir, logs,
                            groups, producers)
    except ClusterConnectionError as exc:
        click.echo(f"ferry cutover report: {exc}", err=True)
        sys.exit(1)
    json_path, md_path = write_report(report, state_dir)
    click.echo(json.dumps(report, indent=2) if fmt == "json" else format_markdown(report), nl=fmt == "json")
    click.echo(f"ferry cutover report: wrote {json_path} and {md_path}", err=True)


COMMANDS = (validate, render, plan, explain, schema, preflight, status, apply_group, cutover_group)
