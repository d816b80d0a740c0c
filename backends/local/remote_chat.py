"""ChatGLM2/3-6B through their own code's `model.stream_chat`, as the seed's web_demo2.py calls it.

`stream_chat(tokenizer, query, history, max_length=..., top_p=..., temperature=...)` yields the
whole answer so far each time; here it becomes text deltas. It runs in the caller's thread, so a
stop closes the generator and nothing keeps running. No past key values are asked for or kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from backends.chatglm_history import Query, to_pairs, to_roles
from backends.local.cache import LoadedModel, hand_back_gpu_cache
from backends.local.trimming import Messages
from core.chat import StreamMeta, Usage


class RemotePrompt:
    """Builds and measures the prompt exactly as the model's own code will."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.roles = callable(getattr(tokenizer, "build_chat_input", None))  # ChatGLM3

    def query(self, messages: Messages) -> Query:
        """(query, history) in ChatGLM's form (backends/chatglm_history.py): ChatGLM3's role
        messages, else ChatGLM2's (query, answer) pairs."""
        return to_roles(messages) if self.roles else to_pairs(messages)

    def count(self, messages: Messages) -> int:
        query, history = self.query(messages)
        if self.roles:
            inputs = self.tokenizer.build_chat_input(query, history=history, role="user")
        elif callable(getattr(self.model, "build_inputs", None)):  # ChatGLM2
            inputs = self.model.build_inputs(self.tokenizer, query, history=history)
        else:
            text = "\n".join([q + "\n" + a for q, a in history] + [query])
            return len(self.tokenizer.encode(text))
        return int(inputs["input_ids"].shape[-1])


def stream_chat(loaded: LoadedModel, messages: Messages, prompt: RemotePrompt, params: dict[str, Any],
                cancel: threading.Event) -> Iterator[str | StreamMeta]:
    """Relay stream_chat's growing answer as deltas; usage from the model's tokenizer."""
    query, history = prompt.query(messages)
    prompt_tokens = prompt.count(messages)
    max_new = int(params["max_new_tokens"])
    kwargs: dict[str, Any] = {"max_length": prompt_tokens + max_new, "do_sample": bool(params["do_sample"]),
                              "top_p": float(params["top_p"]), "temperature": float(params["temperature"]),
                              "repetition_penalty": float(params["repetition_penalty"])}
    if params.get("top_k"):
        kwargs["top_k"] = int(params["top_k"])
    chat = loaded.model.stream_chat(loaded.tokenizer, query, history, **kwargs)
    response, sent = "", 0
    try:
        for item in chat:
            if cancel.is_set():
                return
            response = item[0] if isinstance(item, tuple) else str(item)
            # Only what is new past the text already sent: ChatGLM's punctuation fix-up may rewrite
            # a character it sent before, and text on the page is never taken back.
            if len(response) > sent:
                yield response[sent:]
                sent = len(response)
    finally:
        chat.close()  # a stop ends the model's generator here, in this thread
        hand_back_gpu_cache(loaded.model)
    completion = len(loaded.tokenizer.encode(response, add_special_tokens=False))
    yield StreamMeta(usage=Usage(prompt_tokens, completion, prompt_tokens + completion),
                     finish_reason="length" if completion >= max_new else "stop")
