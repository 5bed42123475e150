"""What the three Python drivers share: the driver contract of ../README.md, once.

A driver script names its library, its version and one function per action, then calls `main`:

    main("kafka-python", kafka.__version__, {"metadata": metadata, ...},
         library_errors=(kafka.errors.KafkaError,), loggers=("kafka",))

`main` parses the request, runs the action in a worker thread and prints the ``RESULT`` line. The
worker is what bounds the driver: an ordinary application can sit for a minute inside one library
call (kafka-python's ``send`` waits up to ``max_block_ms`` for metadata), and the contract says a
driver returns within ``timeout_s`` plus a few seconds whatever the library does. So the main thread
waits ``timeout_s`` and a second for the worker (longer only while it closes its clients, at most
CLOSE_GRACE_S), then reports what the action had gathered so far and the library call it was still
inside (``blocked``), and leaves with ``os._exit`` (a library's own threads cannot hold the process
either).

Exceptions: a library's own exceptions (the ``library_errors`` a driver names, plus
`NotFinished`) are a result (``ok: false`` and the text; inside the observe loops, one more error
the application saw). Any other exception is a bug in the driver: a traceback and exit status 1.

Errors the application sees also come from the library's log: a `logging.Handler` on the
library's loggers collects every WARNING-or-worse line (librdkafka's logs reach the ``logging``
module through confluent-kafka's ``logger`` setting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Errors", "NotFinished", "Request", "Run", "main"]

T = TypeVar("T")

ACTIONS = ("metadata", "produce", "consume", "observe")
#: The contract: at most five distinct texts, each cut to 300 characters.
MAX_ERRORS = 5
ERROR_CHARS = 300
#: How long after ``timeout_s`` the worker may still take to close its clients before the driver
#: reports without it. Below driver.GRACE_S (30 s) with room for the interpreter's start.
#: A library call that began within the bound and is still running a second after it is not
#: waited for: the report says which call it is (``blocked``).
CLOSE_GRACE_S = 15.0
#: The observing producer's pace (the contract: one record a second).
SEND_EVERY_S = 1.0
#: How long the observing application waits after an exception before it tries again.
RETRY_AFTER_S = 1.0


class NotFinished(Exception):
    """The library returned, but the action is not done (fewer acknowledgements than records sent)."""


class UsageError(Exception):
    """The request argument is not what the contract describes."""


@dataclass(frozen=True)
class Request:
    action: str
    bootstrap: str
    client_id: str
    sasl: Mapping[str, str] | None
    topic: str | None
    group: str | None
    count: int | None
    role: str | None
    timeout_s: float
    options: Mapping[str, Any]

    @classmethod
    def parse(cls, argv: Sequence[str]) -> Request:
        if len(argv) != 1:
            raise UsageError(f"expected one argument, the request JSON; got {len(argv)}")
        try:
            raw = json.loads(argv[0])
        except json.JSONDecodeError as exc:
            raise UsageError(f"the request is not JSON: {exc}") from None
        missing = sorted(set(cls.__dataclass_fields__) - set(raw))
        if missing:
            raise UsageError(f"the request lacks {', '.join(missing)} (every field is always present)")
        if raw["action"] not in ACTIONS:
            raise UsageError(f"unknown action {raw['action']!r}; one of {', '.join(ACTIONS)}")
        if raw["action"] == "observe" and raw["role"] not in ("producer", "consumer"):
            raise UsageError(f"observe needs role producer or consumer, not {raw['role']!r}")
        return cls(**{**{f: raw[f] for f in cls.__dataclass_fields__}, "timeout_s": float(raw["timeout_s"]),
                      "options": dict(raw["options"] or {})})

    def need(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise UsageError(f"{self.action} needs {name}")
        return value


class Errors:
    """The error texts the application saw: every one counted, the first MAX_ERRORS distinct kept.

    What the application's own code is handed (exceptions, error callbacks, failed deliveries)
    comes before the library's log lines, which are many and alike. Two texts that differ only in
    their numbers ("after 3ms" / "after 7ms", a suppressed-repeat count) are the same error.
    Thread-safe: logging handlers and callbacks run on library threads.
    """

    def __init__(self) -> None:
        self.count = 0
        self._handed: list[str] = []
        self._logged: list[str] = []
        self._shapes: set[str] = set()
        self._lock = threading.Lock()

    @property
    def texts(self) -> list[str]:
        with self._lock:
            return (self._handed + self._logged)[:MAX_ERRORS]

    def add(self, text: str, *, logged: bool = False) -> None:
        text = " ".join(text.split())[:ERROR_CHARS]
        shape = re.sub(r"\d+", "#", text)
        kept = self._logged if logged else self._handed
        with self._lock:
            self.count += 1
            if shape not in self._shapes and len(kept) < MAX_ERRORS:
                self._shapes.add(shape)
                kept.append(text)

    def exception(self, exc: BaseException) -> None:
        self.add(describe(exc))


def describe(exc: BaseException) -> str:
    """``Type: message``, once (aiokafka's errors already start with their type's name)."""
    name, text = type(exc).__name__, str(exc)
    if not text or text == name:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


class _LogCollector(logging.Handler):
    def __init__(self, errors: Errors) -> None:
        super().__init__(logging.WARNING)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.add(f"[{record.name} {record.levelname}] {record.getMessage()}", logged=True)


class Run:
    """One action under way: its request, the result it is building, and its bounds.

    ``result`` holds the action's own fields (``brokers``, ``values`` …) as it goes, so a report
    made while the worker is stuck still shows what was done.
    """

    def __init__(self, req: Request, library_errors: tuple[type[BaseException], ...]) -> None:
        self.req = req
        self.started = time.monotonic()
        self.deadline = self.started + req.timeout_s
        self.result: dict[str, Any] = {}
        self.errors = Errors()
        self.delivered = 0
        self.fatal = False
        self.library_errors: tuple[type[BaseException], ...] = (*library_errors, NotFinished)
        self._calls: list[tuple[str, float]] = []

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    @contextlib.contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Mark the library call under way, for the report if it never returns."""
        call = (what, time.monotonic())
        self._calls.append(call)
        try:
            yield
        finally:
            # Not pop(): the asyncio drivers' calls overlap, and end in any order.
            self._calls.remove(call)

    def blocked(self) -> str | None:
        if not self._calls:
            return None
        what, since = self._calls[-1]
        return f"{what} (for {time.monotonic() - since:.1f} s)"

    def closing(self) -> bool:
        """Whether the call under way began after the action's bound: closing the clients, which
        the driver waits for (CLOSE_GRACE_S). A call begun earlier that is still running has
        overrun the bound and is reported at once."""
        return not self._calls or self._calls[-1][1] >= self.deadline

    # --- the observe loops: an ordinary application that never gives up --------------------------

    def paced(self, send: Callable[[int], None], wait: Callable[[float], None]) -> None:
        """The observing producer: ``send(i)`` once a second until the window closes, ``wait(s)``
        (the library's poll, or a sleep) in between. An exception the library raises is an error
        the application saw; the next second tries again."""
        due, i = self.started, 0
        while (now := time.monotonic()) < self.deadline:
            if now >= due:
                self._as_application(send, i)
                i += 1
                due += SEND_EVERY_S
            self._as_application(wait, max(0.0, min(due, self.deadline) - time.monotonic()))

    def polling(self, poll: Callable[[float], None]) -> None:
        """The observing consumer: ``poll(s)`` with at most a second each until the window closes.
        After an exception it waits a second before the next try, as an application would."""
        while (left := self.left()) > 0:
            if not self._as_application(poll, min(1.0, left)):
                time.sleep(min(RETRY_AFTER_S, self.left()))

    async def apaced(self, send: Callable[[int], Awaitable[None]]) -> None:
        """`paced` for asyncio: each send is a task, so a send that waits does not stop the pace."""
        pending: set[asyncio.Task[bool]] = set()
        i = 0
        while self.left() > 0:
            task = asyncio.create_task(self._aas_application(send(i)))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
            await asyncio.sleep(min(SEND_EVERY_S, self.left()))
        for task in list(pending):
            task.cancel()

    async def apolling(self, poll: Callable[[float], Awaitable[None]]) -> None:
        while (left := self.left()) > 0:
            if not await self._aas_application(poll(min(1.0, left))):
                await asyncio.sleep(min(RETRY_AFTER_S, self.left()))

    def _as_application(self, step: Callable[[T], None], arg: T) -> bool:
        try:
            step(arg)
        except self.library_errors as exc:
            self.errors.exception(exc)
            return False
        return True

    async def _aas_application(self, step: Awaitable[None]) -> bool:
        try:
            await step
        except self.library_errors as exc:
            self.errors.exception(exc)
            return False
        return True


Action = Callable[[Run], None]


def main(library: str, version: str, actions: Mapping[str, Action], *,
         library_errors: tuple[type[BaseException], ...], loggers: Sequence[str]) -> None:
    try:
        req = Request.parse(sys.argv[1:])
    except UsageError as exc:
        print(f"{sys.argv[0]}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run = Run(req, library_errors)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    collector = _LogCollector(run.errors)
    for name in loggers:
        logging.getLogger(name).addHandler(collector)

    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            actions[req.action](run)
            outcome["ok"] = True
        except run.library_errors as exc:
            outcome["error"] = describe(exc)
        except UsageError as exc:
            outcome["usage"] = str(exc)
        except BaseException:  # noqa: BLE001 - a bug in the driver: the contract's non-zero exit, with its traceback
            outcome["bug"] = traceback.format_exc()

    worker = threading.Thread(target=work, name=f"{req.action}-worker", daemon=True)
    worker.start()
    worker.join(req.timeout_s + 1.0)
    if worker.is_alive() and run.closing():
        worker.join(CLOSE_GRACE_S)
    if "bug" in outcome or "usage" in outcome:
        print(outcome.get("bug") or f"{sys.argv[0]}: {outcome['usage']}", file=sys.stderr)
        _leave(1 if "bug" in outcome else 2)
    result: dict[str, Any] = {"library": library, "version": version, **run.result}
    blocked = run.blocked() if worker.is_alive() else None
    if req.action == "observe":
        # Observing never fails as an action: what the application saw is the result.
        result.update(ok=True, errors=run.errors.texts, error_count=run.errors.count, delivered=run.delivered,
                      fatal=run.fatal)
    else:
        result["ok"] = bool(outcome.get("ok"))
        if not result["ok"]:
            result["error"] = outcome.get("error") or (
                f"the library did not return from {blocked} within timeout_s {req.timeout_s:g} s + {CLOSE_GRACE_S:g} s")
        if run.errors.texts:
            result["errors"] = run.errors.texts
    if blocked:
        result["blocked"] = blocked
    print("RESULT " + json.dumps(result), flush=True)
    _leave(0)


def _leave(status: int) -> None:
    # os._exit: neither a library thread nor a destructor waiting on a fenced peer can hold the process.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def keyword_config(run: Run) -> dict[str, Any]:
    """kafka-python's and aiokafka's client settings (the same keyword names in both)."""
    req = run.req
    conf: dict[str, Any] = {"bootstrap_servers": req.bootstrap, "client_id": req.client_id}
    if req.sasl:
        conf.update(security_protocol="SASL_PLAINTEXT", sasl_mechanism=req.sasl["mechanism"],
                    sasl_plain_username=req.sasl["username"], sasl_plain_password=req.sasl["password"])
    return {**conf, **req.options}


def keyword_consumer_config(run: Run) -> dict[str, Any]:
    return {**keyword_config(run), "group_id": run.req.need("group"), "auto_offset_reset": "earliest"}
