"""Tokens and cost of one finished call, and writing its usage ledger row, in one place: the chat
pages' recorder (core/usage_recording.py), Compare (core/compare/runner.py) and the Retrieval
page's embedding rows (core/retrieval/usage.py).

Tokens come from the backend's usage report; when there is none they are estimated
(core/token_estimate.py) and flagged. A call refused before answering anything (an error with no
text) has no tokens at all, and no tokens means no cost.

Imports neither SQLAlchemy nor Streamlit (the ledger types are for annotations only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.token_estimate import estimate_messages_tokens, estimate_tokens

if TYPE_CHECKING:
    from core.chat import ChatRecord
    from core.usage_ledger import Ledger
    from core.usage_schema import UsageRow

log = logging.getLogger("playground.usage")

# price(model, prompt_tokens, completion_tokens) -> (cost, currency), or None for a model with no price
Price = Callable[[str, "int | None", "int | None"], "tuple[float, str] | None"]


def call_tokens(messages: Iterable[Mapping[str, Any]],
                record: ChatRecord) -> tuple[int | None, int | None, int | None, bool]:
    """(prompt, completion, total, estimated) of a finished call that was sent `messages`."""
    usage = record.usage
    prompt = usage.prompt_tokens if usage else None
    completion = usage.completion_tokens if usage else None
    if prompt is not None and completion is not None:
        total = usage.total_tokens if usage and usage.total_tokens is not None else prompt + completion
        return prompt, completion, total, False
    if prompt is None and completion is None and record.outcome == "error" and not record.text:
        return None, None, None, False  # refused before answering: nothing to count or estimate
    if prompt is None:
        prompt = estimate_messages_tokens(messages)
    if completion is None:
        completion = estimate_tokens(record.text)
    return prompt, completion, prompt + completion, True


def call_cost(price: Price | None, model: str, prompt: int | None,
              completion: int | None) -> tuple[float | None, str | None]:
    """(cost, currency); (None, None) without a price function, without tokens, for a model with
    no price, or when pricing failed (logged, never raised)."""
    if price is None or (prompt is None and completion is None):
        return None, None
    try:
        result = price(model, prompt, completion)
        if result is None:
            return None, None
        return float(result[0]), str(result[1])
    except Exception:
        log.warning("usage: pricing %r failed; cost left empty", model, exc_info=True)
        return None, None


def write_row(ledger: Ledger | None, row: UsageRow) -> str | None:
    """Write `row` to the ledger; the reason (without secrets) when it could not be written, None
    when it was or when there is no ledger. Never raises."""
    if ledger is None:
        return None
    try:
        return None if ledger.record(row) else (ledger.last_error or "not recorded")
    except Exception as exc:
        log.warning("usage: a call was not recorded (%s)", type(exc).__name__)
        return type(exc).__name__
