"""The `ferry` command, composed at the top from each component's own commands.

* the compiler's: validate, render, plan, explain, schema, preflight, status, apply
  (``compiler.cli``);
* ``ferry sandbox …`` (``sandbox.cli``);
* ``ferry proxy …``: the proxy has its own argparse entry point (``proxy.main``, also
  ``ferry-proxy`` and ``python -m proxy``) so it installs without click; the command here hands
  it every argument untouched, ``--help`` included, so the two are one program.

Every import is plain: a component that fails to import fails ``ferry`` loudly, never turns
into "No such command".
"""

from __future__ import annotations

import sys

import click

from compiler.cli import COMMANDS as COMPILER_COMMANDS
from proxy.main import DESCRIPTION as PROXY_DESCRIPTION
from proxy.main import main as proxy_main
from sandbox.cli import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferry")
def main() -> None:
    """Ferry: seamless Kafka cluster migrations, declared as code."""


@click.command("proxy", help=PROXY_DESCRIPTION, add_help_option=False,
               context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def proxy(args: tuple[str, ...]) -> None:
    sys.exit(proxy_main(args, prog="ferry proxy"))


for command in (*COMPILER_COMMANDS, sandbox, proxy):
    main.add_command(command)
