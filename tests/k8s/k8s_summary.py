"""The Kubernetes tests' machine-readable last line (registered as a pytest plugin by conftest.py)."""

from __future__ import annotations

import pytest


class Summary:
    """The machine-readable last line, printed after pytest's own summary (pytest_unconfigure comes last):
    `k8s_apply objects=<n> rejected=<n> charts=<n> lint=ok|failed`. Tests add what they applied and linted."""

    def __init__(self) -> None:
        self.objects = 0
        self.rejected: int | None = None
        self.lint: dict[str, bool] = {}

    def add(self, objects: int, rejected: int) -> None:
        self.objects += objects
        self.rejected = (self.rejected or 0) + rejected

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.rejected is None:
            return
        lint = "ok" if self.lint and all(self.lint.values()) else "failed"
        charts = len({release.split("/")[0] for release in self.lint})
        line = f"k8s_apply objects={self.objects} rejected={self.rejected} charts={charts} lint={lint}"
        config.get_terminal_writer().line(line)
