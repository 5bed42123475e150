"""Which files under specs/ are specs: every file is loaded, allowed, or reported.

A pure function of the listing (relative POSIX paths); the loader does the listing. The
rules (docs/specs.md, "Files under specs/"):

* `clusters.yaml`, `policy.yaml` and `migrations/<team>/<name>.yaml` are loaded. The
  extension is exactly `.yaml`; `.yml`, `.YAML` or `.json` is an error (`file-extension`)
  whose fix is the new name.
* `README.md` (documentation) and `.gitkeep` (git's marker for an empty folder) may stand in
  any folder and are skipped.
* Any other file is reported where it stands: a spec-like file at the wrong depth is a
  `file-layout` error, anything else a `stray-file` error (hidden files too: a hidden
  `.listings.yaml` is a team's file the compiler would otherwise never read). A misspelt
  folder (`migration/`) or file name (`cluster.yaml`) gets a "did you mean".
* A migration's id is `<team>/<name>` (folder and file stem). Two files whose ids differ
  only in case or Unicode normalisation are one id (a checkout on macOS or Windows keeps
  only one of them): `duplicate-migration`, naming both.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .diagnostics import Diagnostic, Position

CLUSTERS_FILE = "clusters.yaml"
POLICY_FILE = "policy.yaml"
MIGRATIONS_DIR = "migrations"
SPEC_SUFFIX = ".yaml"
ALLOWED_FILES = frozenset({"README.md", ".gitkeep"})
_YAML_LIKE = frozenset({".yaml", ".yml", ".json"})  # compared lowercased
_TOP_LEVEL = (CLUSTERS_FILE, POLICY_FILE, f"{MIGRATIONS_DIR}/")
_SHAPE = "specs/ holds clusters.yaml, policy.yaml and migrations/<team>/<name>.yaml"


@dataclass(frozen=True)
class Layout:
    migrations: tuple[str, ...]  # relative paths of the migration files to load, sorted
    diagnostics: tuple[Diagnostic, ...]


def migration_id(rel: str) -> str:
    """`<team>/<name>` of `migrations/<team>/<name>.yaml`."""
    p = PurePosixPath(rel)
    return f"{p.parent.name}/{p.stem}"


def _id_key(rel: str) -> str:
    return unicodedata.normalize("NFC", migration_id(rel)).casefold()


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    folded = {c.casefold(): c for c in choices}
    close = [folded[name.casefold()]] if name.casefold() in folded else difflib.get_close_matches(
        name, list(choices), n=1, cutoff=0.6
    )
    return f"did you mean `{close[0]}`? " if close else ""


def _yaml_like(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in _YAML_LIKE


def _renamed(rel: str) -> str:
    p = PurePosixPath(rel)
    return str(p.with_name(p.stem + SPEC_SUFFIX))


def classify(entries: Iterable[tuple[str, bool]], show: Callable[[str], str]) -> Layout:
    """Sort every non-directory entry (relative path, is a regular file) under specs/ into
    migrations to load and diagnostics; `show` turns a relative path into a display path."""
    entries = sorted(entries)
    present = {rel for rel, _ in entries}
    migrations: list[str] = []
    diagnostics: list[Diagnostic] = []

    def report(rel: str, code: str, message: str, related: tuple[tuple[Position, str], ...] = ()) -> None:
        diagnostics.append(Diagnostic(Position(show(rel)), code, message, related=related))

    for rel, regular in entries:
        parts = PurePosixPath(rel).parts
        name = parts[-1]
        if name in ALLOWED_FILES:
            continue
        if not regular:
            report(rel, "stray-file", f"`{rel}` is not a regular file (a folder link, socket or pipe) and is not "
                                      f"read; {_SHAPE}: replace it with a file or remove it")
        elif len(parts) == 1:
            if name in (CLUSTERS_FILE, POLICY_FILE):
                continue
            _top_level_file(rel, present, report)
        elif parts[0] != MIGRATIONS_DIR:
            hint = _did_you_mean(parts[0], [MIGRATIONS_DIR])
            report(rel, "stray-file", f"folder `{parts[0]}/` is not a spec folder, so `{rel}` is never read; "
                                      f"{hint}{_SHAPE}: move the file or remove it")
        elif len(parts) == 3 and name.endswith(SPEC_SUFFIX) and not name.startswith(".") \
                and not parts[1].startswith("."):
            migrations.append(rel)
        elif len(parts) == 3 and _yaml_like(name) and not name.startswith(".") and not parts[1].startswith("."):
            clash = f" (`{_renamed(rel)}` exists too: merge the two files)" if _renamed(rel) in present else ""
            report(rel, "file-extension", f"spec files end in `{SPEC_SUFFIX}`, so `{name}` is never read; rename it "
                                          f"to `{PurePosixPath(_renamed(rel)).name}`{clash}")
        elif _yaml_like(name) and not name.startswith(".") and len(parts) != 3:
            report(rel, "file-layout", "migration specs live at specs/migrations/<team>/<name>.yaml; "
                                       f"move {PurePosixPath(*parts[1:])} into its team's folder")
        else:
            hidden = next((p for p in parts if p.startswith(".")), None)
            why = f"hidden `{hidden}` is never read" if hidden else f"`{name}` is not a spec file"
            report(rel, "stray-file", f"{why}; a team folder holds <name>.yaml specs (and README.md): "
                                      "rename the file to <name>.yaml or remove it")

    first: dict[str, str] = {}
    for rel in migrations:
        key = _id_key(rel)
        if key in first:
            other = first[key]
            report(rel, "duplicate-migration",
                   f"`{show(rel)}` and `{show(other)}` define the same migration id `{migration_id(other)}` "
                   "(ids ignore case: a checkout on macOS or Windows keeps only one file); rename or merge one",
                   related=((Position(show(other)), "the other file"),))
        else:
            first[key] = rel
    return Layout(tuple(migrations), tuple(diagnostics))


def _top_level_file(rel: str, present: set[str], report: Callable[..., None]) -> None:
    name = rel
    stem = PurePosixPath(name).stem
    fixed = f"{stem}{SPEC_SUFFIX}"
    if _yaml_like(name) and not name.startswith(".") and fixed in (CLUSTERS_FILE, POLICY_FILE):
        clash = f" (`{fixed}` exists too: merge the two files)" if fixed in present else ""
        report(rel, "file-extension",
               f"spec files end in `{SPEC_SUFFIX}`, so `{name}` is never read; rename it to `{fixed}`{clash}")
        return
    hint = _did_you_mean(name, [CLUSTERS_FILE, POLICY_FILE])
    if not hint and _yaml_like(name):
        hint = "a migration goes to migrations/<team>/<name>.yaml; "
    report(rel, "stray-file", f"`{name}` is not a spec file and is never read; {hint}{_SHAPE}: "
                              "rename, move or remove it")
