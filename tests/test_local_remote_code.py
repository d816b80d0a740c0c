"""ChatGLM2/3-style models through their own code's stream_chat, loaded only with the opt-in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from backends.chatglm_history import to_pairs, to_roles
from backends.local import LOCAL_ENDPOINT, LocalBackend, LocalConnection
from backends.local.cache import ModelCache
from core.chat import ChatStream
from tests.tiny_glm import tiny_remote_fixture  # noqa: F401 - the tiny_remote_dir fixture

OPTED_IN = LocalConnection(base_url="local", remote_code=True)
MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Hello, how are you today?"},
            {"role": "assistant", "content": "I am fine, thank you."},
            {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend(models=ModelCache())


def ask(backend: LocalBackend, folder: Path, max_new_tokens: int = 12,
        conn: LocalConnection = OPTED_IN) -> ChatStream:
    request = backend.prepare(LOCAL_ENDPOINT, str(folder), MESSAGES,
                              {"max_new_tokens": max_new_tokens, "context_budget": 1024})
    return backend.open_stream(request, LOCAL_ENDPOINT, conn)


def test_history_as_chatglm2_pairs_with_the_system_message_in_front() -> None:
    query, history = to_pairs(MESSAGES)
    assert query == "What is the capital of France?"
    assert history == [("Answer briefly.\n\nHello, how are you today?", "I am fine, thank you.")]
    query, history = to_pairs([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}])
    assert (query, history) == ("S\n\nQ", [])
    # Two questions in a row (the first never run) and an answer without a question.
    odd = [{"role": "assistant", "content": "A0"}, {"role": "user", "content": "Q1"},
           {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"},
           {"role": "user", "content": "Q3"}]
    assert to_pairs(odd) == ("Q3", [("", "A0"), ("Q1\n\nQ2", "A2")])


def test_history_as_chatglm3_roles() -> None:
    query, history = to_roles(MESSAGES)
    assert query == "What is the capital of France?"
    assert [h["role"] for h in history] == ["system", "user", "assistant"]


def test_without_the_opt_in_the_chat_says_how_to_allow_it(backend: LocalBackend,
                                                          tiny_remote_dir: Path) -> None:
    rec = ask(backend, tiny_remote_dir, conn=LocalConnection(base_url="local")).collect()
    assert rec.outcome == "error" and rec.error is not None and not rec.text
    assert rec.error.params["key"] == "local.error.remote_code_needed"


def test_stream_chat_streams_and_counts_usage_with_the_tokenizer(backend: LocalBackend,
                                                                tiny_remote_dir: Path) -> None:
    stream = ask(backend, tiny_remote_dir, max_new_tokens=12)
    deltas = [d for d in stream.events(poll_s=0.01) if d]
    rec = stream.record
    assert rec.outcome == "ok", rec.error
    loaded = backend.loaded(OPTED_IN.spec(str(tiny_remote_dir)))
    assert loaded is not None and loaded.mode == "stream_chat" and loaded.spec.remote_code
    tokenizer, model = loaded.tokenizer, loaded.model
    # What the model's own code sends: ChatGLM2's build_inputs on (query, history).
    query, history = to_pairs(MESSAGES)
    prompt = int(model.build_inputs(tokenizer, query, history=history)["input_ids"].shape[-1])
    expected = [answer for answer, _ in model.stream_chat(tokenizer, query, history,
                                                          max_length=prompt + 12)][-1]
    assert rec.text == "".join(deltas) == expected and len(deltas) > 1
    assert rec.usage is not None and rec.usage.prompt_tokens == prompt
    assert rec.usage.completion_tokens == len(tokenizer.encode(expected, add_special_tokens=False))
    assert rec.ttft_s is not None and rec.latency_s is not None


def test_stop_closes_the_models_generator(backend: LocalBackend, tiny_remote_dir: Path) -> None:
    stream = ask(backend, tiny_remote_dir, max_new_tokens=960)  # seconds of work unless stopped
    for delta in stream.events(poll_s=0.01):
        if delta:
            break
    stopped_at = time.perf_counter()
    assert stream.stop().outcome == "stopped"
    assert stream.join(5.0), "stream_chat kept running after Stop"  # it runs in the stream's thread
    assert time.perf_counter() - stopped_at < 3.0
    loaded = backend.loaded(OPTED_IN.spec(str(tiny_remote_dir)))
    assert loaded is not None and loaded.line.length == 0
