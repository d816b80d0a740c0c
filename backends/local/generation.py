"""One answer from a loaded model: trim the conversation to the budget, wait for the model's turn,
then stream. Under a ChatStream (the pages), a native model's `model.generate` runs in the stream's
own thread and hands its text straight to the reader through the stream's direct sink: one thread
hop per token, as a plain generate with a streamer. Read any other way, generate runs in a thread of
its own feeding a TextIteratorStreamer that this generator yields from. A stop flag read by a
StoppingCriteria ends generation at the next token. Nothing is kept between turns (no past key
values), and cached GPU blocks are handed back after each one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer, TextStreamer

from backends.local.cache import LoadedModel, hand_back_gpu_cache
from backends.local.loader import is_oom
from backends.local.trimming import Messages, trim_to_budget
from core.chat import Notice, Sink, StreamMeta, Usage
from core.errors import ErrorKind, PlaygroundError

THREAD_NAME = "local-generate"


class StopFlag(StoppingCriteria):
    """Ends generation at the next token once any of its events is set (Stop, or the reader left)."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        stop = any(event.is_set() for event in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class PromptIds:
    """The chat template's token ids for a list of messages; remembers the last one it made, so the
    prompt that trimming measured is not tokenized a second time."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._last: tuple[Messages, list[int]] | None = None

    def __call__(self, messages: Messages) -> list[int]:
        if self._last is not None and self._last[0] is messages:
            return self._last[1]
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)
        ids = list(encoded["input_ids"])
        self._last = (messages, ids)
        return ids

    def count(self, messages: Messages) -> int:
        return len(self(messages))


def sampling(params: dict[str, Any]) -> dict[str, Any]:
    """generate()'s arguments from the schema's values. Greedy unsets the sampling knobs, so a
    model's own generation_config cannot turn them back on."""
    out: dict[str, Any] = {"max_new_tokens": int(params["max_new_tokens"]),
                           "repetition_penalty": float(params.get("repetition_penalty", 1.0))}
    if params.get("do_sample", True):
        out.update(do_sample=True, temperature=float(params["temperature"]), top_p=float(params["top_p"]),
                   top_k=int(params.get("top_k") or 0))
    else:
        out.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return out


def waiting_notice(ahead: int) -> StreamMeta:
    return StreamMeta(notice=Notice.of("local.notice.waiting", ahead=ahead))


def answer(loaded: LoadedModel, messages: Messages, params: dict[str, Any], cancel: threading.Event,
           timeout_s: float, sink: Sink | None = None) -> Iterator[str | StreamMeta]:
    """Text deltas and StreamMeta for one answer; every refusal or failure is a PlaygroundError.
    With a `sink`, a native model's text goes there instead of being yielded."""
    if loaded.mode == "stream_chat":
        from backends.local.remote_chat import RemotePrompt, stream_chat

        prompt: Any = RemotePrompt(loaded.model, loaded.tokenizer)
    else:
        prompt = PromptIds(loaded.tokenizer)
    budget = int(params["context_budget"])
    if loaded.context_window:
        budget = min(budget, loaded.context_window)
    trimmed = trim_to_budget(messages, prompt.count, budget, int(params["max_new_tokens"]))
    if trimmed.dropped:
        yield StreamMeta(notice=Notice.of("local.notice.trimmed", lasting=True, dropped=trimmed.dropped,
                                          budget=budget))
    line = loaded.line
    ticket = line.join()
    try:
        waited = False
        for ahead in line.positions(ticket, cancel):
            waited = True
            yield waiting_notice(ahead)
        if cancel.is_set():
            return
        if waited:
            yield StreamMeta(notice=Notice(""))  # the turn came: back to "waiting for the first token"
        if loaded.mode == "stream_chat":
            yield from stream_chat(loaded, trimmed.messages, prompt, params, cancel)
        else:
            yield from stream_generate(loaded, prompt(trimmed.messages), params, cancel, timeout_s, sink)
    finally:
        line.leave(ticket)


class SinkStreamer(TextStreamer):
    """Hands each finished piece of text to a sink as generate makes it; remembers when."""

    def __init__(self, tokenizer: Any, sink: Sink) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.sink = sink
        self.last = time.monotonic()

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.last = time.monotonic()
            self.sink(text)


class QuietFor(StoppingCriteria):
    """Ends generation when no text came for `timeout_s`, as a TextIteratorStreamer's timeout would."""

    def __init__(self, streamer: SinkStreamer, timeout_s: float) -> None:
        self.streamer, self.timeout_s = streamer, timeout_s
        self.tripped = False

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        self.tripped = self.tripped or time.monotonic() - self.streamer.last > self.timeout_s
        return torch.full((input_ids.shape[0],), self.tripped, dtype=torch.bool, device=input_ids.device)


def stream_generate(loaded: LoadedModel, ids: list[int], params: dict[str, Any], cancel: threading.Event,
                    timeout_s: float, sink: Sink | None = None) -> Iterator[str | StreamMeta]:
    """One generate; usage counted in token ids. With a sink, generate runs in this thread (a
    ChatStream's) and hands its text over itself; without, in a thread of its own that this yields from."""
    model = loaded.model
    input_ids = torch.tensor([ids], dtype=torch.long, device=model.device)
    settings = sampling(params)
    if sink is not None:
        out = generate_here(loaded, input_ids, settings, cancel, timeout_s, sink)
    else:
        out = yield from generate_in_thread(loaded, input_ids, settings, cancel, timeout_s)
    if out is None or cancel.is_set():
        return
    completion = out[0, len(ids):].tolist()
    del out
    yield StreamMeta(usage=Usage(len(ids), len(completion), len(ids) + len(completion)),
                     finish_reason=finish_reason(completion, settings["max_new_tokens"], model))


def timeout_error(timeout_s: float) -> PlaygroundError:
    return PlaygroundError(ErrorKind.TIMEOUT, detail=f"the model sent no token within {timeout_s:g} s "
                           f"(streamer timeout; PLAYGROUND_TIMEOUT_S)")


def generate_here(loaded: LoadedModel, input_ids: torch.Tensor, settings: dict[str, Any],
                  cancel: threading.Event, timeout_s: float, sink: Sink) -> torch.Tensor:
    """generate in the calling thread, its text to the sink: the text crosses one thread, as with a
    plain generate and a streamer."""
    streamer = SinkStreamer(loaded.tokenizer, sink)
    quiet = QuietFor(streamer, timeout_s)
    try:
        with torch.inference_mode():
            out = loaded.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer,
                stopping_criteria=StoppingCriteriaList([StopFlag(cancel), quiet]), **settings)
    except Exception as exc:
        raise generation_error(exc) from exc
    finally:
        hand_back_gpu_cache(loaded.model)
    if quiet.tripped:
        raise timeout_error(timeout_s)
    return out


def generate_in_thread(loaded: LoadedModel, input_ids: torch.Tensor, settings: dict[str, Any],
                       cancel: threading.Event, timeout_s: float) -> Iterator[str | StreamMeta]:
    """generate in a thread feeding a TextIteratorStreamer; yields its text, returns the ids (None
    when stopped). Closing this generator ends the thread at the next token."""
    model = loaded.model
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                    timeout=timeout_s)
    halt = threading.Event()  # set when this reader stops reading, whatever the reason
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            with torch.inference_mode():
                result["out"] = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([StopFlag(cancel, halt)]), **settings)
        except BaseException as exc:
            result["error"] = exc
            streamer.end()  # wake the reader now rather than after its timeout

    thread = threading.Thread(target=work, name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        for text in streamer:
            if text:
                yield text
            if cancel.is_set():
                return None
    except queue.Empty:
        raise timeout_error(timeout_s) from None
    finally:
        halt.set()
        thread.join()  # StopFlag ends it at the next token: nothing keeps running after an answer
        hand_back_gpu_cache(model)
    if "error" in result:
        raise generation_error(result.pop("error"))
    return result.pop("out")


def finish_reason(completion: list[int], max_new_tokens: int, model: Any) -> str:
    """"length" when the answer used every token it was allowed without ending, else "stop"."""
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    if len(completion) >= max_new_tokens and (not completion or completion[-1] not in eos_ids):
        return "length"
    return "stop"


def generation_error(exc: BaseException) -> PlaygroundError:
    """A failure inside generate(): out of memory gets its own fix; anything else its details."""
    if isinstance(exc, PlaygroundError):
        return exc
    detail = f"{type(exc).__name__}: {exc}"[:800]
    if is_oom(exc):
        return PlaygroundError(ErrorKind.VALIDATION, detail=detail,
                               params={"key": "local.error.oom_generating"})
    return PlaygroundError(ErrorKind.UNKNOWN, detail=detail)
