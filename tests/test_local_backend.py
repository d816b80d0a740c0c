"""The local backend on a tiny random GLM-4 through the real from_pretrained path: streaming, usage
counted by the tokenizer, stop ends generation, timeouts, nothing kept between turns."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.local import LOCAL_ENDPOINT, LocalBackend, LocalConnection
from backends.local.cache import ModelCache, gpu_memory
from backends.local.generation import THREAD_NAME, sampling
from core.chat import ChatRecord, ChatStream, StreamMeta
from core.errors import ErrorKind, PlaygroundError
from tests.generate_watch import watch_generate
from tests.tiny_glm import build_native, tiny_glm_fixture  # noqa: F401 - the tiny_glm_dir fixture

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello, how are you today?"}]
GREEDY = {"do_sample": False, "max_new_tokens": 24, "context_budget": 2048}


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend(models=ModelCache())  # its own cache: nothing shared with other test files


def open_answer(backend: LocalBackend, folder: Path, messages: list[dict[str, str]] | None = None,
                conn: LocalConnection | None = None, **params: Any) -> ChatStream:
    request = backend.prepare(LOCAL_ENDPOINT, str(folder), messages or MESSAGES, {**GREEDY, **params})
    return backend.open_stream(request, LOCAL_ENDPOINT, conn or LocalConnection(base_url="local"))


def plain_generate(folder: Path, messages: list[dict[str, str]],
                   max_new_tokens: int) -> tuple[list[int], Any]:
    """What transformers alone makes of the same prompt (greedy): prompt ids and completion ids."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False)
    return list(ids), (out[0, len(ids):].tolist(), tokenizer)


def generation_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def test_streams_in_pieces_and_counts_usage_with_the_tokenizer(backend: LocalBackend,
                                                               tiny_glm_dir: Path) -> None:
    stream = open_answer(backend, tiny_glm_dir, max_new_tokens=40)
    deltas = [d for d in stream.events(poll_s=0.05) if d]
    rec = stream.record
    assert rec.outcome == "ok", rec.error
    prompt_ids, (completion, tokenizer) = plain_generate(tiny_glm_dir, MESSAGES, 40)
    assert rec.usage is not None
    assert rec.usage.prompt_tokens == len(prompt_ids)
    assert rec.usage.completion_tokens == len(completion)
    assert rec.usage.total_tokens == len(prompt_ids) + len(completion)
    assert rec.text == tokenizer.decode(completion, skip_special_tokens=True) == "".join(deltas)
    assert len(deltas) > 1  # streamed, not one block at the end
    assert rec.finish_reason == ("length" if len(completion) == 40 else "stop")
    assert rec.ttft_s is not None and 0 < rec.ttft_s <= rec.latency_s
    assert rec.tokens_per_s is not None and rec.tokens_per_s > 0
    assert not generation_threads()


def test_a_glm_model_of_the_first_hf_kind_loads_natively_too(backend: LocalBackend, tmp_path: Path) -> None:
    folder = build_native(tmp_path / "glm", arch="glm")
    rec = open_answer(backend, folder, max_new_tokens=8).collect()
    assert rec.outcome == "ok", rec.error
    loaded = backend.loaded(LocalConnection(base_url="local").spec(str(folder)))
    assert loaded is not None and loaded.architecture == "GlmForCausalLM" and loaded.mode == "generate"
    assert rec.usage is not None and rec.usage.completion_tokens == 8 and rec.finish_reason == "length"


def test_stop_ends_the_generation(backend: LocalBackend, tiny_glm_dir: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = backend.load(LocalConnection(base_url="local").spec(str(tiny_glm_dir)))
    watch = watch_generate(monkeypatch, loaded.model)
    stream = open_answer(backend, tiny_glm_dir, max_new_tokens=1900)  # several seconds if not stopped
    for delta in stream.events(poll_s=0.05):
        if delta:
            break
    assert watch.running == 1, "the model should still be writing"
    stopped_at = time.perf_counter()
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.text
    assert stream.join(5.0), "the stream's thread (where generate runs) kept running after Stop"
    assert watch.running == 0 and not generation_threads(), "model.generate kept running after Stop"
    assert time.perf_counter() - stopped_at < 3.0
    assert loaded.line.length == 0  # the model is free for the next caller


def test_under_a_stream_the_text_skips_the_generator(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    """Read by a ChatStream, the text goes from generate straight to the reader (one thread hop);
    read directly, the same answer comes through the generator."""
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), MESSAGES, {**GREEDY, "max_new_tokens": 24})
    conn = LocalConnection(base_url="local")
    yielded: list[object] = []

    def produce(cancel: threading.Event) -> Iterator[str | StreamMeta]:
        for event in backend.events(request, LOCAL_ENDPOINT, conn, cancel):
            yielded.append(event)
            yield event

    direct = ChatStream(produce, model=request.model).collect()
    events = list(backend.events(request, LOCAL_ENDPOINT, conn, threading.Event()))
    plain = "".join(e for e in events if isinstance(e, str))
    usage = [e.usage for e in events if isinstance(e, StreamMeta) and e.usage]
    assert direct.outcome == "ok" and direct.text == plain and plain
    assert not [e for e in yielded if isinstance(e, str)]
    assert direct.usage == usage[-1]


def test_a_reader_that_goes_away_ends_the_generation_too(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    """Closing the backend's event generator (what ChatStream does after a stop) stops generate()."""
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), MESSAGES, {**GREEDY, "max_new_tokens": 1900})
    events = backend.events(request, LOCAL_ENDPOINT, LocalConnection(base_url="local"), threading.Event())
    first = next(e for e in events if isinstance(e, str) and e)
    assert first and generation_threads()
    events.close()
    assert not generation_threads()


def test_no_token_in_time_is_a_timeout_error_and_the_thread_still_ends(backend: LocalBackend,
                                                                       tiny_glm_dir: Path) -> None:
    backend.load(LocalConnection(base_url="local").spec(str(tiny_glm_dir)))
    impatient = LocalConnection(base_url="local", timeout_s=1e-6)  # shorter than any first token
    rec = open_answer(backend, tiny_glm_dir, conn=impatient, max_new_tokens=200).collect()
    assert rec.outcome == "error" and rec.error is not None
    assert rec.error.kind is ErrorKind.TIMEOUT and "PLAYGROUND_TIMEOUT_S" in rec.error.detail
    assert not generation_threads()
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), MESSAGES, {**GREEDY, "max_new_tokens": 200})
    with pytest.raises(PlaygroundError) as caught:  # read without a stream: the streamer's own timeout
        list(backend.events(request, LOCAL_ENDPOINT, impatient, threading.Event()))
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert not generation_threads()


def test_sampling_settings_follow_the_schema() -> None:
    sampled = sampling({"do_sample": True, "temperature": 0.5, "top_p": 0.9, "top_k": 0,
                        "repetition_penalty": 1.2, "max_new_tokens": 64})
    assert sampled == {"do_sample": True, "temperature": 0.5, "top_p": 0.9, "top_k": 0,
                       "repetition_penalty": 1.2, "max_new_tokens": 64}
    greedy = sampling({"do_sample": False, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
                       "repetition_penalty": 1.0, "max_new_tokens": 8})
    assert greedy["do_sample"] is False
    assert greedy["temperature"] is greedy["top_p"] is greedy["top_k"] is None


def test_sampled_answers_run_with_every_knob(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    rec = open_answer(backend, tiny_glm_dir, do_sample=True, temperature=1.5, top_p=0.9, top_k=20,
                      repetition_penalty=1.3, max_new_tokens=16).collect()
    assert rec.outcome == "ok", rec.error
    assert rec.usage is not None and 1 <= rec.usage.completion_tokens <= 16


def test_the_schema_shows_the_models_window_once_loaded(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    backend.load(LocalConnection(base_url="local").spec(str(tiny_glm_dir)))
    schema = backend.schema(LOCAL_ENDPOINT, backend.model_info(LOCAL_ENDPOINT, str(tiny_glm_dir)))
    budget, max_new = schema.get("context_budget"), schema.get("max_new_tokens")
    assert budget is not None and budget.maximum == 2048 and budget.default == 2048
    assert max_new is not None and max_new.maximum == 2047
    unknown = backend.schema(LOCAL_ENDPOINT, backend.model_info(LOCAL_ENDPOINT, "/not/loaded"))
    assert unknown.get("context_budget").default == 4096  # type: ignore[union-attr]


def test_nothing_stays_in_memory_from_turn_to_turn(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    """No past key values or outputs are kept: the number of live tensors is flat across turns."""
    import torch

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))

    def turn() -> ChatRecord:
        rec = open_answer(backend, tiny_glm_dir, max_new_tokens=30).collect()
        assert rec.outcome == "ok", rec.error
        return rec

    turn()
    before = live_tensors()
    for _ in range(3):
        turn()
    assert live_tensors() <= before
    assert gpu_memory() is None  # a CPU machine: the sidebar says n/a


def test_importing_the_app_modules_does_not_import_torch() -> None:
    code = ("import sys, backends.registry, backends.local, components.backend_picker, "
            "components.local_model_panel, components.sidebar; "
            "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy; print('light')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "light" in done.stdout, done.stderr


def test_with_streaming_off_the_answer_comes_whole(backend: LocalBackend, tiny_glm_dir: Path) -> None:
    request = backend.prepare(LOCAL_ENDPOINT, str(tiny_glm_dir), MESSAGES, {**GREEDY, "max_new_tokens": 30},
                              stream=False)
    stream = backend.open_stream(request, LOCAL_ENDPOINT, LocalConnection(base_url="local"))
    deltas = [d for d in stream.events(poll_s=0.05) if d]
    rec = stream.record
    assert rec.outcome == "ok" and rec.streamed is False and len(deltas) == 1 and deltas[0] == rec.text
    assert rec.usage is not None and rec.usage.completion_tokens == len(plain_generate(
        tiny_glm_dir, MESSAGES, 30)[1][0])


def test_out_of_memory_while_answering_is_a_clear_error(tiny_glm_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    backend = LocalBackend(models=ModelCache())
    loaded = backend.load(LocalConnection(base_url="local").spec(str(tiny_glm_dir)))

    def too_long(*args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loaded.model, "generate", too_long)
    rec = open_answer(backend, tiny_glm_dir).collect()
    assert rec.outcome == "error" and rec.error is not None and not rec.text
    assert rec.error.params["key"] == "local.error.oom_generating" and "2.00 GiB" in rec.error.detail
    assert not generation_threads() and loaded.line.length == 0
