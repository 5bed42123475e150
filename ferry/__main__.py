"""``python -m ferry``: the ``ferry`` console script."""

from .cli import main

main(prog_name="ferry")
