"""A conversation in ChatGLM's own form: the last user turn as the query, the turns before it as history.

One format for both ways of reaching a ChatGLM: the legacy HTTP API (backends/chatglm_http.py)
and the model's own `stream_chat` code run locally (backends/local/remote_chat.py). ChatGLM-6B and
ChatGLM2-6B take the history as (query, answer) pairs; ChatGLM3 as role messages.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind, PlaygroundError

Query = tuple[str, list[Any]]  # (the last user turn, the history before it)


def split_turns(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    """(system text, user / assistant turns) with consecutive messages of one role made one turn,
    joined by a blank line: ChatGLM's history alternates strictly. Blank system messages add nothing."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for message in messages:
        role, text = str(message.get("role") or ""), str(message.get("content") or "")
        if role == "system":
            if text.strip():
                system.append(text)
        elif turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((role, text))
    return "\n\n".join(system), turns


def _split_query(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]], str]:
    """(system text, the turns before the query, the query); the last turn must be the user's."""
    system, turns = split_turns(messages)
    if not turns or turns[-1][0] != "user":
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.last_not_user"})
    return system, turns[:-1], turns[-1][1]


def to_pairs(messages: list[dict[str, Any]]) -> Query:
    """ChatGLM-6B / ChatGLM2-6B's form: history as [(query, answer), ...] (an answer with no
    question before it gets an empty query). They have no system role: the system text goes,
    followed by a blank line, in front of the first user turn (the first history query, or the
    query itself when there is no history); that is how the model sees instructions."""
    system, turns, query = _split_query(messages)
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for role, text in turns:
        if role == "user":
            question = text
        else:
            pairs.append((question or "", text))
            question = None
    if system:
        if pairs:
            first = pairs[0][0]
            pairs[0] = (f"{system}\n\n{first}" if first else system, pairs[0][1])
        else:
            query = f"{system}\n\n{query}"
    return query, pairs


def to_roles(messages: list[dict[str, Any]]) -> Query:
    """ChatGLM3's form: history as [{"role", "content"}, ...], the system message in its own place
    at the start, as ChatGLM3's chat template expects."""
    system, turns, query = _split_query(messages)
    history: list[Any] = [{"role": "system", "content": system}] if system else []
    return query, history + [{"role": role, "content": text} for role, text in turns]
