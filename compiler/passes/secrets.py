"""Pass `secrets`: no credential is ever written into a spec.

Specs name Kubernetes Secrets; they never hold what is inside one. Runs on the raw YAML
(before the schema) so that a `password:` key is reported as a leaked secret, not as an
unknown key, and the schema pass does not report it again.

Passing::

    security: {protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, secret: kafka-governed-mm2}

Failing::

    security: {password: hunter2}                          # inline-secret at `password`
    sasl.jaas.config: '... ScramLoginModule required username="u" password="p";'
    secret: "s3cr3t value!"                                 # not a Secret *name*
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..diagnostics import Diagnostic
from ..loader import PathKey, RawDocument

ID = "secrets"

_SECRET_KEY = re.compile(
    r"(^|[._-])(pass(word)?|passwd|pwd|token|api[_-]?key|private[_-]?key|jaas(\.config)?|"
    r"credentials?|client[_-]?secret|bearer)$",
    re.IGNORECASE,
)
_SECRET_VALUE = [
    (re.compile(r"LoginModule\s+(required|optional|requisite|sufficient)", re.IGNORECASE), "a JAAS login string"),
    (re.compile(r"\bpassword\s*=", re.IGNORECASE), "a password assignment"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"^Bearer\s+\S+", re.IGNORECASE), "a bearer token"),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "a URL with user:password"),
]
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_HOW = "reference the credential by Kubernetes Secret name (`secret: <name>`) instead"


def _walk(data: Any, path: PathKey) -> Iterator[tuple[PathKey, Any]]:
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _walk(v, (*path, i))


# Mappings whose keys are names the user chose (a topic called `auth-token` is no secret).
_NAME_MAPS = {"clusters", "gateways", "topics", "consumer_groups", "producers"}


def find_inline_secrets(doc: RawDocument) -> list[tuple[PathKey, Diagnostic]]:
    found: list[tuple[PathKey, Diagnostic]] = []
    for path, value in _walk(doc.data, ()):
        key = path[-1] if path and isinstance(path[-1], str) else None
        is_name = len(path) >= 2 and path[-2] in _NAME_MAPS
        if key is not None and not is_name and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
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
        if key in ("secret", "truststore_secret") and isinstance(value, str) and not _SECRET_NAME.match(value):
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
            continue
        if isinstance(value, str):
            for pattern, what in _SECRET_VALUE:
                if pattern.search(value):
                    found.append(
                        (
                            path,
                            Diagnostic(
                                doc.source.at(path),
                                "inline-secret",
                                f"this value looks like {what}; {_HOW}, and rotate the leaked value",
                            ),
                        )
                    )
                    break
    return found
