"""Kubernetes objects as YAML text: byte-stable, and read the same by every YAML parser.

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
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# What YAML may not carry raw inside double quotes: characters outside its printable set (TAB, LF, CR,
# 0x20-0x7E, NEL, 0xA0-0xD7FF, 0xE000-0xFFFD, the planes above) and the line breaks YAML folds into a
# space (NEL, and LS/PS in YAML 1.1). JSON escapes only the C0 controls.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar: JSON's escaping, plus \\uXXXX for what YAML may not carry raw."""
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) and key.lower() not in _YAML11_WORDS else _quoted(key)


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
            if isinstance(item, (dict, list)) and item:
                yield f"{indent}{_key(key)}:"
                yield from _lines(item, indent + ("  " if isinstance(item, dict) else ""))
            else:
                yield f"{indent}{_key(key)}: {_empty(item) if isinstance(item, (dict, list)) else _scalar(item)}"
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                first, *rest = _lines(item, indent + "  ")
                yield f"{indent}- {first[len(indent) + 2:]}"
                yield from rest
            else:
                yield f"{indent}- {_empty(item) if isinstance(item, (dict, list)) else _scalar(item)}"


def _empty(value: dict[str, Any] | list[Any]) -> str:
    return "{}" if isinstance(value, dict) else "[]"


def yaml_documents(objects: Iterable[dict[str, Any]], comment: str) -> str:
    """One or more objects as a YAML stream, each document after `---`, the file headed by `# comment`."""
    out = [f"# {comment}"]
    for obj in objects:
        out.append("---")
        out.extend(_lines(obj, ""))
    return "\n".join(out) + "\n"
