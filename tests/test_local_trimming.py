"""History trimming to the context budget: oldest turns first, system kept, the user told."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local import LOCAL_ENDPOINT, LocalBackend, LocalConnection
from backends.local.cache import ModelCache
from backends.local.trimming import trim_to_budget, turns
from core.chat import Notice
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from tests.tiny_glm import tiny_glm_fixture  # noqa: F401 - the tiny_glm_dir fixture

CONN = LocalConnection(base_url="local")


def words(messages: list[dict[str, str]]) -> int:
    """A stand-in tokenizer: one token per word plus two per message."""
    return sum(len(m["content"].split()) + 2 for m in messages)


def conversation(n_turns: int, system: bool = True) -> list[dict[str, str]]:
    out = [{"role": "system", "content": "be brief"}] if system else []
    for i in range(n_turns):
        out += [{"role": "user", "content": f"question {i} " + "word " * 8},
                {"role": "assistant", "content": f"answer {i} " + "word " * 8}]
    out.append({"role": "user", "content": "last question"})
    return out


def test_turns_group_a_question_with_its_answers() -> None:
    messages = [{"role": "assistant", "content": "few-shot"}, {"role": "system", "content": "s"},
                {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                {"role": "assistant", "content": "a1b"}, {"role": "user", "content": "q2"}]
    assert turns(messages) == [[0], [2, 3, 4], [5]]


def test_a_conversation_that_fits_is_sent_whole() -> None:
    messages = conversation(3)
    trimmed = trim_to_budget(messages, words, budget=1000, max_new_tokens=100)
    assert trimmed.messages is messages and trimmed.dropped == 0 and trimmed.prompt_tokens == words(messages)


def test_the_oldest_turns_go_first_and_the_system_message_stays() -> None:
    messages = conversation(5)  # system 4 + 5 turns of 2 x 12 + last 4 = 128 words-tokens
    trimmed = trim_to_budget(messages, words, budget=100, max_new_tokens=40)  # room 60
    kept = trimmed.messages
    assert kept[0] == messages[0]  # the system message
    assert kept[-1] == messages[-1]  # the question being asked
    assert trimmed.prompt_tokens == words(kept) <= 60
    assert trimmed.dropped == len(messages) - len(kept) and trimmed.dropped % 2 == 0
    assert [m["content"].split()[1] for m in kept[1:-1] if m["role"] == "user"] == ["3", "4"]
    # As many turns as fit: one more would not.
    one_more = [messages[0], *messages[len(messages) - len(kept) - 1:]]
    assert words(one_more) > 60


def test_the_window_limits_a_bigger_budget() -> None:
    trimmed = trim_to_budget(conversation(5), words, budget=100_000, max_new_tokens=40, window=100)
    assert trimmed.prompt_tokens <= 60 and trimmed.dropped > 0


def test_the_last_message_alone_too_long_is_refused_in_words() -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "word " * 200}]
    with pytest.raises(PlaygroundError) as caught:
        trim_to_budget(messages, words, budget=100, max_new_tokens=40)
    err = caught.value
    assert err.kind is ErrorKind.VALIDATION and err.params["key"] == "local.error.prompt_too_long"
    text = explain(err, "en").fix
    assert "is 205 tokens" in text and "only 60 fit" in text and "Context budget" in text
    assert "205" in explain(err, "zh").fix


def test_no_room_for_any_prompt_is_refused() -> None:
    with pytest.raises(PlaygroundError) as caught:
        trim_to_budget(conversation(1), words, budget=256, max_new_tokens=256)
    assert caught.value.params["key"] == "local.error.no_room"
    assert "Max new tokens (256)" in explain(caught.value, "en").fix


def test_the_backend_trims_with_the_models_tokenizer_and_says_so(tiny_glm_dir: Path) -> None:
    from transformers import AutoTokenizer

    backend = LocalBackend(models=ModelCache())
    tokenizer = AutoTokenizer.from_pretrained(tiny_glm_dir)
    messages = conversation(12)
    full = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True)["input_ids"])
    values = {"do_sample": False, "max_new_tokens": 16, "context_budget": full // 2}
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), messages, values)
    rec = backend.open_stream(request, LOCAL_ENDPOINT, CONN).collect()
    assert rec.outcome == "ok", rec.error
    assert len(rec.notices) == 1
    notice = rec.notices[0]
    assert notice.key == "local.notice.trimmed" and notice.lasting
    dropped = notice.params["dropped"]
    assert dropped > 0 and dropped % 2 == 0 and notice.params["budget"] == full // 2
    kept = [messages[0], *messages[1 + dropped:]]
    assert rec.usage is not None
    assert rec.usage.prompt_tokens == len(tokenizer.apply_chat_template(kept, add_generation_prompt=True)
                                          ["input_ids"])
    assert rec.usage.prompt_tokens + 16 <= full // 2
    assert request.messages == messages  # the conversation itself is untouched


def test_a_prompt_too_long_for_the_model_is_an_error_not_a_crash(tiny_glm_dir: Path) -> None:
    backend = LocalBackend(models=ModelCache())
    messages = [{"role": "user", "content": "Hello, how are you today? " * 80}]
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), messages,
                              {"max_new_tokens": 64, "context_budget": 128})
    rec = backend.open_stream(request, LOCAL_ENDPOINT, CONN).collect()
    assert rec.outcome == "error" and rec.error is not None and not rec.text
    assert rec.error.params["key"] == "local.error.prompt_too_long"
    assert rec.notices == [] and rec.status != Notice("local.notice.waiting")
