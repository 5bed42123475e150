"""Fixtures and helpers for the proxy tests. Helper modules in this folder (proxy_*.py,
kafka_wire.py) are importable by name from the tests here."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
