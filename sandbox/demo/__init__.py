"""`ferry sandbox demo` (`make demo`): one migration walked live on the sandbox, clients running.

``walk`` is the demo itself (prepare, up, the three steps with ``sandbox sync`` between them,
tear-down on any exit). The pure parts beside it: who moves and what is kept of the specs
(``cast``), the spec edits a team's PRs make (``spec_edits``), the count of sent, received, lost
and duplicated messages (``tally``), the view model (``view``). IO: the clients (``traffic``)
and the live screen (``screen``).
"""

from sandbox.demo.walk import RATE, STEPS, Result, report_lines, run

__all__ = ["RATE", "STEPS", "Result", "report_lines", "run"]
