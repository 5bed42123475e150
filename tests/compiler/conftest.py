import shutil
from pathlib import Path

import pytest

from ferry_testing import REPO


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """A writable copy of the example specs and rendered output."""
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    shutil.copytree(REPO / "rendered", tmp_path / "rendered")
    return tmp_path
