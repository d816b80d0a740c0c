"""ChatGLM2/3-6B through their own code's `model.stream_chat`, as the seed's web_demo2.py calls it.

`stream_chat(tokenizer, query, history, max_length=..., top_p=..., temperature=...)` yields the
whole answer so far each time; here it becomes text deltas. It runs in the caller's thread, so a
stop closes the generator and nothing keeps running. No past key values are asked for or kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from backends.local.cache import LoadedModel, hand_back_gpu_cache
from backends.local.trimming import Messages
from core.chat import StreamMeta, Usage

Query = tuple[str, list[Any]]  # (the last user message, the history before it)


def _merged(messages: Messages) -> list[tuple[str, str]]:
    """(role, text) with back-to-back messages of one role joined: ChatGLM's history alternates."""
    out: list[tuple[str, str]] = []
    for message in messages:
        role, text = message["role"], message["content"]
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + "\n\n" + text)
        else:
            out.append((role, text))
    return out


def to_pairs(messages: Messages) -> Query:
    """ChatGLM2's form: history as [(question, answer), ...]. It has no system role: the system
    message goes in front of the first question."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = _merged([m for m in messages if m["role"] != "system"])
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            question = text
        else:
            pairs.append((question or "", text))
            question = None
    if question is not None:  # a question left without an answer (it was not run)
        pairs.append((question, ""))
    query = turns[-1][1] if turns else ""
    if system:
        if pairs:
            pairs[0] = (f"{system}\n\n{pairs[0][0]}", pairs[0][1])
        else:
            query = f"{system}\n\n{query}"
    return query, pairs


def to_roles(messages: Messages) -> Query:
    """ChatGLM3's form: history as [{"role", "content"}, ...], system messages included."""
    turns = _merged(messages)
    query = turns[-1][1] if turns else ""
    return query, [{"role": role, "content": text} for role, text in turns[:-1]]


class RemotePrompt:
    """Builds and measures the prompt exactly as the model's own code will."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.roles = callable(getattr(tokenizer, "build_chat_input", None))  # ChatGLM3

    def query(self, messages: Messages) -> Query:
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
