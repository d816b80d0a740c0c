"""Run one conversation on 2 to 4 targets at once and collect what each one did.

Every target gets its own ChatStream (its own background thread), so they truly run in parallel;
`poll()` reads all of them without blocking, for a page that redraws every column from one loop
(Streamlit widgets must be written from the script thread). A target that cannot start (no key,
a refused parameter) or fails midway ends with its error; the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from core.call_cost import Price, call_cost, call_tokens
from core.chat import ChatRecord, ChatRequest, ChatStream
from core.errors import ErrorKind, PlaygroundError

if TYPE_CHECKING:
    from backends.base import Backend, Connection, Endpoint

RecorderFor = Callable[["RunTarget", ChatRequest], Callable[[ChatRecord], None]]
TICK_S = 0.02  # how long the reading loop sleeps when no stream had anything new


@dataclass
class RunTarget:
    """Where one column's request goes: backend, endpoint, model, connection (key in memory only)
    and the translated values; `extra` goes into the SDK call as it is (response_format)."""

    label: str
    backend: Backend
    endpoint: Endpoint
    model_id: str
    connection: Connection
    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    refusal: PlaygroundError | None = None  # not to be sent at all (a per-user limit): this error
    paid_by: str = ""  # who pays, for the usage ledger: "" the server's key, "user" a key the user typed


@dataclass
class TargetResult:
    """What one target did: its text so far, then timing, tokens, cost and outcome."""

    label: str
    model: str
    text: str = ""
    outcome: str = "running"  # running | ok | stopped | error
    error: PlaygroundError | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False
    cost: float | None = None
    currency: str | None = None
    stats: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.outcome == "running"


class CompareRun:
    """The targets' streams, started together and read together."""

    def __init__(self, targets: list[RunTarget], messages: list[dict[str, Any]],
                 price: Price | None = None, recorder_for: RecorderFor | None = None) -> None:
        self.targets = targets
        self.messages = messages
        self.results = [TargetResult(t.label, t.model_id) for t in targets]
        self._price = price
        self._recorder_for = recorder_for
        self._streams: list[ChatStream | None] = [None] * len(targets)
        self._readers: list[Iterator[str | None] | None] = [None] * len(targets)
        self._requests: list[ChatRequest | None] = [None] * len(targets)
        self.started_at = 0.0
        self.elapsed_s = 0.0

    def start(self) -> CompareRun:
        """Open every stream; one that cannot start gets its error at once."""
        self.started_at = time.perf_counter()
        for i, target in enumerate(self.targets):
            if target.refusal is not None:
                self._fail(i, target.refusal)
                continue
            try:
                self._open(i, target)
            except PlaygroundError as err:
                self._fail(i, err)
            except Exception as exc:  # a bug in one backend must not stop the other columns
                self._fail(i, PlaygroundError(ErrorKind.UNKNOWN, detail=f"{type(exc).__name__}: {exc}"))
        return self

    def _open(self, i: int, target: RunTarget) -> None:
        request = target.backend.prepare(target.endpoint, target.model_id, self.messages, target.values,
                                         target.stream)
        if target.extra:
            request = replace(request, params={**request.params, **target.extra})
        self._requests[i] = request
        hook = self._recorder_for(target, request) if self._recorder_for else None
        stream = target.backend.open_stream(request, target.endpoint, target.connection, on_finish=hook)
        self._streams[i] = stream
        self._readers[i] = stream.events(poll_s=0.0)

    def _fail(self, i: int, err: PlaygroundError) -> None:
        result = self.results[i]
        result.outcome, result.error = "error", err
        result.stats = {"model": self.targets[i].model_id, "outcome": "error",
                        "error_kind": err.kind.value, "error_code": err.code}

    @property
    def done(self) -> bool:
        return not any(r.running for r in self.results)

    def request(self, i: int) -> ChatRequest | None:
        return self._requests[i]

    def poll(self) -> bool:
        """Take in whatever every stream has; True when any column changed."""
        changed = False
        for i, reader in enumerate(self._readers):
            if reader is None:
                continue
            stream = self._streams[i]
            try:
                delta = next(reader)
            except StopIteration:
                delta = None
            if delta:
                self.results[i].text = stream.text if stream else self.results[i].text
                changed = True
            if stream is not None and stream.done:
                self._settle(i, stream.record)
                changed = True
        if self.done and not self.elapsed_s:
            self.elapsed_s = time.perf_counter() - self.started_at
        return changed

    def wait(self, tick_s: float = TICK_S) -> None:
        """Sleep a tick: the streams fill their queues meanwhile."""
        time.sleep(tick_s)

    def stop(self) -> None:
        """Stop every stream still running; what arrived is kept, marked as stopped."""
        for i, stream in enumerate(self._streams):
            if stream is not None and self._readers[i] is not None:
                self._settle(i, stream.record if stream.done else stream.stop())
        if not self.elapsed_s:
            self.elapsed_s = time.perf_counter() - self.started_at

    def run(self, on_change: Callable[[CompareRun], None] | None = None,
            tick_s: float = TICK_S) -> list[TargetResult]:
        """Start, read every stream to its end, and return the results."""
        if not self.started_at:
            self.start()
        while not self.done:
            if self.poll():
                if on_change is not None:
                    on_change(self)
            else:
                self.wait(tick_s)
        self.poll()
        return self.results

    def _settle(self, i: int, record: ChatRecord) -> None:
        """Fill the result from the stream's final record (once)."""
        self._readers[i] = None
        result = self.results[i]
        result.text = record.text
        result.outcome = record.outcome
        result.error = record.error
        result.ttft_s, result.latency_s = record.ttft_s, record.latency_s
        result.tokens_per_s = record.tokens_per_s
        result.stats = record.stats()
        self._count(i, record)

    def _count(self, i: int, record: ChatRecord) -> None:
        result = self.results[i]
        prompt, completion, _total, result.tokens_estimated = call_tokens(self.messages, record)
        result.prompt_tokens, result.completion_tokens = prompt, completion
        # no tokens (refused before answering) or no usable price table: the column shows no cost
        result.cost, result.currency = call_cost(self._price, self.targets[i].model_id, prompt, completion)
