"""From a finished call to a ledger row: the hook a page passes to `Backend.open_stream`.

Tokens come from the backend's usage report. When there is none, they are estimated
(core/token_estimate.py) and the row is flagged `tokens_estimated`; a call the provider refused
before answering anything (an error with no text) has no tokens at all rather than invented ones
(core/call_cost.py counts, prices and writes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from core.call_cost import Price, call_cost, call_tokens, write_row
from core.chat import ChatRecord, ChatRequest
from core.usage_ledger import Ledger
from core.usage_schema import UsageRow

log = logging.getLogger("playground.usage")


@dataclass(frozen=True)
class CallContext:
    """Who made a call and where it went (never with a key)."""

    session_id: str
    page: str
    backend: str
    endpoint: str
    base_url: str
    store_text: bool = False
    user_id: str = ""  # the signed-in user in a team deployment; "" when the app has no sign-in
    paid_by: str = ""  # PAID_BY_USER when the call is paid with a key the user typed


def url_host(base_url: str | None) -> str:
    """The host of a base URL, with its port when the URL names one; never user, path or query."""
    if not base_url or not base_url.strip():
        return ""
    text = base_url.strip()
    parts = urlsplit(text if "://" in text else "//" + text)
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number
        host, port = (parts.hostname or "").lower(), None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def messages_text(request: ChatRequest, record: ChatRecord) -> str:
    """What was asked and answered, as JSON: {"messages": [...], "answer": "..."}."""
    return json.dumps({"messages": request.messages, "answer": record.text}, ensure_ascii=False,
                      default=str)


def usage_row(context: CallContext, request: ChatRequest, record: ChatRecord,
              price: Price | None) -> UsageRow:
    """The ledger row of a finished call (ok, stopped or error)."""
    prompt, completion, total, estimated = call_tokens(request.messages, record)
    cost, currency = call_cost(price, request.model, prompt, completion)
    started = datetime.now(UTC) - timedelta(seconds=record.latency_s or 0.0)
    error = record.error
    return UsageRow(
        ts=started, session_id=context.session_id, page=context.page, backend=context.backend,
        endpoint=context.endpoint, base_url_host=url_host(context.base_url), model=request.model,
        params=dict(request.params), prompt_tokens=prompt, completion_tokens=completion,
        total_tokens=total, tokens_estimated=estimated, ttft_s=record.ttft_s,
        latency_s=record.latency_s, streamed=record.streamed, outcome=record.outcome,
        error_kind=error.kind.value if error is not None else None,
        error_code=error.code if error is not None else None, cost=cost, currency=currency,
        request_id=record.request_id or (error.request_id if error is not None else None),
        messages_text=messages_text(request, record) if context.store_text else None,
        user_id=context.user_id, paid_by=context.paid_by,
    )


def recorder(ledger: Ledger | None, context: CallContext, request: ChatRequest,
             price: Price | None,
             on_failure: Callable[[str], None] | None = None) -> Callable[[ChatRecord], None]:
    """The `on_finish` hook that writes a call's row. It never raises; when the row could not be
    written, `on_failure` gets the reason (without secrets)."""

    def on_finish(record: ChatRecord) -> None:
        if ledger is None:
            return
        try:
            reason = write_row(ledger, usage_row(context, request, record, price))
        except Exception as exc:  # the row could not be made (write_row itself never raises)
            reason = type(exc).__name__
            log.warning("usage: a call was not recorded (%s)", reason)
        if reason is not None and on_failure is not None:
            try:
                on_failure(reason)
            except Exception:
                pass

    return on_finish
