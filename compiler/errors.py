"""The compiler's error family. Validation problems are Diagnostics, not exceptions;
these exceptions are for the CLI edges (usage, IO)."""


class FerryError(Exception):
    """Root of the compiler's exceptions."""


class SpecsNotFound(FerryError):
    pass


class ValidationFailed(FerryError):
    def __init__(self, diagnostics):
        super().__init__(f"{sum(d.is_error for d in diagnostics)} validation error(s)")
        self.diagnostics = diagnostics
