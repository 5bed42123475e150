"""Pass `secrets`: no credential is ever written into a spec, not even in a comment.

Specs name Kubernetes Secrets; they never hold what is inside one. Runs on the raw YAML
(before the schema) so that a `password:` key is reported as a leaked secret, not as an
unknown key, and the schema pass does not report it again (nor quote the value).

Three ways a credential is found, each reported once, at the place to edit:

* by key: a key that names a credential (`password`, `token`, `sasl.jaas.config`, …) holds
  a value; `secret:` holds something that is not a Secret *name*;
* by shape, in every string of the file, keys included, whatever the key: the shapes of
  `compiler.credentials` (detect-secrets' plugins: JWTs, GitHub/AWS/Slack/… tokens, PEM
  private keys, `scheme://user:password@host`; ours: `user:password@host` without a scheme,
  `Bearer <token>`, `password=…`), and a Kafka JAAS login string;
* in the file's text outside the data: comments (a comment in a pull request stays in git
  history like any value), and values the loader dropped (a duplicate key's).

Messages name the kind found and never the value (`compiler.credentials.redact` masks any
value a message quotes, in every pass).

Passing::

    security: {protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, secret: kafka-governed-mm2}

Failing::

    security: {password: hunter2}                          # inline-secret at `password`
    sasl.jaas.config: '... ScramLoginModule required username="u" password="p";'
    secret: "s3cr3t value!"                                 # not a Secret *name*
    bootstrap: [mm2:hunter2@kafka-1:9092]                  # user:password in a host address
    description: deploy with ghp_…                          # GitHub Token
    # token for CI: eyJhbGciOi…                             # JSON Web Token, in a comment
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from .. import credentials
from ..diagnostics import Diagnostic, Position
from ..loader import PathKey, RawDocument

ID = "secrets"

_SECRET_KEY = re.compile(
    r"(^|[._-])(pass(word)?|passwd|pwd|token|api[_-]?key|private[_-]?key|jaas(\.config)?|"
    r"credentials?|client[_-]?secret|bearer)$",
    re.IGNORECASE,
)
# Every word `_SECRET_KEY` ends in, and `secret` (the keys whose value must be a Secret *name*),
# lowercase: a file whose text holds none of them has no key either check reports. A key is text
# of the file (block keys are one line; folding an explicit key only turns line breaks into
# spaces, which no word here contains; an escape that could spell one is a backslash, which sends
# the file through the full walk anyway), so a few substring searches stand for a walk of every key.
_KEY_WORDS = ("pass", "pwd", "token", "apikey", "api_key", "api-key", "privatekey", "private_key", "private-key",
              "jaas", "credential", "secret", "bearer")
# Kafka's own credential-bearing string, whatever is inside it (an OAuth client secret, …).
_JAAS = re.compile(r"LoginModule\s+(required|optional|requisite|sufficient)", re.IGNORECASE)
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_NAME_KEYS = ("secret", "truststore_secret")
_HOW = "reference the credential by Kubernetes Secret name (`secret: <name>`) instead"
_COMMENT = re.compile(r"(^|\s)#", re.MULTILINE)

# Mappings whose keys are names the user chose (a topic called `auth-token` is no secret).
_NAME_MAPS = {"clusters", "gateways", "topics", "consumer_groups", "producers"}


def _walk(data: Any) -> Iterator[tuple[PathKey, str | int, bool, Any]]:
    """Every node below the root, depth first in document order, as (its parent's path, its
    key or list index, whether its parent maps names the user chose, its value); no
    recursion. Paths are built for parents only (the caller builds a node's own path for a
    finding): most nodes are leaves."""
    stack: list[tuple[PathKey, bool, Iterator[tuple[Any, Any]]]] = []

    def push(path: PathKey, node: Any) -> None:
        items = iter(node.items()) if isinstance(node, dict) else enumerate(node)
        stack.append((path, bool(path) and path[-1] in _NAME_MAPS and isinstance(node, dict), items))

    push((), data)
    while stack:
        path, names, items = stack[-1]
        for step, value in items:
            yield path, step, names, value
            if isinstance(value, (dict, list)):
                push((*path, step), value)
                break
        else:
            stack.pop()


def _could_name_a_secret(text: str) -> bool:
    """False only when no key of a file with this text names a credential or a Secret: the walk is
    then skipped (most migration files: their strings are names, and no shape is in the text).
    Non-ASCII text is always walked: `_SECRET_KEY` ignores case the way `re` does, where the long
    s (U+017F) is an `s` and the Kelvin sign a `k`, which `str.lower` does not reproduce."""
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(word in lowered for word in _KEY_WORDS)


@lru_cache(maxsize=4096)
def _names_a_credential(key: str) -> bool:
    """`password`, `sasl.jaas.config`, … (a spec repeats its keys: most are answered from the cache)."""
    return _SECRET_KEY.search(key) is not None


def _shapes(text: str) -> str | None:
    """The kinds of credential in `text`, in words, or None."""
    found = credentials.find(text)
    if found:
        return credentials.kinds(found)
    return "JAAS login string" if _JAAS.search(text) else None


def _held(kind: str, where: str) -> str:
    return f"{where} holds a credential ({kind}); {_HOW}, and rotate the leaked value"


def find_in_unparsed(file: str, text: str) -> Iterator[Diagnostic]:
    """Credentials in a file that did not parse (its syntax error is reported by the loader):
    by shape in its text, since there is no data to walk."""
    seen: set[int] = set()
    for hit in credentials.find(text):
        if hit.start in seen:
            continue
        seen.add(hit.start)
        line = text.count("\n", 0, hit.start) + 1
        col = hit.start - (text.rfind("\n", 0, hit.start) + 1) + 1
        yield Diagnostic(Position(file, line, col), "inline-secret",
                         _held(hit.kind, "this file (which does not parse either)"))


def find_inline_secrets(doc: RawDocument) -> list[tuple[PathKey | None, Diagnostic]]:
    """Every credential in one document: (its data path, or None outside the data; diagnostic)."""
    found: list[tuple[PathKey | None, Diagnostic]] = []
    # The shapes are searched in each string only when the file's text could hold one: one
    # prefilter search per file instead of one per string. A backslash (a double-quoted
    # escape) can spell a credential the text does not show, so it sends every string too.
    text_hits = credentials.find(doc.text) if doc.text else []
    by_shape = bool(text_hits) or "\\" in doc.text or not doc.text or bool(_JAAS.search(doc.text))
    strings: list[str] = []  # every string of the data, kept only to tell text hits outside it
    keep = bool(text_hits)
    if isinstance(doc.data, str):
        strings.append(doc.data)
        _check_string(doc, (), None, doc.data, by_shape, found)
    walk = isinstance(doc.data, (dict, list)) and (by_shape or _could_name_a_secret(doc.text))
    for parent, step, is_name, value in _walk(doc.data) if walk else ():
        key = step if isinstance(step, str) else None
        if keep and isinstance(value, str):
            strings.append(value)
        if key is not None:
            if keep:
                strings.append(key)
            kind = _shapes(key) if by_shape else None
            if kind:
                path = (*parent, key)
                found.append((path, Diagnostic(doc.source.key_at(path), "inline-secret", _held(kind, "this key"))))
            if not is_name and _names_a_credential(key) and value not in (None, "", {}, []):
                path = (*parent, key)
                found.append(
                    (
                        path,
                        Diagnostic(
                            doc.source.key_at(path),
                            "inline-secret",
                            f"`{key}` holds a credential inline; {_HOW}, and rotate the leaked value",
                        ),
                    )
                )
                continue
        if isinstance(value, str) and (by_shape or key in _SECRET_NAME_KEYS):
            _check_string(doc, (*parent, step), key, value, by_shape, found)
    found.extend((None, d) for d in _outside_data(doc, text_hits, strings))
    return found


def _check_string(
    doc: RawDocument, path: PathKey, key: str | None, value: str, by_shape: bool,
    found: list[tuple[PathKey | None, Diagnostic]],
) -> None:
    """A string value: a credential by shape, or a `secret:` that is not a Secret name."""
    kind = _shapes(value) if by_shape else None
    if kind:
        found.append((path, Diagnostic(doc.source.at(path), "inline-secret", _held(kind, "this value"))))
    elif key in _SECRET_NAME_KEYS and not _SECRET_NAME.match(value):
        found.append(
            (
                path,
                Diagnostic(
                    doc.source.at(path),
                    "inline-secret",
                    f"`{key}` must be the *name* of a Kubernetes Secret (lowercase letters, "
                    "digits, '-' and '.'), and this value looks like a credential; "
                    f"{_HOW}, and rotate the value if it was real",
                ),
            )
        )


def _squash(text: str) -> str:
    return "".join(text.split())


def _outside_data(doc: RawDocument, hits: list[credentials.Found], strings: list[str]) -> Iterator[Diagnostic]:
    """Credentials in the file's text that no string of the data holds: in comments, or in
    values the loader dropped. (Whitespace is ignored in the comparison: a PEM key in a
    block scalar is indented in the text, not in the value.)"""
    if not hits:
        return
    data = _squash("\0".join(strings))
    for hit in hits:
        if _squash(hit.secret) in data:
            continue  # reported (or covered by its key) above
        line_start = doc.text.rfind("\n", 0, hit.start) + 1
        line = doc.text.count("\n", 0, hit.start) + 1
        pos = Position(doc.file, line, hit.start - line_start + 1)
        if _COMMENT.search(doc.text, line_start, hit.start):
            yield Diagnostic(
                pos, "inline-secret",
                f"this comment holds a credential ({hit.kind}); a comment in a pull request stays in git "
                f"history: remove it, {_HOW.removesuffix(' instead')}, and rotate the leaked value",
            )
        else:
            yield Diagnostic(pos, "inline-secret", _held(hit.kind, "this text"))
