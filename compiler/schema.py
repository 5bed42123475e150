"""Stage `schema`: raw documents -> frozen pydantic models, errors mapped back to positions.

pydantic reports locations as tuples that mix data keys with union tags (`'str'`,
`'RenamedTopic'`) and markers (`'[key]'`); `_data_path` keeps only the parts that exist in
the document, so every error lands on the line the user must edit.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .char_positions import char_position
from .characters import TextProblem
from .diagnostics import Diagnostic, Position
from .loader import PathKey, RawDocument, SpecTree
from .models import ClustersSpec, MigrationSpec, PolicySpec
from .passes.secrets import find_in_unparsed, find_inline_secrets
from .spec import Located, Migration, Specs


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[PathKey, bool]:
    """The document path pydantic's `loc` points at, and whether it ends at a key."""
    path: list[str | int] = []
    node = data
    at_key = False
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif part == "[key]":
            at_key = True
    return tuple(path), at_key


def _value_at(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields apply at `loc` (used to list allowed keys)."""
    current: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for ann in current:
            for cand in _unwrap(ann):
                origin = typing.get_origin(cand)
                if isinstance(cand, type) and issubclass(cand, BaseModel):
                    if part in cand.model_fields:
                        nxt.append(cand.model_fields[part].annotation)
                    elif part == cand.__name__:
                        nxt.append(cand)
                elif origin is dict:
                    nxt.append(typing.get_args(cand)[1])
                elif origin is list:
                    nxt.append(typing.get_args(cand)[0])
        current = nxt
    for ann in current:
        for cand in _unwrap(ann):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                return cand
    return None


#: What a field's pattern asks for, in words with an example: a message never shows a raw regex.
PATTERN_WORDS: Final[dict[str, str]] = {
    r"^[a-z0-9][a-z0-9-]{0,62}$": (
        "is not a valid name here: use lowercase letters, digits and '-', starting with a letter or digit, "
        "at most 63 characters (e.g. 'legacy-service')"
    ),
    r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$": (
        "is not a Kubernetes Secret name: use lowercase letters, digits, '-' and '.', starting and ending "
        "with a letter or digit, at most 253 characters (e.g. 'mm2-governed-scram')"
    ),
}


def _message(err: ErrorDetails, model: type[BaseModel]) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        owner = _model_at(model, loc[:-1])
        allowed = sorted(owner.model_fields) if owner else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key `{key}`: {hint}allowed keys here are {', '.join(allowed)}"
    if kind == "missing":
        return f"missing required key `{loc[-1]}`; add it"
    if kind == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        shape = PATTERN_WORDS.get(pattern, "is not in the form this field takes (docs/specs.md says which)")
        return f"{_quoted(err.get('input'))} {shape}"
    msg: str = err["msg"]
    msg = msg.removeprefix("Value error, ")
    if kind == "int_parsing_size":
        msg = f"{msg}; use a whole number of at most 4,300 digits (Python's int parsing bound)"
    got = err.get("input")
    if kind not in ("model_type", "dict_type") and isinstance(got, (str, int, float, bool)):
        return f"{msg} (got {_quoted(got)})"
    return msg


# YAML 1.1 read these words as booleans; YAML 1.2 (and Ferry's loader) reads them as text.
_YAML11_TRUE = {"y", "yes", "on", "true"}
_YAML11_FALSE = {"n", "no", "off", "false"}


def _not_a_boolean(got: Any) -> str:
    shown = _quoted(got) if isinstance(got, (str, int, float)) else type(got).__name__
    word = got.strip().lower() if isinstance(got, str) else None
    fix = "true" if word in _YAML11_TRUE or got == 1 else "false" if word in _YAML11_FALSE or got == 0 else None
    if word in _YAML11_TRUE | _YAML11_FALSE and fix:
        why = (" (`yes`, `no`, `on` and `off` are booleans only in YAML 1.1; specs are read as YAML 1.2, "
               "where they are text)" if word not in ("true", "false") else " (quoted, it is text)")
        return f"expected a boolean, got {shown}{why}: write {fix} without quotes"
    hint = f"write {fix}" if fix else "write true or false"
    return f"expected a boolean (true or false), got {shown}: {hint}"


#: A quoted value longer than this is cut: a diagnostic names the value, it does not reprint a
#: 5,000-digit number or a pasted blob into the CI log.
_MAX_QUOTED = 60


def _quoted(value: str | int | float | bool) -> str:
    text = repr(value)
    if len(text) <= _MAX_QUOTED:
        return text
    return f"{text[:_MAX_QUOTED]}… ({len(str(value)):,} characters)"


def _path_text(path: PathKey) -> str:
    """`consumer_groups.mailer.cutover`; a character that prints as nothing is shown escaped."""
    text = ".".join(str(p) for p in path) or "document"
    return text if text.isprintable() else "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _problem_diagnostic(doc: RawDocument, path: PathKey, at_key: bool, problem: TextProblem) -> Diagnostic:
    """At the offending character when the problem has one (its column in the message too),
    else at the value."""
    start = doc.source.key_at(path) if at_key else doc.source.at(path)
    text = str(path[-1]) if at_key and path else _value_at(doc.data, path)
    found: Position | None = None
    if problem.index is not None and isinstance(text, str):
        found = char_position(doc.text, start, text, problem.index)
    where = _path_text(path)
    return Diagnostic(found or start, problem.code, f"{where}: {problem.message(found.col if found else None)}")


def validate_document(
    doc: RawDocument, model: type[BaseModel], skip: set[PathKey]
) -> tuple[Any | None, list[Diagnostic]]:
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        grouped: dict[tuple[PathKey, bool], list[str]] = {}
        diags = []
        for err in exc.errors():
            path, at_key = _data_path(doc.data, err["loc"])
            here = _value_at(doc.data, path)
            # A union (`new-name` or `{to: …}`): report only the branch the user wrote.
            if err["type"] == "string_type" and isinstance(here, (dict, list)) and len(err["loc"]) > len(path):
                continue
            if err["type"] in ("model_type", "dict_type") and isinstance(here, str) and len(err["loc"]) > len(path):
                continue
            if err["type"] == "extra_forbidden":
                at_key = True
            if any(path[: len(s)] == s for s in skip):
                continue  # already reported as an inline secret
            problem = err.get("ctx", {}).get("error")
            if isinstance(problem, TextProblem):
                diags.append(_problem_diagnostic(doc, path, at_key, problem))
                continue
            if err["type"] == "bool_type":
                diags.append(Diagnostic(doc.source.at(path), "not-a-boolean",
                                        f"{_path_text(path)}: {_not_a_boolean(err.get('input'))}"))
                continue
            msgs = grouped.setdefault((path, at_key), [])
            text = _message(err, model)
            if text not in msgs:
                msgs.append(text)
        for (path, at_key), msgs in grouped.items():
            pos = doc.source.key_at(path) if at_key else doc.source.at(path)
            where = _path_text(path)
            if all(m.startswith("missing required key") for m in msgs):
                keys = ", ".join(m.split("`")[1].join("``") for m in msgs)
                message = msgs[0] if len(msgs) == 1 else f"missing required keys {keys}; add them"
            else:
                message = msgs[0] if len(msgs) == 1 else "; or ".join(msgs)
            diags.append(Diagnostic(pos, "schema", f"{where}: {message}"))
        return None, diags


def build_specs(tree: SpecTree) -> tuple[Specs | None, list[Diagnostic]]:
    """Check inline secrets and the schema of every document; return models when all pass."""
    diagnostics: list[Diagnostic] = []
    docs: list[tuple[RawDocument, type[BaseModel]]] = []
    if tree.clusters:
        docs.append((tree.clusters, ClustersSpec))
    if tree.policy:
        docs.append((tree.policy, PolicySpec))
    docs.extend((m, MigrationSpec) for m in tree.migrations)

    for file, text in tree.unparsed:
        diagnostics.extend(find_in_unparsed(file, text))
    models: dict[int, Any] = {}
    for idx, (doc, model) in enumerate(docs):
        secrets = find_inline_secrets(doc)
        diagnostics.extend(d for _, d in secrets)
        if not isinstance(doc.data, dict):
            diagnostics.append(
                Diagnostic(doc.source.at(()), "schema", "document: expected a mapping of keys at the top level")
            )
            continue
        value, diags = validate_document(doc, model, {p for p, _ in secrets if p is not None})
        diagnostics.extend(diags)
        if value is not None:
            models[idx] = value
    if diagnostics or tree.diagnostics or tree.clusters is None or tree.policy is None:
        return None, diagnostics
    clusters = Located(models[0], tree.clusters)
    policy = Located(models[1], tree.policy)
    migrations = tuple(
        sorted((Migration(models[i + 2], doc) for i, doc in enumerate(tree.migrations)), key=lambda m: m.file)
    )
    return Specs(tree.root, clusters, policy, migrations), diagnostics
