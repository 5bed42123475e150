"""The demo's screen: a ``Monitor`` gathers what the view shows (the tally, the client
instances, the proxy's decision log, the events) into a ``Frame``; a ``Screen`` shows frames —
live with rich on a terminal, as plain lines elsewhere (CI, pipes)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console, RenderableType
from rich.live import Live

from compiler.live.status import read_decision_log
from sandbox.demo.tally import Counts, Tally
from sandbox.demo.traffic import Instance, clusters_of
from sandbox.demo.view import ClientRow, Frame, fold_decisions, per_second, plain_line, render, steps_view

PLAIN_EVERY_SECONDS = 5.0


@dataclass
class Monitor:
    """Everything the view shows, updated by the walk and read by the renderer (its own thread)."""

    tally: Tally
    steps: tuple[str, ...] = ()
    started: float = field(default_factory=time.monotonic)
    instances: list[Instance] = field(default_factory=list)
    events: deque[str] = field(default_factory=lambda: deque(maxlen=10))
    activity: str = "starting"
    done: int = 0
    current: int | None = None
    cluster_by_address: dict[str, str] = field(default_factory=dict)
    decision_log: Path | None = None
    decisions: dict[str, str] = field(default_factory=dict)
    _log_offset: int = 0
    _last: tuple[float, Counts] | None = None
    _rates: tuple[float, float] = (0.0, 0.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _read_decisions(self) -> None:
        if self.decision_log is None:
            return
        try:
            with open(self.decision_log, "rb") as f:
                f.seek(self._log_offset)
                chunk = f.read()
        except OSError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self._log_offset += len(complete)
        fold_decisions(read_decision_log(complete.decode(errors="replace").splitlines()), self.decisions)

    def frame(self) -> Frame:
        self._read_decisions()
        now, counts = time.monotonic(), self.tally.counts()
        if self._last is None or now - self._last[0] >= 1.0:
            if self._last is not None:
                dt = now - self._last[0]
                self._rates = (per_second(self._last[1].sent, counts.sent, dt),
                               per_second(self._last[1].received, counts.received, dt))
            self._last = (now, counts)
        rows = tuple(
            ClientRow(client_id=i.client_id, role=i.role, kind=i.kind,
                      state="stopped" if i.stopped else "running",
                      clusters=tuple(clusters_of(i.brokers, self.cluster_by_address)),  # the last seen, once stopped
                      proxy=self.decisions.get(i.client_id), count=i.count, error=i.last_error)
            for i in list(self.instances)
        )
        return Frame(elapsed=self.elapsed(), steps=steps_view(self.steps, self.done, self.current),
                     activity=self.activity, rows=rows, counts=counts, sent_rate=self._rates[0],
                     received_rate=self._rates[1], events=tuple(self.events))


class Screen:
    """A live rich view on a terminal; elsewhere (CI, a pipe) events as lines and a status line
    every few seconds."""

    def __init__(self, monitor: Monitor, console: Console) -> None:
        self.monitor, self.console = monitor, console
        self.live = console.is_terminal
        self._live: Live | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def event(self, line: str) -> None:
        stamped = f"{self.monitor.elapsed():6.1f}s  {line}"
        self.monitor.events.append(stamped)
        if not self.live:
            self.console.print(stamped, markup=False, highlight=False, soft_wrap=True)

    def activity(self, text: str) -> None:
        self.monitor.activity = text
        self.event(text)

    def _renderable(self) -> RenderableType:
        frame = self.monitor.frame()
        # The rest of the layout takes ~18 lines and one per client; the events get what is left.
        keep = max(3, self.console.size.height - 18 - max(1, len(frame.rows)))
        return render(replace(frame, events=frame.events[-keep:]))

    def _tick(self) -> None:
        while not self._stop.wait(PLAIN_EVERY_SECONDS):
            self.console.print(plain_line(self.monitor.frame()), markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> Screen:
        if self.live:
            self._live = Live(get_renderable=self._renderable, console=self.console, refresh_per_second=4,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        else:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="demo-ticker")
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
        if self._ticker is not None:
            self._ticker.join(2)
