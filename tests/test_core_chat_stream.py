"""core/chat: ChatStream with fake producers (no network), ChatRecord, Usage, and the stats line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from core.answer_stats import stats_line
from core.chat import ChatRecord, ChatStream, StreamMeta, Usage, direct_sink
from core.errors import ErrorKind, PlaygroundError

JOIN_S = 5.0  # generous upper bound for a thread to end; never a speed assertion


def from_list(*events: str | StreamMeta) -> ChatStream:
    def produce(cancel: threading.Event) -> Iterator[str | StreamMeta]:
        yield from events

    return ChatStream(produce, model="m")


# ---- the happy path ------------------------------------------------------------------------------
def test_text_deltas_joined_and_meta_merged() -> None:
    stream = from_list("Hel", StreamMeta(request_id="req-1", model="glm-4-flash"), "lo", " world",
                       StreamMeta(finish_reason="stop", usage=Usage(5, 3, 8)))
    deltas = list(stream)
    rec = stream.record
    # Deltas that arrive together are handed over together (one redraw per burst).
    assert "".join(deltas) == "Hello world" and all(deltas)
    assert rec.text == stream.text == "Hello world"
    assert rec.outcome == "ok" and rec.error is None
    assert rec.request_id == "req-1" and rec.model == "glm-4-flash"
    assert rec.finish_reason == "stop" and rec.usage == Usage(5, 3, 8)
    assert rec.ttft_s is not None and rec.latency_s is not None and 0 <= rec.ttft_s <= rec.latency_s
    assert stream.done


def test_a_burst_is_one_delta_and_slow_tokens_are_separate() -> None:
    burst = ChatStream(lambda cancel: iter(["a", "b", "c"]), model="m").start()
    assert burst.join(5)  # everything queued before the reader looks: one delta, one redraw
    assert list(burst) == ["abc"]

    first_read = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "a"
        first_read.wait(5)
        yield "b"

    slow = ChatStream(produce, model="m")
    deltas = []
    for delta in slow:
        deltas.append(delta)
        first_read.set()
    assert deltas == ["a", "b"]


def test_later_meta_adds_without_erasing() -> None:
    stream = from_list(StreamMeta(request_id="r", usage=Usage(1, 1, 2)), "x",
                       StreamMeta(finish_reason="length"), StreamMeta())
    rec = stream.collect()
    assert (rec.request_id, rec.usage, rec.finish_reason) == ("r", Usage(1, 1, 2), "length")
    assert rec.outcome == "ok"  # length is not an error


def test_collect_returns_the_record() -> None:
    stream = from_list("a", "b")
    rec = stream.collect()
    assert rec is stream.record and rec.text == "ab" and rec.outcome == "ok"


def test_ttft_and_latency_measure_the_wait() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        cancel.wait(0.05)  # a silent server before the first token
        yield "late"

    rec = ChatStream(produce, model="m").collect()
    assert rec.ttft_s is not None and rec.ttft_s >= 0.05
    assert rec.latency_s is not None and rec.latency_s >= rec.ttft_s


def test_no_text_means_no_ttft() -> None:
    rec = from_list(StreamMeta(finish_reason="stop")).collect()
    assert rec.text == "" and rec.ttft_s is None and rec.outcome == "ok"


def test_events_yield_none_ticks_while_waiting() -> None:
    go = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        go.wait(JOIN_S)
        yield "done"

    stream = ChatStream(produce, model="m")
    seen: list[str | None] = []
    for delta in stream.events(poll_s=0.01):
        seen.append(delta)
        if delta is None and seen.count(None) == 3:
            go.set()
    assert seen[:3] == [None, None, None] and seen[-1] == "done"
    assert stream.record.text == "done"


def test_non_text_events_are_ignored() -> None:
    rec = from_list("a", None, 42, "b").collect()  # type: ignore[arg-type]
    assert rec.text == "ab" and rec.outcome == "ok"


def test_start_is_idempotent_and_not_started_twice() -> None:
    calls: list[int] = []

    def produce(cancel: threading.Event) -> Iterator[str]:
        calls.append(1)
        yield "x"

    stream = ChatStream(produce, model="m")
    assert stream.start() is stream.start()
    assert stream.collect().text == "x" and calls == [1]


# ---- failures ---------------------------------------------------------------------------------------
def test_playground_error_keeps_the_partial_text() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "partial "
        yield "text"
        raise PlaygroundError(ErrorKind.STREAM_BROKEN, detail="cut")

    rec = ChatStream(produce, model="m").collect()
    assert rec.outcome == "error" and rec.text == "partial text"
    assert rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN and rec.error.detail == "cut"


def test_any_other_exception_is_unknown() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "a"
        raise ZeroDivisionError("boom")

    rec = ChatStream(produce, model="m").collect()
    assert rec.outcome == "error" and rec.text == "a"
    assert rec.error is not None and rec.error.kind is ErrorKind.UNKNOWN
    assert "ZeroDivisionError" in rec.error.detail and "boom" in rec.error.detail


def test_a_producer_that_fails_before_its_first_event_does_not_hang() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        raise RuntimeError("no generator at all")

    rec = ChatStream(produce, model="m").collect()
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.UNKNOWN


@pytest.mark.parametrize(("reason", "code"), [("sensitive", "1301"), ("content_filter", None)])
def test_content_filter_finish_is_an_error_with_the_text_kept(reason: str, code: str | None) -> None:
    rec = from_list("one ", "two", StreamMeta(finish_reason=reason, usage=Usage(3, 2, 5))).collect()
    assert rec.outcome == "error" and rec.text == "one two" and rec.usage == Usage(3, 2, 5)
    assert rec.error is not None and rec.error.kind is ErrorKind.CONTENT_FILTERED and rec.error.code == code


def test_network_error_finish_is_a_cut_stream() -> None:
    rec = from_list("a", StreamMeta(finish_reason="network_error")).collect()
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN


# ---- stop ------------------------------------------------------------------------------------------------
def test_stop_while_the_producer_is_blocked() -> None:
    closed = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        try:
            yield "so far"
            cancel.wait(60)  # a silent server; only the stop wakes it
            yield "never shown"
        finally:
            closed.set()

    stream = ChatStream(produce, model="m")
    events = stream.events(poll_s=0.01)
    assert next(d for d in events if d) == "so far"
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.text == "so far" and rec.error is None
    assert rec.latency_s is not None and rec.ttft_s is not None
    assert stream.join(JOIN_S) and closed.is_set()  # the thread ended and the producer was closed
    assert list(events) == []  # nothing more comes out after a stop
    assert stream.text == "so far" and stream.record.outcome == "stopped"


def test_stop_returns_even_if_the_producer_ignores_cancel() -> None:
    release = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        release.wait(60)  # blocked in a call that does not watch `cancel`
        yield "late"

    stream = ChatStream(produce, model="m").start()
    rec = stream.stop()  # must not wait for the producer
    assert rec.outcome == "stopped" and rec.text == ""
    release.set()
    assert stream.join(JOIN_S)
    assert stream.record.text == "" and stream.record.outcome == "stopped"  # "late" not added


def test_stop_keeps_what_was_read_not_what_was_queued() -> None:
    sent = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "a"
        yield "b"
        sent.set()
        cancel.wait(60)

    stream = ChatStream(produce, model="m")
    events = stream.events(poll_s=0.01)
    shown = next(d for d in events if d)  # "a", or "ab" when both were queued already
    assert shown in ("a", "ab")
    assert sent.wait(JOIN_S)  # if only "a" was shown, "b" is queued but the page never showed it
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.text == shown  # the kept answer is what was on screen
    assert stream.join(JOIN_S)


def test_stop_after_a_finished_stream_keeps_it_ok() -> None:
    stream = from_list("whole")
    stream.collect()
    rec = stream.stop()
    assert rec.outcome == "ok" and rec.text == "whole"


def test_stop_before_start() -> None:
    stream = from_list("x")
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.text == "" and rec.latency_s is None
    assert stream.join(0) and stream.elapsed_s == 0.0


def test_stop_from_another_thread_ends_the_reader() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "x"
        cancel.wait(60)

    stream = ChatStream(produce, model="m")
    seen: list[str] = []
    first = threading.Event()

    def read() -> None:
        for delta in stream.events(poll_s=0.01):
            if delta:
                seen.append(delta)
                first.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(JOIN_S)
    stream.stop()
    reader.join(JOIN_S)
    assert not reader.is_alive() and seen == ["x"] and stream.record.outcome == "stopped"


# ---- record, usage and stats ---------------------------------------------------------------------------
def test_tokens_per_s_counts_generation_time_after_the_first_token() -> None:
    rec = ChatRecord(model="m", usage=Usage(10, 20, 30), ttft_s=1.0, latency_s=3.0)
    assert rec.tokens_per_s == pytest.approx(10.0)
    whole = ChatRecord(model="m", usage=Usage(10, 20, 30), ttft_s=2.0, latency_s=2.0, streamed=False)
    assert whole.tokens_per_s == pytest.approx(10.0)  # nothing after the first token: whole time
    assert ChatRecord(model="m", latency_s=1.0).tokens_per_s is None
    assert ChatRecord(model="m", usage=Usage(1, 0, 1), latency_s=1.0).tokens_per_s is None
    assert ChatRecord(model="m", usage=Usage(1, 5, 6)).tokens_per_s is None


def test_tokens_per_s_of_a_burst_is_measured_end_to_end() -> None:
    # 40 tokens arriving 2 ms after the first one is a burst, not 20,000 tokens/s.
    burst = ChatRecord(model="m", usage=Usage(10, 40, 50), ttft_s=0.998, latency_s=1.0)
    assert burst.tokens_per_s == pytest.approx(40.0)


def test_tokens_per_s_of_a_collected_stream() -> None:
    rec = from_list("a", "b", StreamMeta(usage=Usage(1, 2, 3))).collect()
    assert rec.tokens_per_s is not None and rec.tokens_per_s > 0


def test_stats_dict() -> None:
    err = PlaygroundError(ErrorKind.QUOTA, code="1113")
    rec = ChatRecord(model="glm-4-flash", text="t", usage=Usage(1, 2, 3), finish_reason="stop", ttft_s=0.5,
                     latency_s=1.5, request_id="r", outcome="error", error=err)
    stats = rec.stats()
    assert stats["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert stats["error_kind"] == "quota" and stats["error_code"] == "1113"
    assert stats["tokens_per_s"] == pytest.approx(2.0) and stats["outcome"] == "error"
    assert ChatRecord(model="m").stats()["usage"] is None


def test_usage_from_objects_and_dicts() -> None:
    class SDKUsage:
        prompt_tokens = 4
        completion_tokens = 6
        total_tokens = 10

    assert Usage.from_obj(SDKUsage()) == Usage(4, 6, 10)
    assert Usage.from_obj({"prompt_tokens": 2, "completion_tokens": 3}) == Usage(2, 3, 5)
    assert Usage.from_obj(None) is None
    assert Usage.from_obj({}) == Usage(None, None, None)


def test_stats_line_in_both_languages() -> None:
    rec = ChatRecord(model="glm-4-flash", usage=Usage(12, 48, 60), ttft_s=0.42, latency_s=1.62)
    en = stats_line(rec.stats(), "en")
    assert en.startswith("glm-4-flash · first token 0.42 s · total 1.62 s · 40.0 tokens/s")
    assert "12 prompt + 48 completion tokens" in en
    zh = stats_line(rec.stats(), "zh")
    assert "首 token 0.42 秒" in zh and "输入 12 + 输出 48 tokens" in zh
    stopped = ChatRecord(model="m", outcome="stopped", streamed=False).stats()
    line = stats_line(stopped, "en")
    assert "not streamed" in line and "stopped" in line
    assert "tokens not reported" not in line  # a stopped answer never gets usage: not news
    finished = ChatRecord(model="m", latency_s=1.0).stats()
    assert "tokens not reported" in stats_line(finished, "en")
    assert stats_line(None, "en") == ""


def test_elapsed_grows_after_start() -> None:
    def produce(cancel: threading.Event) -> Iterator[str]:
        cancel.wait(60)
        yield "x"

    stream = ChatStream(produce, model="m")
    assert stream.elapsed_s == 0.0
    stream.start()
    time.sleep(0.01)
    assert stream.elapsed_s > 0.0
    stream.stop()
    assert stream.join(JOIN_S)


# ---- the direct sink: text handed over from a thread of the producer's own -------------------------
def test_the_direct_sink_exists_only_inside_a_streams_producer() -> None:
    assert direct_sink() is None
    seen: list[object] = []

    def produce(cancel: threading.Event) -> Iterator[str | StreamMeta]:
        seen.append(direct_sink())
        yield "x"

    ChatStream(produce, model="m").collect()
    assert callable(seen[0])
    assert direct_sink() is None  # the stream's thread set it in its own context, not the caller's


def test_text_given_to_the_sink_from_another_thread_reaches_the_reader_in_order() -> None:
    def produce(cancel: threading.Event) -> Iterator[str | StreamMeta]:
        sink = direct_sink()
        assert sink is not None
        yield StreamMeta(request_id="first")
        worker = threading.Thread(target=lambda: [sink(part) for part in ("Hel", "", "lo", " world")])
        worker.start()
        worker.join()
        yield StreamMeta(finish_reason="stop", usage=Usage(2, 3, 5))

    stream = ChatStream(produce, model="m")
    assert "".join(stream) == "Hello world"
    rec = stream.record
    assert rec.outcome == "ok" and rec.text == "Hello world" and rec.request_id == "first"
    assert rec.usage == Usage(2, 3, 5) and rec.ttft_s is not None and rec.ttft_s <= (rec.latency_s or 0)


def test_after_a_stop_the_sink_takes_nothing_more() -> None:
    sinks: list[object] = []
    release = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str | StreamMeta]:
        sink = direct_sink()
        assert sink is not None
        sinks.append(sink)
        sink("kept")
        release.wait(JOIN_S)
        sink(" dropped")
        yield from ()

    stream = ChatStream(produce, model="m")
    first = next(delta for delta in stream.events(poll_s=0.01) if delta)
    assert first == "kept"
    assert stream.stop().text == "kept"
    release.set()
    assert stream.join(JOIN_S)
    assert stream.text == stream.record.text == "kept"
    assert not [event for _, event in stream._queue.queue if isinstance(event, str)]  # never queued
