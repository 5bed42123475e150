"""Live checks against real clusters (`ferry preflight`, `ferry status`): IO at the edge
(`facts.py`, `connections.py`), pure evaluation in the middle (`gates.py`)."""
