"""``python -m proxy``: the same entry point as the ``ferry-proxy`` console script."""

import sys

from .main import main

sys.exit(main(prog="python -m proxy"))
