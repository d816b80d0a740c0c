"""Fit a conversation into the context budget: drop the oldest turns first, keep system messages.

Pure Python: the token count is a function the caller passes (the model's own tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import ErrorKind, PlaygroundError

Messages = list[dict[str, str]]
CountTokens = Callable[[Messages], int]


@dataclass(frozen=True)
class Trimmed:
    """The messages to send, how many were left out, and their prompt's size in tokens."""

    messages: Messages
    dropped: int
    prompt_tokens: int


def turns(messages: Messages) -> list[list[int]]:
    """Indexes of the non-system messages grouped into turns: a user message and the answers
    after it. Messages before the first user message (a few-shot answer) form a turn of their own."""
    groups: list[list[int]] = []
    for i, message in enumerate(messages):
        if message.get("role") == "system":
            continue
        if message.get("role") == "user" or not groups:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def without_oldest(messages: Messages, groups: list[list[int]], drop: int) -> Messages:
    """The messages less the `drop` oldest turns; system messages stay where they are."""
    gone = {i for group in groups[:drop] for i in group}
    return [m for i, m in enumerate(messages) if i not in gone]


def trim_to_budget(messages: Messages, count: CountTokens, budget: int, max_new_tokens: int,
                   window: int | None = None) -> Trimmed:
    """Keep as many of the newest turns as fit `budget` (or the model's window if smaller) with
    room for `max_new_tokens`. The last turn is never dropped: if it alone does not fit, raise."""
    limit = min(budget, window) if window else budget
    room = limit - max_new_tokens
    if room <= 0:
        raise PlaygroundError(ErrorKind.VALIDATION, detail=f"max_new_tokens {max_new_tokens} >= {limit}",
                              params={"key": "local.error.no_room", "max_new": max_new_tokens,
                                      "budget": limit})
    size = count(messages)
    if size <= room:
        return Trimmed(messages, 0, size)
    groups = turns(messages)
    # Fewest turns to drop so that the rest fits: the count only shrinks as turns go, so bisect.
    lo, hi = 1, len(groups) - 1
    best: tuple[int, Messages, int] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        kept = without_oldest(messages, groups, mid)
        size_kept = count(kept)
        if size_kept <= room:
            best, hi = (mid, kept, size_kept), mid - 1
        else:
            lo = mid + 1
    if best is None:
        last = without_oldest(messages, groups, len(groups) - 1)
        raise PlaygroundError(ErrorKind.VALIDATION, detail=f"prompt {count(last)} tokens > room {room}",
                              params={"key": "local.error.prompt_too_long", "tokens": count(last),
                                      "room": room, "budget": limit, "max_new": max_new_tokens})
    _, kept, size_kept = best
    return Trimmed(kept, len(messages) - len(kept), size_kept)
