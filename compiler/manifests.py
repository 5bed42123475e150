"""Kubernetes objects and Helm values as YAML text: byte-stable, and read the same by every YAML parser.

Kubernetes reads manifests with a YAML 1.1 parser (`sigs.k8s.io/yaml`), where `yes`, `on` or
`0x1F` are not strings; ruamel writes YAML 1.2 and would leave them bare. So every string is
written double-quoted (JSON's escaping is valid YAML), keys stay bare when they are plainly
names, and mappings keep the order they were built in (the order a reader expects:
apiVersion, kind, metadata, spec). Pure: objects in, text out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
# YAML limits an implicit key (`key: value`) to 1024 characters; a longer one needs the explicit `? key` form.
_IMPLICIT_KEY_MAX = 1024
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# What YAML may not carry raw inside double quotes: characters outside its printable set (TAB, LF, CR,
# 0x20-0x7E, NEL, 0xA0-0xD7FF, 0xE000-0xFFFD, the planes above) and the line breaks YAML folds into a
# space (NEL, and LS/PS in YAML 1.1). JSON escapes only the C0 controls.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar: JSON's escaping, plus \\uXXXX for what YAML may not carry raw."""
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _key(key: str) -> str:
    # fullmatch: `$` in match() would also accept a key ending in a newline and write it bare
    return key if _BARE_KEY.fullmatch(key) and key.lower() not in _YAML11_WORDS else _quoted(key)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted(value)
    raise TypeError(f"no YAML form for {type(value).__name__}")


def _lines(value: Any, indent: str) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            written = _key(key)
            if len(written) > _IMPLICIT_KEY_MAX:  # too long for `key: value`: YAML's explicit `? key` form
                yield f"{indent}? {written}"
                yield f"{indent}:" if isinstance(item, (dict, list)) and item else f"{indent}: {_leaf(item)}"
                if isinstance(item, (dict, list)) and item:
                    yield from _lines(item, indent + "  ")
            elif isinstance(item, (dict, list)) and item:
                yield f"{indent}{written}:"
                yield from _lines(item, indent + ("  " if isinstance(item, dict) else ""))
            else:
                yield f"{indent}{written}: {_leaf(item)}"
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                first, *rest = _lines(item, indent + "  ")
                yield f"{indent}- {first[len(indent) + 2:]}"
                yield from rest
            else:
                yield f"{indent}- {_leaf(item)}"


def _leaf(value: Any) -> str:
    """A scalar, or an empty collection in flow style."""
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar(value)


def yaml_documents(objects: Iterable[dict[str, Any]], comment: str) -> str:
    """One or more objects as a YAML stream, each document after `---`, the file headed by `# comment`."""
    out = [f"# {comment}"]
    for obj in objects:
        out.append("---")
        out.extend(_lines(obj, ""))
    return "\n".join(out) + "\n"


def yaml_file(obj: dict[str, Any], comments: Iterable[str]) -> str:
    """One object as a YAML file without a `---` line (a Helm values file), headed by `# <comment>` lines."""
    out = [f"# {comment}" for comment in comments]
    out.extend(_lines(obj, ""))
    return "\n".join(out) + "\n"
