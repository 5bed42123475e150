"""`ferry sandbox up|sync|status|down|demo`: the specs running on this machine.

Part of the `ferry` group composed in ``ferry.cli``. A thin click layer over ``sandbox.stack``
(and ``sandbox.demo``); exit codes 0 ok, 1 failure (or, for ``status``, something not running),
2 usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

state_option = click.option(
    "--state-dir", default=".ferry", show_default=True, type=click.Path(path_type=Path, file_okay=False),
    help="Where sandbox.json, logs/ and the clusters' data live.",
)


@click.group("sandbox")
def sandbox() -> None:
    """Run the specs locally: clusters, MirrorMaker 2 per flow, a proxy per gateway."""


@sandbox.command()
@click.option("--specs", "specs_dir", default="specs", show_default=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True), help="The specs directory.")
@state_option
@click.option("--timeout", default=240.0, show_default=True, help="Seconds until everything must be ready.")
@click.option("--no-proxy", is_flag=True, help="Do not start proxies.")
def up(specs_dir: Path, state_dir: Path, timeout: float, no_proxy: bool) -> None:
    """Start one cluster per spec cluster, MirrorMaker 2 per rendered flow and a proxy per
    gateway; return once all are ready (they keep running: `ferry sandbox down` stops them)."""
    from .errors import SandboxError
    from .stack import state_path
    from .stack import up as start

    try:
        state = start(specs_dir, state_dir, echo=click.echo, timeout=timeout, with_proxy=not no_proxy)
    except SandboxError as exc:
        click.echo(f"ferry sandbox: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a failed start-up is reported, not a traceback
        click.echo(f"ferry sandbox: start-up failed ({type(exc).__name__}): {exc}\n"
                   f"logs: {state_dir / 'logs'}", err=True)
        sys.exit(1)
    click.echo(f"sandbox up: {state_path(state_dir)}")
    for name, rec in sorted(state["clusters"].items()):
        click.echo(f"  cluster {name:<24} {rec['bootstrap']:<18} {rec['security_protocol']}")
    for name, rec in sorted(state.get("proxy", {}).get("gateways", {}).items()):
        click.echo(f"  proxy   {name:<24} {rec['listen']:<18} admin {rec['admin']}")
    click.echo(f"  logs: {state_dir / 'logs'}")


@sandbox.command()
@click.option("--specs", "specs_dir", default="specs", show_default=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True), help="The specs directory.")
@state_option
@click.option("--timeout", default=120.0, show_default=True, help="Seconds until every change must be in force.")
def sync(specs_dir: Path, state_dir: Path, timeout: float) -> None:
    """Apply the edited specs to the running sandbox, as CI and Argo CD do in production: validate
    (on errors change nothing), render, hot-reload each proxy's routes, restart only the MirrorMaker 2
    flows whose config changed, run `ferry cutover align` for the groups the edit fenced; print what
    changed (a refused alignment is printed with how to rerun it, not a failure)."""
    from .errors import SandboxError
    from .stack import sync as apply

    try:
        report = apply(specs_dir, state_dir, echo=click.echo, timeout=timeout)
    except SandboxError as exc:
        click.echo(f"ferry sandbox: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a failed sync is reported, not a traceback
        click.echo(f"ferry sandbox: sync failed ({type(exc).__name__}): {exc}\nlogs: {state_dir / 'logs'}", err=True)
        sys.exit(1)
    for line in report.lines:
        click.echo(line)


@sandbox.command()
@state_option
def down(state_dir: Path) -> None:
    """Stop everything `up` started and remove its data (logs stay)."""
    from .errors import SandboxError
    from .stack import down as stop

    try:
        stopped = stop(state_dir, echo=click.echo)
    except SandboxError as exc:
        click.echo(f"ferry sandbox: {exc}", err=True)
        sys.exit(1)
    if stopped:
        click.echo(f"stopped {len(stopped)}: {', '.join(stopped)}")


@sandbox.command()
@state_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(state_dir: Path, as_json: bool) -> None:
    """Report what runs (exit 1 when the sandbox is not up or a part of it is down)."""
    from .errors import SandboxError
    from .stack import status as check

    try:
        report = check(state_dir)
    except SandboxError as exc:
        click.echo(f"ferry sandbox: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif not report["components"]:
        click.echo("sandbox: not up")
    else:
        for c in report["components"]:
            mark = "running" if c["running"] else "DOWN"
            click.echo(f"{c['kind']:<8} {c['name']:<28} {mark:<8} pid {c['pid']:<8} {c['detail']}")
    sys.exit(0 if report["up"] else 1)


@sandbox.command()
@click.option("--specs", "specs_dir", default="specs", show_default=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The specs to copy (never modified).")
@click.option("--state-dir", default=".ferry/demo", show_default=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The demo's own sandbox, specs copy and rendered tree.")
def demo(specs_dir: Path, state_dir: Path) -> None:
    """Walk one migration live on a sandbox of its own: mirroring, a consumer group cut over,
    the producers cut over, with clients running throughout; then tear it down (also on Ctrl-C).
    The last line is the summary: `demo lost=… duplicated=… sent=… received=… steps=… seconds=…`.
    Exit 0 when all steps ran and nothing was lost."""
    from .demo import report_lines, run

    result = run(specs_dir, state_dir)
    for line in report_lines(result):
        click.echo(line)
    if result.interrupted:
        sys.exit(130 if result.interrupted == "SIGINT" else 143)
    sys.exit(0 if result.ok else 1)
