"""Statistics of a dataset: examples, messages and tokens per example, what lacks a system message,
what is over the length limit, and the tokens a training run would read.

Tokens are estimated with core/token_estimate.py (one per Chinese character, one per four other
characters, plus a few per message) unless a model's own tokenizer is passed as `count_tokens`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.token_estimate import MESSAGE_OVERHEAD, content_text, estimate_tokens

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Spread:
    """Minimum, median, 90th percentile (nearest rank) and maximum of some counts."""

    min: float
    median: float
    p90: float
    max: float


@dataclass(frozen=True)
class ExampleStats:
    line: int
    messages: int
    tokens: int  # every message, with its per-message overhead: what training reads
    assistant_tokens: int  # the answers' text: what the model learns to write
    has_system: bool


@dataclass
class DatasetStats:
    examples: int  # every example in the dataset
    per_example: list[ExampleStats] = field(default_factory=list)  # those with a messages list
    limit: int | None = None
    estimated: bool = True  # tokens are estimates, not a tokenizer's counts

    @property
    def measured(self) -> int:
        return len(self.per_example)

    @property
    def messages(self) -> Spread | None:
        return spread([e.messages for e in self.per_example])

    @property
    def tokens(self) -> Spread | None:
        return spread([e.tokens for e in self.per_example])

    @property
    def assistant_tokens(self) -> Spread | None:
        return spread([e.assistant_tokens for e in self.per_example])

    @property
    def without_system(self) -> int:
        return sum(1 for e in self.per_example if not e.has_system)

    @property
    def over_limit(self) -> int:
        if not self.limit:
            return 0
        return sum(1 for e in self.per_example if e.tokens > self.limit)

    @property
    def total_tokens(self) -> int:
        return sum(e.tokens for e in self.per_example)

    def tokens_of(self, lines: Iterable[int]) -> int:
        """The tokens of the examples on these lines (e.g. the valid ones, or a training split)."""
        wanted = set(lines)
        return sum(e.tokens for e in self.per_example if e.line in wanted)


def spread(values: Sequence[float]) -> Spread | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(0.9 * len(ordered)))
    return Spread(ordered[0], statistics.median(ordered), ordered[rank - 1], ordered[-1])


def example_stats(record: Any, line: int, count_tokens: TokenCounter | None = None) -> ExampleStats | None:
    """Counts for one record; None when it has no list of message objects to count."""
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None
    count = count_tokens or estimate_tokens
    tokens = assistant = 0
    has_system = False
    for message in messages:
        n = count(content_text(message.get("content")))
        tokens += n + MESSAGE_OVERHEAD
        role = message.get("role")
        if role == "assistant":
            assistant += n
        elif role == "system":
            has_system = True
    return ExampleStats(line, len(messages), tokens, assistant, has_system)


def dataset_stats(records: Iterable[Any], limit: int | None = None,
                  count_tokens: TokenCounter | None = None) -> DatasetStats:
    """Statistics of records numbered from line 1, as a dataset's lines are."""
    out = DatasetStats(0, limit=limit if limit and limit > 0 else None, estimated=count_tokens is None)
    for line, record in enumerate(records, start=1):
        out.examples += 1
        found = example_stats(record, line, count_tokens)
        if found is not None:
            out.per_example.append(found)
    return out
