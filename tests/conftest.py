from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Real Kafka clusters, shared by every test directory: one legacy (PLAINTEXT) and one
# target (SASL/SCRAM) cluster per session (per xdist worker).
pytest_plugins = ["kafka_fixtures"]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
