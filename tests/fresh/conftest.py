"""The session's fresh checkout (see fresh_checkout.py): cloned and set up once, shared by every
test in this folder."""

from __future__ import annotations

import pytest

from fresh_checkout import REPO, SETUP_TIMEOUT_SECONDS, Checkout, clone_working_tree


@pytest.fixture(scope="session")
def fresh_checkout(tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    root = tmp_path_factory.mktemp("fresh") / "ferry"
    clone_working_tree(REPO, root)
    checkout = Checkout(root)
    setup = checkout.run("make setup", timeout=SETUP_TIMEOUT_SECONDS)
    assert setup.returncode == 0, f"make setup failed in a fresh clone:\n{setup.stdout}\n{setup.stderr}"
    return checkout
