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


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) and key.lower() not in _YAML11_WORDS else json.dumps(key, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
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
