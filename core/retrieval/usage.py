"""Usage ledger rows for embedding calls (chat calls of the Retrieval page use core/usage_recording).

One row per batch: the model, the texts' tokens as the provider reported them (estimated and
flagged when it reported none, as for a local model), latency, outcome and cost. Never a key;
the texts only when the user turned storing text on.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from core.errors import PlaygroundError
from core.token_estimate import estimate_tokens
from core.usage_ledger import Ledger
from core.usage_recording import CallContext, Price, url_host
from core.usage_schema import UsageRow

log = logging.getLogger("playground.usage")


def embedding_row(context: CallContext, model: str, texts: list[str], prompt_tokens: int | None,
                  latency_s: float, error: PlaygroundError | None = None, request_id: str | None = None,
                  price: Price | None = None) -> UsageRow:
    estimated = prompt_tokens is None and error is None
    if estimated:
        prompt_tokens = sum(estimate_tokens(t) for t in texts)
    cost, currency = None, None
    if price is not None and prompt_tokens is not None:
        try:
            found = price(model, prompt_tokens, 0)
            if found is not None:
                cost, currency = float(found[0]), str(found[1])
        except Exception:
            log.warning("usage: pricing %r failed; cost left empty", model, exc_info=True)
    return UsageRow(
        ts=datetime.now(UTC) - timedelta(seconds=latency_s), session_id=context.session_id,
        page=context.page, backend=context.backend, endpoint=context.endpoint,
        base_url_host=url_host(context.base_url), model=model, params={"texts": len(texts)},
        prompt_tokens=prompt_tokens, completion_tokens=0 if prompt_tokens is not None else None,
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
    if ledger is None:
        return None
    try:
        return None if ledger.record(row) else (ledger.last_error or "not recorded")
    except Exception as exc:
        log.warning("usage: an embedding call was not recorded (%s)", type(exc).__name__)
        return type(exc).__name__
