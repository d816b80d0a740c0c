"""The backend protocol's data: a chat request, what a stream yields, and its final record."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import ErrorKind, PlaygroundError, from_finish_reason


@dataclass(frozen=True)
class ChatRequest:
    """What to ask: the model, the messages as sent, validated parameters, streamed or not."""

    model: str
    messages: list[dict[str, str]]
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = True


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    @classmethod
    def from_obj(cls, usage: Any) -> Usage | None:
        """From an SDK usage object or dict; None when the server sent none."""
        if usage is None:
            return None
        get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
        prompt, completion, total = get("prompt_tokens"), get("completion_tokens"), get("total_tokens")
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return cls(prompt, completion, total)


@dataclass(frozen=True)
class Notice:
    """Something to tell the user about a call that is not an error: a catalogue key and its values.

    A passing notice ("waiting for the model: 2 ahead of you") shows while no text has come and
    is replaced by the next one (an empty key clears it); a lasting one ("older turns were left
    out to fit the context") is kept with the call's record.
    """

    key: str
    values: tuple[tuple[str, Any], ...] = ()
    lasting: bool = False

    @classmethod
    def of(cls, key: str, lasting: bool = False, **values: Any) -> Notice:
        return cls(key, tuple(sorted(values.items())), lasting)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class StreamMeta:
    """Facts a backend learns while streaming, yielded between text deltas; later ones add up."""

    usage: Usage | None = None
    finish_reason: str | None = None
    request_id: str | None = None
    model: str | None = None
    notice: Notice | None = None


@dataclass
class ChatRecord:
    """The final record of one call: what came back, how fast, and how it ended."""

    model: str
    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    request_id: str | None = None
    streamed: bool = True
    outcome: str = "ok"  # ok | stopped | error
    error: PlaygroundError | None = None
    status: Notice | None = None  # the latest passing notice, while the call waits
    notices: list[Notice] = field(default_factory=list)  # the lasting ones, in order

    @property
    def tokens_per_s(self) -> float | None:
        """Completion tokens per second of generation.

        Streamed: measured from the first token, as long as generation took a measurable time;
        an answer that arrived in one burst (or was not streamed) is measured end to end.
        """
        tokens = self.usage.completion_tokens if self.usage else None
        if not tokens or not self.latency_s or self.latency_s <= 0:
            return None
        gen_time = self.latency_s - (self.ttft_s or 0.0)
        if not self.streamed or gen_time < MIN_GENERATION_S:
            gen_time = self.latency_s
        return tokens / gen_time

    def stats(self) -> dict[str, Any]:
        """A plain dict to keep under an answer (and later in the usage ledger)."""
        return {
            "model": self.model, "ttft_s": self.ttft_s, "latency_s": self.latency_s,
            "tokens_per_s": self.tokens_per_s, "finish_reason": self.finish_reason,
            "request_id": self.request_id, "streamed": self.streamed, "outcome": self.outcome,
            "usage": asdict(self.usage) if self.usage else None,
            "error_kind": self.error.kind.value if self.error else None,
            "error_code": self.error.code if self.error else None,
        }


# Below this, "time after the first token" is a burst, not a speed worth dividing by.
MIN_GENERATION_S = 0.25

Producer = Callable[[threading.Event], Iterator["str | StreamMeta"]]
Sink = Callable[[str], None]
_END = object()
_DIRECT: ContextVar[Sink | None] = ContextVar("chat_stream_direct", default=None)


def direct_sink() -> Sink | None:
    """While a ChatStream runs its producer: a function that hands text straight to the reader, from
    any thread. A backend whose text comes from a thread of its own (a local model's generate) gives
    it here rather than yielding it, so each piece crosses one thread hop instead of two. None
    outside a ChatStream's producer."""
    return _DIRECT.get()


class ChatStream:
    """Runs a backend's event generator in a thread; the caller iterates text and can stop it.

    The thread lets a stop take effect while the server is still silent (a slow first token),
    and lets the page redraw a waiting indicator between chunks.
    """

    def __init__(self, produce: Producer, model: str, streamed: bool = True,
                 on_finish: Callable[[ChatRecord], None] | None = None) -> None:
        self.record = ChatRecord(model=model, streamed=streamed)
        self._on_finish = on_finish  # called once with the final record (ok, stopped or error)
        self._produce = produce
        self._cancel = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._parts: list[str] = []
        self._t0 = 0.0
        self._lock = threading.RLock()  # stop() may come from another thread than the reader
        self.done = False

    def start(self) -> ChatStream:
        if self._thread is None:
            self._t0 = time.perf_counter()
            self._thread = threading.Thread(target=self._run, name="chat-stream", daemon=True)
            self._thread.start()
        return self

    @property
    def text(self) -> str:
        if len(self._parts) > 1:  # join once per read, not the whole answer per token
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._t0 if self._t0 else 0.0

    def _put_text(self, text: str) -> None:
        if text and not self._cancel.is_set():
            self._queue.put((time.perf_counter(), text))

    def _run(self) -> None:
        events: Any = None
        _DIRECT.set(self._put_text)  # this thread's own context: seen by the producer only
        try:
            events = self._produce(self._cancel)
            for event in events:
                if self._cancel.is_set():
                    break
                self._queue.put((time.perf_counter(), event))
        except BaseException as exc:
            self._queue.put((time.perf_counter(), exc))
        finally:
            close = getattr(events, "close", None)
            try:
                if close is not None:
                    close()
            except Exception:
                pass  # the end must always be signalled, or a reader would wait for ever
            self._queue.put((time.perf_counter(), _END))

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the producer thread to end; True when it has (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def events(self, poll_s: float = 0.1) -> Iterator[str | None]:
        """Text deltas as they arrive; None every `poll_s` while waiting (for a progress redraw)."""
        self.start()
        while not self.done:
            try:
                stamp, event = self._queue.get(timeout=poll_s)
            except queue.Empty:
                yield None
                continue
            batch = [self._locked_apply(stamp, event)]
            # Whatever else already arrived goes out with it: one redraw per burst, not per token.
            while not self.done:
                try:
                    stamp, event = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(self._locked_apply(stamp, event))
            delta = "".join(batch)
            if delta:
                yield delta

    def _locked_apply(self, stamp: float, event: Any) -> str:
        with self._lock:
            if self.done:  # stopped meanwhile from another thread
                return ""
            return self._apply(stamp, event)

    def __iter__(self) -> Iterator[str]:
        return (delta for delta in self.events(poll_s=1.0) if delta is not None)

    def collect(self) -> ChatRecord:
        """Run to the end and return the record (the non-streaming way to use a stream)."""
        for _ in self:
            pass
        return self.record

    def stop(self) -> ChatRecord:
        """Stop generation; keep the text read so far (what the page shows) and mark it stopped."""
        with self._lock:
            if not self.done:
                self._cancel.set()
                self._finish(time.perf_counter(), outcome="stopped")
        return self.record

    def _apply(self, stamp: float, event: Any) -> str:
        if event is _END:
            self._finish(stamp, outcome="ok")
            return ""
        if isinstance(event, BaseException):
            error = event if isinstance(event, PlaygroundError) else PlaygroundError(
                ErrorKind.UNKNOWN, detail=f"{type(event).__name__}: {event}")
            self.record.error = error
            self._finish(stamp, outcome="error")
            return ""
        if isinstance(event, StreamMeta):
            self._merge(event)
            return ""
        if not isinstance(event, str):
            return ""  # nothing a backend should yield: ignored rather than break the text
        if event and self.record.ttft_s is None:
            self.record.ttft_s = stamp - self._t0
        self._parts.append(event)
        return event

    def _merge(self, meta: StreamMeta) -> None:
        rec = self.record
        rec.usage = meta.usage or rec.usage
        rec.finish_reason = meta.finish_reason or rec.finish_reason
        rec.request_id = meta.request_id or rec.request_id
        rec.model = meta.model or rec.model
        if meta.notice is not None:
            if meta.notice.lasting:
                rec.notices.append(meta.notice)
            else:
                rec.status = meta.notice if meta.notice.key else None

    def _finish(self, stamp: float, outcome: str) -> None:
        if self.done:
            return
        self.done = True
        rec = self.record
        rec.text = self.text
        rec.latency_s = stamp - self._t0 if self._t0 else None
        rec.outcome = outcome
        if outcome == "ok":
            cut = from_finish_reason(rec.finish_reason)
            if cut is not None:
                rec.error, rec.outcome = cut, "error"
        if self._on_finish is not None:
            try:
                self._on_finish(rec)
            except Exception:
                pass  # a failed hook (the usage ledger) never breaks the answer
