"""The route file as the proxy sees it: load once, then watch, validate aside, swap.

The model, parser and matcher are the route-file contract's (:mod:`proxy.routetable`, shared
with the compiler); nothing here parses JSON or matches a glob. This module adds what a
long-running reader needs (STYLE.md 8):

* :class:`LoadedRoutes` - one immutable snapshot: the table plus where and when it came from.
  The server holds exactly one reference to the current snapshot and replaces it whole;
  connections keep the snapshot they were accepted with.
* :class:`FilePoller` - decides *when* there is new content worth parsing. It re-opens the
  path on every poll and compares a hash of the bytes, so the three ways a file changes
  underneath a reader all look the same to it: an in-place rewrite (same inode, new bytes), an
  atomic rename over the path (new inode), and a Kubernetes ConfigMap update (the mounted
  file is a symlink through ``..data``, which the kubelet swaps to a new timestamped directory).
  Modification times are not trusted (a rename can keep an old mtime; ConfigMap files have
  none worth reading). Content must stay the same for ``debounce`` seconds before it counts,
  so a reader never acts on the empty or half-written file a non-atomic writer leaves for a
  moment.
* :func:`evaluate` - parse and validate new content *aside* and say what to do with it:
  apply it, ignore it (same behaviour version), or keep the last good table and report why.

Polling every 100-250 ms costs one small read and one hash; it is portable (no inotify,
which misses ConfigMap symlink swaps unless the directory is watched just so) and needs no
dependency.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .routetable import RouteFileError, RouteTable, parse_route_file

__all__ = ["FileChange", "FilePoller", "LoadedRoutes", "ReloadOutcome", "ReloadResult", "evaluate", "load_routes"]

#: A route file is a few KB (tens of KB at 10x the seed org). Reading more than this means the
#: path points at something else; refuse rather than parse it.
MAX_ROUTE_FILE_BYTES = 16 << 20


class ReloadOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class LoadedRoutes:
    table: RouteTable
    path: str
    #: sha256 of the file's bytes (the behaviour version is ``table.version``).
    digest: str
    #: Unix time this snapshot was loaded.
    loaded_at: float

    def describe(self) -> dict[str, object]:
        """The snapshot as JSON-ready data, for ``/routes``."""
        return {
            "gateway": self.table.gateway,
            "version": self.table.version,
            "source": self.path,
            "digest": self.digest,
            "loaded_at": self.loaded_at,
            "table": self.table.to_dict(),
        }


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:  # follows symlinks: the ConfigMap ..data swap
        data = handle.read(MAX_ROUTE_FILE_BYTES + 1)
    if len(data) > MAX_ROUTE_FILE_BYTES:
        raise RouteFileError(f"{path}: larger than {MAX_ROUTE_FILE_BYTES} bytes; not a route file")
    return data


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse(data: bytes, path: Path) -> RouteTable:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RouteFileError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return parse_route_file(text, str(path))


def load_routes(path: Path | str) -> LoadedRoutes:
    """Read and parse the route file now; RouteFileError says why it cannot be used."""
    path = Path(path)
    try:
        data = _read(path)
    except OSError as exc:
        raise RouteFileError(f"{path}: cannot read the route file: {exc.strerror or exc}") from None
    return LoadedRoutes(_parse(data, path), str(path), _digest(data), time.time())


@dataclass(frozen=True, slots=True)
class FileChange:
    """Content that differs from what was last acted on and has been stable for the debounce.
    ``data`` is None when the file is missing or unreadable (``error`` says why)."""

    data: bytes | None
    digest: str
    error: str = ""


class FilePoller:
    """Call :meth:`poll` every interval with the current monotonic time; it returns a
    :class:`FileChange` once per settled change, None otherwise. Pure apart from reading the
    file, so tests drive it with a fake clock."""

    def __init__(self, path: Path | str, *, debounce: float, settled_digest: str) -> None:
        self.path = Path(path)
        self.debounce = debounce
        #: The digest last handed out (or loaded at start): not reported again.
        self.settled = settled_digest
        self._pending: tuple[str, float] | None = None

    def poll(self, now: float) -> FileChange | None:
        try:
            data: bytes | None = _read(self.path)
            error = ""
            digest = _digest(data)  # type: ignore[arg-type]
        except (OSError, RouteFileError) as exc:
            data = None
            error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            digest = f"unreadable:{type(exc).__name__}:{error}"
        if digest == self.settled:
            self._pending = None
            return None
        if self._pending is None or self._pending[0] != digest:
            self._pending = (digest, now)
        if now - self._pending[1] < self.debounce:
            return None
        self._pending = None
        self.settled = digest
        return FileChange(data, digest, error)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    outcome: ReloadOutcome
    #: The new snapshot for APPLIED (and UNCHANGED, with the same table but new digest).
    loaded: LoadedRoutes | None = None
    #: Why the file was not used (INVALID, MISSING); warnings for APPLIED.
    message: str = ""


def evaluate(change: FileChange, current: LoadedRoutes) -> ReloadResult:
    """Decide what a settled change means. Parses (slow for big files: call it off the event
    loop); never touches ``current``."""
    path = Path(current.path)
    if change.data is None:
        return ReloadResult(
            ReloadOutcome.MISSING,
            message=f"{path}: cannot read the route file ({change.error}); still serving version "
            f"{current.table.version}",
        )
    try:
        table = _parse(change.data, path)
    except RouteFileError as exc:
        return ReloadResult(
            ReloadOutcome.INVALID, message=f"{exc}; still serving version {current.table.version}"
        )
    if table.gateway != current.table.gateway:
        return ReloadResult(
            ReloadOutcome.INVALID,
            message=f"{path}: the file is for gateway {table.gateway!r}, this proxy serves "
            f"{current.table.gateway!r}; still serving version {current.table.version}",
        )
    loaded = LoadedRoutes(table, str(path), change.digest, time.time())
    if table.version == current.table.version:
        return ReloadResult(ReloadOutcome.UNCHANGED, loaded)
    warning = ""
    if table.listen != current.table.listen:
        warning = (
            f"the file now says listen {table.listen!r} (was {current.table.listen!r}); the "
            f"listener address changes only on restart"
        )
    return ReloadResult(ReloadOutcome.APPLIED, loaded, warning)

