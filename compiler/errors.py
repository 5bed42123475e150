"""The compiler's one exception root. Validation problems are Diagnostics (data), not
exceptions; exceptions are for the edges, and every one the compiler raises on purpose derives
from :class:`CompilerError`:

* ``compiler.live.connections.ClusterConnectionError``: a live cluster cannot be reached or
  read (``ferry preflight``, ``ferry status --connections``);
* ``compiler.connect_apply.ApplyUsageError`` and ``ConnectError``: unusable rendered
  connectors, and a Kafka Connect worker that refuses or cannot be reached (``ferry apply
  connect``).

A route file the compiler reads back is the route contract's ``RouteFileError``
(``proxy.routetable``, the proxy's family): one contract, one error. Subclasses keep the
builtin they refine as a second base, so a caller that only knows the builtin still catches
them.
"""


class CompilerError(Exception):
    """Root of the compiler's exceptions; the message says what is wrong and how to fix it."""
