"""A transcript harness for the proxy's pure machines, ``proxy.session`` and ``proxy.pipe``
(after mitmproxy's Playbook): write the events that come in (``>>``) and the commands expected
out (``<<``) in order; ``assert playbook`` runs the events through the machine and compares the
whole transcript at once.

    assert (
        Playbook(session)
        >> ClientData(frame)
        << Dial("governed", Address("kafka-1", 9094), False, 1, 3)
        >> UpstreamConnected(Address("kafka-1", 9094))
        << SendUpstream(frame)
        << StartPipe()
    )
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Machine(Protocol):
    def handle(self, event: Any) -> Sequence[Any]: ...


@dataclass
class Playbook:
    machine: Machine
    script: list[tuple[str, object]] = field(default_factory=list)

    def __rshift__(self, event: object) -> Playbook:
        self.script.append((">>", event))
        return self

    def __lshift__(self, command: object) -> Playbook:
        self.script.append(("<<", command))
        return self

    def __bool__(self) -> bool:
        actual: list[tuple[str, object]] = []
        for kind, item in self.script:
            if kind == ">>":
                actual.append((">>", item))
                actual.extend(("<<", c) for c in self.machine.handle(item))
        if actual != self.script:
            raise AssertionError("transcript differs:\n" + _side_by_side(self.script, actual))
        return True


def _short(item: object) -> str:
    text = repr(item)
    return text if len(text) < 110 else text[:107] + "..."


def _side_by_side(expected: list[tuple[str, object]], actual: list[tuple[str, object]]) -> str:
    lines = []
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else ("", "")
        a = actual[i] if i < len(actual) else ("", "")
        mark = "  " if e == a else "!!"
        lines.append(f"{mark} expected {e[0]} {_short(e[1])}\n   actual   {a[0]} {_short(a[1])}")
    return "\n".join(lines)
