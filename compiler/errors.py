"""The compiler's error family. Validation problems are Diagnostics (data), not exceptions;
exceptions are for the edges: IO against live clusters (`compiler.live`)."""


class FerryError(Exception):
    """Root of the compiler's exceptions."""
