"""Usage ledger rows for embedding calls (chat calls of the Retrieval page use core/usage_recording).

One row per batch: the model, the texts' tokens as the provider reported them (estimated and
flagged when it reported none, as for a local model), latency, outcome and cost. Never a key;
the texts only when the user turned storing text on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from core.call_cost import Price, call_cost, write_row
from core.errors import PlaygroundError
from core.token_estimate import estimate_tokens
from core.usage_ledger import Ledger
from core.usage_recording import CallContext, url_host
from core.usage_schema import UsageRow


def embedding_row(context: CallContext, model: str, texts: list[str], prompt_tokens: int | None,
                  latency_s: float, error: PlaygroundError | None = None, request_id: str | None = None,
                  price: Price | None = None) -> UsageRow:
    estimated = prompt_tokens is None and error is None
    if estimated:
        prompt_tokens = sum(estimate_tokens(t) for t in texts)
    completion = 0 if prompt_tokens is not None else None  # an embedding has no completion
    cost, currency = call_cost(price, model, prompt_tokens, completion)
    return UsageRow(
        ts=datetime.now(UTC) - timedelta(seconds=latency_s), session_id=context.session_id,
        page=context.page, backend=context.backend, endpoint=context.endpoint,
        base_url_host=url_host(context.base_url), model=model, params={"texts": len(texts)},
        prompt_tokens=prompt_tokens, completion_tokens=completion,
        total_tokens=prompt_tokens, tokens_estimated=estimated, ttft_s=None, latency_s=latency_s,
        streamed=False, outcome="error" if error is not None else "ok",
        error_kind=error.kind.value if error is not None else None,
        error_code=error.code if error is not None else None, cost=cost, currency=currency,
        request_id=request_id,
        messages_text=json.dumps({"input": texts}, ensure_ascii=False) if context.store_text else None,
        user_id=context.user_id, paid_by=context.paid_by,
    )


def record_embedding(ledger: Ledger | None, row: UsageRow) -> str | None:
    """Write the row; the reason when it could not be written (never raises)."""
    return write_row(ledger, row)
