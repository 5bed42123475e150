"""The Python libraries of the client matrix: librdkafka through confluent-kafka, kafka-python and
aiokafka, each driven by a script in ``python/`` (the contract: README.md here).

Nothing to build: the three are in the project's ``dev`` extra, so ``make setup`` installs them into
the venv, and the drivers run with this interpreter. The check is that they import there, in a
child process as the drivers will (this repository's ``kafka/`` folder is no Python package, and
must not be taken for kafka-python's).
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from driver import Driver

from sandbox.jars import ToolMissing

PYTHON_DIR = Path(__file__).resolve().parent / "python"

#: The matrix's name for each library -> (driver script, distribution on PyPI, module it imports).
LIBRARIES = {
    "librdkafka (confluent-kafka)": ("confluent_driver.py", "confluent-kafka", "confluent_kafka"),
    "kafka-python": ("kafkapython_driver.py", "kafka-python", "kafka"),
    "aiokafka": ("aiokafka_driver.py", "aiokafka", "aiokafka"),
}
IMPORT_TIMEOUT_S = 60


@functools.cache
def require_importable(python: str, packages: tuple[tuple[str, str], ...]) -> None:
    """Raise `ToolMissing` naming every (distribution, module) that ``python`` cannot import."""
    missing = []
    for distribution, module in packages:
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True,
                              timeout=IMPORT_TIMEOUT_S, cwd=PYTHON_DIR)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            missing.append(f"{distribution} ({last})")
    if missing:
        raise ToolMissing(f"the client matrix's Python drivers need {', '.join(missing)} in {python}'s environment. "
                          "They are in pyproject.toml's dev extra: run `make setup` "
                          "(or .venv/bin/pip install -e '.[dev]').")


def drivers() -> list[Driver]:
    require_importable(sys.executable, tuple((dist, module) for _, dist, module in LIBRARIES.values()))
    return [Driver(library=library, argv=[sys.executable, str(PYTHON_DIR / script)])
            for library, (script, _, _) in LIBRARIES.items()]
