"""The legacy ChatGLM HTTP API backend, through the real backend against a fake `/chatglm` server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.base import Connection
from backends.chatglm_http import (
    CHATGLM_ENDPOINT,
    DEFAULT_URL,
    ChatGLMHTTPBackend,
    ConnectTimeout,
    network_error,
    read_reply,
    to_prompt_and_history,
)
from backends.registry import BACKENDS
from core.chat import ChatRecord, ChatRequest
from core.config import Settings
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.i18n import t
from core.token_estimate import estimate_messages_tokens, estimate_tokens
from core.usage_ledger import SQLITE_FILE, Ledger, UsageFilter, UsageRow
from core.usage_recording import CallContext, recorder
from tests.fake_chatglm import FakeChatGLM, refused_url, reply_text, unaccepted_url
from tests.test_usage_ledger import _own_ledger_env  # noqa: F401 - fixture: no shared ledger

BACKEND = ChatGLMHTTPBackend()
JOIN_S = 10.0  # upper bound for a background call to end; never a speed assertion


@pytest.fixture(autouse=True)
def _no_chatglm_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHATGLM_URL", raising=False)


@pytest.fixture
def chatglm() -> Iterator[FakeChatGLM]:
    with FakeChatGLM(slow_s=1.5) as server:
        yield server


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def ask(url: str, messages: list[dict[str, str]], values: dict[str, Any] | None = None,
        model: str = "chatglm2-6b", timeout_s: float = 5.0) -> tuple[ChatRequest, ChatRecord]:
    request = BACKEND.prepare(CHATGLM_ENDPOINT, model, messages, values or {}, stream=True)
    conn = Connection(base_url=url, timeout_s=timeout_s)
    record = BACKEND.open_stream(request, CHATGLM_ENDPOINT, conn).collect()
    return request, record


def fix_text(err: PlaygroundError, lang: str = "en") -> str:
    return explain(err, lang).fix


# ---- the conversation as (prompt, history) -------------------------------------------------------
def test_a_single_question_is_the_prompt_with_no_history() -> None:
    assert to_prompt_and_history([user("你好")]) == ("你好", [])


def test_earlier_turns_become_query_answer_pairs() -> None:
    messages = [user("q1"), assistant("a1"), user("q2"), assistant("a2"), user("q3")]
    assert to_prompt_and_history(messages) == ("q3", [["q1", "a1"], ["q2", "a2"]])


def test_the_system_message_is_prepended_to_the_first_user_turn() -> None:
    messages = [system("Answer in French."), user("q1"), assistant("a1"), user("q2")]
    assert to_prompt_and_history(messages) == ("q2", [["Answer in French.\n\nq1", "a1"]])
    # With no history the first user turn is the prompt itself.
    assert to_prompt_and_history([system("Be brief."), user("hi")]) == ("Be brief.\n\nhi", [])
    # A blank system message adds nothing.
    assert to_prompt_and_history([system("  "), user("hi")]) == ("hi", [])


def test_messages_of_one_role_in_a_row_are_one_turn() -> None:
    messages = [user("u1"), user("u2"), assistant("a1"), assistant("a2"), user("u3"), user("u4")]
    assert to_prompt_and_history(messages) == ("u3\n\nu4", [["u1\n\nu2", "a1\n\na2"]])


def test_an_answer_without_a_question_gets_an_empty_query() -> None:
    assert to_prompt_and_history([assistant("Hello, I am ChatGLM."), user("hi")]) == (
        "hi", [["", "Hello, I am ChatGLM."]])
    assert to_prompt_and_history([system("S"), assistant("a0"), user("hi")]) == ("hi", [["S", "a0"]])


def test_chatglm3_gets_role_messages_with_its_own_system_message() -> None:
    messages = [system("Be brief."), user("q1"), assistant("a1"), user("q2")]
    assert to_prompt_and_history(messages, role_history=True) == ("q2", [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"}])


def test_a_conversation_not_ending_with_a_user_turn_is_refused() -> None:
    with pytest.raises(PlaygroundError) as caught:
        to_prompt_and_history([user("q"), assistant("a")])
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.params["key"] == "validation.last_not_user"


# ---- declared data: endpoint, models, schema ----------------------------------------------------
def test_registered_after_the_cloud_backends_with_one_editable_keyless_endpoint() -> None:
    ids = list(BACKENDS)
    assert ids.index("chatglm_http") > ids.index("openai") > ids.index("zhipu")
    backend = BACKENDS["chatglm_http"]
    (endpoint,) = backend.endpoints
    assert endpoint.base_url == DEFAULT_URL == "http://127.0.0.1:7030/chatglm"
    assert endpoint.base_url_editable and not endpoint.key_required and endpoint.key_envs == ()
    assert [m.id for m in endpoint.models][:2] == ["chatglm2-6b", "chatglm3-6b"]
    for model in endpoint.models:
        assert t(model.note, "en") != model.note and t(model.note, "zh") != t(model.note, "en")


def test_schema_has_the_apis_three_parameters_with_its_defaults() -> None:
    schema = BACKEND.schema(CHATGLM_ENDPOINT, BACKEND.model_info(CHATGLM_ENDPOINT, "chatglm2-6b"))
    assert schema.defaults() == {"temperature": 0.95, "top_p": 0.7, "max_length": 2048}
    ranges = {s.name: (s.minimum, s.maximum) for s in schema}
    assert ranges == {"temperature": (0.01, 1.0), "top_p": (0.01, 1.0), "max_length": (1, 32_768)}
    for spec in schema:
        assert t(spec.label_key, "en") != spec.label_key and t(spec.help, "zh") != spec.help
    # The range of max_length follows the model's context; an unknown model gets 32K.
    def limit(model_id: str) -> Any:
        info = BACKEND.model_info(CHATGLM_ENDPOINT, model_id)
        return BACKEND.schema(CHATGLM_ENDPOINT, info).get("max_length").maximum  # type: ignore[union-attr]
    assert (limit("chatglm3-6b"), limit("chatglm-6b"), limit("my-finetune")) == (8_192, 2_048, 32_768)


@pytest.mark.parametrize(("values", "param"), [
    ({"max_length": 9000}, "max_length"), ({"top_p": 0}, "top_p"), ({"temperature": 1.5}, "temperature")])
def test_values_out_of_range_are_refused_before_sending(values: dict[str, Any], param: str) -> None:
    with pytest.raises(PlaygroundError) as caught:
        BACKEND.prepare(CHATGLM_ENDPOINT, "chatglm3-6b", [user("hi")], values)
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.params["param"] == param


# ---- a call through the real backend ----------------------------------------------------------------
def test_the_request_carries_prompt_history_and_parameters(chatglm: FakeChatGLM) -> None:
    messages = [system("Be brief."), user("q1"), assistant("a1"), user("q2")]
    request, record = ask(chatglm.url, messages, {"temperature": 0.3, "top_p": 0.9, "max_length": 4096})
    assert chatglm.last == {"prompt": "q2", "history": [["Be brief.\n\nq1", "a1"]], "max_length": 4096,
                            "top_p": 0.9, "temperature": 0.3}
    assert chatglm.requests[-1]["headers"]["Content-Type"].startswith("application/json")
    assert "Authorization" not in chatglm.requests[-1]["headers"]  # no key, none sent
    assert (record.outcome, record.text, record.error) == ("ok", reply_text("q2"), None)
    assert request.stream is False and record.streamed is False  # asked to stream: it cannot
    assert record.usage is None and record.latency_s is not None


def test_defaults_are_sent_when_nothing_was_set(chatglm: FakeChatGLM) -> None:
    ask(chatglm.url, [user("你好")])
    assert chatglm.last == {"prompt": "你好", "history": [], "max_length": 2048, "top_p": 0.7,
                            "temperature": 0.95}


def test_chatglm3_history_is_sent_as_role_messages(chatglm: FakeChatGLM) -> None:
    _, record = ask(chatglm.url, [system("S"), user("q1"), assistant("a1"), user("q2")], model="chatglm3-6b")
    assert chatglm.last["history"] == [{"role": "system", "content": "S"},
                                       {"role": "user", "content": "q1"},
                                       {"role": "assistant", "content": "a1"}]
    assert chatglm.last["prompt"] == "q2" and record.text == reply_text("q2")


def test_the_answer_arrives_as_one_delta(chatglm: FakeChatGLM) -> None:
    request = BACKEND.prepare(CHATGLM_ENDPOINT, "chatglm2-6b", [user("one piece")], {})
    stream = BACKEND.open_stream(request, CHATGLM_ENDPOINT, Connection(base_url=chatglm.url, timeout_s=5))
    assert list(stream) == [reply_text("one piece")]


# ---- errors: each kind with a fix that names the server --------------------------------------------
SCENARIO_ERRORS = {
    "http_500": (ErrorKind.SERVER_ERROR, "server_failed", 500),
    "bad_json": (ErrorKind.SERVER_ERROR, "not_json", None),
    "missing_field": (ErrorKind.SERVER_ERROR, "no_response", None),
    "status_500": (ErrorKind.SERVER_ERROR, "body_status", 500),
    "drop": (ErrorKind.SERVER_ERROR, "dropped", None),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_ERRORS))
def test_a_failing_server_is_explained(chatglm: FakeChatGLM, scenario: str) -> None:
    chatglm.fail_next(scenario)
    _, record = ask(chatglm.url, [user("hi")])
    kind, key, status = SCENARIO_ERRORS[scenario]
    err = record.error
    assert err is not None and record.outcome == "error" and record.text == ""
    assert (err.kind, err.status) == (kind, status)
    assert err.message_key == f"chatglm_http.error.{key}"
    assert fix_text(err) == t(f"chatglm_http.error.{key}", "en", url=chatglm.url, body_status=500)
    assert f"`{chatglm.url}`" in fix_text(err) and chatglm.url in fix_text(err, "zh")
    assert explain(err, "en").title == t(f"error.{kind.value}.title", "en")


def test_the_provider_words_are_kept_for_the_details_fold(chatglm: FakeChatGLM) -> None:
    chatglm.fail_next("bad_json")
    _, record = ask(chatglm.url, [user("hi")])
    assert record.error is not None and "ChatGLM web demo" in record.error.detail


@pytest.mark.parametrize(("body", "answer"), [
    ({"response": "ok", "history": [], "status": 200, "time": "2023-07-25 09:47:00"}, "ok"),
    ({"response": "ok", "status": "200"}, "ok"),  # a wrapper that sends the status as text
    ({"response": "ok"}, "ok"),  # no status at all
    ({"response": ""}, ""),  # an empty answer is an answer (the page says it came back empty)
])
def test_replies_that_carry_an_answer(body: dict[str, Any], answer: str) -> None:
    assert read_reply(200, json.dumps(body).encode(), "http://h/chatglm") == answer


@pytest.mark.parametrize(("body", "kind", "status"), [
    ({"response": "", "status": 503}, ErrorKind.SERVER_ERROR, 503),
    ({"response": "", "status": 429}, ErrorKind.RATE_LIMIT, 429),
    ({"response": "", "status": "busy"}, ErrorKind.SERVER_ERROR, None),
    ({"response": None, "status": 200}, ErrorKind.SERVER_ERROR, None),
    ([1, 2], ErrorKind.SERVER_ERROR, None),
])
def test_replies_without_an_answer(body: Any, kind: ErrorKind, status: int | None) -> None:
    with pytest.raises(PlaygroundError) as caught:
        read_reply(200, json.dumps(body).encode(), "http://h/chatglm")
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert "`http://h/chatglm`" in fix_text(caught.value)


def test_a_server_that_is_not_running_is_named_with_its_url() -> None:
    url = refused_url()
    _, record = ask(url, [user("hi")])
    err = record.error
    assert err is not None and err.kind is ErrorKind.UNREACHABLE
    assert fix_text(err) == t("chatglm_http.error.not_running", "en", url=url)
    assert f"Nothing is answering at `{url}`" in fix_text(err)
    assert "ConnectionRefusedError" in err.detail
    assert explain(err, "zh").fix.startswith(f"`{url}` 没有响应")


def test_a_wrong_path_is_told_apart_from_a_missing_model(chatglm: FakeChatGLM) -> None:
    url = chatglm.url.replace("/chatglm", "/v1/chat/completions")
    _, record = ask(url, [user("hi")])
    err = record.error
    assert err is not None and (err.kind, err.status) == (ErrorKind.INVALID_REQUEST, 404)
    assert "POST /chatglm on port 7030" in fix_text(err)
    assert not chatglm.requests  # the fake logs only requests on its API path


def test_a_slow_server_times_out_with_the_seconds_waited(chatglm: FakeChatGLM) -> None:
    chatglm.fail_next("slow")
    _, record = ask(chatglm.url, [user("hi")], timeout_s=0.5)
    err = record.error
    assert err is not None and err.kind is ErrorKind.TIMEOUT
    assert "within 0.5 s" in fix_text(err) and "PLAYGROUND_TIMEOUT_S" in fix_text(err)


def test_an_address_that_accepts_no_connection_is_unreachable_not_slow() -> None:
    with unaccepted_url() as url:
        _, record = ask(url, [user("hi")], timeout_s=0.3)
    err = record.error
    assert err is not None and err.kind is ErrorKind.UNREACHABLE
    assert fix_text(err) == t("chatglm_http.error.connect_timeout", "en", url=url, seconds="0.3")
    assert "firewall" in fix_text(err)


@pytest.mark.parametrize("url", ["127.0.0.1:7030/chatglm", "ftp://127.0.0.1/chatglm", "http://:7030/x",
                                 "http://127.0.0.1:port/chatglm"])
def test_an_address_that_cannot_be_called_is_refused_before_sending(url: str) -> None:
    _, record = ask(url, [user("hi")])
    err = record.error
    assert err is not None and err.kind is ErrorKind.VALIDATION
    assert explain(err, "en").title == t("error.validation.title", "en")
    assert explain(err, "en").fix == t("chatglm_http.bad_url", "en", url=url)


def test_network_failures_map_to_the_common_vocabulary() -> None:
    url = "http://chatglm.example:7030/chatglm"
    cases = {
        socket.gaierror(-2, "Name or service not known"): (ErrorKind.UNREACHABLE, "unknown_host"),
        ConnectionResetError(104, "reset"): (ErrorKind.SERVER_ERROR, "dropped"),
        OSError(113, "No route to host"): (ErrorKind.UNREACHABLE, "not_running"),
        TimeoutError("timed out"): (ErrorKind.TIMEOUT, "timeout"),
        ConnectTimeout("timed out"): (ErrorKind.UNREACHABLE, "connect_timeout"),
    }
    for exc, (kind, key) in cases.items():
        err = network_error(exc, url, 7.0)
        assert (err.kind, err.message_key) == (kind, f"chatglm_http.error.{key}"), exc
        assert url in fix_text(err)
    assert "chatglm.example" in fix_text(network_error(socket.gaierror(-2, "x"), url, 7.0))
    assert "within 7 s" in fix_text(network_error(TimeoutError(), url, 7.0))


def test_an_error_copies_with_its_own_fix() -> None:
    import copy
    import pickle

    err = network_error(ConnectionRefusedError(111, "refused"), "http://h:1/chatglm", 5.0)
    for clone in (copy.deepcopy(err), pickle.loads(pickle.dumps(err))):
        assert type(clone) is type(err) and clone.message_key == err.message_key
        assert fix_text(clone) == fix_text(err)


# ---- stop ------------------------------------------------------------------------------------------
def wait_for(condition: Any, timeout_s: float = JOIN_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_stop_ends_the_call_and_discards_a_late_answer(chatglm: FakeChatGLM) -> None:
    chatglm.fail_next("slow")  # answers after 1.5 s
    request = BACKEND.prepare(CHATGLM_ENDPOINT, "chatglm2-6b", [user("take your time")], {})
    stream = BACKEND.open_stream(request, CHATGLM_ENDPOINT, Connection(base_url=chatglm.url, timeout_s=30))
    wait_for(lambda: chatglm.requests)  # the server is working on it
    record = stream.stop()
    assert (record.outcome, record.text, record.error) == ("stopped", "", None)
    assert stream.join(JOIN_S)
    assert not chatglm.slow_answered.is_set()  # the thread ended before the server answered
    assert chatglm.slow_answered.wait(JOIN_S)  # the server finished its answer anyway...
    assert (stream.record.outcome, stream.record.text) == ("stopped", "")  # ...and nobody took it


def test_a_cancelled_call_yields_nothing(chatglm: FakeChatGLM) -> None:
    request = BACKEND.prepare(CHATGLM_ENDPOINT, "chatglm2-6b", [user("hi")], {})
    cancel = threading.Event()
    cancel.set()
    conn = Connection(base_url=chatglm.url, timeout_s=5)
    assert list(BACKEND.events(request, CHATGLM_ENDPOINT, conn, cancel)) == []


# ---- usage: estimated, flagged, recorded -------------------------------------------------------------
def only_row(data_dir: Path) -> UsageRow:
    ledger = Ledger(f"sqlite:///{data_dir / SQLITE_FILE}")
    rows = ledger.rows(UsageFilter())
    ledger.close()
    assert len(rows) == 1, rows
    return rows[0]


def record_call(url: str, data_dir: Path, text: str) -> tuple[ChatRequest, ChatRecord, UsageRow]:
    ledger = Ledger.open(Settings.load())
    request = BACKEND.prepare(CHATGLM_ENDPOINT, "chatglm2-6b", [system("Be brief."), user(text)], {})
    conn = Connection(base_url=url, timeout_s=5)
    context = CallContext("sess-c", "chat", BACKEND.id, CHATGLM_ENDPOINT.id, url)
    record = BACKEND.open_stream(request, CHATGLM_ENDPOINT, conn,
                                 on_finish=recorder(ledger, context, request, None)).collect()
    ledger.close()
    return request, record, only_row(data_dir)


def test_usage_is_estimated_and_flagged(chatglm: FakeChatGLM, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    request, record, row = record_call(chatglm.url, tmp_path, "你好，介绍一下你自己")
    assert record.usage is None  # the API reports none
    assert row.tokens_estimated is True
    assert row.prompt_tokens == estimate_messages_tokens(request.messages) > 0
    assert row.completion_tokens == estimate_tokens(record.text) > 0
    assert (row.backend, row.endpoint, row.model, row.streamed, row.outcome) == (
        "chatglm_http", "chatglm", "chatglm2-6b", False, "ok")
    assert row.params == {"temperature": 0.95, "top_p": 0.7, "max_length": 2048}
    assert row.base_url_host == f"127.0.0.1:{chatglm.port}"


def test_a_refused_call_is_recorded_without_invented_tokens(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    _, record, row = record_call(refused_url(), tmp_path, "hi")
    assert record.outcome == "error"
    assert (row.outcome, row.error_kind, row.prompt_tokens, row.tokens_estimated) == (
        "error", "unreachable", None, False)
