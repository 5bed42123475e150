"""Transitional alias of ``python -m ferry`` while ``sandbox/stack.py`` still starts
``python -m compiler proxy``; removed once it uses ``sandbox.proxyproc``."""

from ferry.cli import main

main(prog_name="ferry")
