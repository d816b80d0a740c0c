"""The Chat page with PLAYGROUND_BACKEND=local and a tiny GLM model (AppTest, the real loading path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backends.local.cache import MODELS
from core.config import Settings
from core.usage_ledger import SQLITE_FILE, Ledger, UsageFilter, UsageRow
from tests.apptest_helpers import assert_ok, en, errors, send, shown, start, stored
from tests.tiny_glm import tiny_glm_fixture, tiny_remote_fixture  # noqa: F401 - fixtures

SLOT = "local/local"


@pytest.fixture
def local_env(tiny_glm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app starts on the local backend with the tiny model; no model is loaded yet."""
    monkeypatch.setenv("PLAYGROUND_BACKEND", "local")
    monkeypatch.setenv("PLAYGROUND_LOCAL_MODEL", str(tiny_glm_dir))
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "60")
    _forget_loaded()
    yield tiny_glm_dir
    _forget_loaded()


def _forget_loaded() -> None:
    from components.local_model_panel import _load_once

    _load_once.clear()
    MODELS.unload(None)


def sidebar_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def greedy(at: AppTest) -> AppTest:
    at.sidebar.toggle(key=f"widget.param.{SLOT}.do_sample").set_value(False).run()
    assert_ok(at)
    return at


def ledger_rows() -> list[UsageRow]:
    ledger = Ledger(f"sqlite:///{Settings.load().data_dir / SQLITE_FILE}")
    try:
        return ledger.rows(UsageFilter())
    finally:
        ledger.close()


def test_an_answer_from_the_local_model_with_exact_usage_in_the_ledger(local_env: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    at = start()
    assert at.sidebar.text_input(key="widget.local.model").value == str(local_env)
    assert en("local.not_loaded") in sidebar_captions(at)
    assert en("local.gpu_memory_na") in sidebar_captions(at)
    greedy(at)
    send(at, "Hello, how are you today?")
    role, answer = shown(at)[-1]
    assert role == "assistant" and answer
    row = ledger_rows()[-1]
    assert (row.backend, row.endpoint, row.model, row.outcome) == ("local", "local", str(local_env), "ok")
    tokenizer = AutoTokenizer.from_pretrained(local_env)
    model = AutoModelForCausalLM.from_pretrained(local_env)
    messages = [{"role": "user", "content": "Hello, how are you today?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    max_new = at.session_state["picker.settings"]["params"][SLOT]["max_new_tokens"]
    completion = model.generate(torch.tensor([ids]), max_new_tokens=max_new, do_sample=False)[0, len(ids):]
    assert answer == tokenizer.decode(completion, skip_special_tokens=True)
    assert (row.prompt_tokens, row.completion_tokens) == (len(ids), len(completion))
    assert row.tokens_estimated is False and row.ttft_s is not None and row.latency_s is not None
    stats = stored_stats(at)
    assert stats["usage"]["prompt_tokens"] == len(ids) and stats["tokens_per_s"]
    # The first answer loaded the model for every session; the sidebar says what is loaded.
    assert any(c.startswith("Loaded: Glm4ForCausalLM") for c in sidebar_captions(at))


def stored_stats(at: AppTest) -> dict:  # type: ignore[type-arg]
    message = at.session_state["chat.conversation"].messages[-1]
    assert message.stats is not None
    return message.stats


def test_load_shows_progress_then_what_is_loaded(local_env: Path) -> None:
    at = start()
    at.button(key="local.load").click().run()
    assert_ok(at)
    assert [s.label for s in at.sidebar.status] == [en("local.loaded_in", seconds=MODELS.loaded()[0].load_s)]
    loaded = [c for c in sidebar_captions(at) if c.startswith("Loaded: ")]
    assert loaded and "Glm4ForCausalLM" in loaded[0] and "cpu" in loaded[0] and "2048 tokens" in loaded[0]
    at.button(key="local.unload").click().run()
    assert_ok(at)
    assert MODELS.loaded() == [] and en("local.not_loaded") in sidebar_captions(at)


def test_a_missing_folder_is_a_clear_error_and_the_conversation_is_kept(local_env: Path,
                                                                        tmp_path: Path) -> None:
    missing = str(tmp_path / "glm-4-9b-chat-hf")
    at = start()
    at.sidebar.text_input(key="widget.local.model").set_value(missing).run()
    send(at, "Are you there?")
    found = errors(at)
    assert len(found) == 1 and missing in found[0] and "There is no folder" in found[0]
    assert stored(at) == [("user", "Are you there?")]
    at.button(key="local.load").click().run()  # the same from the Load button, in the sidebar
    assert_ok(at)
    sidebar_errors = [e.value for e in at.sidebar.error]
    assert len(sidebar_errors) == 1 and en("local.load_failed") in sidebar_errors[0]
    assert stored(at) == [("user", "Are you there?")]


def test_a_remote_code_model_runs_only_once_allowed(local_env: Path, tiny_remote_dir: Path) -> None:
    at = start()
    at.sidebar.text_input(key="widget.local.model").set_value(str(tiny_remote_dir)).run()
    assert not at.sidebar.warning  # no warning before the box is ticked
    send(at, "Hello, how are you today?")
    found = errors(at)
    assert len(found) == 1 and "Allow this model's own code to run" in found[0]
    assert stored(at) == [("user", "Hello, how are you today?")]
    at.sidebar.checkbox(key="widget.local.remote_code").check().run()
    assert [w.value for w in at.sidebar.warning] == [en("local.remote_code_warning")]
    at.button(key="chat.run").click().run()
    assert_ok(at)
    assert not errors(at)
    role, answer = shown(at)[-1]
    assert role == "assistant" and answer
    assert ledger_rows()[-1].model == str(tiny_remote_dir)


def test_the_user_is_told_when_older_turns_were_left_out(local_env: Path) -> None:
    at = start()
    greedy(at)
    at.sidebar.number_input(key=f"widget.param.{SLOT}.max_new_tokens").set_value(8).run()
    for i in range(4):
        send(at, f"Tell me a story about a small model that runs on a CPU, part {i}.")
    assert not at.info or all("left out" not in i.value for i in at.info)
    at.sidebar.number_input(key=f"widget.param.{SLOT}.context_budget").set_value(96).run()
    send(at, "What is the capital of France?")
    notes = [i.value for i in at.info if "left out" in i.value]
    assert len(notes) == 1 and "context budget of 96 tokens" in notes[0]
    assert len(stored(at)) == 10  # nothing is deleted from the conversation itself
    row = ledger_rows()[-1]
    assert row.prompt_tokens is not None and row.prompt_tokens + 8 <= 96


def test_errors_speak_chinese_in_a_chinese_browser(local_env: Path, tmp_path: Path) -> None:
    at = start(locale="zh-CN")
    at.sidebar.text_input(key="widget.local.model").set_value(str(tmp_path / "缺少的模型")).run()
    send(at, "你好")
    found = errors(at)
    assert len(found) == 1 and "本服务器上没有文件夹" in found[0]


def test_gpu_memory_is_shown_when_a_gpu_is_in_use(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    class Properties:
        total_memory = 80 * 1024 ** 3

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda i: 3 * 1024 ** 3 // 2)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda i: 2 * 1024 ** 3)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Properties())
    at = start()
    assert en("local.gpu_memory", name="NVIDIA H200", allocated="1.5 GiB", reserved="2.0 GiB",
              total="80.0 GiB") in sidebar_captions(at)
