"""What `ferry sandbox demo` shows, as data (``Frame``) and two pure renderings of it: a rich
layout for a terminal and one plain line for logs and CI.

Two sources say where a client is, and the view shows both:

* **on** — the clusters whose brokers the client is connected to, from the client's own
  librdkafka statistics (``sandbox.demo.traffic``); for a stopped instance, where it was last. After
  bootstrap, produce and fetch go to those brokers directly, so this is where its messages
  really flow.
* **proxy said** — the proxy's decision for the client id's latest bootstrap connection, from the
  gateway's decision log (rule, then cluster). The proxy writes a line when a connection
  *closes*, so this column can lag the first one by the life of a bootstrap connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sandbox.demo.tally import Counts


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    state: str  # "done" | "now" | "next"


@dataclass(frozen=True)
class ClientRow:
    client_id: str
    role: str                  # "producer catalog-api", "group search-indexer"
    kind: str                  # "producer" | "consumer"
    state: str                 # "running" | "stopped"
    clusters: tuple[str, ...]  # from the client's broker connections (the last ones, once stopped)
    proxy: str | None          # the proxy's latest decision for this client id
    count: int                 # acknowledged (producer) or received (consumer)
    error: str | None = None


@dataclass(frozen=True)
class Frame:
    elapsed: float
    steps: tuple[Step, ...]
    activity: str
    rows: tuple[ClientRow, ...]
    counts: Counts
    sent_rate: float
    received_rate: float
    events: tuple[str, ...]


def steps_view(titles: Iterable[str], done: int, current: int | None) -> tuple[Step, ...]:
    """Numbered steps: the first ``done`` are done, ``current`` (1-based) is under way."""
    out = []
    for number, title in enumerate(titles, start=1):
        state = "done" if number <= done else "now" if number == current else "next"
        out.append(Step(number, title, state))
    return tuple(out)


# ---- the proxy's decision log


def decision_text(record: Mapping[str, object]) -> str:
    """One decision-log record as ``<rule or default> -> <cluster>`` (or ``… -> refused``)."""
    rule = record.get("rule") or "default"
    if record.get("action") == "fence":
        return f"{rule} -> refused (fence)"
    return f"{rule} -> {record.get('cluster')}"


def fold_decisions(records: Iterable[Mapping[str, object]], into: MutableMapping[str, str]) -> None:
    """Keep the latest decision per client id (records arrive in the order connections closed)."""
    for record in records:
        client_id = record.get("client_id")
        if isinstance(client_id, str):
            into[client_id] = decision_text(record)


def per_second(before: int, after: int, seconds: float) -> float:
    return (after - before) / seconds if seconds > 0 else 0.0


# ---- renderings


def plain_line(frame: Frame) -> str:
    now = next((s for s in frame.steps if s.state == "now"), None)
    step = f"step {now.number}/{len(frame.steps)} {now.title}" if now else frame.activity
    c = frame.counts
    where = " ".join(f"{r.client_id}@{'+'.join(r.clusters) or '-'}" for r in frame.rows if r.state == "running")
    return (f"[{frame.elapsed:6.1f}s] {step} | sent={c.sent} received={c.received} pending={c.pending} "
            f"duplicated={c.duplicated} | {frame.sent_rate:.0f}/s in, {frame.received_rate:.0f}/s out"
            + (f" | {where}" if where else ""))


def summary_line(counts: Counts, *, lost: int, steps: int, seconds: float) -> str:
    """The demo's last line, machine-readable."""
    return (f"demo lost={lost} duplicated={counts.duplicated} sent={counts.sent} received={counts.received} "
            f"unique={counts.unique} steps={steps} seconds={seconds:.1f}")


_STEP_STYLE = {"done": ("[x]", "green"), "now": ("[>]", "bold yellow"), "next": ("[ ]", "dim")}


def render(frame: Frame) -> RenderableType:
    steps = Text()
    for step in frame.steps:
        mark, style = _STEP_STYLE[step.state]
        steps.append(f"{mark} {step.number} {step.title}   ", style=style)

    clients = Table(expand=True, title="clients (through the proxy)", title_justify="left")
    for header, justify in (("client id", "left"), ("role", "left"), ("on", "left"), ("proxy said", "left"),
                            ("msgs", "right"), ("state", "left")):
        clients.add_column(header, justify=justify, no_wrap=header != "proxy said")  # type: ignore[arg-type]
    for row in frame.rows:
        on = ", ".join(row.clusters) or "-"
        style = "dim" if row.state == "stopped" else ""
        state = row.state + (f" ({row.error})" if row.error and row.state == "running" else "")
        clients.add_row(row.client_id, row.role, Text(on, style="cyan" if row.clusters else "dim"),
                        row.proxy or "-", f"{row.count:,}", state, style=style)
    if not frame.rows:
        clients.add_row("-", "no clients yet", "", "", "", "")

    c = frame.counts
    totals = Table.grid(padding=(0, 3))
    totals.add_row(
        f"sent (acknowledged) [bold]{c.sent:,}[/]", f"received [bold]{c.received:,}[/]",
        f"pending [bold]{c.pending:,}[/]", f"duplicated [bold]{c.duplicated:,}[/]",
        f"[dim]{frame.sent_rate:.0f}/s in, {frame.received_rate:.0f}/s out[/]",
    )
    events = Text("\n".join(frame.events) or "-")
    footer = Text("on: clusters of the brokers the client is connected to (its librdkafka statistics); "
                  "proxy said: the gateway's decision log, written when a bootstrap connection closes. "
                  "pending = acknowledged, not received yet; whatever is still pending after the drain is lost.",
                  style="dim")
    return Panel(
        Group(steps, Text(f"{frame.activity}", style="bold"), clients, totals,
              Panel(events, title="what happened", title_align="left"), footer),
        title=f"ferry sandbox demo  {frame.elapsed:5.1f}s", title_align="left",
    )
