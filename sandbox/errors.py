"""The sandbox's one exception root. Every failure the sandbox reports derives from
:class:`SandboxError`, so ``ferry sandbox`` catches one type and prints its message (exit 1).

Subclasses keep the builtin they refine (``TimeoutError``, ``ValueError``) as a second base, so a
caller that only knows the builtin still catches them."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot do what was asked; the message says why."""


class ServiceError(SandboxError):
    """A sandbox process (broker, MirrorMaker 2, Connect worker, proxy) would not start or died."""


class SandboxTimeout(SandboxError, TimeoutError):
    """Something the sandbox waits for did not happen in time; the message names it."""
