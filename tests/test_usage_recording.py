"""core/usage_recording and the chat's hook: rows from finished calls, estimates, never a key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.base import Connection
from backends.openai_compat import OpenAICompatBackend
from backends.zhipu import ZHIPU_ENDPOINT, ZhipuBackend
from core.chat import ChatRecord, ChatRequest, ChatStream, StreamMeta, Usage
from core.config import Settings
from core.errors import ErrorKind, PlaygroundError
from core.token_estimate import MESSAGE_OVERHEAD, estimate_messages_tokens, estimate_tokens
from core.usage_ledger import SQLITE_FILE, Ledger, LedgerUnavailable, UsageFilter, UsageRow
from core.usage_recording import CallContext, recorder, url_host, usage_row
from tests.apptest_helpers import assert_ok, rendered_text, send, shown, start
from tests.fake_llm import FakeLLMServer
from tests.test_usage_ledger import _own_ledger_env, db_files  # noqa: F401 - fixture

ZHIPU_KEY = "canary7f3a9b.LedgerMustNeverStoreThisKey"
OPENAI_KEY = "sk-canary-0d5e8c-LedgerMustNeverStoreThisKey"
CONTEXT = CallContext(session_id="sess-1", page="chat", backend="zhipu", endpoint="zhipu",
                      base_url="https://open.bigmodel.cn/api/paas/v4/")
REQUEST = ChatRequest(model="glm-4-plus", messages=[{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": "你好 world"}],
                      params={"temperature": 0.95, "top_p": 0.7}, stream=True)
JOIN_S = 10.0  # upper bound for a background call to end; never a speed assertion


def price(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
    return ((prompt or 0) * 2 + (completion or 0) * 3) / 1000, "CNY"


def only_row(data_dir: Path) -> UsageRow:
    ledger = Ledger(f"sqlite:///{data_dir / SQLITE_FILE}")
    rows = ledger.rows(UsageFilter())
    ledger.close()
    assert len(rows) == 1, rows
    return rows[0]


def assert_never_stored(data_dir: Path, *secrets: str) -> None:
    """No byte of the database (its file, write-ahead log and shared memory) holds a secret."""
    files = db_files(data_dir / SQLITE_FILE)
    assert files and files[0].stat().st_size > 0
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            for part in {secret, *secret.split(".")}:
                assert part.encode() not in data, (path.name, part)


# ---- token estimates -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "tokens"), [
    ("", 0), (None, 0), ("abcd", 1), ("hello world", 3), ("你好", 2), ("你好 world", 4),
    ("こんにちは", 5), ("한국어", 3), ("，。！", 3), ("a", 1),
])
def test_estimate_tokens(text: str | None, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_estimate_messages_tokens() -> None:
    messages = [{"role": "system", "content": "Be brief."},  # 9 chars -> 3
                {"role": "user", "content": [{"type": "text", "text": "你好"}, {"type": "image"}]},  # 2
                {"role": "assistant", "content": None}]  # 0
    assert estimate_messages_tokens(messages) == 3 + 2 + 0 + 3 * MESSAGE_OVERHEAD


@pytest.mark.parametrize(("url", "host"), [
    ("https://open.bigmodel.cn/api/paas/v4/", "open.bigmodel.cn"),
    ("http://user:pass@127.0.0.1:8000/v1?key=abc", "127.0.0.1:8000"),
    ("localhost:11434/v1", "localhost:11434"),
    ("HTTPS://API.OpenAI.com/v1", "api.openai.com"),
    ("http://[::1]:8000/v1", "[::1]:8000"),
    ("http://host:notaport/v1", "host"),
    ("", ""), ("   ", ""),
])
def test_url_host_keeps_the_host_only(url: str, host: str) -> None:
    assert url_host(url) == host


# ---- rows from records ---------------------------------------------------------------------------
def test_row_with_reported_usage() -> None:
    record = ChatRecord(model="glm-4-plus", text="Hi!", usage=Usage(12, 3, 15), ttft_s=0.2,
                        latency_s=0.9, request_id="req-9", streamed=True, outcome="ok")
    row = usage_row(CONTEXT, REQUEST, record, price)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (12, 3, 15)
    assert row.tokens_estimated is False
    assert (row.cost, row.currency) == (pytest.approx(0.033), "CNY")
    assert (row.session_id, row.page, row.backend, row.endpoint) == ("sess-1", "chat", "zhipu", "zhipu")
    assert row.base_url_host == "open.bigmodel.cn" and row.model == "glm-4-plus"
    assert row.params == {"temperature": 0.95, "top_p": 0.7}
    assert (row.ttft_s, row.latency_s, row.streamed, row.outcome) == (0.2, 0.9, True, "ok")
    assert (row.error_kind, row.error_code, row.request_id) == (None, None, "req-9")
    assert row.messages_text is None and row.ts.tzinfo is not None


def test_row_without_usage_is_estimated_and_flagged() -> None:
    record = ChatRecord(model="glm-4-plus", text="Hello there, friend", usage=None, outcome="stopped",
                        latency_s=1.0)
    row = usage_row(CONTEXT, REQUEST, record, price)
    prompt = estimate_messages_tokens(REQUEST.messages)  # "Be brief." 3 + "你好 world" 4 + 2 x 4
    assert prompt == 15
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (15, 5, 20)
    assert row.tokens_estimated is True and row.outcome == "stopped"
    assert row.cost == pytest.approx((15 * 2 + 5 * 3) / 1000)


def test_row_with_half_a_usage_estimates_the_missing_half() -> None:
    record = ChatRecord(model="m", text="abcdefgh", usage=Usage(prompt_tokens=40))
    row = usage_row(CONTEXT, REQUEST, record, None)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (40, 2, 42)
    assert row.tokens_estimated is True and row.cost is None and row.currency is None


def test_a_refused_call_has_no_tokens_rather_than_invented_ones() -> None:
    err = PlaygroundError(ErrorKind.QUOTA, code="1113", status=429, request_id="rid-7")
    record = ChatRecord(model="glm-4-plus", text="", usage=None, outcome="error", error=err, latency_s=0.1)
    row = usage_row(CONTEXT, REQUEST, record, price)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (None, None, None)
    assert row.tokens_estimated is False and row.cost is None and row.currency is None
    assert (row.outcome, row.error_kind, row.error_code) == ("error", "quota", "1113")
    assert row.request_id == "rid-7"


def test_an_answer_cut_mid_stream_is_estimated() -> None:
    err = PlaygroundError(ErrorKind.STREAM_BROKEN)
    record = ChatRecord(model="glm-4-plus", text="Part of an", usage=None, outcome="error", error=err)
    row = usage_row(CONTEXT, REQUEST, record, None)
    assert row.tokens_estimated is True and row.completion_tokens == 3
    assert row.error_kind == "stream_broken" and row.error_code is None


def test_a_failing_price_leaves_the_cost_empty() -> None:
    def broken(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
        raise ValueError("bad table")

    record = ChatRecord(model="m", text="x", usage=Usage(1, 1, 2))
    assert usage_row(CONTEXT, REQUEST, record, broken).cost is None
    assert usage_row(CONTEXT, REQUEST, record, lambda *a: None).currency is None


def test_message_text_only_when_the_user_asked() -> None:
    record = ChatRecord(model="m", text="Answer.", usage=Usage(1, 1, 2))
    assert usage_row(CONTEXT, REQUEST, record, None).messages_text is None
    stored = usage_row(CallContext(**{**CONTEXT.__dict__, "store_text": True}), REQUEST, record, None)
    assert json.loads(stored.messages_text or "") == {"messages": REQUEST.messages, "answer": "Answer."}


# ---- the hook: ChatStream.on_finish and recorder -------------------------------------------------
def stream_of(*events: Any, hook: Any = None) -> ChatStream:
    def produce(cancel: threading.Event) -> Iterator[Any]:
        for event in events:
            if isinstance(event, Exception):
                raise event
            yield event

    return ChatStream(produce, model="m", on_finish=hook)


@pytest.mark.parametrize(("events", "outcome"), [
    (("a", "b", StreamMeta(usage=Usage(1, 2, 3))), "ok"),
    (("a", PlaygroundError(ErrorKind.SERVER_ERROR, status=500)), "error"),
    (("a", StreamMeta(finish_reason="sensitive")), "error"),
])
def test_on_finish_is_called_once_with_the_final_record(events: tuple[Any, ...], outcome: str) -> None:
    seen: list[ChatRecord] = []
    stream = stream_of(*events, hook=seen.append)
    record = stream.collect()
    stream.stop()  # after the end: nothing more
    assert seen == [record] and record.outcome == outcome and record.text == "a" + "b" * (outcome == "ok")


def test_on_finish_on_stop_while_waiting() -> None:
    seen: list[ChatRecord] = []
    release = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[str]:
        yield "partial"
        release.wait(JOIN_S)

    stream = ChatStream(produce, model="m", on_finish=seen.append).start()
    for delta in stream.events(poll_s=0.05):
        if delta:
            break
    record = stream.stop()
    stream.stop()
    release.set()
    assert stream.join(JOIN_S)
    assert seen == [record] and record.outcome == "stopped" and record.text == "partial"


def test_a_failing_hook_never_breaks_the_answer() -> None:
    def boom(record: ChatRecord) -> None:
        raise RuntimeError("ledger down")

    record = stream_of("fine", hook=boom).collect()
    assert record.outcome == "ok" and record.text == "fine"


def test_recorder_without_a_ledger_does_nothing() -> None:
    recorder(None, CONTEXT, REQUEST, price)(ChatRecord(model="m"))


def test_recorder_reports_a_failure_and_never_raises(tmp_path: Path) -> None:
    from sqlalchemy import text

    ledger = Ledger(f"sqlite:///{tmp_path / 'gone.sqlite'}")
    with ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE usage_calls"))
    reasons: list[str] = []
    hook = recorder(ledger, CONTEXT, REQUEST, price, on_failure=reasons.append)
    hook(ChatRecord(model="m", text="x", usage=Usage(1, 1, 2)))
    assert len(reasons) == 1 and "usage_calls" in reasons[0]
    recorder(ledger, CONTEXT, REQUEST, price, on_failure=lambda r: 1 / 0)(ChatRecord(model="m"))


# ---- real backends against the fake server: the key never reaches the database ------------------
def test_a_real_zhipu_call_is_recorded_without_its_key(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    ledger = Ledger.open(Settings.load())
    backend = ZhipuBackend()
    request = backend.prepare(ZHIPU_ENDPOINT, "glm-4-flash", [{"role": "user", "content": "hello world"}],
                              {}, True)
    conn = Connection(base_url=llm.zhipu_base_url, api_key=ZHIPU_KEY, timeout_s=5.0)
    context = CallContext("sess-z", "chat", backend.id, ZHIPU_ENDPOINT.id, conn.base_url,
                          store_text=True)
    record = backend.open_stream(request, ZHIPU_ENDPOINT, conn,
                                 on_finish=recorder(ledger, context, request, price)).collect()
    assert record.outcome == "ok"
    assert llm.requests[-1]["headers"]["authorization"] == f"Bearer {ZHIPU_KEY}"  # it was sent
    row = only_row(tmp_path)
    assert (row.model, row.outcome, row.prompt_tokens, row.completion_tokens) == ("glm-4-flash", "ok", 6, 3)
    assert row.base_url_host == url_host(llm.zhipu_base_url) and "hello world" in (row.messages_text or "")
    assert_never_stored(tmp_path, ZHIPU_KEY)
    ledger.close()


def test_a_failed_openai_call_is_recorded_without_its_key(llm: FakeLLMServer,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    ledger = Ledger.open(Settings.load())
    backend = OpenAICompatBackend()
    endpoint = backend.endpoint("custom")
    llm.queue("auth_401")
    request = backend.prepare(endpoint, "fake-gpt", [{"role": "user", "content": "hi"}], {}, True)
    conn = Connection(base_url=llm.openai_base_url, api_key=OPENAI_KEY, timeout_s=5.0)
    context = CallContext("sess-o", "chat", backend.id, endpoint.id, conn.base_url)
    record = backend.open_stream(request, endpoint, conn,
                                 on_finish=recorder(ledger, context, request, None)).collect()
    assert record.outcome == "error" and record.error is not None
    row = only_row(tmp_path)
    assert (row.outcome, row.error_kind, row.endpoint) == ("error", "auth", "custom")
    assert_never_stored(tmp_path, OPENAI_KEY)
    ledger.close()


# ---- the chat page -------------------------------------------------------------------------------
def test_a_chat_answer_is_one_ledger_row(zhipu_env: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.pricing import PriceTable

    monkeypatch.setenv("ZHIPUAI_API_KEY", ZHIPU_KEY)
    data_dir = Settings.load().data_dir
    at = start()
    send(at, "hello there")
    assert shown(at)[-1] == ("assistant", "Echo: hello there")
    row = only_row(data_dir)
    assert (row.page, row.backend, row.endpoint, row.model) == ("chat", "zhipu", "zhipu", "glm-4-plus")
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (6, 3, 9)
    assert row.tokens_estimated is False and row.outcome == "ok" and row.streamed is True
    assert row.error_kind is None and row.ttft_s is not None and row.latency_s is not None
    assert row.session_id == at.session_state["usage.session_id"] and len(row.session_id) == 32
    assert row.base_url_host == url_host(zhipu_env.zhipu_base_url)
    assert row.messages_text is None  # not asked for
    expected = PriceTable.load(data_dir).cost("glm-4-plus", 6, 3)
    if expected is None:
        assert (row.cost, row.currency) == (None, None)
    else:
        assert row.cost == pytest.approx(expected[0]) and row.currency == expected[1]
    assert "usage.ledger_error" not in at.session_state
    assert_never_stored(data_dir, ZHIPU_KEY)


def test_a_chat_keeps_the_text_when_the_user_turned_it_on(zhipu_env: FakeLLMServer) -> None:
    data_dir = Settings.load().data_dir
    at = start()
    at.session_state["usage.store_text"] = True
    send(at, "keep this one")
    assert "keep this one" in (only_row(data_dir).messages_text or "")


@pytest.mark.parametrize("url", ["sqlite:////nonexistent-dir/usage.db",
                                 "postgresql://user:secret@127.0.0.1:1/usage"])
def test_a_chat_answers_when_the_database_cannot_be_reached(
        zhipu_env: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("PLAYGROUND_DB_URL", url)
    at = start()
    send(at, "hello there")
    assert shown(at) == [("user", "hello there"), ("assistant", "Echo: hello there")]
    assert not at.error
    err = at.session_state["usage.ledger_error"]
    assert isinstance(err, LedgerUnavailable) and "secret" not in str(err)
    assert "secret" not in rendered_text(at)
    send(at, "and again")  # the next answer works too
    assert shown(at)[-1] == ("assistant", "Echo: and again")
    assert_ok(at)
